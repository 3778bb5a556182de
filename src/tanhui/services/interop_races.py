"""The race rule between platforms (docs/interop.md, "Races"): a placeholder on the claims log's branch.

The federate branch fills it (the earliest claim wins, the loser withdraws and reverses its credit);
sync calls it after storing a peer's entries. The lead's merge keeps that branch's module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tanhui.store import Store


def resolve(store: Store, now: datetime | None = None) -> list[Any]:
    return []
