"""Test vectors: worked examples written in the methodology file and checked against its formula.

Why data and not Python tests: the operator who writes a methodology also writes its examples (a
published methodology's own worked calculation is the best oracle), and one runner checks them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from tanhui.domain.methodology.quantify import QuantifyContext
from tanhui.errors import TanhuiError

if TYPE_CHECKING:
    from tanhui.domain.methodology.model import Methodology, TestVector


@dataclass(frozen=True, slots=True)
class VectorResult:
    methodology: str
    name: str
    problem: str | None  # None when the vector passed

    @property
    def ok(self) -> bool:
        return self.problem is None


def vector_context(vector: TestVector) -> QuantifyContext:
    occurred_at = datetime.combine(vector.local_date, time(12, 0), tzinfo=UTC)
    return QuantifyContext(occurred_at=occurred_at, local_date=vector.local_date, default_region=vector.region)


def check_vector(m: Methodology, vector: TestVector) -> str | None:
    """None when the methodology gives what the vector expects, else what went differently."""
    try:
        result = m.quantify(vector.data, vector_context(vector))
    except TanhuiError as error:
        if vector.error == error.code:
            return None
        return (
            f"expected {vector.carbon_g} g, got error {error.code} {error.details}"
            if vector.error is None
            else (f"expected error {vector.error}, got error {error.code}")
        )
    if vector.error is not None:
        return f"expected error {vector.error}, got {result.carbon_g} g"
    if result.carbon_g != vector.carbon_g:
        return f"expected {vector.carbon_g} g, got {result.carbon_g} g (unrounded {result.explanation['unrounded']})"
    if vector.unrounded is not None and result.unrounded != vector.unrounded:
        return f"expected unrounded {vector.unrounded}, got {result.explanation['unrounded']}"
    return None


def run_vectors(methodologies: list[Methodology] | tuple[Methodology, ...]) -> list[VectorResult]:
    return [VectorResult(m.ref, v.name, check_vector(m, v)) for m in methodologies for v in m.tests]
