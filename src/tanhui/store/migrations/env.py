"""Alembic environment: runs against the Store handed over in ``config.attributes['store']``."""

from __future__ import annotations

from alembic import context

from tanhui.store.engine import open_store
from tanhui.store.schema import metadata

config = context.config
store = config.attributes.get("store") or open_store()


def include_object(_object: object, name: str | None, type_: str, _reflected: bool, _compare_to: object) -> bool:
    """What `alembic check` compares: on PostgreSQL (migration 0021) the ingest path's foreign keys are
    statement-level triggers, which `tanhui verify` compares with the migrations' own schema instead."""
    return not (type_ == "foreign_key_constraint" and name in store.dialect.statement_checked_foreign_keys)


given = config.attributes.get("connection")  # migrate.reference_objects: a connection whose caller ends it
if given is not None:
    given.info["tanhui_write"] = True
    context.configure(
        connection=given,
        target_metadata=metadata,
        render_as_batch=store.dialect.batch_migrations,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():  # inside the caller's transaction, when it has one: no commit here
        context.run_migrations()
else:
    with store.engine.connect() as connection:
        connection.info["tanhui_write"] = True
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=store.dialect.batch_migrations,
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
