"""Shared helpers: the packaged library (loaded once) and a way to write methodology files in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tanhui.domain.methodology import Library, QuantifyContext, load_library

DAY = date(2026, 11, 25)


def ctx(day: date = DAY, region: str | None = None) -> QuantifyContext:
    return QuantifyContext(
        occurred_at=datetime(day.year, day.month, day.day, 4, tzinfo=UTC), local_date=day, default_region=region
    )


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library([Path(__file__).resolve().parents[2] / "src" / "tanhui" / "methodologies"])


MINIMAL = """\
id = "{id}"
version = "{version}"
scenario = "{scenario}"
default = {default}
valid_from = {valid_from}
standard = "test standard"
title = {{ zh-CN = "测试", en = "Test" }}
summary = {{ zh-CN = "测试", en = "Test" }}
formula = "{formula}"

[inputs.distance_km]
type = "decimal"
unit = "km"
min = 0
max = 300

[inputs.trip_id]
type = "string"

[factors.per_ride_g]
unit = "gCO2/ride"
value = {per_ride_g}
source = "test source"
year = 2024
confidence = "medium"

[factors.per_km_g]
unit = "gCO2/km"
value = 26.9
source = "test source"
year = 2021
confidence = "medium"

[[identity]]
kind = "trip"
fields = ["trip_id"]
scope = "global"

[[tests]]
name = "per ride"
data = {{}}
carbon_g = {per_ride_g}
"""


def minimal(
    id: str = "bus-test",
    version: str = "1",
    scenario: str = "bus_ride",
    default: bool = True,
    valid_from: str = "2024-01-01",
    formula: str = "distance_km * per_km_g if has(distance_km) else per_ride_g",
    per_ride_g: int = 80,
) -> str:
    return MINIMAL.format(
        id=id,
        version=version,
        scenario=scenario,
        default=str(default).lower(),
        valid_from=valid_from,
        formula=formula,
        per_ride_g=per_ride_g,
    )


def write(directory: Path, text: str, name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if name is None:
        first = dict(line.split(" = ", 1) for line in text.splitlines()[:2])
        name = f"{first['id'].strip(chr(34))}@{first['version'].strip(chr(34))}.toml"
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
