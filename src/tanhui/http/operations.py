"""Operations endpoints: `GET /healthz` (the process answers), `GET /readyz` (the database answers, is
at the newest migration and its last quick structural check was clean, else 503) and `GET /metrics`
(Prometheus text, all worker processes added up, see tanhui.metrics). The request-id and timing
middleware is http/observability.py.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tanhui import metrics
from tanhui.errors import ServiceUnavailable
from tanhui.http import models
from tanhui.http.deps import StoreDep
from tanhui.http.errors import error_response
from tanhui.services import interop_sync
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


class StructureWatch:
    """The database's quick structural check (SQLite ``PRAGMA quick_check``; nothing on PostgreSQL, whose
    pages are checked as they are read), run in a background thread when the app is made and again once
    the last result is older than ``interval_s``, so a probe never waits for it (issue 18, finding 9).

    ``quick_check`` finds damaged pages and records (0.45-0.57 s on the 211 MB demo database, 3.4 s cold), not
    an index that disagrees with its table: that needs the full ``integrity_check`` (1.6-1.9 s there), which
    ``tanhui verify`` runs.
    """

    FIRST_WAIT_S = 10.0  # a probe before the first check has finished waits this long for it

    def __init__(self, store: Store, interval_s: float = 300.0) -> None:  # TANHUI_READY_CHECK_SECONDS
        self.store = store
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._running = False
        self._result: tuple[tuple[str, ...], float] | None = None  # (problems, when: time.monotonic())

    def start(self) -> None:
        with self._lock:
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._run, name="tanhui-quick-check", daemon=True).start()

    def problems(self) -> tuple[str, ...] | None:
        """What the last check found (``()``: nothing); None when no check has finished yet."""
        if self._result is None:
            self.start()
            self._first.wait(self.FIRST_WAIT_S)
        result = self._result
        if result is None or time.monotonic() - result[1] > self.interval_s:
            self.start()  # answered from the last result meanwhile
        return None if result is None else result[0]

    def _run(self) -> None:
        started = time.monotonic()
        problems: tuple[str, ...] | None
        try:
            problems = self.store.quick_check()
        except Exception as error:
            if isinstance(error, ServiceUnavailable) and error.code == "database_damaged":
                problems = (str(error.params.get("problem", error.code)),)  # not a database, or a page unreadable
            else:  # unreachable: readiness says so itself; keep the last result
                log.warning("readiness: quick check could not run (%s)", type(error).__name__)
                problems = self._result[0] if self._result is not None else None
        finally:
            with self._lock:
                self._running = False
        if problems is not None:
            finished = time.monotonic()
            self._result = (problems, finished)
            log.debug("readiness: quick structural check took %.3f s", finished - started)
            if problems:
                log.error("readiness: the database failed its quick structural check: %s", problems[0])
        self._first.set()


def readiness(store: Store) -> tuple[str | None, str | None]:
    """(problem, revision): problem is None when the database answers and is at head."""
    from tanhui.store import migrate

    try:
        revision = migrate.current(store)  # a query: it fails when the database does not answer
    except ServiceUnavailable as error:
        if error.code != "database_damaged":
            raise
        log.warning("readiness: database damaged")
        return "database_damaged", None
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
    damage: tuple[str, ...] | None = ()
    if problem is None:
        watch: StructureWatch = request.app.state.structure_watch
        damage = await run_in_threadpool(watch.problems)
        problem = "database_damaged" if damage else "database_not_checked" if damage is None else None
    if problem is not None:
        state = {"database_unreachable": "unreachable", "database_damaged": "damaged", "database_not_checked": "checking"}
        details: dict[str, Any] = {"database": state.get(problem, "ok"), "schema": revision, "expected": head_revision()}
        if damage:
            details["problems"] = list(damage[:5])
        return error_response(request, 503, "not_ready", details, reason=problem)
    return JSONResponse({"status": "ready", "database": "ok", "schema": revision})


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}}
)
async def prometheus_metrics(store: StoreDep) -> Response:
    peers = await run_in_threadpool(interop_sync.metric_rows, store)
    body, content_type = await run_in_threadpool(metrics.exposition, peers)
    return Response(body, media_type=content_type)
