"""Applying the distribution plan (store/distribution.py) on a Citus coordinator.

`tanhui db upgrade` runs the migrations (which create ordinary tables), then `apply_plan`: in one
transaction, for every planned table not distributed yet, it drops the foreign keys that involve
it, reshapes its keys as the plan says (the distribution column joins the primary key and the
prefixed unique keys; a claimed unique key becomes a plain index, its rule carried by the claim
table), makes it a reference or distributed table (person group co-located with `accounts`), and
adds the foreign keys back: co-located ones with the distribution column on both sides, dropped
ones not at all. A second run finds nothing to do. On SQLite and plain PostgreSQL nothing happens.

Citus refuses triggers on distributed and reference tables unless `citus.enable_unsafe_triggers`
is on while they are distributed; the append-only triggers are then created on every shard and
fire there (a worker's shard refuses an UPDATE of the journal as the coordinator's table did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, ForeignKeyConstraint, Table, UniqueConstraint, text

from tanhui.store.distribution import ANCHOR, PLAN, Distributed, Local, Reference
from tanhui.store.engine import Store
from tanhui.store.schema import metadata


def placed(conn: Connection) -> dict[str, str]:
    """Table -> Citus's partition method ('h' hash-distributed, 'n' reference or citus-local)."""
    rows = conn.execute(text("SELECT logicalrelid::regclass::text, partmethod, repmodel FROM pg_dist_partition"))
    return {
        name: ("reference" if method == "n" and model == "t" else "local" if method == "n" else "distributed")
        for name, method, model in rows
    }


def apply_plan(store: Store) -> list[str]:
    """Distribute what the plan says and is not yet distributed; the actions taken (none: in place)."""
    store.refine()
    if not store.dialect.distributed:
        return []
    with store.engine.begin() as conn:
        conn.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
        conn.execute(text("SET LOCAL citus.enable_unsafe_triggers TO on"))
        conn.execute(text("SET LOCAL client_min_messages TO warning"))
        done = placed(conn)
        todo = [
            name
            for name, placement in PLAN.items()
            if (isinstance(placement, Reference) and done.get(name) != "reference")
            or (isinstance(placement, Distributed) and done.get(name) != "distributed")
        ]
        if not todo:
            return []
        actions = _reshape_keys_of(conn, todo)
        for name in todo:
            if isinstance(PLAN[name], Reference):
                conn.execute(text("SELECT create_reference_table(:t)"), {"t": name})
                actions.append(f"reference {name}")
        ordered = sorted(
            (n for n in todo if isinstance(PLAN[n], Distributed)),
            key=lambda n: (ANCHOR.get(PLAN[n].group) != n, n),  # type: ignore[union-attr]
        )
        for name in ordered:
            placement = PLAN[name]
            assert isinstance(placement, Distributed)
            anchor = ANCHOR.get(placement.group)
            with_ = "none" if anchor is None else "default" if anchor == name else anchor
            conn.execute(
                text("SELECT create_distributed_table(:t, :c, colocate_with => :w)"),
                {"t": name, "c": placement.column, "w": with_},
            )
            actions.append(f"distributed {name} by {placement.column}")
        return actions + _add_foreign_keys(conn, todo)


def reshape_for_reference(conn: Connection) -> None:
    """The keys and foreign keys ``apply_plan`` leaves, made on the plain tables of the current schema with
    no table distributed: the shape a database freshly built for this engine has, which `tanhui verify`
    compares the coordinator's schema with (store/integrity.py; a scratch schema in a rolled-back
    transaction, so nothing is distributed and nothing stays)."""
    todo = [name for name, placement in PLAN.items() if isinstance(placement, Reference | Distributed)]
    _reshape_keys_of(conn, todo)
    _add_foreign_keys(conn, todo)


# Migration 0021's statement-level key checks (plain PostgreSQL only): (trigger, its table).
_STATEMENT_CHECKS = (
    *((f"{t}_references", t) for t in ("postings", "journal_entries", "events", "event_claims")),
    *((f"{t}_{k}", t) for t in ("schemes", "partners", "ledger_accounts", "journal_chains") for k in ("kept", "key_kept")),
)


