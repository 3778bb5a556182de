"""A stored calculation told to a person (issue 17, item 4): first one sentence in plain words, then the
formula with each name replaced by its words and value, the inputs and the factors with their sources.

Why from the stored explanation and not by recomputing: the page must show what was credited, with the
factor values of that day; the methodology file only lends its words (descriptions), which may change
without changing a number. A methodology no longer in the library still shows, by its bare names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tanhui.domain.methodology.model import Methodology
from tanhui.errors import TanhuiError
from tanhui.services.methodologies import default_library
from tanhui.web.calculation_words import (
    CONFIDENCE,
    FACTORS,
    FALLBACK,
    FUNCTIONS,
    INPUTS,
    NOT_BELOW_ZERO,
    ROUNDING,
    SENTENCES,
    UNITS,
    VALUES,
)
from tanhui.web.i18n import YES_NO, scenario_name

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_CONDITIONAL = re.compile(r"^(?P<then>.+?) if has\((?P<name>\w+)\) else (?P<other>.+)$")
_NOT_BELOW_ZERO = re.compile(r"^max\(0,\s*(?P<inner>.+)\)$")
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_]\w*)|(?P<other>\S))")
_TRAILING_NOTE = re.compile(r"\s*(（[^（）]*）|\([^()]*\))\s*$")
_OPERATORS = {"*": "×", "/": "÷", "-": "−", "+": "+", "(": "(", ")": ")", ",": ","}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def _methodology(ref: str | None) -> Methodology | None:
    try:
        return default_library().get_ref(ref) if ref else None
    except (TanhuiError, ValueError):
        return None


def number(text: Any, lang: str) -> str:
    """A stored decimal as a person reads it: thousands separated, no trailing zeros, no exponent."""
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return str(text)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    whole = f"{value.normalize():f}"
    head, _, tail = whole.partition(".")
    return f"{int(head):,}.{tail}" if head.lstrip("-").isdigit() else whole


def unit_words(unit: str, lang: str) -> str:
    return _pick(UNITS[unit], lang) if unit in UNITS else unit


def _short(description: str) -> str:
    """A description without its explanatory tail: "乘车距离（公里）" reads "乘车距离", "节约电量（千瓦时），由合作方…"
    reads "节约电量"; a separator inside brackets ("（默认：事件发生当天）") does not cut."""
    depth, text = 0, description
    for at, char in enumerate(description):
        if char in "（(":
            depth += 1
        elif char in "）)":
            depth -= 1
        elif depth == 0 and (char in "：，；" or (char in ":;," and description[at + 1 : at + 2] == " ")):
            text = description[:at]
            break
    while True:
        shorter = _TRAILING_NOTE.sub("", text)
        if shorter == text or not shorter:
            return text
        text = shorter


def input_words(m: Methodology | None, name: str, lang: str) -> str:
    if name in INPUTS:
        return _pick(INPUTS[name], lang)
    spec = next((i for i in m.inputs if i.name == name), None) if m else None
    described = (spec.description_en if lang == "en" else spec.description_zh) if spec else ""
    return _short(described) if described else name.replace("_", " ")


def factor_words(m: Methodology | None, name: str, lang: str) -> str:
    factor = next((f for f in m.factors if f.name == name), None) if m else None
    described = (factor.description_en if lang == "en" else factor.description_zh) if factor else ""
    if described:
        return _short(described)
    return _pick(FACTORS[name], lang) if name in FACTORS else name.replace("_", " ")


def value_words(value: Any, unit: str, lang: str) -> str:
    if isinstance(value, bool):
        return YES_NO[0 if value else 1][1 if lang == "en" else 0]
    if isinstance(value, str) and value in VALUES:
        return _pick(VALUES[value], lang)
    if isinstance(value, int | float | Decimal) or (isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value)):
        shown = number(value, lang)
        words = unit_words(unit, lang)
        return f"{shown} {words}".strip()
    return str(value)


def sentence(scenario: str, inputs: Mapping[str, Any], carbon_g: int, lang: str) -> str:
    """One sentence: what the person did and how much less was emitted."""
    values = {k: number(v, lang) for k, v in inputs.items() if not isinstance(v, bool)}
    for pair in SENTENCES.get(scenario, ()):
        text = _pick(pair, lang)
        if all(n == "g" or n in values for n in _PLACEHOLDER.findall(text)):
            return text.format(g=f"{carbon_g:,}", **values)
    return _pick(FALLBACK, lang).format(scenario=scenario_name(lang)(scenario), g=f"{carbon_g:,}")


def formula_words(x: Mapping[str, Any], m: Methodology | None, lang: str) -> str:
    """The formula with names replaced by their words and values: 乘车距离 6.5 公里 × … = 174.85 克."""
    formula = " ".join(str(x.get("formula") or "").split())
    inputs: Mapping[str, Any] = x.get("inputs") or {}
    factors = {f["name"]: f for f in x.get("factors") or []}
    found = _CONDITIONAL.match(formula)
    if found:  # only the branch that was taken
        formula = found["then"] if found["name"] in inputs else found["other"]
    note = ""
    clipped = _NOT_BELOW_ZERO.match(formula)
    if clipped:
        formula, note = clipped["inner"], _pick(NOT_BELOW_ZERO, lang)
    units = {i.name: i.unit for i in m.inputs} if m else {}
    parts = []
    for token in _TOKEN.finditer(formula):
        if token["number"]:
            parts.append(token["number"])
        elif token["name"] in factors:
            f = factors[token["name"]]
            parts.append(f"{factor_words(m, f['name'], lang)} {value_words(f['value'], f['unit'], lang)}")
        elif token["name"] in inputs:
            parts.append(
                f"{input_words(m, token['name'], lang)} {value_words(inputs[token['name']], units.get(token['name'], ''), lang)}"
            )
        elif token["name"] in FUNCTIONS:
            parts.append(_pick(FUNCTIONS[token["name"]], lang))
        elif token["name"]:
            parts.append(token["name"].replace("_", " "))
        else:
            parts.append(_OPERATORS.get(token["other"] or "", token["other"] or ""))
    gram = "g" if lang == "en" else "克"
    text = " ".join(parts).replace("( ", "(").replace(" )", ")").replace(" ,", ",")
    text += f" = {number(x.get('unrounded', ''), lang)} {gram}"
    return f"{text}（{note}）" if note and lang != "en" else (f"{text} ({note})" if note else text)


def explained(x: Mapping[str, Any], scenario: str, carbon_g: int, lang: str) -> dict[str, Any]:
    """Everything the calculation page shows, in the language."""
    m = _methodology(x.get("methodology"))
    units = {i.name: i.unit for i in m.inputs} if m else {}
    inputs = [
        {"words": input_words(m, name, lang), "value": value_words(value, units.get(name, ""), lang)}
        for name, value in (x.get("inputs") or {}).items()
    ]
    factors = [
        {
            "words": factor_words(m, f["name"], lang),
            "value": value_words(f["value"], f["unit"], lang),
            "source": f.get("source") or "—",
            "year": f.get("year"),
            "region": f.get("region"),
            "confidence": _pick(CONFIDENCE[f["confidence"]], lang) if f.get("confidence") in CONFIDENCE else f.get("confidence"),
        }
        for f in x.get("factors") or []
    ]
    gram = "g" if lang == "en" else "克"
    return {
        "sentence": sentence(scenario, x.get("inputs") or {}, carbon_g, lang),
        "formula": formula_words(x, m, lang) if x.get("formula") else "",
        "rounding": f"{_pick(ROUNDING, lang)}: {carbon_g:,} {gram}"
        if lang == "en"
        else f"{_pick(ROUNDING, lang)}：{carbon_g:,} {gram}",
        "inputs": inputs,
        "factors": factors,
    }
