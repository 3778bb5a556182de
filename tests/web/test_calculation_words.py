"""The calculation told in words (issue 17, item 4): a sentence first, then a formula without code.

The methodologies are taken from the library and quantified for real, so a new methodology file whose
words are missing here (a scenario sentence, a unit, a factor without a description) fails this test.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from tanhui.domain.methodology.quantify import QuantifyContext, run
from tanhui.services.methodologies import default_library
from tanhui.web.calculation import _short, explained, number, sentence
from tanhui.web.calculation_words import CONFIDENCE, SENTENCES, UNITS
from tests.web.test_raw_codes import code_finder, raw_codes

CTX = QuantifyContext(datetime(2026, 11, 2, 8, tzinfo=UTC), date(2026, 11, 2), "四川")
CODE = re.compile(r"[A-Za-z_]+_[A-Za-z_]+|ROUND_|\*|\bif\b|\bhas\(")


def test_the_issues_sentence() -> None:
    assert sentence("bus_ride", {"distance_km": "4.2"}, 182, "zh-CN") == "乘坐公交 4.2 公里，比开车出行少排放 182 克二氧化碳。"
    assert sentence("bus_ride", {}, 80, "en") == "You took the bus and emitted 80 g less CO₂ than going by car."
    assert sentence("walking", {"steps": 12000}, 197, "zh-CN").startswith("步行 12,000 步")
    assert sentence("no_such_scenario", {}, 5, "en") == "no_such_scenario: 5 g of CO₂ avoided."


def test_numbers_and_descriptions_read_plainly() -> None:
    assert number("174.850", "zh-CN") == "174.85" and number("8000", "en") == "8,000" and number("1E+3", "en") == "1,000"
    assert _short("停驶的本地日期（默认：事件发生当天）") == "停驶的本地日期"
    assert _short("节约电量（千瓦时），由合作方按基准期计算") == "节约电量"
    assert _short("替代出行（地铁）每公里排放") == "替代出行（地铁）每公里排放"
    assert _short("kWh saved, computed by the partner against a baseline period") == "kWh saved"


def _samples() -> list[tuple[object, dict[str, object]]]:
    """Each methodology with data that fills every numeric input it declares (the smallest valid value)."""
    out = []
    for m in default_library():
        data: dict[str, object] = {}
        for spec in m.inputs:
            if spec.type in ("decimal", "integer"):
                data[spec.name] = int(spec.minimum or 0) + 3
            elif spec.type == "enum":
                data[spec.name] = spec.values[0]
        out.append((m, data))
    return out


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_methodology_is_told_without_code(lang: str) -> None:
    finder = code_finder(raw_codes(set()))
    told = 0
    for m, data in _samples():
        try:
            q = run(m, data, CTX, plausibility=False)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a sample the methodology refuses says nothing about the words
            continue
        t = explained(q.explanation, m.scenario, q.carbon_g, lang)  # type: ignore[attr-defined]
        assert m.scenario in SENTENCES, f"add a sentence for {m.scenario} to web/calculation_words.py"  # type: ignore[attr-defined]
        shown = " ".join([t["sentence"], t["formula"], t["rounding"]] + [f"{i['words']} {i['value']}" for i in t["inputs"]])
        shown += " ".join(f"{f['words']} {f['value']} {f['confidence']}" for f in t["factors"])
        assert f"{q.carbon_g:,}" in t["sentence"], (m, t["sentence"])  # type: ignore[attr-defined]
        assert not CODE.search(shown), (m, CODE.search(shown), shown)  # type: ignore[union-attr]
        if lang == "zh-CN":
            assert not finder.search(shown), (m, finder.search(shown), shown)  # type: ignore[union-attr]
        for f in q.explanation["factors"]:  # type: ignore[attr-defined]
            assert f["unit"] in UNITS and f["confidence"] in CONFIDENCE, f
        told += 1
    assert told >= 15
