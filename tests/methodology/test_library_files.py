"""The shipped library: every file's vectors, the 16 contract scenarios, the seed values, the catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tanhui.domain.methodology import Library, load_library, packaged_dir
from tanhui.domain.methodology.catalogue import render_catalogue
from tanhui.domain.methodology.vectors import check_vector

from .conftest import ctx

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_SCENARIOS = {
    # api-v1.md "Scenario keys and their main data fields": scenario -> (required, common optional)
    "bus_ride": ((), ("distance_km", "trip_id", "line", "city")),
    "metro_ride": ((), ("distance_km", "trip_id", "city")),
    "walking": (("steps",), ("date",)),
    "cycling": (("distance_km",), ("trip_id", "bike_type")),
    "clean_plate": ((), ("meal", "order_id", "photo_verified")),
    "recycling": (("material", "weight_kg"), ("station_id",)),
    "ev_charging": (("energy_kwh",), ("session_id", "province")),
    "car_free_day": ((), ("date", "vehicle_type")),
    "carpool": (("distance_km", "passengers"), ("trip_id",)),
    "paperless_bill": ((), ("bill_id", "pages")),
    "e_invoice": ((), ("invoice_id",)),
    "online_service": (("service",), ("order_id",)),
    "second_hand": (("category",), ("order_id", "condition")),
    "reusable_bag": ((), ("order_id",)),
    "reusable_cup": ((), ("order_id",)),
    "electricity_saving": (("saved_kwh",), ("province", "period")),
}


def _all_vectors() -> list[tuple[str, int]]:
    lib = load_library([packaged_dir()], check_vectors=False)
    return [(m.ref, i) for m in lib for i in range(len(m.tests))]


@pytest.mark.parametrize(("ref", "index"), _all_vectors())
def test_every_vector_of_every_methodology(library: Library, ref: str, index: int) -> None:
    m = library.get_ref(ref)
    vector = m.tests[index]
    assert check_vector(m, vector) is None, vector.name


@pytest.mark.parametrize("scenario", sorted(CONTRACT_SCENARIOS))
def test_contract_scenarios_have_a_default_with_the_contract_fields(library: Library, scenario: str) -> None:
    m = library.resolve(scenario, on=ctx().local_date)
    assert m.default and m.scenario == scenario
    required, optional = CONTRACT_SCENARIOS[scenario]
    specs = {s.name: s for s in m.inputs}
    for name in required:
        assert name in specs and specs[name].required, name
    for name in optional:
        assert name in specs and not specs[name].required, name
    assert not [s.name for s in m.inputs if s.required and s.name not in required]


def test_at_least_sixteen_scenarios_ship(library: Library) -> None:
    assert set(CONTRACT_SCENARIOS) <= set(library.scenarios)


def test_every_factor_value_cites_a_source_and_assumptions_give_reasons(library: Library) -> None:
    for m in library:
        assert m.standard
        for factor in m.factors:
            for value in factor.values:
                assert value.source.strip(), (m.ref, factor.name)
                if value.confidence == "assumption":
                    assert len(value.note) > 30, (m.ref, factor.name)


def test_no_unverified_or_do_not_use_value_is_shipped(library: Library) -> None:
    """The reference marks some rows UNVERIFIED ("do not ship without checking") or "do not use"."""
    for m in library:
        for factor in m.factors:
            for value in factor.values:
                assert "third-party code" not in value.source, (m.ref, factor.name, value.region)
                assert "0.5703" not in str(value.value)
                assert str(value.value) != "0.152"  # the generated Shenzhen bus value the reference rejects


# -- the four seed values ------------------------------------------------------------------------
def test_seed_clean_plate_is_144_g(library: Library) -> None:
    assert library.resolve("clean_plate", on=ctx().local_date).quantify({}, ctx()).carbon_g == 144


def test_seed_bus_ride_without_distance_is_80_g(library: Library) -> None:
    q = library.resolve("bus_ride", on=ctx().local_date).quantify({}, ctx())
    assert q.carbon_g == 80
    assert q.methodology == "bus-ride-cn@1"


def test_seed_500_steps_are_8_2_g_unrounded_and_8_g_credited(library: Library) -> None:
    m = library.resolve("walking", on=ctx().local_date)
    q = m.quantify({"steps": 500}, ctx())
    assert q.explanation["unrounded"] == "8.2"
    assert q.carbon_g == 8
    assert m.quantify({"steps": 10_000}, ctx()).carbon_g == 164


def test_seed_one_kg_of_used_clothing_is_1280_g(library: Library) -> None:
    m = library.resolve("recycling", on=ctx().local_date)
    assert m.quantify({"material": "clothing", "weight_kg": 1}, ctx()).carbon_g == 1280


# -- the catalogue and the package data ------------------------------------------------------------
def test_committed_catalogue_is_current(library: Library) -> None:
    committed = (ROOT / "docs" / "methodologies.md").read_text(encoding="utf-8")
    assert committed == render_catalogue(library), "docs/methodologies.md is stale: run `tanhui methodology docs`"


def test_catalogue_names_every_methodology_formula_and_source(library: Library) -> None:
    text = render_catalogue(library)
    for m in library:
        assert m.ref in text and m.formula.source in text
        for source in m.sources:
            assert source.replace("|", "\\|") in text


def test_methodology_files_are_package_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"methodologies/**/*.toml"' in pyproject
    assert len(list(packaged_dir().rglob("*.toml"))) >= 16


def test_explanations_are_json_serialisable(library: Library) -> None:
    for m in library:
        vector = next(v for v in m.tests if v.error is None)
        q = m.quantify(vector.data, ctx(vector.local_date, vector.region))
        assert json.loads(json.dumps(q.explanation))["carbon_g"] == q.carbon_g
