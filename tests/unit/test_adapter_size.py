"""The adapters stay readable one piece at a time: no function in http/ or web/ over 60 lines, no module
over 400 (issue 14). A handler that grows past the bound wants a helper, a service function or a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import tanhui

ROOT = Path(tanhui.__file__).parent
ADAPTERS = ("http", "web")
FUNCTION_LINES_MAX = 60
MODULE_LINES_MAX = 400


def adapter_modules() -> list[Path]:
    return sorted(path for package in ADAPTERS for path in (ROOT / package).rglob("*.py"))


def function_lengths(path: Path) -> list[tuple[str, int]]:
    """Every function and method, nested ones too, with its length from `def` to its last line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            found.append((f"{node.name} (line {node.lineno})", node.end_lineno - node.lineno + 1))
    return found


def test_the_adapters_are_where_we_look() -> None:
    for package in ADAPTERS:
        assert list((ROOT / package).rglob("*.py")), f"{package}/ not found"


def test_no_adapter_function_exceeds_60_lines() -> None:
    too_long = [
        f"{path.relative_to(ROOT)}: {name} has {lines} lines"
        for path in adapter_modules()
        for name, lines in function_lengths(path)
        if lines > FUNCTION_LINES_MAX
    ]
    assert not too_long, too_long


def test_no_adapter_module_exceeds_400_lines() -> None:
    too_long = [
        f"{path.relative_to(ROOT)} has {lines} lines"
        for path in adapter_modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES_MAX
    ]
    assert not too_long, too_long
