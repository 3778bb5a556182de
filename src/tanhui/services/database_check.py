"""Is the database sound before its ledger is believed? (issue 18, findings 8 and 9)

``tanhui verify`` and ``tanhui db restore`` ask this first: the engine's structural check (a flipped
bit in an index leaves the ledger readable and verifying while a unique key no longer holds) and the
schema objects against what the migrations create at the database's revision (a trigger slipped into
a backup is invisible to the ledger's verify). Details of each check: store/integrity.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tanhui.store import Store, migrate
from tanhui.store.rows import SchemaDifference, StructureCheck


@dataclass(frozen=True, slots=True)
class DatabaseReport:
    structure: StructureCheck
    revision: str | None = None
    schema: list[SchemaDifference] = field(default_factory=list)
    schema_skipped: str | None = None

    @property
    def damaged(self) -> bool:
        """The file itself is damaged: nothing read from it (the ledger included) can be trusted."""
        return not self.structure.ok

    @property
    def ok(self) -> bool:
        return self.structure.ok and not self.schema

    def problems(self) -> list[str]:
        found = [f"{self.structure.checked}: {line}" for line in self.structure.problems]
        return found + [f"schema object {difference}, against the migrations at {self.revision}" for difference in self.schema]


def check(store: Store) -> DatabaseReport:
    """The structural check, then (if the file is sound) the schema comparison. Raises
    ``ServiceUnavailable("database_damaged")`` when the file cannot be read as a database at all."""
    structure = store.check_structure()
    if not structure.ok:
        return DatabaseReport(structure, schema_skipped="the database file is damaged")
    return check_schema(store, structure)


def check_schema(store: Store, structure: StructureCheck) -> DatabaseReport:
    revision = migrate.current(store)
    if revision is None or not migrate.known_revision(revision):
        return DatabaseReport(structure, revision, schema_skipped=f"schema revision {revision} is not one this version ships")
    differences, skipped = migrate.schema_differences(store, revision)
    return DatabaseReport(structure, revision, differences, skipped)
