"""Prometheus metrics: one module owns every metric, its labels and how it is exposed.

Labels are bounded on purpose: scheme ids (created by operators), scenario keys the methodology
library knows (anything else is counted as ``other``), result statuses and reason codes, route
*templates* (never a raw path: paths carry user_refs and login tickets), methods, status codes and
error codes. Nothing a caller chooses freely becomes a label value.

Several server processes (``tanhui serve --workers N``): prometheus-client's multiprocess mode. When
``PROMETHEUS_MULTIPROC_DIR`` is set before this module is imported, every process writes its values
to files in that directory and ``/metrics`` (served by any worker) adds them up. ``tanhui serve``
sets it to a fresh temporary directory when N > 1 and removes it on exit.
"""

from __future__ import annotations

import os
import re
from collections import Counter as Tally
from collections.abc import Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import REGISTRY as _DEFAULT_REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

EVENTS = Counter(
    "tanhui_events",
    "Behaviour events decided by the ingestion pipeline (HTTP API and bulk importer), by outcome.",
    ["scheme", "scenario", "status", "reason"],
)
LEDGER_POSTINGS = Counter(
    "tanhui_ledger_postings",
    "Ledger postings written for behaviour credits (one per asset moved: CO2E grams, points).",
    ["scheme", "asset"],
)
HTTP_DURATION = Histogram(
    "tanhui_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template.",
    ["route", "method", "status"],
)
PARTNER_AUTH_FAILURES = Counter(
    "tanhui_partner_auth_failures",
    "Partner requests refused with 401, by error code (bad_signature, stale_request, unknown_partner, ...).",
    ["code"],
)
SIGN_IN_REFUSED = Counter(
    "tanhui_sign_in_refused",
    "Password sign-ins refused before any check after too many failures (tanhui/sign_in.py), by realm and limit.",
    ["realm", "limit"],
)
IN_FLIGHT = Gauge(
    "tanhui_http_requests_in_flight",
    "HTTP requests received and not yet answered, summed over the live server processes.",
    multiprocess_mode="livesum",
)
THREADPOOL_BUSY = Gauge(
    "tanhui_threadpool_busy_threads",
    "Worker threads running blocking work (database calls) as last seen at a request boundary.",
    multiprocess_mode="livesum",
)
THREADPOOL_WAITING = Gauge(
    "tanhui_threadpool_waiting_tasks",
    "Blocking calls queued for a free worker thread as last seen at a request boundary.",
    multiprocess_mode="livesum",
)

_known_scenarios: frozenset[str] | None = None


def _scenarios() -> frozenset[str]:
    global _known_scenarios
    if _known_scenarios is None:
        from tanhui.services.methodologies import default_library

        _known_scenarios = frozenset(default_library().scenarios)
    return _known_scenarios


def _scenario_label(raw: Any) -> str:
    scenario = raw.get("scenario") if isinstance(raw, dict) else None
    return scenario if isinstance(scenario, str) and scenario in _scenarios() else OTHER


def code_label(code: Any) -> str:
    return code if isinstance(code, str) and _CODE.match(code) else OTHER


def record_batch(outcome: Any, scheme_id: str, events: Sequence[Any]) -> None:
    """Count one committed batch: its results (aligned with ``events``) and the postings it wrote."""
    tally: Tally[tuple[str, str, str]] = Tally()
    postings: Tally[str] = Tally()
    for raw, result in zip(events, outcome.results, strict=True):
        status = result.get("status")
        tally[
            (_scenario_label(raw), code_label(status), code_label(result.get("reason")) if result.get("reason") else "none")
        ] += 1
        if status == "credited":
            if result.get("carbon_g", 0) > 0:
                postings["CO2E"] += 1
            if result.get("points", 0) > 0:
                postings["POINTS"] += 1
    for (scenario, status, reason), n in tally.items():
        EVENTS.labels(scheme_id, scenario, status, reason).inc(n)
    for asset, n in postings.items():
        LEDGER_POSTINGS.labels(scheme_id, asset).inc(n)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class PeerLogs:
    """The peers' claims logs as the store holds them, read at each scrape: sync runs in `tanhui serve`'s
    background thread and in `tanhui interop sync`, so no one process's counters could tell it. One
    series per configured peer (operators choose the ids, a handful)."""

    def __init__(self, peers: Sequence[dict[str, Any]]) -> None:
        self.peers = peers

    def collect(self) -> Any:
        untrusted = GaugeMetricFamily(
            "tanhui_interop_peer_untrusted",
            "1 when sync stopped trusting a peer's claims log (docs/interop.md: re-admit with peer remove + add), else 0.",
            labels=["peer"],
        )
        size = GaugeMetricFamily(
            "tanhui_interop_peer_tree_size", "Entries of the peer's claims log verified and stored.", labels=["peer"]
        )
        syncs = CounterMetricFamily(
            "tanhui_interop_peer_syncs", "Sync rounds with each peer, by outcome (ok, failed).", labels=["peer", "outcome"]
        )
        for peer in self.peers:
            untrusted.add_metric([peer["platform_id"]], 1 if peer["trust"] == "untrusted" else 0)
            size.add_metric([peer["platform_id"]], peer["tree_size"])
            syncs.add_metric([peer["platform_id"], "ok"], peer["syncs_ok"])
            syncs.add_metric([peer["platform_id"], "failed"], peer["syncs_failed"])
        return [untrusted, size, syncs]


def exposition(peers: Sequence[dict[str, Any]] = ()) -> tuple[bytes, str]:
    """The text exposition of every metric, added up over all worker processes when there are several,
    then the peers' claims logs (``PeerLogs``)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(_DEFAULT_REGISTRY)
    if peers:
        extra = CollectorRegistry()
        extra.register(PeerLogs(peers))
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST


def process_exiting(pid: int | None = None) -> None:
    """Forget a finished worker's live gauges (in-flight requests, threadpool)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def prepare_multiprocess_dir(path: str) -> None:
    """Empty a metrics directory of earlier runs' files (prometheus-client needs a clean start)."""
    for name in os.listdir(path):
        if name.endswith(".db") and name.split("_", 1)[0] in {"counter", "gauge", "histogram", "summary"}:
            os.remove(os.path.join(path, name))
