"""Quantifying: validation, plausibility, rounding once half-even, explanation, identity, regions, speed."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tanhui.domain.methodology import Library
from tanhui.errors import BusinessRuleViolation, InvalidInput

from .conftest import ctx


def test_rounding_is_half_even_once_per_event(library: Library) -> None:
    bus = library.get("bus-ride-cn", "1")
    assert bus.quantify({"distance_km": 5}, ctx()).carbon_g == 134  # 134.5 -> 134 (even)
    recycling = library.get("recycling-cn", "1")
    assert recycling.quantify({"material": "paper", "weight_kg": "2.5"}, ctx()).carbon_g == 738  # 737.5 -> 738
    # 10,000 steps: per-step rounding would give 10000 × round(0.0164) = 0; one rounding gives 164
    assert library.get("walking-cn", "1").quantify({"steps": 10_000}, ctx()).carbon_g == 164
    # the EV formula has several intermediate products; nothing is rounded until the end
    q = library.get("ev-charging-cn", "1").quantify({"energy_kwh": 30, "province": "四川"}, ctx())
    assert q.unrounded == Decimal("14026.0275") and q.carbon_g == 14026


def test_explanation_record(library: Library) -> None:
    q = library.get("bus-ride-cn", "1").quantify({"distance_km": 1.1, "trip_id": " T-9 ", "partner_field": 1}, ctx())
    e = q.explanation
    assert e["methodology"] == q.methodology == "bus-ride-cn@1"
    assert e["inputs"] == {"distance_km": "1.1", "trip_id": "T-9"}  # normalised; the unknown field is left out
    assert e["formula"] == "distance_km * reduction_g_per_pkm if has(distance_km) else per_ride_g"
    assert [f["name"] for f in e["factors"]] == ["reduction_g_per_pkm"]  # only the factors the formula used
    factor = e["factors"][0]
    assert factor["value"] == "26.9" and factor["unit"] == "gCO2/pkm" and factor["year"] == 2021
    assert factor["confidence"] == "assumption" and "深圳" in factor["source"]
    assert e["unrounded"] == "29.59" and e["carbon_g"] == q.carbon_g == 30


def test_json_float_is_read_through_its_text(library: Library) -> None:
    q = library.get("recycling-cn", "1").quantify({"material": "pet", "weight_kg": 0.1}, ctx())
    assert q.unrounded == Decimal("165.0000")  # 0.1 × 1.650 × 1000, not 0.1000000000000000055…


@pytest.mark.parametrize(
    ("ref", "data", "details"),
    [
        ("walking-cn@1", {}, {"steps": "missing"}),
        ("walking-cn@1", {"steps": "many"}, {"steps": "invalid_type"}),
        ("walking-cn@1", {"steps": True}, {"steps": "invalid_type"}),
        ("walking-cn@1", {"steps": -5}, {"steps": "out_of_range"}),
        ("walking-cn@1", {"steps": 2_000_000}, {"steps": "out_of_range"}),
        ("walking-cn@1", {"steps": 10.5}, {"steps": "invalid_type"}),
        ("walking-cn@1", {"steps": "NaN"}, {"steps": "invalid_type"}),
        ("walking-cn@1", {"steps": float("inf")}, {"steps": "invalid_type"}),
        ("walking-cn@1", {"steps": "1e999999"}, {"steps": "out_of_range"}),
        ("walking-cn@1", {"steps": 100, "date": "25/11/2026"}, {"date": "invalid_type"}),
        ("recycling-cn@1", {"material": "wood"}, {"material": "not_allowed", "weight_kg": "missing"}),
        ("bus-ride-cn@1", {"trip_id": "x" * 129}, {"trip_id": "too_long"}),
        ("bus-ride-cn@1", {"trip_id": 12}, {"trip_id": "invalid_type"}),
        ("clean-plate-cn@1", {"photo_verified": "yes"}, {"photo_verified": "invalid_type"}),
    ],
)
def test_invalid_data_names_every_failing_field(library: Library, ref: str, data: dict, details: dict) -> None:
    with pytest.raises(InvalidInput) as caught:
        library.get_ref(ref).quantify(data, ctx())
    assert caught.value.code == "invalid_data"
    assert caught.value.details == details
    assert all(name in caught.value.message("en") for name in details)


def test_data_must_be_a_mapping(library: Library) -> None:
    with pytest.raises(InvalidInput) as caught:
        library.get("bus-ride-cn", "1").quantify(["distance_km"], ctx())  # type: ignore[arg-type]
    assert caught.value.details == {"data": "invalid_type"}


@pytest.mark.parametrize(
    ("ref", "data", "rule"),
    [
        ("walking-cn@1", {"steps": 200_000}, "steps_per_day"),
        ("cycling-cn@1", {"distance_km": 30, "duration_min": 20}, "average_speed"),  # 90 km/h
        ("carpool-cn@1", {"distance_km": 5, "passengers": 8}, "car_seats"),
    ],
)
def test_implausible_behaviour_is_refused(library: Library, ref: str, data: dict, rule: str) -> None:
    with pytest.raises(BusinessRuleViolation) as caught:
        library.get_ref(ref).quantify(data, ctx())
    assert caught.value.code == "implausible"
    assert caught.value.details["rule"] == rule


def test_bounds_edges_are_inclusive(library: Library) -> None:
    walking = library.get("walking-cn", "1")
    assert walking.quantify({"steps": 100_000}, ctx()).carbon_g == 1640
    assert walking.quantify({"steps": 0}, ctx()).carbon_g == 0
    cycling = library.get("cycling-cn", "1")
    assert cycling.quantify({"distance_km": "35", "duration_min": 60, "bike_type": "shared"}, ctx()).carbon_g == 1400


def test_plausibility_rule_is_skipped_when_its_optional_input_is_absent(library: Library) -> None:
    assert library.get("cycling-cn", "1").quantify({"distance_km": 30, "bike_type": "shared"}, ctx()).carbon_g == 1200


def test_caps_are_declared_data(library: Library) -> None:
    walking = library.get("walking-cn", "1")
    assert [(c.period, c.max_events, c.max_carbon_g) for c in walking.caps] == [("day", 1, 296)]
    bus = library.get("bus-ride-cn", "1")
    assert bus.caps[0].period == "day" and bus.caps[0].max_events >= 6
    assert library.get("clean-plate-cn", "1").caps[0].max_events == 3
    online = library.get("online-service-cn", "1")
    assert online.caps[0].per == "service"


def test_identity_global_and_account(library: Library) -> None:
    bus = library.get("bus-ride-cn", "1")
    q = bus.quantify({"trip_id": "T-1"}, ctx())
    assert (q.identity, q.identity_scope) == (("trip", "T-1"), "global")
    assert bus.quantify({}, ctx()).identity is None
    assert bus.identity_fields == ("trip_id",)
    walking = library.get("walking-cn", "1")
    q = walking.quantify({"steps": 10}, ctx())
    assert (q.identity, q.identity_scope) == (("day", "2026-11-25"), "account")  # the date defaults to the local day
    assert walking.quantify({"steps": 10, "date": "2026-11-24"}, ctx()).identity == ("day", "2026-11-24")
    plate = library.get("clean-plate-cn", "1")
    q = plate.quantify({"meal": "Lunch", "order_id": "O-1"}, ctx())
    assert q.identity == ("meal", "2026-11-25", "lunch") and q.identity_scope == "account"
    assert q.identities[1] == ("global", ("order", "O-1"))
    carpool = library.get("carpool-cn", "1")
    assert carpool.quantify({"distance_km": 3, "passengers": 2, "trip_id": "C"}, ctx()).identity_scope == "account"


def test_region_and_year_lookup(library: Library) -> None:
    saving = library.get("electricity-saving-cn", "1")

    def grams(day_region: str | None = None, **data: object) -> tuple[int, str | None, int]:
        q = saving.quantify({"saved_kwh": 1000, **data}, ctx(region=day_region))
        factor = q.explanation["factors"][0]
        return q.carbon_g, factor["region"], factor["year"]

    assert grams(province="四川") == (140400, "四川", 2022)  # verified provincial value
    assert grams(province="Sichuan ") == (140400, "四川", 2022)  # alias, case and spaces
    assert grams(province="上海市") == (550000, "华东", 2023)  # provincial value unverified: regional grid
    assert grams(province="内蒙古自治区") == (684900, "内蒙古", 2022)
    assert grams() == (530600, None, 2023)  # national
    assert grams("云南") == (107300, "云南", 2022)  # the scheme's default region
    assert grams("云南", province="四川") == (140400, "四川", 2022)  # the data's region wins
    from datetime import date

    old = saving.quantify({"saved_kwh": 1000}, ctx(date(2022, 6, 1)))
    assert old.carbon_g == 536600 and old.explanation["factors"][0]["year"] == 2022
    older = saving.quantify({"saved_kwh": 1000}, ctx(date(2020, 6, 1)))
    assert older.explanation["factors"][0]["year"] == 2021  # earlier than every data year: the oldest


def test_same_input_same_grams(library: Library) -> None:
    m = library.get("ev-charging-cn", "1")
    results = {m.quantify({"energy_kwh": "42.5", "province": "福建"}, ctx()).carbon_g for _ in range(50)}
    assert len(results) == 1


def test_quantify_is_fast_enough_for_the_pipeline(library: Library) -> None:
    """The pipeline targets 20,000 events/s end to end; quantify must be a small part of that."""
    bus = library.get("bus-ride-cn", "1")
    context = ctx()
    samples = [{"trip_id": f"T-{i}"} if i % 2 else {"distance_km": "5.2", "trip_id": f"T-{i}"} for i in range(1000)]
    best = 0.0
    for _ in range(3):
        # this process's CPU time: the test suite's other worker shares the two cores, and a wall clock
        # counted its turns too (21,012 calls/s in a full run against ~35,000 alone)
        started = time.process_time()
        for _ in range(10):
            for data in samples:
                bus.quantify(data, context)
        best = max(best, 10_000 / (time.process_time() - started))
    assert best >= 30_000, f"{best:,.0f} quantify calls per CPU second"
