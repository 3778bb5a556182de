"""Operator paths (`/v1/admin/...`): a bearer token scoped to one scheme (deps.bearer_operator)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from tanhui.errors import NotFound
from tanhui.http.deps import Operator, StoreDep
from tanhui.services import reports

router = APIRouter(tags=["operator"])

# the API's fields: every figure of reports.Stats but the scheme id, which is in the path
StatsKey = Literal[
    "registered_users",
    "daily_active_users",
    "points_issued",
    "points_redeemed",
    "carbon_g_total",
    "events_credited",
    "by_scenario",
    "series",
    "from",
    "to",
]
STATS_KEYS: tuple[StatsKey, ...] = get_args(StatsKey)


@router.get("/v1/admin/schemes/{scheme_id}/stats")
async def scheme_stats(scheme_id: str, request: Request, scope: Operator, store: StoreDep) -> Any:
    """The scheme's headline figures and daily series (api-v1.md "Operators")."""
    if scope.scheme_id != scheme_id:  # another scheme does not exist for this operator
        raise NotFound("scheme_not_found", scheme_id=scheme_id)
    found = await run_in_threadpool(
        reports.stats, store, scheme_id, request.query_params.get("from"), request.query_params.get("to")
    )
    return {k: found[k] for k in STATS_KEYS}
