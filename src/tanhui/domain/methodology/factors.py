"""Emission factors and parameters: every value with its unit, source, year and confidence.

A factor may have one value, or several keyed by an enum input (``key_input``: e.g. the material of
recycled goods), by region (``region_input``: e.g. the province whose grid supplied the electricity)
and by data year. Why keyed values live inside one factor: the explanation of an event then names the
exact value used, with that value's own source, and a revision of one province's number is a new
methodology version, never an edit.

Region lookup, most specific first: the region named by the input (or the scheme's default region),
then its parents as declared in the file (province → grid region), then the values without a region
(the national or general default). Year lookup: the newest data year not after the event's local
year; when every value is newer than the event, the oldest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tanhui.domain.methodology.inputs import decimal_text

CONFIDENCE_LEVELS = ("high", "medium-high", "medium", "low-medium", "low", "assumption")
_REGION_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")


@dataclass(frozen=True, slots=True)
class FactorValue:
    value: Decimal
    source: str
    confidence: str
    year: int | None = None
    region: str | None = None
    key: str | None = None
    note: str = ""

    def explained(self, name: str, unit: str) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": name,
            "value": decimal_text(self.value),
            "unit": unit,
            "source": self.source,
            "year": self.year,
            "confidence": self.confidence,
            "region": self.region,
        }
        if self.key is not None:
            shown["key"] = self.key
        return shown


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    unit: str
    values: tuple[FactorValue, ...]
    key_input: str | None = None
    region_input: str | None = None
    description_zh: str = ""
    description_en: str = ""
    # (key, region) -> values sorted by year, built once
    _index: dict[tuple[str | None, str | None], tuple[FactorValue, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        groups: dict[tuple[str | None, str | None], list[FactorValue]] = {}
        for v in self.values:
            groups.setdefault((v.key, v.region), []).append(v)
        for group_key, group in groups.items():
            self._index[group_key] = tuple(sorted(group, key=lambda v: -1 if v.year is None else v.year))

    @property
    def constant(self) -> FactorValue | None:
        """The single value of an unkeyed factor (resolved once, not per event)."""
        if self.key_input is None and self.region_input is None and len(self.values) == 1:
            return self.values[0]
        return None

    def lookup(self, key: str | None, region_chain: tuple[str | None, ...], year: int) -> FactorValue | None:
        keys = (key, None) if key is not None else (None,)
        for k in keys:
            for region in region_chain:
                group = self._index.get((k, region))
                if group:
                    return _by_year(group, year)
        return None


def _by_year(group: tuple[FactorValue, ...], year: int) -> FactorValue:
    chosen = group[0]
    for v in group:
        if v.year is None or v.year <= year:
            chosen = v
        else:
            break
    return chosen


@dataclass(frozen=True, slots=True)
class Regions:
    """Region names, their aliases (pinyin, full names) and parents (province → grid region)."""

    aliases: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)

    def canonical(self, raw: str | None) -> str | None:
        if raw is None:
            return None
        text = raw.strip()
        lowered = text.lower()
        if lowered in self.aliases:
            return self.aliases[lowered]
        for suffix in _REGION_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix) + 1:
                text = text[: -len(suffix)]
                break
        return self.aliases.get(text.lower(), text)

    def chain(self, raw: str | None) -> tuple[str | None, ...]:
        region = self.canonical(raw)
        chain: list[str | None] = []
        while region is not None and region not in chain and len(chain) < 8:
            chain.append(region)
            region = self.parents.get(region)
        chain.append(None)
        return tuple(chain)
