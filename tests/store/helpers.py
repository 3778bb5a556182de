"""Small builders for store-level tests: a scheme, a few people, their points accounts."""

from __future__ import annotations

from dataclasses import dataclass

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE, SYSTEM_REDEEMED
from tanhui.services import accounts, ledger, schemes
from tanhui.store import Store


@dataclass(frozen=True)
class Fixture:
    scheme_id: str
    issuance: int  # the scheme's points issuance account
    redeemed: int  # the scheme's points sink
    people: list[int]  # points ledger account of each person


def build(store: Store, scheme_id: str, people: int = 3, chains: int = 4) -> Fixture:
    schemes.create_scheme(store, scheme_id, "测试方案", settings={"ledger_chains": chains})
    points = []
    for i in range(people):
        account_id = accounts.open_account(store, scheme_id, display_name=f"person {i}")
        points.append(ledger.holdings(store, account_id).points_account_id)
    with store.unit_of_work(write=False) as uow:
        issuance = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_ISSUANCE).id
        redeemed = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_REDEEMED).id
    return Fixture(scheme_id, issuance, redeemed, points)


def guards_off_on_citus(conn: object) -> None:
    """What an insider with the superuser's rights does on a Citus cluster to get past the append-only
    triggers for the rest of the transaction: Citus refuses `ALTER TABLE ... DISABLE TRIGGER` on a
    distributed table, but carries a `SET LOCAL` to the workers' shards when told to."""
    from sqlalchemy import text

    conn.execute(text("SET LOCAL citus.propagate_set_commands = 'local'"))  # type: ignore[attr-defined]
    conn.execute(text("SET LOCAL session_replication_role = replica"))  # type: ignore[attr-defined]
