"""A person's signed yearly statement, and the check anyone can run on one (issue 16 part 3,
docs/interop.md "Statements").

The figures are the annual report's (services/annual.py): credited grams by scenario over the
scheme's local calendar year, points earned from issuance that year and the balance now; plus the
credit batches of that vintage the person's reductions were pooled into (a person has no credits
retired in their name: retirements belong to organisations, so what a statement can prove is which
issued credits carry the person's reductions). A statement names the person by a pseudonym only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.domain import platform_signing as ps
from tanhui.domain import portable_statement as rules
from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE
from tanhui.errors import InvalidInput, NotFound
from tanhui.services import interop
from tanhui.services.annual import check_year
from tanhui.services.clock import utcnow
from tanhui.services.principal import Principal, as_principal
from tanhui.store import Store

STATEMENT_MAX = 64 * 1024  # a statement is a few hundred bytes; anything far larger is not one


def issue(store: Store, who: int | Principal, year: str | int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The person's statement for ``year`` (default this year): ``{"statement", "payload"}``. The
    whole account is in it, so a partner's session may not ask for one (403)."""
    principal = as_principal(who)
    principal.require_own_sign_in("statement")
    now = now or utcnow()
    platform_id, key = interop.signing_key(store)
    account_id = principal.account_id
    with store.unit_of_work(write=False) as uow:
        account = uow.accounts.get(account_id)
        scheme = uow.schemes.get(account.scheme_id) if account else None
        holdings = uow.ledger.holdings(account_id)
        if account is None or scheme is None or not holdings:
            raise NotFound("account_not_found", account_id=account_id)
        zone = ZoneInfo(scheme.timezone)
        chosen = check_year(year, now.astimezone(zone).date())
        first, last = date(chosen, 1, 1).toordinal(), date(chosen, 12, 31).toordinal()
        days = uow.statements.credited_by_day(account_id, first, last)
        start = datetime(chosen, 1, 1, tzinfo=zone).astimezone(UTC)
        end = datetime(chosen + 1, 1, 1, tzinfo=zone).astimezone(UTC)
        flows = uow.statements.points_flows(holdings[ASSET_POINTS].id, start, end, owner=account_id)
        balance = uow.ledger.balance(holdings[ASSET_POINTS].id)
        pooled = uow.registry.contributions(account_id)
        batches = uow.registry.batches_by_id({b for b, _n, _g in pooled})
    by_scenario: dict[str, int] = {}
    for _day, scenario, _events, grams in days:
        by_scenario[scenario] = by_scenario.get(scenario, 0) + int(grams)
    credits = [
        {"batch_id": batches[b].public_id, "events": n, "carbon_g": g}
        for b, n, g in pooled
        if batches[b].vintage == chosen and g > 0
    ]
    payload = rules.build_payload(
        platform_id=platform_id,
        subject=rules.subject(rules.subject_key(key), scheme.id, account_id),
        year=chosen,
        timezone=scheme.timezone,
        carbon_g_by_scenario=by_scenario,
        points_earned=sum(f.amount for f in flows if f.direction == "in" and f.counterpart == SYSTEM_ISSUANCE),
        points_balance=int(balance),
        credits=credits,
        issued_unix=int(now.timestamp()),
    )
    return {"statement": rules.sign(key, platform_id, payload), "payload": payload}


def verify(store: Store, statement: Any, now: datetime | None = None) -> rules.Verdict:
    """Check a statement of this platform or of an active peer; a reason when it does not hold."""
    if not isinstance(statement, str) or not statement or len(statement) > STATEMENT_MAX:
        raise InvalidInput("invalid_request", details={"statement": "a compact JWS"})
    now = now or utcnow()
    claimed, _problem = rules.issuer(statement)
    key = None
    if claimed is not None:
        with store.unit_of_work(write=False) as uow:
            own = uow.interop.platform()
            peer = uow.interop.peer(claimed)
        if own is not None and own.platform_id == claimed:
            key = ps.public_key(own.public_key)
        elif peer is not None and peer.status == "active":
            key = ps.public_key(peer.public_key)
    return rules.verify(statement, key, int(now.timestamp()))
