"""The distribution plan (store/distribution.py) is complete and consistent with the schema (issue 15).

These rules are Citus's own, checked over the SQLAlchemy metadata so they hold without a cluster:
every table is placed; every primary and unique key of a distributed table contains its distribution
column, or says why adding it keeps the rule, or names the claim table that carries the rule; every
foreign key of a distributed table is co-located (same group, the column on both sides), points at a
reference table, or is listed as dropped with the reason; reference tables reference only reference
tables; and local tables no distributed one.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Table, UniqueConstraint, text

from tanhui.store import Store
from tanhui.store.distribution import (
    ANCHOR,
    PKEY_BUCKETS,
    PKEY_VALUES,
    PLAN,
    SYSTEM_PKEY,
    Distributed,
    Local,
    Reference,
    pkey_of,
    pkey_of_text,
)
from tanhui.store.schema import metadata


def _uniques(table: Table) -> dict[str, frozenset[str]]:
    found = {str(c.name): frozenset(col.name for col in c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)}
    found.update({str(i.name): frozenset(col.name for col in i.columns) for i in table.indexes if i.unique})
    return found


def _citus_keys(name: str) -> list[frozenset[str]]:
    """The primary and unique keys a table has on Citus, after the plan."""
    table, placement = metadata.tables[name], PLAN[name]
    keys = [frozenset(c.name for c in table.primary_key.columns)]
    uniques = _uniques(table)
    if isinstance(placement, Distributed):
        keys = [frozenset(placement.key) if placement.key else keys[0] | {placement.column}]
        for uname, columns in uniques.items():
            if uname in placement.claimed:
                continue
            keys.append(columns | {placement.column})
    else:
        keys.extend(uniques.values())
    return keys


def test_every_table_has_a_placement_and_every_placement_a_table() -> None:
    assert set(PLAN) == set(metadata.tables), (
        f"unplanned: {sorted(set(metadata.tables) - set(PLAN))}; no such table: {sorted(set(PLAN) - set(metadata.tables))}"
    )


def test_distributed_keys_contain_the_distribution_column_or_are_claimed() -> None:
    for name, placement in PLAN.items():
        if not isinstance(placement, Distributed):
            continue
        table = metadata.tables[name]
        assert placement.column in table.columns, name
        assert not table.columns[placement.column].nullable, f"{name}.{placement.column} must be NOT NULL"
        uniques = _uniques(table)
        for uname, columns in uniques.items():
            if placement.column in columns:
                continue
            assert uname in placement.prefixed or uname in placement.claimed, (
                f"{name}: unique key {uname} {sorted(columns)} lacks {placement.column}: prefix it (with a reason) or claim it"
            )
        for uname in [*placement.prefixed, *placement.claimed]:
            assert uname in uniques, f"{name}: the plan names {uname}, which is not a unique key of the table"
            assert placement.column not in uniques[uname], f"{name}: {uname} already contains {placement.column}"
        for uname, reason in placement.prefixed.items():
            assert reason.strip(), f"{name}: {uname} needs a reason"
        for uname, claim in placement.claimed.items():
            claim_placement = PLAN.get(claim)
            assert isinstance(claim_placement, Distributed), f"{name}: claim table {claim} must be distributed"
            claim_key = frozenset(c.name for c in metadata.tables[claim].primary_key.columns)
            assert claim_key == uniques[uname], (
                f"{name}: {claim}'s key {sorted(claim_key)} is not {uname}'s {sorted(uniques[uname])}"
            )
            assert claim_placement.column in claim_key


def test_foreign_keys_are_colocated_point_at_reference_tables_or_are_dropped_with_a_reason() -> None:
    for name, placement in PLAN.items():
        table = metadata.tables[name]
        fk_columns = set()
        for fk in table.foreign_key_constraints:
            columns = tuple(c.parent.name for c in fk.elements)
            fk_columns.add(columns)
            target = fk.elements[0].column.table.name
            target_placement = PLAN[target]
            where = f"{name}{list(columns)} -> {target}"
            if isinstance(placement, Reference):
                assert isinstance(target_placement, Reference), f"{where}: a reference table may reference only reference tables"
            elif isinstance(placement, Local):
                assert not isinstance(target_placement, Distributed), f"{where}: a local table cannot reference a distributed one"
            elif columns in placement.dropped_fks:
                assert placement.dropped_fks[columns].strip(), f"{where}: say why it is dropped"
            elif isinstance(target_placement, Reference):
                pass
            else:
                assert isinstance(target_placement, Distributed) and target_placement.group == placement.group, (
                    f"{where}: not co-located; drop it (with a reason) or point it at a reference table"
                )
                referenced = frozenset({target_placement.column, *(c.column.name for c in fk.elements)})
                assert referenced in _citus_keys(target), f"{where}: {target} has no key {sorted(referenced)} on Citus"
        if isinstance(placement, Distributed):
            for columns in placement.dropped_fks:
                assert columns in fk_columns, f"{name}: the plan drops a foreign key {list(columns)} it does not have"


def test_each_group_has_one_anchor_and_claims_stand_alone() -> None:
    groups = Counter(p.group for p in PLAN.values() if isinstance(p, Distributed))
    for group, count in groups.items():
        if count > 1:
            anchor = ANCHOR.get(group)
            assert anchor is not None and isinstance(PLAN[anchor], Distributed) and PLAN[anchor].group == group, group  # type: ignore[union-attr]
    columns = {PLAN[t].column for t in PLAN if isinstance(PLAN[t], Distributed) and PLAN[t].group == "person"}  # type: ignore[union-attr]
    assert columns == {"pkey"}


def test_person_keys_spread_evenly() -> None:
    assert len(PKEY_VALUES) == len(set(PKEY_VALUES)) == PKEY_BUCKETS
    assert SYSTEM_PKEY in PKEY_VALUES and all(0 < v < 2**31 for v in PKEY_VALUES)
    assert {pkey_of(a) for a in range(1, 10_000)} == set(PKEY_VALUES)
    assert pkey_of(1) == pkey_of(1 + PKEY_BUCKETS) and pkey_of_text("partner/u1") in PKEY_VALUES


@pytest.mark.postgres
def test_person_keys_fall_one_in_each_slice_of_postgresql_hash_space(pg_shared_store: Store) -> None:
    """Re-derive PKEY_VALUES with PostgreSQL's own hashint4 (what Citus hashes an int4 column with)."""
    with pg_shared_store.engine.connect() as conn:
        derived = conn.execute(
            text(
                "SELECT min(v) FROM (SELECT v, (hashint4(v)::bigint + 2147483648) >> 24 AS slice"
                " FROM generate_series(1, 20000) v) s GROUP BY slice ORDER BY slice"
            )
        ).scalars()
        assert tuple(derived) == PKEY_VALUES
        slices = conn.execute(
            text("SELECT (hashint4(v)::bigint + 2147483648) >> 24 FROM unnest(CAST(:values AS int[])) v"),
            {"values": list(PKEY_VALUES)},
        ).scalars()
        assert sorted(slices) == list(range(PKEY_BUCKETS))


def test_migration_0014_froze_the_same_person_keys() -> None:
    """The keys live in two places on purpose (a migration never changes); they must be the same."""
    from tanhui.store.migrations._frozen import PKEY_VALUES_0014

    assert PKEY_VALUES_0014 == PKEY_VALUES
