"""The layers keep to their floors (docs/architecture.md).

- The domain stays pure: it imports no framework, driver, clock or randomness.
- Services use the store through ``Store`` and ``uow.<repository>`` methods: they import no
  SQLAlchemy, alembic or driver, no schema or repository module (the values repositories return
  come from ``tanhui.store.rows``), and never touch a connection, an engine or a dialect.
- Adapters (http, web, cli) call services: they import no repository and no schema.
- Only ``store/dialect.py`` (and the frozen migration helpers) ask which engine they talk to.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tanhui

PACKAGE = Path(tanhui.__file__).parent
DOMAIN = PACKAGE / "domain"
FORBIDDEN = {
    "sqlalchemy",
    "alembic",
    "psycopg",
    "typer",
    "rich",
    "fastapi",
    "starlette",
    "jinja2",
    "random",
    "time",
    "tanhui.store",
    "tanhui.services",
    "tanhui.cli",
}
SERVICES_FORBIDDEN = {
    "sqlalchemy",
    "alembic",
    "psycopg",
    "tanhui.store.schema",
    "tanhui.store.repositories",
    "tanhui.store.engine",
    "tanhui.store.dialect",
    "tanhui.store.types",
    "tanhui.http",
    "tanhui.web",
    "tanhui.cli",
}
SERVICES_UNTOUCHABLE = {"conn", "engine", "dialect"}  # attributes of a Store or UnitOfWork that belong to the store
ADAPTERS = ("http", "web", "cli")
ADAPTERS_FORBIDDEN = {"tanhui.store.repositories", "tanhui.store.schema"}
ENGINE_QUESTIONS = re.compile(
    r"is_postgresql|get_backend_name|dialect\.name\b|[!=]= *[\"'](sqlite|postgresql)[\"']|[\"'](sqlite|postgresql)[\"'] *[!=]="
)
MAY_ASK_THE_ENGINE = {PACKAGE / "store" / "dialect.py", PACKAGE / "store" / "migrations" / "_frozen.py"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _offending_imports(folder: Path, forbidden: set[str]) -> list[str]:
    offenders = []
    for path in sorted(folder.rglob("*.py")):
        bad = {m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in forbidden)}
        for module in sorted(bad):
            if module.rpartition(".")[0] not in bad:  # "from a.b import C": name a.b once, not a.b.C too
                offenders.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    return offenders


def test_domain_imports_nothing_impure() -> None:
    offenders = []
    for path in sorted(DOMAIN.rglob("*.py")):
        for module in imported_modules(path):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN):
                offenders.append(f"{path.relative_to(DOMAIN.parent)} imports {module}")
    assert not offenders, offenders
    assert list(DOMAIN.rglob("*.py")), "domain package not found"


def test_services_import_no_sql_schema_or_repository() -> None:
    offenders = _offending_imports(PACKAGE / "services", SERVICES_FORBIDDEN)
    assert not offenders, offenders


def test_services_touch_no_connection_engine_or_dialect() -> None:
    """``uow.conn``, ``store.engine``, ``uow.dialect``: what a service needs is a repository method."""
    offenders = []
    for path in sorted((PACKAGE / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in SERVICES_UNTOUCHABLE:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} uses .{node.attr}")
    assert not offenders, offenders


def test_adapters_import_no_repository_or_schema() -> None:
    offenders = [o for adapter in ADAPTERS for o in _offending_imports(PACKAGE / adapter, ADAPTERS_FORBIDDEN)]
    assert not offenders, offenders


def test_only_the_dialect_asks_which_engine_it_has() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in MAY_ASK_THE_ENGINE:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ENGINE_QUESTIONS.search(line):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not offenders, offenders


def test_the_rules_see_what_they_forbid(tmp_path: Path) -> None:
    """The checks above would notice an offender (a rule that matches nothing proves nothing)."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from tanhui.store import schema\n    import sqlalchemy.exc as e\n", encoding="utf-8")
    assert {"tanhui.store.schema", "sqlalchemy.exc"} <= imported_modules(sample)
    assert ENGINE_QUESTIONS.search('if store.dialect.name == "sqlite":')
    assert ENGINE_QUESTIONS.search("lock = dialect.is_postgresql")
