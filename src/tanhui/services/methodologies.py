"""Using the methodology library from a scheme: its pinned versions, its time zone and region.

A scheme's settings may hold ``methodology_pins`` ({scenario: "id@version"}) and ``default_region``
(e.g. "四川" for region-keyed factors such as grid emission factors). The library is loaded once per
process (files are read at start-up, never per event).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.domain.methodology import Library, Methodology, Quantification, QuantifyContext, load_library
from tanhui.domain.schemes import DEFAULT_TIMEZONE, Scheme
from tanhui.errors import InvalidInput
from tanhui.services.schemes import get_scheme
from tanhui.store import Store

PINS_KEY = "methodology_pins"
REGION_KEY = "default_region"


@lru_cache(maxsize=1)
def default_library() -> Library:
    """The packaged methodologies plus TANHUI_METHODOLOGY_PATH, loaded once per process."""
    return load_library()


def scheme_pins(scheme: Scheme | None) -> dict[str, str]:
    if scheme is None:
        return {}
    pins = scheme.settings.get(PINS_KEY) or {}
    if not isinstance(pins, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in pins.items()):
        raise InvalidInput("invalid_methodology_pin", details={"scheme": scheme.id}, scenario="*", pin=str(pins))
    return dict(pins)


def context_for(scheme: Scheme | None, occurred_at: datetime, region: str | None = None) -> QuantifyContext:
    """The event's local day in the scheme's time zone, and the region for region-keyed factors."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must carry a time zone")
    tz = ZoneInfo(scheme.timezone if scheme else DEFAULT_TIMEZONE)
    default_region = region or (scheme.settings.get(REGION_KEY) if scheme else None)
    return QuantifyContext(occurred_at=occurred_at, local_date=occurred_at.astimezone(tz).date(), default_region=default_region)


def resolve(library: Library, scenario_or_id: str, ctx: QuantifyContext, scheme: Scheme | None = None) -> Methodology:
    return library.resolve(scenario_or_id, on=ctx.local_date, pins=scheme_pins(scheme))


def quantify(
    library: Library,
    scenario_or_id: str,
    data: Mapping[str, Any],
    occurred_at: datetime,
    scheme: Scheme | None = None,
    region: str | None = None,
) -> Quantification:
    ctx = context_for(scheme, occurred_at, region)
    return resolve(library, scenario_or_id, ctx, scheme).quantify(data, ctx)


def load_scheme(store: Store, scheme_id: str) -> Scheme:
    """The scheme, with its pins checked against the library (a bad pin is an operator error)."""
    scheme = get_scheme(store, scheme_id)
    default_library().check_pins(scheme_pins(scheme))
    return scheme
