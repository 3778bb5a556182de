"""Quantify one behaviour: validate its data, check plausibility, evaluate the formula, round once.

The result is whole grams (ROUND_HALF_EVEN, once per event) and an explanation record that is stored
with the event: which methodology version, the normalised inputs, every factor actually used with its
value and source, the formula, and the unrounded and rounded result. With it anyone can recompute the
credit by hand; with ``Library.get(id, version)`` the platform recomputes it exactly.

Caps are not enforced here: they need the person's history, which only the ingestion pipeline has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, DecimalException
from typing import TYPE_CHECKING, Any

from tanhui.domain.methodology.expression import DECIMAL_CONTEXT
from tanhui.domain.methodology.inputs import INVALID_TYPE, LOCAL_DATE, MISSING, InputRefused, decimal_text
from tanhui.errors import BusinessRuleViolation, InvalidInput

if TYPE_CHECKING:
    from tanhui.domain.methodology.factors import Factor, FactorValue
    from tanhui.domain.methodology.model import Methodology

_ONE = Decimal(1)
ROUNDING = "ROUND_HALF_EVEN to whole grams, once per event"


@dataclass(frozen=True, slots=True)
class QuantifyContext:
    """What the event brings besides its data. ``local_date`` is the day in the scheme's time zone
    (it picks the factor year and is the default of date inputs); ``default_region`` is the scheme's
    region for region-keyed factors when the data names none."""

    occurred_at: datetime
    local_date: date
    default_region: str | None = None


@dataclass(frozen=True, slots=True)
class Quantification:
    carbon_g: int
    methodology: str
    explanation: dict[str, Any]
    unrounded: Decimal
    identity: tuple[str, ...] | None
    identity_scope: str | None
    identities: tuple[tuple[str, tuple[str, ...]], ...] = ()  # every complete identity: (scope, parts)


class _MissingInput(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Env(dict[str, Any]):
    """Input values; a factor is looked up the first time the formula reads it, and remembered as used."""

    __slots__ = ("methodology", "year", "default_region", "used")

    methodology: Methodology
    year: int
    default_region: str | None
    used: list[tuple[Factor, FactorValue]]

    def __init__(self, methodology: Methodology, year: int, default_region: str | None) -> None:
        super().__init__()
        self.methodology = methodology
        self.year = year
        self.default_region = default_region
        self.used = []

    def __missing__(self, name: str) -> Decimal:
        m = self.methodology
        factor: Factor | None = m.factor_map.get(name)
        if factor is None:
            raise _MissingInput(name)
        chosen = factor.constant
        if chosen is None:
            key = self[factor.key_input] if factor.key_input else None
            raw_region = self.get(factor.region_input) if factor.region_input else None
            if raw_region is None:
                raw_region = self.default_region
            chosen = factor.lookup(key, m.regions.chain(raw_region), self.year)
            if chosen is None:  # the loader proves every enum member has a value; this is a guard
                raise _MissingInput(name)
        self[name] = chosen.value
        self.used.append((factor, chosen))
        return chosen.value


def _refuse(details: dict[str, str]) -> InvalidInput:
    fields = ", ".join(f"{name}: {reason}" for name, reason in details.items())
    return InvalidInput("invalid_data", details=details, fields=fields)


def run(m: Methodology, data: Mapping[str, Any], ctx: QuantifyContext, *, plausibility: bool = True) -> Quantification:
    """``plausibility=False``: an operator reviewed an implausible behaviour and accepted it, so its
    plausibility rules are set aside; every other check (inputs, a negative result) still holds."""
    if not isinstance(data, Mapping):
        raise _refuse({"data": INVALID_TYPE})
    env = _Env(m, ctx.local_date.year, ctx.default_region)
    problems: dict[str, str] | None = None
    for spec in m.inputs:
        raw = data.get(spec.name)
        if raw is None:
            if spec.required:
                problems = problems or {}
                problems[spec.name] = MISSING
            elif spec.default is not None:
                env[spec.name] = ctx.local_date if spec.default == LOCAL_DATE else spec.default
            continue
        try:
            env[spec.name] = spec.normalise(raw)
        except InputRefused as refused:
            problems = problems or {}
            problems[spec.name] = refused.reason
    if problems:
        raise _refuse(problems)

    try:
        for rule in m.plausibility if plausibility else ():
            if rule.needs.issubset(env.keys()) and not rule.check(env):
                raise BusinessRuleViolation(
                    "implausible", details={"rule": rule.name, "fields": sorted(rule.needs)}, rule=rule.name, text=rule.text_en
                )
        raw_result = m.formula(env)
        carbon = raw_result.quantize(_ONE, rounding=ROUND_HALF_EVEN, context=DECIMAL_CONTEXT)
    except _MissingInput as missing:
        raise _refuse({missing.name: MISSING}) from None
    except DecimalException:
        raise _refuse({"formula": "not_computable"}) from None
    if carbon < 0:
        raise BusinessRuleViolation(
            "implausible", details={"rule": "negative_result"}, rule="negative_result", text="negative result"
        )
    carbon_g = int(carbon)

    identities = tuple(
        (rule.scope, (rule.kind, *(_part(env[f]) for f in rule.fields)))
        for rule in m.identity_rules
        if all(f in env for f in rule.fields)
    )
    explanation = {
        "methodology": m.ref,
        "scenario": m.scenario,
        "inputs": {spec.name: spec.shown(env[spec.name]) for spec in m.inputs if spec.name in env},
        "factors": [value.explained(factor.name, factor.unit) for factor, value in env.used],
        "formula": m.formula.source,
        "unrounded": decimal_text(raw_result),
        "rounding": ROUNDING,
        "carbon_g": carbon_g,
    }
    first = identities[0] if identities else None
    return Quantification(
        carbon_g=carbon_g,
        methodology=m.ref,
        explanation=explanation,
        unrounded=raw_result,
        identity=first[1] if first else None,
        identity_scope=first[0] if first else None,
        identities=identities,
    )


def _part(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


__all__ = ["Quantification", "QuantifyContext", "ROUNDING", "run"]
