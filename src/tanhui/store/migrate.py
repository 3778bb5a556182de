"""Alembic, driven from Python so `tanhui db upgrade` needs no alembic.ini in the working directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection

from tanhui.store.engine import Store
from tanhui.store.integrity import NoReference, SchemaDifference, compare

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(store: Store) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["store"] = store
    return config


def upgrade(store: Store, revision: str = "head") -> list[str]:
    """The migrations, then on a Citus coordinator the distribution plan (store/citus.py); returns
    what the plan changed (nothing on SQLite, plain PostgreSQL or an already distributed cluster)."""
    command.upgrade(alembic_config(store), revision)
    if revision != "head":
        return []
    from tanhui.store.citus import apply_plan

    return apply_plan(store)


def reference_objects(store: Store, revision: str) -> dict[str, str]:
    """The schema objects the migrations create at ``revision``, described as ``store.schema_objects()``
    describes its own: from a database built for the purpose and gone afterwards (a temporary file, or a
    schema in a rolled-back transaction). ``NoReference`` when none can be built here."""

    def build(conn: Connection) -> None:
        config = alembic_config(store)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)

    store.refine()  # the engine as it is (a Citus coordinator reshapes keys beyond the migrations)
    return store.dialect.reference_objects(store.engine, build)


def schema_differences(store: Store, revision: str) -> tuple[list[SchemaDifference], str | None]:
    """(every schema object of ``store`` that is not as the migrations create it at ``revision``: extra,
    altered or missing; why no comparison could be made, or None)."""
    try:
        reference = reference_objects(store, revision)
    except NoReference as reason:
        return [], f"no reference schema could be built to compare with ({reason})"
    return compare(store.schema_objects(), reference), None


def check(store: Store) -> None:
    """Raises if the models in schema.py and the migrations disagree.

    On a Citus coordinator alembic cannot compare: the distribution plan gives every key of a distributed
    table its person key and moves global uniqueness into claim tables, so the database differs from the
    models by design. There the check is that the database is exactly what the migrations and the plan
    make (the reference schema `tanhui verify` compares with)."""
    store.refine()
    if not store.dialect.distributed:
        command.check(alembic_config(store))
        return
    differences, why = schema_differences(store, "head")
    if why or differences:
        raise CommandError(
            why or "the database differs from the migrations and the distribution plan: " + ", ".join(map(str, differences))
        )


def current(store: Store) -> str | None:
    """The database's revision (None: no Tanhui schema); raises if the database does not answer."""
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def head() -> str | None:
    """The newest revision this version of Tanhui knows."""
    return _scripts().get_current_head()


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations."""
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # alembic raises for unknown or malformed ids
        return False
