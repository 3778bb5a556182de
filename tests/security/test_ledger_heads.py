"""The published daily hash-chain heads detect a rewrite that `tanhui verify` alone cannot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text

from tanhui.domain.ledger import entry_hash
from tanhui.services import ledger, ledger_heads
from tanhui.store import Store
from tanhui.store.schema import journal_entries, postings
from tests.live import cli
from tests.store.helpers import build, guards_off_on_citus

DAY1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _disable_guards(store: Store, conn: object) -> list[str]:
    """Switch the append-only guard off; what puts it back exactly as it was."""
    if store.dialect.distributed:
        guards_off_on_citus(conn)
        return []
    if store.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE journal_entries DISABLE TRIGGER USER"))  # type: ignore[attr-defined]
        return ["ALTER TABLE journal_entries ENABLE TRIGGER USER"]
    found = conn.execute(  # type: ignore[attr-defined]
        text("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='journal_entries'")
    ).all()
    for name, _sql in found:
        conn.execute(text(f'DROP TRIGGER "{name}"'))  # type: ignore[attr-defined]
    return [sql for _name, sql in found]


def _rewrite_chain_consistently(store: Store, entry_id: int, new_memo: dict[str, object]) -> None:
    """An insider edits one old entry and recomputes every later hash of its chain and the chain head, and
    puts the append-only guard back as it was (`tanhui verify` names a guard that is missing or switched off)."""
    with store.engine.begin() as conn:
        restore = _disable_guards(store, conn)
        victim = conn.execute(select(journal_entries).where(journal_entries.c.id == entry_id)).one()
        rows = conn.execute(
            select(journal_entries)
            .where(journal_entries.c.chain_id == victim.chain_id, journal_entries.c.seq >= victim.seq)
            .order_by(journal_entries.c.seq)
        ).all()
        prev = victim.prev_hash
        for row in rows:
            from tanhui.domain.ledger import Posting

            ps = tuple(
                Posting(p.from_account_id, p.to_account_id, p.amount)
                for p in conn.execute(select(postings).where(postings.c.entry_id == row.id).order_by(postings.c.id))
            )
            memo = new_memo if row.id == entry_id else row.memo
            h = entry_hash(
                prev,
                scheme_id=row.scheme_id,
                chain_id=row.chain_id,
                seq=row.seq,
                kind=row.kind,
                idempotency_key=row.idempotency_key,
                content_hash=row.content_hash,
                postings=ps,
                memo=memo,
                reverses_entry_id=row.reverses_entry_id,
                created_at=row.created_at,
            )
            conn.execute(
                journal_entries.update().where(journal_entries.c.id == row.id).values(memo=memo, prev_hash=prev, entry_hash=h)
            )
            prev = h
        conn.execute(text("UPDATE journal_chains SET head_hash = :h WHERE id = :c"), {"h": prev, "c": victim.chain_id})
        for statement in restore:
            conn.execute(text(statement))


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_a_consistent_rewrite_passes_verify_but_not_the_published_heads(fresh_store_url: str, scheme_id: str) -> None:
    cli(fresh_store_url, "db", "upgrade")
    store = Store(fresh_store_url)
    try:
        f = build(store, "city", people=2, chains=2)
        old = ledger.transfer(
            store, "city", [(f.issuance, f.people[0], 100)], kind="reward", idempotency_key="a", memo={"why": "bus"}, now=DAY1
        )
        ledger.transfer(
            store, "city", [(f.issuance, f.people[1], 7)], kind="reward", idempotency_key="b", now=DAY1 + timedelta(hours=1)
        )
        ledger.transfer(
            store, "city", [(f.people[0], f.people[1], 40)], kind="gift", idempotency_key="c", now=DAY1 + timedelta(days=1)
        )
        published = ledger_heads.daily_heads(store, "city", until=(DAY1 + timedelta(days=1)).date(), days=3)
        # Heads move only on days with entries; the day before the first entry is the genesis.
        assert [d["date"] for d in published["days"]] == ["2026-03-02", "2026-03-01", "2026-02-28"]
        assert published["days"][0]["combined"] != published["days"][1]["combined"] != published["days"][2]["combined"]
        assert all(c["seq"] == 0 for c in published["days"][2]["chains"])
        assert ledger_heads.check_published(store, json.loads(json.dumps(published))) == []

        assert old.entry is not None
        _rewrite_chain_consistently(store, old.entry.id, {"why": "forged"})
        assert cli(fresh_store_url, "verify", check=False).returncode == 0  # the chain alone no longer tells
        problems = ledger_heads.check_published(store, published)
        assert [p[:10] for p in problems] == ["2026-03-02", "2026-03-01"], problems  # every day since the edit

        # A careless edit (no recomputation) is caught by verify itself.
        with store.engine.begin() as conn:
            _disable_guards(store, conn)
            conn.execute(journal_entries.update().where(journal_entries.c.id == old.entry.id).values(kind="tampered"))
        assert cli(fresh_store_url, "verify", check=False).returncode == 1
    finally:
        store.dispose()


def test_heads_are_public_json_and_a_page(live: object) -> None:
    from tests.live import LiveServer

    assert isinstance(live, LiveServer)
    live.tanhui("scheme", "create", "city", "--name", "绿芽积分")
    with httpx.Client(base_url=live.base_url) as http:
        got = http.get("/v1/registry/ledger-heads", params={"scheme": "city", "days": 2})
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["scheme_id"] == "city" and len(body["days"]) == 2
        assert all(len(d["combined"]) == 64 for d in body["days"])
        assert http.get("/v1/registry/ledger-heads", params={"scheme": "nope"}).status_code == 404
        assert http.get("/v1/registry/ledger-heads", params={"scheme": "city", "days": 1000}).status_code == 422
        page = http.get("/registry/ledger-heads", params={"scheme": "city"}, headers={"Accept-Language": "en"})
        assert page.status_code == 200 and body["days"][0]["combined"] in page.text
        assert "/registry/ledger-heads" in http.get("/registry").text
