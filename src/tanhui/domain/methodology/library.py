"""The library: every loaded methodology version, found by exact ref, by id or by scenario.

Resolution rules (why they look like this): versions are immutable, so a revision never edits the
old file's ``valid_to``. Instead, among the versions in force on a day (``valid_from <= day <
valid_to``), the one that came into force last wins (ties: the higher version). For a scenario, only
methodologies marked ``default = true`` compete, unless the scheme pins one (``methodology_pins`` =
{scenario: "id@version"}); a pin always wins, so a scheme changes methodology only when its operator
changes the pin. Recomputing an event uses ``get(id, version)``, never resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date

from tanhui.domain.methodology.model import Methodology
from tanhui.domain.methodology.vectors import VectorResult, run_vectors
from tanhui.errors import InvalidInput, NotFound


class Library:
    def __init__(self, methodologies: Iterable[Methodology]) -> None:
        by_ref: dict[str, Methodology] = {}
        for m in methodologies:
            first = by_ref.get(m.ref)
            if first is not None:
                raise InvalidInput(
                    "invalid_methodology",
                    details={"file": m.path, "field": "version", "reason": f"{m.ref} is already defined in {first.path}"},
                    file=m.path,
                    field="version",
                    reason=f"{m.ref} is already defined in {first.path} (versions are immutable: add a new version)",
                )
            by_ref[m.ref] = m
        ordered = sorted(by_ref.values(), key=lambda m: (m.scenario, m.id, m.version_number))
        self._by_ref = {m.ref: m for m in ordered}
        self._by_id: dict[str, tuple[Methodology, ...]] = {}
        self._by_scenario: dict[str, tuple[Methodology, ...]] = {}
        for m in ordered:
            self._by_id[m.id] = self._by_id.get(m.id, ()) + (m,)
            self._by_scenario[m.scenario] = self._by_scenario.get(m.scenario, ()) + (m,)
        for m in ordered:
            if m.scenario != self._by_id[m.id][0].scenario:
                raise InvalidInput(
                    "invalid_methodology",
                    details={"file": m.path, "field": "scenario"},
                    file=m.path,
                    field="scenario",
                    reason=f"every version of {m.id} quantifies one scenario",
                )
        for scenario, group in self._by_scenario.items():
            starts: dict[date, Methodology] = {}
            for m in group:
                if not m.default:
                    continue
                other = starts.get(m.valid_from)
                if other is not None:
                    raise InvalidInput(
                        "invalid_methodology",
                        details={"file": m.path, "field": "valid_from"},
                        file=m.path,
                        field="valid_from",
                        reason=f"{other.ref} is also the default for {scenario} from {m.valid_from}",
                    )
                starts[m.valid_from] = m

    def __iter__(self) -> Iterator[Methodology]:
        return iter(self._by_ref.values())

    def __len__(self) -> int:
        return len(self._by_ref)

    @property
    def scenarios(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_scenario))

    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_id))

    def versions(self, methodology_id: str) -> tuple[Methodology, ...]:
        return self._by_id.get(methodology_id, ())

    def get(self, methodology_id: str, version: str | int) -> Methodology:
        """Exactly ``id@version``: how an event is recomputed with the version it was credited under."""
        ref = f"{methodology_id}@{version}"
        m = self._by_ref.get(ref)
        if m is None:
            raise NotFound("unknown_methodology", details={"methodology": ref}, ref=ref)
        return m

    def get_ref(self, ref: str) -> Methodology:
        methodology_id, _, version = ref.partition("@")
        if not version:
            raise NotFound("unknown_methodology", details={"methodology": ref}, ref=ref)
        return self.get(methodology_id, version)

    def resolve(self, scenario_or_id: str, on: date, pins: Mapping[str, str] | None = None) -> Methodology:
        """The methodology for a scenario (or an id, or an exact ``id@version``) in force on ``on``."""
        if "@" in scenario_or_id:
            return self.get_ref(scenario_or_id)
        if pins and scenario_or_id in pins:
            return self.pinned(scenario_or_id, pins[scenario_or_id])
        if scenario_or_id in self._by_scenario:
            candidates = [m for m in self._by_scenario[scenario_or_id] if m.default and m.in_force(on)]
            if not candidates:
                raise NotFound(
                    "unknown_scenario",
                    details={"scenario": scenario_or_id, "date": on.isoformat()},
                    scenario=scenario_or_id,
                    date=on.isoformat(),
                )
            return max(candidates, key=lambda m: (m.valid_from, m.version_number))
        if scenario_or_id in self._by_id:
            candidates = [m for m in self._by_id[scenario_or_id] if m.in_force(on)]
            if not candidates:
                raise NotFound(
                    "unknown_methodology",
                    details={"methodology": scenario_or_id, "date": on.isoformat()},
                    ref=f"{scenario_or_id} ({on.isoformat()})",
                )
            return max(candidates, key=lambda m: (m.valid_from, m.version_number))
        raise NotFound("unknown_scenario", details={"scenario": scenario_or_id}, scenario=scenario_or_id, date=on.isoformat())

    def pinned(self, scenario: str, ref: str) -> Methodology:
        try:
            m = self.get_ref(ref)
        except NotFound:
            raise InvalidInput(
                "invalid_methodology_pin", details={"scenario": scenario, "pin": ref}, scenario=scenario, pin=ref
            ) from None
        if m.scenario != scenario:
            raise InvalidInput("invalid_methodology_pin", details={"scenario": scenario, "pin": ref}, scenario=scenario, pin=ref)
        return m

    def check_pins(self, pins: Mapping[str, str]) -> dict[str, Methodology]:
        """Every pin of a scheme, resolved; refuses a pin to an unknown version or another scenario."""
        return {scenario: self.pinned(scenario, ref) for scenario, ref in sorted(pins.items())}

    def run_vectors(self) -> list[VectorResult]:
        return run_vectors(tuple(self))
