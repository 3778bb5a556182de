"""The ledger's daily hash-chain heads, published so that anyone holding an old head can detect a rewrite.

A scheme's journal is N hash chains (docs/architecture.md "The ledger"). The head of a chain at the
end of a scheme-local day is the hash of the highest-sequence entry recorded before midnight; the
day's ``combined`` hash is ``sha256`` of the lines ``{chain_id} {seq} {entry_hash}`` (chains in id
order, joined by ``\\n``). Everything is derived from the journal on read: nothing is written on
the ingest path.

An insider who rewrites an old entry and recomputes every later hash makes ``tanhui verify`` pass
again, but the recomputed heads of every day since the edit differ from those published then:
``check_published`` (and `tanhui ledger heads --check FILE`) names the first that disagrees.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.errors import InvalidInput, NotFound
from tanhui.services.clock import utcnow
from tanhui.store import Store

DAYS_MAX = 90
GENESIS = "0" * 64


def combined_hash(chains: list[dict[str, Any]]) -> str:
    lines = "\n".join(f"{c['chain_id']} {c['seq']} {c['head']}" for c in sorted(chains, key=lambda c: c["chain_id"]))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def daily_heads(
    store: Store, scheme_id: str, *, until: date | None = None, days: int = 7, now: datetime | None = None
) -> dict[str, Any]:
    """The heads at the end of each of ``days`` scheme-local days ending with ``until`` (default: yesterday,
    the last finished day), newest first."""
    if not 1 <= days <= DAYS_MAX:
        raise InvalidInput("invalid_request", details={"days": f"1..{DAYS_MAX}"})
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(scheme_id)
        if scheme is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        tz = ZoneInfo(scheme.timezone)
        last = until or (now or utcnow()).astimezone(tz).date() - timedelta(days=1)
        chain_ids = uow.ledger.chain_ids(scheme_id)
        out = []
        for back in range(days):
            day = last - timedelta(days=back)
            end = datetime.combine(day + timedelta(days=1), time(), tz)
            chains = []
            for chain_id in chain_ids:
                seq, head = uow.ledger.chain_head_before(chain_id, end) or (0, GENESIS)
                chains.append({"chain_id": chain_id, "seq": seq, "head": head})
            out.append({"date": day.isoformat(), "end": end.isoformat(), "chains": chains, "combined": combined_hash(chains)})
    return {"scheme_id": scheme_id, "timezone": scheme.timezone, "days": out}


def check_published(store: Store, published: dict[str, Any]) -> list[str]:
    """Compare heads published earlier (the JSON of `daily_heads`) with the journal as it is now.

    Returns one line per day that disagrees (empty: the journal still extends what was published).
    """
    problems = []
    for day in published.get("days", []):
        now_ = daily_heads(store, published["scheme_id"], until=date.fromisoformat(day["date"]), days=1)["days"][0]
        if now_["combined"] != day["combined"]:
            # by chain id: a published document need not list the same chains as the journal now has
            heads_now = {c["chain_id"]: (c["seq"], c["head"]) for c in now_["chains"]}
            heads_then = {c["chain_id"]: (c["seq"], c["head"]) for c in day["chains"]}
            changed = sorted(k for k in heads_now.keys() | heads_then.keys() if heads_now.get(k) != heads_then.get(k))
            problems.append(
                f"{day['date']}: combined head {day['combined'][:16]}… published, {now_['combined'][:16]}… now (chains {', '.join(changed)})"
            )
    return problems
