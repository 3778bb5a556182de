"""Shared helpers for the operations tests: a scheme with a partner, events, metric scraping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.live import LiveServer, Partner, create_partner

WHEN = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()


def event(event_id: str, user_ref: str, scenario: str = "bus_ride", data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_ref": user_ref,
        "scenario": scenario,
        "occurred_at": WHEN,
        "data": data if data is not None else {"trip_id": event_id},
    }


def setup(live: LiveServer, scheme: str = "city") -> Partner:
    live.tanhui("scheme", "create", scheme, "--name", "运维测试")
    return create_partner(live, scheme, "公交", "bus_ride,walking")


def scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = httpx.get(base_url + "/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
