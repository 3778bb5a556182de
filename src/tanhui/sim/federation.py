"""The demo's federation (issue 16): the demo city and a second city, two deployments that count a
behaviour once between them.

``tanhui demo`` gives the demo city its platform identity (``cn-luzhou``) with a federation key file
beside its database, and reports one more bus trip, ``DEMO_TRIP``. ``tanhui demo --second-city`` builds
a smaller second deployment (``cn-yibin``, its own database, server and trips) with the same federation
key, makes each city a peer of the other, pulls the demo city's claims log, and then has its own bus
company report the same trip: the second city refuses it as ``duplicate_behaviour``, claimed by
``cn-luzhou``. Both sides go through the real signed HTTP paths.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tanhui import secretbox
from tanhui.client import PartnerClient
from tanhui.services import interop, interop_sync
from tanhui.store import Store

FIRST_CITY = ("cn-luzhou", "泸州碳惠")
SECOND_CITY = ("cn-yibin", "宜宾碳惠（第二座城市）")
DEMO_TRIP = "FED-DEMO-TRIP-0001"  # one bus trip both cities' bus companies report
BUS = "泸州公交"


def federation_key_file(database: Path) -> Path:
    """The federation key the demo's cities share: beside the demo city's database, made once (0600)."""
    path = database.parent / "federation.key"
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            secretbox.write_key_file(path, [secretbox.new_key_text()], replace=False)
    return path


def join(store: Store, city: tuple[str, str], key_file: Path) -> dict[str, Any]:
    """This deployment's platform identity (made once; an existing one is kept)."""
    if interop.is_initialised(store):
        return interop.public_info(store)
    return interop.init_platform(store, city[0], city[1], key_file, actor="demo")


def peer(store: Store, other: dict[str, Any], url: str) -> None:
    """Trust the other city (again, with its current key and URL, when it was a peer before)."""
    found = {p.platform_id: p for p in interop.list_peers(store)}
    now = found.get(other["platform_id"])
    if now is not None and now.url == url.rstrip("/") and now.public_key == other["public_key"]:
        return
    if now is not None:
        interop.remove_peer(store, other["platform_id"], actor="demo")
    interop.add_peer(store, other["platform_id"], url, other["public_key"], actor="demo")


def trip_event(user_ref: str, event_id: str, when: datetime | None = None) -> dict[str, Any]:
    """The demo trip as a bus company reports it (each company with its own event id and rider)."""
    when = when or datetime.now(UTC) - timedelta(minutes=20)
    return {
        "event_id": event_id,
        "user_ref": user_ref,
        "scenario": "bus_ride",
        "occurred_at": when.isoformat(),
        "data": {"trip_id": DEMO_TRIP, "line": "3", "distance_km": "6.4"},
    }


def report_trip(base_url: str, partner: dict[str, Any], user_ref: str, event_id: str) -> dict[str, Any]:
    """Send the demo trip through the partner API; the result for the one event."""
    client = PartnerClient(base_url, partner["partner_id"], partner["secret"])
    try:
        sent = client.send_events([trip_event(user_ref, event_id)], keep_results=True)
    finally:
        client.close()
    assert sent.results is not None  # kept, as asked
    return dict(sent.results[0])


def first_city_up(url: str) -> bool:
    try:
        return httpx.get(url.rstrip("/") + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def federate(
    first_url: str, first_database_url: str, second_url: str, second_store: Store, key_file: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Give the second city its identity and make the two cities peers of each other."""
    first_store = Store(first_database_url)
    try:
        first = join(first_store, FIRST_CITY, key_file)
        second = join(second_store, SECOND_CITY, key_file)
        peer(first_store, second, second_url)
        peer(second_store, first, first_url)
    finally:
        first_store.dispose()
    return first, second


def pull_and_report(
    second_store: Store, second_base: str, partner: dict[str, Any], rider_ref: str
) -> tuple[list[interop_sync.PeerSync], dict[str, Any]]:
    """Pull the demo city's claims log, then report the demo trip to the second city."""
    pulled = interop_sync.sync(second_store, FIRST_CITY[0])
    answer = report_trip(second_base, partner, rider_ref, "yb-fed-demo-0001")
    return pulled, answer
