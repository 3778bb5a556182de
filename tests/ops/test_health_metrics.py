"""/readyz and /metrics through real HTTP, on SQLite and PostgreSQL, and with two worker processes."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tanhui.store import Store
from tests.live import LiveServer, Partner
from tests.ops.helpers import event, json_lines, scrape, setup, value


def _set_revision(url: str, revision: str) -> str:
    store = Store(url)
    try:
        with store.engine.begin() as conn:
            before = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        return str(before)
    finally:
        store.dispose()


def test_readyz_is_ready_at_head_and_503_otherwise(live: LiveServer) -> None:
    ready = httpx.get(live.base_url + "/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["database"] == "ok" and body["schema"]
    head = body["schema"]

    _set_revision(live.database_url, "0000_older")
    try:
        behind = httpx.get(live.base_url + "/readyz", headers={"Accept-Language": "en"})
        assert behind.status_code == 503
        error = behind.json()["error"]
        assert error["code"] == "not_ready" and "schema_not_at_head" in error["message"]
        assert error["details"] == {"database": "ok", "schema": "0000_older", "expected": head}
        assert httpx.get(live.base_url + "/healthz").status_code == 200  # alive, just not ready
    finally:
        _set_revision(live.database_url, head)
    assert httpx.get(live.base_url + "/readyz").status_code == 200


def _batch(prefix: str, user: str = "u1") -> list[dict[str, Any]]:
    return [
        event(f"{prefix}-bus", user),  # credited: carbon and points
        event(f"{prefix}-walk", user, "walking", {"steps": 1000000}),  # rejected: implausible
        event(f"{prefix}-nc", "stranger"),  # rejected: no_consent
        event(f"{prefix}-unk", user, "teleport-" + prefix),  # unknown scenario: label "other", not the raw key
    ]


def test_metrics_count_events_postings_latency_and_auth_failures(live: LiveServer) -> None:
    partner = setup(live)
    assert partner.consent("u1").status_code == 201
    before = scrape(live.base_url)
    response = partner.events(_batch("a"))
    assert response.status_code == 200, response.text
    assert [(r["status"], r["reason"]) for r in response.json()["results"]] == [
        ("credited", None),
        ("rejected", "implausible"),
        ("rejected", "no_consent"),
        ("rejected", "unknown_scenario"),
    ]
    bad = partner.request("GET", "/v1/partner/accounts/u1", secret="sk_not-the-secret")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "bad_signature"
    after = scrape(live.base_url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("tanhui_events_total", scheme="city", scenario="bus_ride", status="credited", reason="none") == 1
    assert moved("tanhui_events_total", scheme="city", scenario="walking", status="rejected", reason="implausible") == 1
    assert moved("tanhui_events_total", scheme="city", scenario="bus_ride", status="rejected", reason="no_consent") == 1
    assert moved("tanhui_events_total", scheme="city", scenario="other", status="rejected", reason="unknown_scenario") == 1
    assert moved("tanhui_ledger_postings_total", scheme="city", asset="CO2E") == 1
    assert moved("tanhui_ledger_postings_total", scheme="city", asset="POINTS") == 1
    assert moved("tanhui_partner_auth_failures_total", code="bad_signature") == 1
    assert moved("tanhui_http_request_duration_seconds_count", route="/v1/partner/events", method="POST", status="200") == 1
    assert (
        moved(
            "tanhui_http_request_duration_seconds_count", route="/v1/partner/accounts/{user_ref:path}", method="GET", status="401"
        )
        == 1
    )
    assert ("tanhui_http_requests_in_flight", ()) in after
    assert any(name == "tanhui_threadpool_waiting_tasks" for name, _ in after)
    # Nothing a caller chooses becomes a label: no user_ref, raw path or unknown scenario key.
    labels = {v for _, ls in after for _, v in ls}
    assert not any(v == "u1" or "/v1/partner/accounts/u1" in v or v.startswith("teleport") for v in labels)
    partner.close()


def _send_batches(partner: Partner, prefix: str, count: int) -> None:
    for i in range(count):
        # A fresh connection per request: the kernel spreads connections over the worker processes.
        with httpx.Client(base_url=partner.base_url, timeout=60) as http:
            raw = json.dumps({"events": [event(f"{prefix}-{i}", "u1")]}).encode()
            response = http.post("/v1/partner/events", content=raw, headers=partner.headers("POST", "/v1/partner/events", raw))
            assert response.status_code == 200, response.text


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_metrics_add_up_over_two_workers(live_server_factory: Any, tmp_path: Any) -> None:
    live = live_server_factory(f"sqlite:///{tmp_path / 'workers.db'}", workers=2)
    partner = setup(live)
    assert partner.consent("u1").status_code == 201
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda p: _send_batches(partner, p, 10), ["t0", "t1", "t2", "t3"]))
    pids = {
        line.get("pid")
        for line in json_lines(live.log())
        if line.get("logger") == "tanhui.access" and line.get("route") == "/v1/partner/events"
    }
    # Every scrape (answered by whichever worker) shows the sum over both workers.
    for _ in range(6):
        samples = scrape(live.base_url)
        decided = value(samples, "tanhui_events_total", scheme="city")  # credited, or cap_reached past the daily cap
        assert decided == 40, (decided, pids)
        assert value(samples, "tanhui_http_request_duration_seconds_count", route="/v1/partner/events", status="200") == 40
        assert value(samples, "tanhui_http_requests_in_flight") >= 0
    assert len(pids) == 2, f"the batches were served by {pids}: the test did not exercise two workers"
    partner.close()
