"""Rank in a scheme from the per-process snapshot: exact as of the snapshot, refreshed when stale."""

from __future__ import annotations

from tanhui.services import accounts, ledger, ranking
from tanhui.store import Store
from tests.store.helpers import build


def test_rank_follows_totals_and_refreshes(store: Store, scheme_id: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tanhui.domain.ledger import ASSET_CO2E, SYSTEM_ISSUANCE

    f = build(store, scheme_id, people=3)
    with store.unit_of_work(write=False) as uow:
        issuance = uow.ledger.system_account(scheme_id, ASSET_CO2E, SYSTEM_ISSUANCE).id
        owners = [uow.ledger.accounts_by_id([p])[p].owner_account_id for p in f.people]
    carbon = [ledger.holdings(store, o).co2e_account_id for o in owners]  # type: ignore[arg-type]
    for account, grams in zip(carbon, (500, 300, 100), strict=True):
        ledger.transfer(store, scheme_id, [(issuance, account, grams)], kind="reward")
    ranking.forget(store)
    assert [accounts.summary(store, o)["rank_in_scheme"] for o in owners] == [1, 2, 3]  # type: ignore[arg-type]
    ledger.transfer(store, scheme_id, [(issuance, carbon[2], 1000)], kind="reward")
    assert accounts.summary(store, owners[2])["rank_in_scheme"] == 1  # type: ignore[arg-type]  # 1 + nobody above 1100
    assert accounts.summary(store, owners[0])["rank_in_scheme"] == 1  # type: ignore[arg-type]  # snapshot: not yet refreshed
    monkeypatch.setattr(ranking, "TTL_S", -1.0)  # stale: the next read refreshes it in the background
    accounts.summary(store, owners[0])  # type: ignore[arg-type]
    for _ in range(100):
        if ranking._refreshing == set():  # noqa: SLF001 - wait for the background refresh
            break
        import time

        time.sleep(0.02)
    monkeypatch.setattr(ranking, "TTL_S", 60.0)
    assert accounts.summary(store, owners[0])["rank_in_scheme"] == 2  # type: ignore[arg-type]
