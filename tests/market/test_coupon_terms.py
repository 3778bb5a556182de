"""A coupon's last day (issue 17): valid from its scheme-local day of redemption through `coupon_valid_days`."""

from __future__ import annotations

from datetime import date

import pytest

from tanhui.domain.market import COUPON_VALID_DAYS, coupon_last_day, coupon_valid_days
from tanhui.domain.scheme_settings import validate_settings
from tanhui.errors import InvalidInput


def test_the_day_of_redemption_is_the_first_day() -> None:
    assert coupon_last_day(date(2026, 11, 30), 1) == date(2026, 11, 30)
    assert coupon_last_day(date(2026, 11, 30), 90) == date(2027, 2, 27)
    assert coupon_valid_days({}) == COUPON_VALID_DAYS == 90 and coupon_valid_days({"coupon_valid_days": 30}) == 30


def test_a_scheme_sets_its_own_validity_in_range() -> None:
    assert validate_settings({"coupon_valid_days": 365})["coupon_valid_days"] == 365
    for bad in (0, 3651, "90", 1.5):
        with pytest.raises(InvalidInput):
            validate_settings({"coupon_valid_days": bad})
