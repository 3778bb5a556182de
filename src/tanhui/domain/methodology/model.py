"""The methodology model: immutable values built by the loader from one TOML file each.

A methodology is identified by ``id@version`` (its ``ref``). Versions are immutable: a revision is a
new file with a new version and its own validity period, so an event credited under ``bus-ride-cn@1``
is always recomputed with exactly that file. Points are a separate policy: a methodology only
produces grams CO2e.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from tanhui.domain.methodology.expression import Compiled
from tanhui.domain.methodology.factors import Factor, Regions
from tanhui.domain.methodology.inputs import InputSpec
from tanhui.domain.methodology.quantify import Quantification, QuantifyContext, run

PERIODS = ("day", "month")
SCOPES = ("global", "account")


@dataclass(frozen=True, slots=True)
class Cap:
    """A limit per person per local ``period`` (day or month, in the scheme's time zone).

    ``max_events``: at most this many credited events in the period. ``max_carbon_g``: at most this many
    grams credited in the period. ``per``: when set, the limit counts separately per value of that
    input (e.g. per ``service``); otherwise per scenario. Declared here, enforced by the ingestion
    pipeline, which knows the person's history.
    """

    period: str
    max_events: int | None = None
    max_carbon_g: int | None = None
    per: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "max_events": self.max_events, "max_carbon_g": self.max_carbon_g, "per": self.per}


@dataclass(frozen=True, slots=True)
class IdentityRule:
    """How to recognise the same real-world behaviour reported twice.

    ``global``: the same ``kind`` + field values from any partner or scheme is one behaviour (a trip id,
    an order id). ``account``: the values identify the behaviour only within one person's account (the
    day for a daily total, the meal slot of a day).
    """

    kind: str
    fields: tuple[str, ...]
    scope: str


@dataclass(frozen=True, slots=True)
class PlausibilityRule:
    """A condition a credible behaviour meets; checked only when every input it reads was given."""

    name: str
    rule: Compiled
    needs: frozenset[str]
    text_zh: str = ""
    text_en: str = ""

    def check(self, env: Mapping[str, Any]) -> bool:
        return bool(self.rule(env))


@dataclass(frozen=True, slots=True)
class TestVector:
    """Inputs and the expected grams (or the expected error code), written next to the formula."""

    __test__ = False  # not a pytest class, despite its name

    name: str
    data: dict[str, Any]
    local_date: date
    region: str | None = None
    carbon_g: int | None = None
    unrounded: Decimal | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Methodology:
    id: str
    version: str
    scenario: str
    title_zh: str
    title_en: str
    summary_zh: str
    summary_en: str
    standard: str
    valid_from: date
    valid_to: date | None
    default: bool
    inputs: tuple[InputSpec, ...]
    factors: tuple[Factor, ...]
    formula: Compiled
    plausibility: tuple[PlausibilityRule, ...] = ()
    identity_rules: tuple[IdentityRule, ...] = ()
    caps: tuple[Cap, ...] = ()
    tests: tuple[TestVector, ...] = ()
    regions: Regions = field(default_factory=Regions)
    monotonic: tuple[str, ...] = ()  # inputs in which the result never decreases (checked by a property test)
    path: str = ""
    digest: str = ""  # sha256 of the file's bytes: proof of which text an event was credited under
    factor_map: dict[str, Factor] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.factor_map.update({f.name: f for f in self.factors})

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def version_number(self) -> int:
        return int(self.version)

    @property
    def identity_fields(self) -> tuple[str, ...]:
        seen: list[str] = []
        for rule in self.identity_rules:
            seen.extend(f for f in rule.fields if f not in seen)
        return tuple(seen)

    @property
    def sources(self) -> tuple[str, ...]:
        """Every distinct source cited by the factors, the standard first."""
        seen = [self.standard] if self.standard else []
        for factor in self.factors:
            for value in factor.values:
                if value.source not in seen:
                    seen.append(value.source)
        return tuple(seen)

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on < self.valid_to)

    def quantify(self, data: Mapping[str, Any], ctx: QuantifyContext, *, plausibility: bool = True) -> Quantification:
        """Grams and explanation for one behaviour; raises ``invalid_data`` or ``implausible``."""
        return run(self, data, ctx, plausibility=plausibility)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "ref": self.ref,
            "scenario": self.scenario,
            "default": self.default,
            "title": {"zh-CN": self.title_zh, "en": self.title_en},
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "sources": list(self.sources),
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything a reader needs (CLI ``show --json``, the catalogue, an auditor)."""
        from tanhui.domain.methodology.inputs import decimal_text

        def shown(value: Any) -> Any:
            if isinstance(value, Decimal):
                return decimal_text(value)
            if isinstance(value, date):
                return value.isoformat()
            return value

        return {
            **self.summary(),
            "summary": {"zh-CN": self.summary_zh, "en": self.summary_en},
            "standard": self.standard,
            "digest": self.digest,
            "inputs": [
                {
                    "name": s.name,
                    "type": s.type,
                    "required": s.required,
                    "unit": s.unit,
                    "min": shown(s.minimum),
                    "max": shown(s.maximum),
                    "values": list(s.values) or None,
                    "default": shown(s.default),
                    "description": {"zh-CN": s.description_zh, "en": s.description_en},
                }
                for s in self.inputs
            ],
            "factors": [
                {
                    "name": f.name,
                    "unit": f.unit,
                    "key_input": f.key_input,
                    "region_input": f.region_input,
                    "description": {"zh-CN": f.description_zh, "en": f.description_en},
                    "values": [
                        {
                            "value": shown(v.value),
                            "key": v.key,
                            "region": v.region,
                            "year": v.year,
                            "source": v.source,
                            "confidence": v.confidence,
                            "note": v.note,
                        }
                        for v in f.values
                    ],
                }
                for f in self.factors
            ],
            "formula": self.formula.source,
            "monotonic": list(self.monotonic),
            "plausibility": [
                {"name": r.name, "rule": r.rule.source, "description": {"zh-CN": r.text_zh, "en": r.text_en}}
                for r in self.plausibility
            ],
            "identity": [{"kind": r.kind, "fields": list(r.fields), "scope": r.scope} for r in self.identity_rules],
            "caps": [c.to_dict() for c in self.caps],
            "tests": [
                {
                    "name": t.name,
                    "data": {k: shown(v) for k, v in t.data.items()},
                    "date": t.local_date.isoformat(),
                    "region": t.region,
                    "carbon_g": t.carbon_g,
                    "unrounded": shown(t.unrounded),
                    "error": t.error,
                }
                for t in self.tests
            ],
        }
