"""Is the database file sound, and is its schema exactly what the migrations create? (issue 18, 8 and 9)

Two questions the ledger's own verify cannot answer:

* **Structure**: a flipped bit in an index cell leaves every row readable, so the ledger verifies,
  while the index no longer finds a row (a unique key that no longer refuses a duplicate). SQLite:
  ``PRAGMA integrity_check`` (``quick_check`` does not compare indexes with their tables); PostgreSQL:
  amcheck's ``bt_index_check(index, heapallindexed => true)`` on every B-tree index of the schema and
  ``verify_heapam`` on its tables, when the extension is there or can be created (else the check says
  it was skipped, and why).
* **Schema objects**: a restored backup can carry a trigger, view, index or function the migrations
  never made (a trigger that mints a known operator token, say), and the ledger still verifies. The
  objects are described (kind and name -> definition) and compared with those of a database freshly
  migrated to the same revision.

The per-engine SQL is here; ``dialect.py`` picks it (the only place that asks which engine it has).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from tanhui.errors import TanhuiError

SQLITE_DAMAGE = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB (primary result codes)
PROBLEMS_MAX = 100  # integrity_check's own limit on reported lines; enough to act on
# ANALYZE's statistics: SQLite's own tables, made when someone runs ANALYZE (harmless to a restore)
SQLITE_STATISTICS = ("sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4")


@dataclass(frozen=True, slots=True)
class StructureCheck:
    """What the engine's structural check found: ``checked`` names it, ``skipped`` says why it could not run."""

    checked: str
    problems: tuple[str, ...] = ()
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class SchemaDifference:
    """One schema object that is not as the migrations make it: ``extra``, ``altered`` or ``missing``."""

    kind: str  # "extra", "altered", "missing"
    name: str  # "trigger postings_evil", "view v", "index ix_events_x"

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class NoReference(Exception):
    """No reference database could be built to compare with; the message says why."""


def compare(found: dict[str, str], expected: dict[str, str]) -> list[SchemaDifference]:
    """Every object extra, altered or missing in ``found``; extras and alterations first (the dangerous ones)."""
    differences = [SchemaDifference("extra", name) for name in sorted(found.keys() - expected.keys())]
    differences += [
        SchemaDifference("altered", name) for name in sorted(found.keys() & expected.keys()) if found[name] != expected[name]
    ]
    differences += [SchemaDifference("missing", name) for name in sorted(expected.keys() - found.keys())]
    return differences


def first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


def _spaces(sql: str | None) -> str:
    return " ".join((sql or "").split())


# -- SQLite ------------------------------------------------------------------------------------


def sqlite_structure(conn: Connection) -> StructureCheck:
    rows = conn.exec_driver_sql(f"PRAGMA integrity_check({PROBLEMS_MAX})").fetchall()
    lines = tuple(str(r[0]) for r in rows)
    return StructureCheck("PRAGMA integrity_check", () if lines == ("ok",) else lines)


