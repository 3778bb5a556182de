"""Which credited reductions may be issued as credits, and how a pool becomes whole tonnes.

Eligibility (scheme setting ``registry``, defaults below): an event is eligible when it was
credited (carbon_g > 0), its ledger entry has not been reversed, it is in no batch yet, its
scenario or methodology version is issuable, and the holding period has passed: it was credited
(received) on a scheme-local day ``d`` with ``d + holding_days <= as_of``.

Pools: one per (scheme, vintage = year of the behaviour's local day, methodology ``id@version``).

The remainder rule (never a gram issued twice, never a gram issued that was not credited):
1. ``total = carried_in_g + sum(eligible grams)``; ``N = total // 1,000,000`` credits are issued.
2. Events are consumed whole, in ascending event id (recording order), the shortest prefix whose
   grams with ``carried_in_g`` reach ``N`` tonnes.
3. The overshoot ``carried_out_g = carried_in_g + consumed_g - N * 1,000,000`` (less than the last
   consumed event's grams, and less than a tonne) is recorded on the batch and opens the pool's
   next batch as its ``carried_in_g``. Every other eligible event stays unconsumed and eligible.
So per pool, ``sum(issued grams) + last carried_out_g == sum(consumed grams)``, and each event is
consumed by exactly one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from tanhui.errors import InvalidInput

TONNE_G = 1_000_000
DEFAULT_HOLDING_DAYS = 30
SETTINGS_KEY = "registry"


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    holding_days: int = DEFAULT_HOLDING_DAYS
    issuable: frozenset[str] | None = None  # scenario keys and/or methodology refs; None = all

    @classmethod
    def from_scheme(cls, settings: Mapping[str, Any]) -> RegistrySettings:
        raw = settings.get(SETTINGS_KEY) or {}
        if not isinstance(raw, Mapping):
            raise InvalidInput("invalid_registry_settings", reason="registry must be a table")
        holding = raw.get("holding_days", DEFAULT_HOLDING_DAYS)
        if type(holding) is not int or holding < 0:
            raise InvalidInput("invalid_registry_settings", reason="holding_days must be a whole number >= 0")
        issuable = raw.get("issuable")
        if issuable is not None:
            if not isinstance(issuable, list | tuple) or not all(isinstance(x, str) and x for x in issuable):
                raise InvalidInput("invalid_registry_settings", reason="issuable must be a list of scenarios or methodology refs")
            issuable = frozenset(issuable)
        return cls(holding, issuable)

    def allows(self, scenario: str, methodology: str | None) -> bool:
        if methodology is None:
            return False
        return self.issuable is None or scenario in self.issuable or methodology in self.issuable

    def last_eligible_day(self, as_of: date) -> date:
        """Events credited on this scheme-local day or before have served the holding period."""
        return as_of - timedelta(days=self.holding_days)


def vintage_days(vintage: int) -> tuple[int, int]:
    """The first and last local-day ordinals of a vintage year."""
    if not 2000 <= vintage <= 2999:
        raise InvalidInput("invalid_vintage", vintage=vintage)
    return date(vintage, 1, 1).toordinal(), date(vintage, 12, 31).toordinal()


def leaf_record(
    *, scheme_id: str, partner_id: str, event_id: str, fingerprint: str | None, carbon_g: int, methodology: str, local_day: int
) -> dict[str, Any]:
    """The one definition of what a batch's Merkle leaf commits to (docs/registry.md).

    ``event`` is the partner's id and its event id (what a person's history shows); ``local_day``
    is the behaviour's scheme-local date in ISO form.
    """
    return {
        "scheme": scheme_id,
        "event": f"{partner_id}/{event_id}",
        "fingerprint": fingerprint,
        "carbon_g": carbon_g,
        "methodology": methodology,
        "local_day": date.fromordinal(local_day).isoformat(),
    }


@dataclass(frozen=True, slots=True)
class Candidate:
    event_pk: int  # events.id: the consumption order
    carbon_g: int


@dataclass(frozen=True, slots=True)
class PoolPlan:
    quantity: int
    consumed: tuple[Candidate, ...]
    carried_in_g: int
    carried_out_g: int

    @property
    def consumed_g(self) -> int:
        return sum(c.carbon_g for c in self.consumed)

    @property
    def issued_g(self) -> int:
        return self.quantity * TONNE_G


def plan_pool(carried_in_g: int, candidates: Sequence[Candidate]) -> PoolPlan:
    """Apply the remainder rule to one pool's eligible events (any order; sorted here)."""
    if carried_in_g < 0:
        raise InvalidInput("invalid_quantity", quantity=carried_in_g)
    ordered = sorted(candidates, key=lambda c: c.event_pk)
    if any(c.carbon_g <= 0 for c in ordered):
        raise InvalidInput("invalid_quantity", quantity=min(c.carbon_g for c in ordered))
    quantity = (carried_in_g + sum(c.carbon_g for c in ordered)) // TONNE_G
    if quantity == 0:
        return PoolPlan(0, (), carried_in_g, carried_in_g)
    need = quantity * TONNE_G
    pooled, taken = carried_in_g, 0
    while pooled < need:
        pooled += ordered[taken].carbon_g
        taken += 1
    return PoolPlan(quantity, tuple(ordered[:taken]), carried_in_g, pooled - need)


def credits_for_emission(emission_t: Any) -> int:
    """Whole credits that cover an emission estimate in tonnes CO2e (rounded up)."""
    from decimal import ROUND_CEILING, Decimal, InvalidOperation

    try:
        value = Decimal(str(emission_t))
    except InvalidOperation:
        raise InvalidInput("invalid_emission", emission_t=emission_t) from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput("invalid_emission", emission_t=emission_t)
    return int(value.to_integral_value(rounding=ROUND_CEILING))
