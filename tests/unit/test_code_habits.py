"""The habits the tree keeps: ruff's lint rules and layout, and mypy over domain, services and store.

The rules live in pyproject.toml ([tool.ruff], [tool.mypy]); this test only runs the tools over the
tree as a developer would (`ruff check`, `ruff format --check`, `mypy` from the repository root) and
fails with what they said. `ruff check --fix` and `ruff format` repair most of what the first two report.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_tool(module: str, *args: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed: it comes with the test tools (pip install -e '.[test]', or ./run test)")
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"{module} {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}", pytrace=False)


def test_ruff_finds_nothing() -> None:
    run_tool("ruff", "check", "--no-fix", "--output-format", "concise", ".")


def test_the_tree_is_formatted() -> None:
    run_tool("ruff", "format", "--check", ".")


def test_domain_services_and_store_type_check() -> None:
    run_tool("mypy")  # the files and the rules are in pyproject.toml
