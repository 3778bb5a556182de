"""The pages are an adapter over services: web/ imports neither the JSON API (http/) nor the store's
repositories, schema or driver (issue 14). What both adapters share lives outside them (tanhui/lang.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import tanhui

WEB = Path(tanhui.__file__).parent / "web"
FORBIDDEN = ("tanhui.http", "tanhui.store.repositories", "tanhui.store.schema", "sqlalchemy")


def test_web_imports_no_http_and_no_repositories() -> None:
    offenders = []
    for path in sorted(WEB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.relative_to(WEB.parent)} imports {n}"
                for n in names
                if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)
            ]
    assert not offenders, offenders
    assert list(WEB.rglob("pages/*.py")), "web/pages not found"
