"""Migrations that never change: 0008 backfills the report counters with SQL of its own.

The backfill must give what ``ReportRepository.rebuild()`` gives from the same rows, on both
engines: downgrade a database with real rows below 0008, upgrade it again, and compare every
counter row with a rebuild's.
"""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import select

from tanhui.services import engagement, market, privacy
from tanhui.store import Store, migrate
from tanhui.store.schema import report_accounts, report_active, report_days, report_facts, report_flows
from tests.web.helpers import build_city, coupon_item, fund

VERSIONS = Path(migrate.MIGRATIONS) / "versions"
REPORT_TABLES = (report_facts, report_active, report_days, report_flows, report_accounts)


def _counters(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.unit_of_work(write=False) as uow:
        return {t.name: sorted(tuple(r) for r in uow.conn.execute(select(t))) for t in REPORT_TABLES}


def test_0008_backfills_the_counters_a_rebuild_gives(fresh_store_url: str, tmp_path: Path) -> None:
    store = Store(fresh_store_url)
    try:
        migrate.upgrade(store)
        scheme_id = "m" + uuid.uuid4().hex[:10]
        city = build_city(store, tmp_path, scheme_id, people=3, days=2)
        for account_id in city.people[:2]:
            engagement.checkin(store, account_id)
        fund(store, scheme_id, city.people[0], 5000)
        market.place_order(store, city.people[0], coupon_item(store, scheme_id), 1, idempotency_key=f"k-{scheme_id}")
        privacy.erase_person(store, city.people[2])

        command.downgrade(migrate.alembic_config(store), "0007")
        assert migrate.current(store) == "0007"
        migrate.upgrade(store)  # 0008 again, now over a database with rows
        migrated = _counters(store)
        assert migrated["report_facts"] and migrated["report_flows"] and migrated["report_accounts"]
        with store.unit_of_work() as uow:
            assert uow.reports.check() == []
            uow.reports.rebuild()
        assert migrated == _counters(store)
    finally:
        store.dispose()


def test_migrations_depend_only_on_alembic_sqlalchemy_and_the_frozen_helpers() -> None:
    allowed = ("__future__", "alembic", "sqlalchemy", "tanhui.store.types", "tanhui.store.migrations._frozen")
    offenders = []
    for path in sorted(VERSIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [f"{path.name} imports {n}" for n in names if not any(n == a or n.startswith(a + ".") for a in allowed)]
            if isinstance(node, ast.Attribute) and node.attr == "dialect":
                offenders.append(f"{path.name} asks which engine it runs on (use _frozen.py)")
    assert not offenders, offenders
    assert len(list(VERSIONS.glob("*.py"))) >= 8
