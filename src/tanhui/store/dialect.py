"""The only place that knows which engine it talks to: statements that differ per dialect.

Everything else in the store writes portable SQLAlchemy Core.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


class Dialect:
    def __init__(self, name: str) -> None:
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database engine {name!r}")
        self.name = name

    @property
    def is_postgresql(self) -> bool:
        return self.name == "postgresql"

    def for_update(self, query: Select[Any]) -> Select[Any]:
        """Row locks on PostgreSQL; SQLite writers already hold the database lock (BEGIN IMMEDIATE)."""
        return query.with_for_update() if self.is_postgresql else query

    def insert_ignore(self, table: Table, index_elements: list[str]) -> Any:
        """INSERT ... ON CONFLICT (cols) DO NOTHING."""
        maker = pg_insert if self.is_postgresql else sqlite_insert
        return maker(table).on_conflict_do_nothing(index_elements=index_elements)
