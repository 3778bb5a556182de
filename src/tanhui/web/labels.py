"""Names for what is stored as a code: methodologies (`bus-ride-cn@1` → 公交出行 · 第 1 版) and the details
of rejected events and audit entries (`rule: steps_per_day` → the rule's own sentence; `was=pending` →
原状态：待发货). The methodology files already carry the bilingual words; the enumerations are in
web/i18n.py ENUMS.
"""

from __future__ import annotations

import json
from typing import Any

from tanhui.errors import TanhuiError
from tanhui.services.methodologies import default_library
from tanhui.web.i18n import DETAIL_KEYS, YES_NO, label, scenario_name


def methodology_name(ref: str | None, lang: str) -> str:
    """A methodology's title and version for a person; an unknown reference (a retired file) stays as it is."""
    if not ref:
        return "—"
    try:
        m = default_library().get_ref(ref)
    except (TanhuiError, ValueError):
        return ref
    title = m.title_en if lang == "en" else m.title_zh
    return f"{title}, version {m.version}" if lang == "en" else f"{title} · 第 {m.version} 版"


def _input_words(scenario: str | None, lang: str) -> dict[str, str]:
    words: dict[str, str] = {}
    for m in default_library():
        if m.scenario == scenario:
            for spec in m.inputs:
                text = spec.description_en if lang == "en" else spec.description_zh
                words.setdefault(spec.name, text or spec.name)
    return words


def _rule_words(scenario: str | None, rule: str, lang: str) -> str | None:
    for m in default_library():
        if m.scenario == scenario:
            for r in m.plausibility:
                if r.name == rule and (r.text_en if lang == "en" else r.text_zh):
                    return r.text_en if lang == "en" else r.text_zh
    return None


def _key(key: str, lang: str) -> str:
    words = DETAIL_KEYS.get(key)
    return words[1 if lang == "en" else 0] if words else key


def _join(values: list[str], lang: str) -> str:
    return ", ".join(values) if lang == "en" else "、".join(values)


def review_details(details: Any, scenario: str | None, lang: str) -> str:
    """Why an event was refused, in words: the plausibility rule's sentence, the inputs by their names."""
    if not details:
        return "—"
    if not isinstance(details, dict):
        return str(details)
    inputs = _input_words(scenario, lang)
    rule = details.get("rule")
    if isinstance(rule, str):
        if rule == "negative_result":
            return "the result would be negative" if lang == "en" else "计算结果为负数"
        sentence = _rule_words(scenario, rule, lang)
        if sentence:
            return ("limit: " if lang == "en" else "合理范围：") + sentence
    parts = []
    for key, value in details.items():
        if isinstance(value, list):
            shown = _join([inputs.get(str(v), str(v)) for v in value], lang)
        else:
            shown = inputs.get(str(value), str(value))
        parts.append(f"{inputs.get(key, _key(key, lang))}{': ' if lang == 'en' else '：'}{shown}")
    return "; ".join(parts) if lang == "en" else "；".join(parts)


def actor_name(actor: str, lang: str) -> str:
    """`system` → 系统, `operator:li` → 运营方 li, `token:viewer` → 令牌（只读）."""
    named = label(lang)
    kind, colon, who = actor.partition(":")
    if not colon:
        return named("actor", actor)
    if kind == "token":
        return (
            f"{named('actor', kind)} ({named('role', who)})"
            if lang == "en"
            else f"{named('actor', kind)}（{named('role', who)}）"
        )
    return f"{named('actor', kind)} {who}"


def _value(key: str, value: Any, group: str, lang: str) -> str:
    named = label(lang)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return YES_NO[0 if value else 1][1 if lang == "en" else 0]
    if isinstance(value, list):
        if key == "scenarios":
            return _join([scenario_name(lang)(str(v)) for v in value], lang)
        return _join([str(v) for v in value], lang)
    if key == "was":
        return named(group, str(value))
    if key == "kind":
        return named("org_kind", str(value))
    if key == "role":
        return named("role", str(value))
    if key == "methodology":
        return methodology_name(str(value), lang)
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def audit_details(action: str, details: dict[str, Any] | None, lang: str) -> str:
    """An audit entry's details as words: keys named, statuses and kinds by their labels, lists joined."""
    if not details:
        return "—"
    group = {"market": "order_status", "partner": "partner_status"}.get(action.partition(".")[0], "")
    parts = [f"{_key(k, lang)}{': ' if lang == 'en' else '：'}{_value(k, v, group, lang)}" for k, v in details.items()]
    return "; ".join(parts) if lang == "en" else "；".join(parts)
