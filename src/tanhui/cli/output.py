"""How the CLI speaks: JSON when asked, Rich tables for people, one line per error."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from tanhui.messages import current_lang

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def say(zh: str, en: str) -> None:
    console.print(en if current_lang() == "en" else zh)
