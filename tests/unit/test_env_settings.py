"""Numeric environment settings: a clear error naming the variable and what it takes, never a crash."""

from __future__ import annotations

import pytest

from tanhui import config
from tanhui.errors import InvalidInput


def test_the_sync_interval_takes_zero_for_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.INTEROP_SYNC_SECONDS, raising=False)
    assert config.interop_sync_seconds() == 60
    for raw, seconds in (("0", 0), ("00", 0), (" 5 ", 5)):
        monkeypatch.setenv(config.INTEROP_SYNC_SECONDS, raw)
        assert config.interop_sync_seconds() == seconds
    for raw in ("-1", "1.5", "often", "５"):
        monkeypatch.setenv(config.INTEROP_SYNC_SECONDS, raw)
        with pytest.raises(InvalidInput) as refused:
            config.interop_sync_seconds()
        assert refused.value.code == "invalid_env_setting"
        assert refused.value.details == {config.INTEROP_SYNC_SECONDS: "a whole number >= 0"}


def test_other_settings_still_start_at_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.READY_CHECK_SECONDS, "0")
    with pytest.raises(InvalidInput) as refused:
        config.ready_check_seconds()
    assert refused.value.details == {config.READY_CHECK_SECONDS: "a whole number >= 1"}
    monkeypatch.setenv(config.READY_CHECK_SECONDS, "30")
    assert config.ready_check_seconds() == 30
