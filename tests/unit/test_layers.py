"""The domain stays pure: it imports no framework, driver, clock or randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import tanhui

DOMAIN = Path(tanhui.__file__).parent / "domain"
FORBIDDEN = {"sqlalchemy", "alembic", "psycopg", "typer", "rich", "fastapi", "starlette", "jinja2", "random", "time", "tanhui.store", "tanhui.services", "tanhui.cli"}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_domain_imports_nothing_impure() -> None:
    offenders = []
    for path in sorted(DOMAIN.rglob("*.py")):
        for module in imported_modules(path):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN):
                offenders.append(f"{path.relative_to(DOMAIN.parent)} imports {module}")
    assert not offenders, offenders
    assert list(DOMAIN.rglob("*.py")), "domain package not found"
