"""What erasure keeps of an event's calculation (issue 18): the method, not the person.

An explanation (domain/methodology/quantify.py) copies the partner's inputs (a trip id, a city, a
line, ...) and the factors chosen by them (a region, an enum key). After erasure it keeps only what
describes the methodology's arithmetic: its id, scenario, formula, the factors' values and sources,
the unrounded and rounded result, and the cap applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEPT = ("methodology", "scenario", "formula", "unrounded", "rounding", "carbon_g", "capped_carbon_g")
FACTOR_KEPT = ("name", "value", "unit", "source", "year", "confidence")
ERASED_EVENT_PREFIX = "erased-"


def erased_explanation(explanation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The explanation without anything the partner supplied or that was chosen by it."""
    if not isinstance(explanation, Mapping):
        return None
    kept: dict[str, Any] = {k: explanation[k] for k in KEPT if k in explanation}
    factors = explanation.get("factors")
    if isinstance(factors, list):
        kept["factors"] = [{k: f[k] for k in FACTOR_KEPT if k in f} for f in factors if isinstance(f, Mapping)]
    kept["erased"] = True
    return kept


__all__ = ["ERASED_EVENT_PREFIX", "FACTOR_KEPT", "KEPT", "erased_explanation"]