def _drop_statement_checks(conn: Connection) -> list[str]:
    """A database migrated on plain PostgreSQL and given the extension later checks the ingest path's keys
    by 0021's statement-level triggers; on Citus they are constraints again (``_add_foreign_keys``), as
    in a database made on Citus, and the triggers and their functions go."""
    present = {
        (name, table)
        for name, table in conn.execute(
            text(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
            )
        )
    }
    actions: list[str] = []
    for name, table in _STATEMENT_CHECKS:
        if (name, table) in present:
            conn.execute(text(f"DROP TRIGGER {name} ON {table}"))
            actions.append(f"statement check {name} dropped")
    if actions:
        for table in ("postings", "journal_entries", "events", "event_claims"):
            conn.execute(text(f"DROP FUNCTION IF EXISTS tanhui_{table}_references()"))
        conn.execute(text("DROP FUNCTION IF EXISTS tanhui_referenced_kept()"))
    return actions


def _reshape_keys_of(conn: Connection, todo: list[str]) -> list[str]:
    """Drop the foreign keys that involve ``todo`` (and 0021's checks), and reshape the distributed ones' keys."""
    actions: list[str] = _drop_statement_checks(conn)
    for table, name, _definition in _foreign_keys(conn, set(todo)):
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name in todo:
        placement = PLAN[name]
        if isinstance(placement, Distributed):
            actions += _reshape_keys(conn, metadata.tables[name], placement)
    return actions


def _add_foreign_keys(conn: Connection, todo: list[str]) -> list[str]:
    """Add back the foreign keys that involve ``todo``, as the plan keeps them."""
    actions: list[str] = []
    for source in (metadata.tables[n] for n in PLAN):
        for fk in source.foreign_key_constraints:
            if source.name not in todo and fk.elements[0].column.table.name not in todo:
                continue
            statement = _foreign_key_sql(source, fk)
            if statement is not None:
                conn.execute(text(statement))
                actions.append(f"foreign key {fk.name}")
    return actions


def _foreign_keys(conn: Connection, tables: set[str]) -> list[tuple[str, str, str]]:
    """Every foreign key from or to one of ``tables``: (table, constraint, definition)."""
    rows = conn.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.confrelid::regclass::text"
            " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
            " WHERE c.contype = 'f' AND n.nspname = current_schema()"
        )
    )
    return [(t, name, d) for t, name, d, target in rows if t in tables or target in tables]


def _reshape_keys(conn: Connection, table: Table, placement: Distributed) -> list[str]:
    column = placement.column
    actions: list[str] = []
    primary = [c.name for c in table.primary_key.columns]
    if placement.key is not None or column not in primary:
        key = list(placement.key or (column, *primary))
        conn.execute(text(f'ALTER TABLE {table.name} DROP CONSTRAINT "pk_{table.name}"'))
        conn.execute(text(f'ALTER TABLE {table.name} ADD CONSTRAINT "pk_{table.name}" PRIMARY KEY ({", ".join(key)})'))
        actions.append(f"primary key {table.name} ({', '.join(key)})")
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and column not in {c.name for c in constraint.columns}:
            columns = [c.name for c in constraint.columns]
            conn.execute(text(f'ALTER TABLE {table.name} DROP CONSTRAINT "{constraint.name}"'))
            actions.append(_replace_unique(conn, table.name, str(constraint.name), columns, None, placement))
    for index in table.indexes:
        if index.unique and column not in {c.name for c in index.columns}:
            definition = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n AND schemaname = current_schema()"), {"n": index.name}
            ).scalar_one()
            where = definition.split(" WHERE ", 1)[1] if " WHERE " in definition else None
            conn.execute(text(f'DROP INDEX "{index.name}"'))
            actions.append(_replace_unique(conn, table.name, str(index.name), [c.name for c in index.columns], where, placement))
    return actions


