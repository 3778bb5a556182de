"""Operations endpoints: `GET /healthz` (the process answers), `GET /readyz` (the database answers and
is at the newest migration, else 503) and `GET /metrics` (Prometheus text, all worker processes added
up, see tanhui.metrics). The request-id and timing middleware is http/observability.py.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tanhui import metrics
from tanhui.http import models
from tanhui.http.deps import StoreDep
from tanhui.http.errors import error_response
from tanhui.store import Store

log = logging.getLogger("tanhui.http")
router = APIRouter(tags=["operations"])


# -- readiness ------------------------------------------------------------------------------

_head: list[str] = []


def head_revision() -> str:
    """The newest migration this code ships (computed once per process)."""
    if not _head:
        from tanhui.store import migrate

        _head.append(migrate.head() or "")
    return _head[0]


def readiness(store: Store) -> tuple[str | None, str | None]:
    """(problem, revision): problem is None when the database answers and is at head."""
    from tanhui.store import migrate

    try:
        revision = migrate.current(store)  # a query: it fails when the database does not answer
    except Exception as error:  # any failure to reach the database means "not ready"
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        return "database_unreachable", None
    head = head_revision()
    if revision != head:
        return "schema_not_at_head", revision
    return None, revision


# -- routes -----------------------------------------------------------------------------------


@router.get("/healthz", response_model=models.Health)
async def healthz() -> Any:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {"description": "the database answers and is at the newest migration"},
        503: {"model": models.ErrorResponse, "description": "not ready"},
    },
)
async def readyz(request: Request, store: StoreDep) -> Response:
    problem, revision = await run_in_threadpool(readiness, store)
    if problem is not None:
        details = {
            "database": "unreachable" if problem == "database_unreachable" else "ok",
            "schema": revision,
            "expected": head_revision(),
        }
        return error_response(request, 503, "not_ready", details, reason=problem)
    return JSONResponse({"status": "ready", "database": "ok", "schema": revision})


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}}
)
async def prometheus_metrics() -> Response:
    body, content_type = await run_in_threadpool(metrics.exposition)
    return Response(body, media_type=content_type)
