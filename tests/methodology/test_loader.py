"""Malformed methodology files are refused with a message naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanhui.domain.methodology import load_library
from tanhui.errors import InvalidInput

from .conftest import minimal, write


def refused(tmp_path: Path, text: str, name: str = "bus-test@1.toml") -> InvalidInput:
    path = write(tmp_path, text, name)
    with pytest.raises(InvalidInput) as caught:
        load_library([tmp_path])
    error = caught.value
    assert error.code == "invalid_methodology"
    assert error.details["file"] == str(path)
    for lang in ("zh-CN", "en"):
        assert str(path) in error.message(lang) and error.details["field"] in error.message(lang)
    return error


def test_a_valid_minimal_file_loads(tmp_path: Path) -> None:
    write(tmp_path, minimal())
    assert [m.ref for m in load_library([tmp_path])] == ["bus-test@1"]


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('id = "bus-test"', 'id = "Bus Test"', "id"),
        ('version = "1"', 'version = "1.0"', "version"),
        ('scenario = "bus_ride"', 'scenario = "Bus"', "scenario"),
        ('title = { zh-CN = "测试", en = "Test" }', 'title = { zh-CN = "测试" }', "title.en"),
        ("valid_from = 2024-01-01", 'valid_from = "soon"', "valid_from"),
        ('standard = "test standard"\n', "", "standard"),
        ('formula = "distance_km * per_km_g if has(distance_km) else per_ride_g"', "formula = \"__import__('os')\"", "formula"),
        (
            'formula = "distance_km * per_km_g if has(distance_km) else per_ride_g"',
            'formula = "per_ride_g * unknown_factor"',
            "formula",
        ),
        ('formula = "distance_km * per_km_g if has(distance_km) else per_ride_g"', 'formula = "distance_km > 1"', "formula"),
        ('type = "decimal"', 'type = "float"', "inputs.distance_km.type"),
        ("max = 300\n", "", "inputs.distance_km.max"),
        ("value = 80", 'value = "eighty"', "factors.per_ride_g.value"),
        ('source = "test source"\nyear = 2024', "year = 2024", "factors.per_ride_g.source"),
        (
            'confidence = "medium"\n\n[factors.per_km_g]',
            'confidence = "sure"\n\n[factors.per_km_g]',
            "factors.per_ride_g.confidence",
        ),
        (
            'confidence = "medium"\n\n[factors.per_km_g]',
            'confidence = "assumption"\n\n[factors.per_km_g]',
            "factors.per_ride_g.note",
        ),
        ('scope = "global"', 'scope = "planet"', "identity[0].scope"),
        ('fields = ["trip_id"]', 'fields = ["order_id"]', "identity[0].fields"),
        ("carbon_g = 80", "carbon_g = 81", "tests[0]"),
        ("carbon_g = 80", "", "tests[0]"),
        ("default = true", 'default = true\ncolour = "green"', "colour"),
        ('unit = "gCO2/ride"', 'unit = "gCO2/ride"\nunits = "g"', "factors.per_ride_g.units"),
    ],
)
def test_refusal_names_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    text = minimal()
    assert old in text, old
    error = refused(tmp_path, text.replace(old, new, 1))
    assert error.details["field"] == field


def test_syntax_error(tmp_path: Path) -> None:
    assert refused(tmp_path, minimal() + "\n[broken\n").details["field"] == "(syntax)"


def test_file_name_must_match_id_and_version(tmp_path: Path) -> None:
    assert refused(tmp_path, minimal(), name="bus-test@2.toml").details["field"] == "id"


def test_no_test_vectors(tmp_path: Path) -> None:
    text = minimal()
    text = text[: text.index("[[tests]]")]
    assert refused(tmp_path, text).details["field"] == "tests"


def test_caps_need_a_limit(tmp_path: Path) -> None:
    text = minimal() + '\n[[caps]]\nperiod = "week"\nmax_events = 2\n'
    assert refused(tmp_path, text).details["field"] == "caps[0].period"
    text = minimal() + '\n[[caps]]\nperiod = "day"\n'
    assert refused(tmp_path, text).details["field"] == "caps[0]"


def test_keyed_factor_must_cover_every_enum_value(tmp_path: Path) -> None:
    text = (
        minimal().replace(
            "[inputs.trip_id]",
            '[inputs.kind]\ntype = "enum"\nrequired = true\nvalues = ["a", "b"]\n\n[inputs.trip_id]',
        )
        + '\n[factors.by_kind]\nunit = "g"\nkey_input = "kind"\nvalues = [{ key = "a", value = 1, source = "s", confidence = "low" }]\n'
    )
    text = text.replace("data = {}", 'data = { kind = "a" }')
    assert refused(tmp_path, text).details["field"] == "factors.by_kind.values"


def test_regional_factor_needs_a_fallback(tmp_path: Path) -> None:
    text = (
        minimal()
        + '\n[factors.grid]\nunit = "kg/kWh"\nregion_input = "trip_id"\n'
        + 'values = [{ region = "四川", value = 0.14, source = "s", confidence = "high" }]\n'
    )
    assert refused(tmp_path, text).details["field"] == "factors.grid.values"


def test_same_version_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "a", minimal())
    write(tmp_path / "b", minimal(per_ride_g=90))
    with pytest.raises(InvalidInput) as caught:
        load_library([tmp_path / "a", tmp_path / "b"])
    assert caught.value.code == "invalid_methodology" and "immutable" in caught.value.message("en")


def test_two_defaults_starting_the_same_day_are_refused(tmp_path: Path) -> None:
    write(tmp_path, minimal())
    write(tmp_path, minimal(id="bus-other"))
    with pytest.raises(InvalidInput) as caught:
        load_library([tmp_path])
    assert caught.value.details["field"] == "valid_from"


def test_extra_directories_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, minimal(id="bus-extra", default=False))
    monkeypatch.setenv("TANHUI_METHODOLOGY_PATH", str(tmp_path))
    library = load_library()
    assert library.get("bus-extra", "1").path.startswith(str(tmp_path))
    assert library.get("bus-ride-cn", "1")
    monkeypatch.setenv("TANHUI_METHODOLOGY_PATH", str(tmp_path / "missing"))
    with pytest.raises(InvalidInput):
        load_library()
