"""Property tests: quantification is deterministic, and monotonic where the file declares it."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tanhui.domain.methodology import Methodology, load_library, packaged_dir
from tanhui.errors import TanhuiError

from .conftest import ctx

LIBRARY = load_library([packaged_dir()])
MONOTONIC = [(m, name) for m in LIBRARY for name in m.monotonic]
ALL = list(LIBRARY)


def base_data(m: Methodology) -> dict:
    vector = next(v for v in m.tests if v.error is None)
    return dict(vector.data), vector


def amount(m: Methodology, name: str) -> st.SearchStrategy[Decimal]:
    spec = next(s for s in m.inputs if s.name == name)
    low, high = spec.minimum or Decimal(0), spec.maximum or Decimal(1000)
    if spec.type == "integer":
        return st.integers(int(low), int(high)).map(Decimal)
    return st.decimals(min_value=low, max_value=high, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def monotonic_cases(draw: st.DrawFn) -> tuple[Methodology, str, Decimal, Decimal]:
    m, name = draw(st.sampled_from(MONOTONIC))
    a = draw(amount(m, name))
    b = draw(amount(m, name))
    return m, name, min(a, b), max(a, b)


def grams(m: Methodology, data: dict, vector) -> int | None:
    try:
        return m.quantify(data, ctx(vector.local_date, vector.region)).carbon_g
    except TanhuiError as error:
        assert error.code in ("implausible", "invalid_data")
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(monotonic_cases())
def test_more_activity_never_gives_fewer_grams(case: tuple[Methodology, str, Decimal, Decimal]) -> None:
    m, name, low, high = case
    data, vector = base_data(m)
    small = grams(m, {**data, name: str(low)}, vector)
    large = grams(m, {**data, name: str(high)}, vector)
    assume(small is not None and large is not None)  # past a plausibility bound: nothing to compare
    assert small <= large, (m.ref, name, low, high)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ALL), st.data())
def test_same_data_same_grams_and_explanation(m: Methodology, data: st.DataObject) -> None:
    base, vector = base_data(m)
    numeric = [s for s in m.inputs if s.type in ("decimal", "integer")]
    for spec in numeric:
        if data.draw(st.booleans()):
            base[spec.name] = str(data.draw(amount(m, spec.name)))
    first = [grams(m, dict(base), vector) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    if first[0] is not None:
        a = m.quantify(dict(base), ctx(vector.local_date, vector.region))
        b = m.quantify(dict(base), ctx(vector.local_date, vector.region))
        assert a.explanation == b.explanation and a.identity == b.identity


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False))
def test_number_and_numeric_text_and_float_agree(km: Decimal) -> None:
    bus = LIBRARY.get("bus-ride-cn", "1")
    as_text = bus.quantify({"distance_km": str(km)}, ctx())
    as_float = bus.quantify({"distance_km": float(str(km))}, ctx())
    assert as_text.carbon_g == as_float.carbon_g and as_text.unrounded == as_float.unrounded
