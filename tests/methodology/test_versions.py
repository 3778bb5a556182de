"""Versions are immutable; resolution picks the version in force; pins win; recomputation is exact."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tanhui.domain.methodology import load_library, packaged_dir
from tanhui.errors import InvalidInput, NotFound

from .conftest import ctx, minimal, write


def test_a_new_version_does_not_change_events_credited_under_the_old_one(tmp_path: Path) -> None:
    write(tmp_path, minimal(per_ride_g=80))
    before = load_library([tmp_path])
    credited = before.resolve("bus_ride", on=date(2026, 11, 25)).quantify({"trip_id": "T"}, ctx())
    assert (credited.methodology, credited.carbon_g) == ("bus-test@1", 80)

    write(tmp_path, minimal(version="2", valid_from="2027-01-01", per_ride_g=60))
    after = load_library([tmp_path])
    assert after.resolve("bus_ride", on=date(2026, 12, 31)).ref == "bus-test@1"
    assert after.resolve("bus_ride", on=date(2027, 1, 1)).ref == "bus-test@2"
    assert after.resolve("bus-test", on=date(2027, 1, 1)).ref == "bus-test@2"
    # recomputing the stored event uses the version it names, whatever is in force now
    methodology_id, _, version = credited.methodology.partition("@")
    again = after.get(methodology_id, version).quantify({"trip_id": "T"}, ctx(date(2027, 6, 1)))
    assert again.carbon_g == credited.carbon_g and again.explanation["factors"] == credited.explanation["factors"]
    assert after.get("bus-test", "1").digest == before.get("bus-test", "1").digest


def test_a_version_ends_when_valid_to_is_reached(tmp_path: Path) -> None:
    write(tmp_path, minimal().replace("valid_from = 2024-01-01", "valid_from = 2024-01-01\nvalid_to = 2025-01-01"))
    library = load_library([tmp_path])
    assert library.resolve("bus_ride", on=date(2024, 12, 31)).ref == "bus-test@1"
    with pytest.raises(NotFound) as caught:
        library.resolve("bus_ride", on=date(2025, 1, 1))
    assert caught.value.code == "unknown_scenario"


def test_pins_win_over_defaults() -> None:
    library = load_library([packaged_dir()])
    day = date(2026, 11, 25)
    assert library.resolve("bus_ride", on=day).ref == "bus-ride-cn@1"
    pinned = library.resolve("bus_ride", on=day, pins={"bus_ride": "bus-ride-wuhan@1"})
    assert pinned.quantify({}, ctx()).carbon_g == 150
    assert library.resolve("metro_ride", on=day, pins={"bus_ride": "bus-ride-wuhan@1"}).ref == "metro-ride-cn@1"
    with pytest.raises(InvalidInput) as caught:
        library.resolve("bus_ride", on=day, pins={"bus_ride": "metro-ride-wuhan@1"})
    assert caught.value.code == "invalid_methodology_pin"
    with pytest.raises(InvalidInput):
        library.check_pins({"walking": "walking-cn@9"})


def test_unknown_scenario_and_methodology() -> None:
    library = load_library([packaged_dir()])
    with pytest.raises(NotFound) as caught:
        library.resolve("teleporting", on=date(2026, 11, 25))
    assert caught.value.code == "unknown_scenario"
    with pytest.raises(NotFound) as caught:
        library.get("bus-ride-cn", "99")
    assert caught.value.code == "unknown_methodology" and "bus-ride-cn@99" in caught.value.message("en")
    with pytest.raises(NotFound):
        library.get_ref("bus-ride-cn")
    assert library.resolve("bus-ride-cn@1", on=date(2000, 1, 1)).ref == "bus-ride-cn@1"