def sqlite_quick(database: str, busy_timeout_s: float) -> tuple[str, ...]:
    """``PRAGMA quick_check`` (pages, cells and records well formed; not indexes against tables) on a
    connection of its own: a pooled one may answer from its page cache what the disk no longer holds."""
    try:
        conn = sqlite3.connect(database, timeout=busy_timeout_s)
        try:
            lines = tuple(str(r[0]) for r in conn.execute("PRAGMA quick_check(10)").fetchall())
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:  # "file is not a database", "database disk image is malformed"
        if ((getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF) in SQLITE_DAMAGE:
            return (first_line(error),)
        raise  # locked, unreadable: not a finding about the file's contents
    return () if lines == ("ok",) else lines


def sqlite_objects(conn: Connection) -> dict[str, str]:
    """Every entry of ``sqlite_master``: "type name" -> its table and its SQL (white space folded)."""
    found = {}
    for kind, name, table, sql in conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall():
        if kind == "table" and name in SQLITE_STATISTICS:
            continue
        found[f"{kind} {name}"] = f"on {table}: {_spaces(sql)}"
    return found


# -- PostgreSQL ---------------------------------------------------------------------------------

_NOT_IN_EXTENSION = (
    "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e')"
)


def _own(catalog: str, oid: str) -> str:
    """SQL: the object is not part of an extension (amcheck's functions, Citus's, plpgsql's)."""
    return _NOT_IN_EXTENSION.format(catalog=catalog, oid=oid)


_PG_OBJECTS: tuple[tuple[str, str], ...] = (
    (
        "relation",
        "SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'f' THEN 'foreign table' WHEN 'v' THEN 'view'"
        " WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'c' THEN 'type' ELSE 'index' END, c.relname,"
        " CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid)"
        " WHEN c.relkind IN ('i', 'I') THEN pg_get_indexdef(c.oid)"
        " WHEN c.relkind IN ('r', 'p', 'f') THEN concat_ws(' ; ', 'row security ' || c.relrowsecurity::text,"
        "  (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null'"
        "   ELSE '' END || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '') || ' ' || a.attidentity::text || a.attgenerated::text,"
        "   ', ' ORDER BY a.attnum) FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum"
        "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),"
        "  (SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), ', ' ORDER BY k.conname)"
        "   FROM pg_constraint k WHERE k.conrelid = c.oid))"
        " ELSE '' END"
        " FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace"
        " AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'c', 'i', 'I') AND " + _own("pg_class", "c.oid"),
    ),
    (
        "trigger",
        "SELECT 'trigger', t.tgname || ' on ' || c.relname, pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text"
        " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace",
    ),
    (
        "function",
        "SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,"
        " p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',"
        " CASE WHEN p.prokind = 'a' THEN '' ELSE pg_get_functiondef(p.oid) END"
        " FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND " + _own("pg_proc", "p.oid"),
    ),
    (
        "rule",
        "SELECT 'rule', r.rulename || ' on ' || c.relname, pg_get_ruledef(r.oid) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class"
        " WHERE r.rulename <> '_RETURN' AND c.relnamespace = current_schema()::regnamespace",
    ),
    (
        "policy",
        "SELECT 'policy', p.polname || ' on ' || c.relname, concat_ws(' ', p.polcmd::text, p.polpermissive::text,"
        " pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))"
        " FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = current_schema()::regnamespace",
    ),
    (
        "operator",
        "SELECT 'operator', o.oprname || '(' || format_type(o.oprleft, NULL) || ', ' || format_type(o.oprright, NULL) || ')',"
        " o.oprcode::text FROM pg_operator o WHERE o.oprnamespace = current_schema()::regnamespace AND "
        + _own("pg_operator", "o.oid"),
    ),
    (
        "type",
        "SELECT 'type', t.typname, t.typtype::text FROM pg_type t WHERE t.typnamespace = current_schema()::regnamespace"
        " AND t.typrelid = 0 AND t.typelem = 0 AND " + _own("pg_type", "t.oid"),
    ),
)

# Objects of the whole database, not of the schema: the migrations make none, so any is reported.
_PG_DATABASE_WIDE = (
    "SELECT 'event trigger', e.evtname, '' FROM pg_event_trigger e WHERE " + _own("pg_event_trigger", "e.oid"),
    "SELECT 'schema', n.nspname, '' FROM pg_namespace n WHERE n.nspname <> current_schema() AND n.nspname <> 'public'"
    " AND NOT starts_with(n.nspname, 'pg_') AND n.nspname <> 'information_schema' AND "
    + _own("pg_namespace", "n.oid")
    + " AND NOT starts_with(n.nspname, 'tanhui_reference_')",
)


def postgres_objects(conn: Connection, database_wide: bool = True) -> dict[str, str]:
    """The schema's objects (``current_schema()``), not counting extensions' own: "kind name" -> definition,
    with the schema's name taken out of the definitions (so a reference schema compares equal)."""
    schema = str(conn.exec_driver_sql("SELECT current_schema()").scalar_one())
    qualified = re.compile(r'(?<![\w"$])"?' + re.escape(schema) + r'"?\.')
    found: dict[str, str] = {}
    statements = [sql for _, sql in _PG_OBJECTS] + (list(_PG_DATABASE_WIDE) if database_wide else [])
    for sql in statements:
        for kind, name, definition in conn.exec_driver_sql(sql).fetchall():
            found[f"{kind} {name}"] = qualified.sub("", _spaces(definition))
    return found


def postgres_structure(conn: Connection) -> StructureCheck:
    """amcheck over the schema, in savepoints (one failure does not end the check); skipped, with the
    reason, when the extension is not installed and cannot be created or its functions may not be run."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
    except DBAPIError as error:
        return StructureCheck("amcheck", skipped=f"amcheck is not installed and could not be created: {first_line(error)}")
    home = conn.exec_driver_sql(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'"
    ).scalar_one()
    prefix = '"' + str(home).replace('"', '""') + '".'
    indexes = conn.exec_driver_sql(
        "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam"
        " WHERE a.amname = 'btree' AND c.relnamespace = current_schema()::regnamespace AND c.relpersistence <> 't'"
        " AND i.indisvalid AND i.indisready ORDER BY c.relname"
    ).fetchall()
    tables = conn.exec_driver_sql(
        "SELECT c.oid, c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'm')"
        " AND c.relpersistence <> 't' ORDER BY c.relname"
    ).fetchall()
    problems: list[str] = []
    for oid, name in indexes:
        problem = _pg_check(conn, f"SELECT {prefix}bt_index_check(CAST(%s AS oid)::regclass, true)", oid)
        if problem is not None:
            if problem.startswith("permission denied"):
                return StructureCheck("amcheck", skipped=f"amcheck's functions may not be run by this role: {problem}")
            problems.append(f"index {name}: {problem}")
    for oid, name in tables:
        problem = _pg_check(conn, f"SELECT blkno, offnum, msg FROM {prefix}verify_heapam(CAST(%s AS oid)::regclass) LIMIT 1", oid)
        if problem is not None and not problem.startswith("permission denied"):
            problems.append(f"table {name}: {problem}")
    checked = f"amcheck (bt_index_check with heapallindexed on {len(indexes)} indexes, verify_heapam on {len(tables)} tables)"
    return StructureCheck(checked, tuple(problems[:PROBLEMS_MAX]))


def _pg_check(conn: Connection, sql: str, oid: Any) -> str | None:
    """Run one amcheck call in a savepoint: None when clean, else what it reported."""
    try:
        with conn.begin_nested():
            row = conn.exec_driver_sql(sql, (oid,)).first()
    except DBAPIError as error:
        return first_line(error)
    except TanhuiError as error:  # the engine said the index or table is corrupt (XX001, XX002)
        return str(error.params.get("problem", error))
    if row is not None and len(row) == 3:  # verify_heapam: one row per corruption found
        return f"block {row[0]} offset {row[1]}: {row[2]}"
    return None
