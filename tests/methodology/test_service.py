"""Using the library from a scheme: pins, the scheme's local day and its default region."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tanhui.domain.schemes import new_scheme
from tanhui.errors import InvalidInput
from tanhui.services import methodologies as service
from tanhui.services.schemes import create_scheme

from ..conftest import new_sqlite_store


def test_local_day_comes_from_the_scheme_time_zone() -> None:
    scheme = new_scheme("luzhou", "绿芽积分", "Asia/Shanghai")
    late_utc = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # 01:30 on the 25th in Shanghai
    assert service.context_for(scheme, late_utc).local_date == date(2026, 11, 25)
    utc_scheme = new_scheme("london", "London", "UTC")
    assert service.context_for(utc_scheme, late_utc).local_date == date(2026, 11, 24)
    q = service.quantify(service.default_library(), "walking", {"steps": 500}, late_utc, scheme)
    assert q.identity == ("day", "2026-11-25") and q.carbon_g == 8


def test_pins_and_default_region_from_scheme_settings() -> None:
    scheme = new_scheme(
        "wuhan", "武碳江湖", settings={"methodology_pins": {"bus_ride": "bus-ride-wuhan@1"}, "default_region": "四川"}
    )
    moment = datetime(2026, 11, 25, 4, tzinfo=UTC)
    library = service.default_library()
    assert service.quantify(library, "bus_ride", {}, moment, scheme).carbon_g == 150
    assert service.quantify(library, "metro_ride", {}, moment, scheme).carbon_g == 52
    saving = service.quantify(library, "electricity_saving", {"saved_kwh": 10}, moment, scheme)
    assert saving.carbon_g == 1404  # Sichuan, from the scheme's default region
    with pytest.raises(ValueError):
        service.context_for(scheme, datetime(2026, 11, 25, 4))


def test_a_scheme_with_a_bad_pin_is_refused(tmp_path: Path) -> None:
    store = new_sqlite_store(tmp_path / "t.db")
    try:
        create_scheme(store, "good", "Good", settings={"methodology_pins": {"walking": "walking-wuhan@1"}})
        create_scheme(store, "bad", "Bad", settings={"methodology_pins": {"walking": "walking-cn@7"}})
        assert service.load_scheme(store, "good").id == "good"
        with pytest.raises(InvalidInput) as caught:
            service.load_scheme(store, "bad")
        assert caught.value.code == "invalid_methodology_pin"
    finally:
        store.dispose()
