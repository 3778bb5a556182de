from __future__ import annotations

import pytest

from tanhui.domain.schemes import DEFAULT_TIMEZONE, new_scheme
from tanhui.errors import InvalidInput


def test_defaults() -> None:
    scheme = new_scheme("luzhou", " 绿芽积分 ")
    assert scheme.name == "绿芽积分"
    assert scheme.timezone == DEFAULT_TIMEZONE == "Asia/Shanghai"
    assert scheme.ledger_chains == 4


@pytest.mark.parametrize("bad", ["", "A", "x", "1abc", "has space", "ü-city", "a" * 33, "city;drop"])
def test_bad_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        new_scheme(bad, "x")
    assert caught.value.code == "invalid_scheme_id"


@pytest.mark.parametrize(
    ("name", "tz", "code"),
    [
        ("", "Asia/Shanghai", "invalid_name"),
        ("x" * 201, "UTC", "invalid_name"),
        ("ok", "Mars/Base", "invalid_timezone"),
        ("ok", "../etc/passwd", "invalid_timezone"),
    ],
)
def test_bad_names_and_timezones(name: str, tz: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        new_scheme("city", name, tz)
    assert caught.value.code == code
    assert caught.value.message("zh-CN") != caught.value.message("en")