def _replace_unique(
    conn: Connection, table: str, name: str, columns: list[str], where: str | None, placement: Distributed
) -> str:
    """A prefixed unique key gains the distribution column; a claimed one stays as a plain index
    (lookups by its columns), its uniqueness kept by the claim table."""
    condition = f" WHERE {where}" if where else ""
    if name in placement.claimed:
        conn.execute(text(f'CREATE INDEX "{name}" ON {table} ({", ".join(columns)}){condition}'))
        return f"unique {name} claimed by {placement.claimed[name]}"
    conn.execute(text(f'CREATE UNIQUE INDEX "{name}" ON {table} ({", ".join([placement.column, *columns])}){condition}'))
    return f"unique {name} with {placement.column}"


def _foreign_key_sql(table: Table, fk: ForeignKeyConstraint) -> str | None:
    placement = PLAN[table.name]
    target = fk.elements[0].column.table.name
    columns = [e.parent.name for e in fk.elements]
    referred = [e.column.name for e in fk.elements]
    if isinstance(placement, Distributed) and tuple(columns) in placement.dropped_fks:
        return None
    target_placement = PLAN[target]
    if isinstance(placement, Distributed) and isinstance(target_placement, Distributed):
        columns = [placement.column, *columns]
        referred = [target_placement.column, *referred]
    elif isinstance(placement, Local) and not isinstance(target_placement, Reference | Local):
        return None
    return (
        f'ALTER TABLE {table.name} ADD CONSTRAINT "{fk.name}" FOREIGN KEY ({", ".join(columns)})'
        f" REFERENCES {target} ({', '.join(referred)})"
    )


@dataclass(frozen=True, slots=True)
class TablePlacement:
    table: str
    plan: str  # reference | distributed by <column> (<group>) | local
    actual: str | None  # on Citus: reference | distributed | local | None (a plain table)
    shards: int
    rows_by_node: dict[str, int]


def describe(store: Store) -> dict[str, Any]:
    """The plan, and on Citus where each table's rows are: shards and rows per node."""
    out: list[TablePlacement] = []
    store.refine()
    citus = store.dialect.distributed
    with store.engine.connect() as conn:
        actual = placed(conn) if citus else {}
        for name, placement in PLAN.items():
            plan = (
                "reference"
                if isinstance(placement, Reference)
                else f"local ({placement.why})"
                if isinstance(placement, Local)
                else f"distributed by {placement.column} ({placement.group})"
            )
            shards, rows_by_node = 0, dict[str, int]()
            if citus and actual.get(name) in ("distributed", "reference"):
                seen: set[int] = set()
                for shard, node, port, count in conn.execute(
                    text(
                        "SELECT s.shardid, s.nodename, s.nodeport, r.result FROM run_command_on_shards(CAST(:t AS regclass),"
                        " 'SELECT count(*) FROM %s') r JOIN citus_shards s ON s.shardid = r.shardid WHERE r.success"
                    ),
                    {"t": name},
                ):
                    seen.add(int(shard))
                    rows_by_node[f"{node}:{port}"] = rows_by_node.get(f"{node}:{port}", 0) + int(count)
                shards = len(seen)
            out.append(TablePlacement(name, plan, actual.get(name) if citus else None, shards, rows_by_node))
    return {"citus": citus, "tables": [_as_dict(t) for t in out]}


def _as_dict(row: TablePlacement) -> dict[str, Any]:
    return {"table": row.table, "plan": row.plan, "actual": row.actual, "shards": row.shards, "rows_by_node": row.rows_by_node}


def shard_groups(store: Store) -> list[list[int]] | None:
    """The person keys, grouped by the shard of `journal_entries` that holds them (one group per shard
    that holds any): each group's journal, balances and chain heads sit on one worker, so a verifier per
    group reads one worker's consistent snapshot, and the groups run in parallel. None when the store
    is not a Citus coordinator (one node: nothing to split by)."""
    from tanhui.store.distribution import PKEY_VALUES

    store.refine()
    if not store.dialect.distributed:
        return None
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT v, get_shard_id_for_distribution_column('journal_entries', v) FROM unnest(CAST(:values AS int[])) AS v"),
            {"values": list(PKEY_VALUES)},
        ).all()
    groups: dict[int, list[int]] = {}
    for value, shard in rows:
        groups.setdefault(int(shard), []).append(int(value))
    return [groups[shard] for shard in sorted(groups)]
