"""Names for what is stored as a code: methodologies (`bus-ride-cn@1` → 公交出行 · 第 1 版) and the details
of rejected events and audit entries (`rule: steps_per_day` → the rule's own sentence; `was=pending` →
原状态：待发货). The methodology files already carry the bilingual words; the enumerations are in
web/i18n.py ENUMS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tanhui.errors import TanhuiError
from tanhui.services.methodologies import default_library
from tanhui.web.i18n import DETAIL_KEYS, YES_NO, label, scenario_name
from tanhui.web.i18n_operators import REASON_EXPLAINED


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


def _shown_value(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return f"{int(value):,}"
    return str(value)


def _caps_words(methodology: str | None, scenario: str | None, lang: str) -> str | None:
    found = None
    try:
        found = default_library().get_ref(methodology) if methodology else None
    except (TanhuiError, ValueError):
        found = None
    if found is None:
        found = next((m for m in default_library() if m.scenario == scenario), None)
    if found is None or not found.caps:
        return None
    parts = []
    for cap in found.caps:
        limits = []
        if cap.max_events is not None:
            limits.append(f"{cap.max_events} {('report' if cap.max_events == 1 else 'reports') if lang == 'en' else '条'}")
        if cap.max_carbon_g is not None:
            limits.append(f"{cap.max_carbon_g:,} {'g' if lang == 'en' else '克'}")
        if lang == "en":
            parts.append(f"at most {' and '.join(limits)} a {cap.period}")
        else:
            parts.append(f"每{'天' if cap.period == 'day' else '月'}最多 {'、'.join(limits)}")
    return _join(parts, lang)


def review_reason(reason: str, details: Any, data: Any, scenario: str | None, methodology: str | None, lang: str) -> str:
    """Why a report was rejected, in a sentence an operator can act on: the reason, then the rule it
    broke with the values reported (implausible), the caps (cap reached) or what was wrong (invalid)."""
    words = REASON_EXPLAINED.get(reason)
    said = words[1 if lang == "en" else 0] if words else label(lang)("reason", reason)
    colon, stop = (": ", ".") if lang == "en" else ("：", "。")
    if reason == "implausible" and isinstance(details, dict):
        rule = details.get("rule")
        sentence = _rule_words(scenario, rule, lang) if isinstance(rule, str) else None
        more = sentence or review_details(details, scenario, lang)
        listed = details.get("fields")
        fields: list[Any] = listed if isinstance(listed, list) else []
        inputs = _input_words(scenario, lang)
        reported = [
            f"{inputs.get(str(f), str(f))} {_shown_value(data[f])}" for f in fields if isinstance(data, dict) and f in data
        ]
        if reported:
            more += ("; reported: " if lang == "en" else "；上报：") + _join(reported, lang)
        return said + colon + more + stop
    if reason == "cap_reached":
        caps = _caps_words(methodology, scenario, lang)
        return said + (colon + caps if caps else "") + stop
    if reason == "invalid_data" and isinstance(details, dict) and details:
        inputs = _input_words(scenario, lang)
        named = label(lang)
        problems = [f"{inputs.get(str(k), _key(str(k), lang))} {named('input_problem', str(v))}" for k, v in details.items()]
        return said + colon + _join(problems, lang) + stop
    return said + stop


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


def target_name(target: str | None, lang: str) -> str:
    """An audit entry's target for a reader: operators and tokens named, `event:12` as report #12."""
    if not target:
        return "—"
    if target.startswith(("operator:", "token:")):
        return actor_name(target, lang)
    kind, colon, number = target.partition(":")
    if colon and kind == "event":
        return f"{'report' if lang == 'en' else '上报'} #{number}"
    return target


def _value(key: str, value: Any, group: str, lang: str, names: Mapping[str, str] | None = None) -> str:
    named = label(lang)
    if value is None:
        return "—"
    if names and isinstance(value, str) and value in names:
        return names[value]  # a partner's, an organisation's or an item's id: its name
    if key == "bought_from" and value == "scheme":
        return "the scheme" if lang == "en" else "方案"
    if isinstance(value, bool):
        return YES_NO[0 if value else 1][1 if lang == "en" else 0]
    if isinstance(value, list):
        if key == "scenarios":
            return _join([scenario_name(lang)(str(v)) for v in value], lang)
        return _join([(names or {}).get(str(v), str(v)) for v in value], lang)
    if key == "was":
        return named(group, str(value))
    if key == "reason":
        return named("reason", str(value))
    if key == "kind":
        return named("org_kind", str(value))
    if key == "role":
        return named("role", str(value))
    if key == "methodology":
        return methodology_name(str(value), lang)
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def audit_details(action: str, details: dict[str, Any] | None, lang: str, names: Mapping[str, str] | None = None) -> str:
    """An audit entry's details as words: keys named, statuses and kinds by their labels, lists joined,
    the scheme's ids (partners, organisations, items) by their names when `names` has them."""
    if not details:
        return "—"
    group = {"market": "order_status", "partner": "partner_status"}.get(action.partition(".")[0], "")
    parts = [f"{_key(k, lang)}{': ' if lang == 'en' else '：'}{_value(k, v, group, lang, names)}" for k, v in details.items()]
    return "; ".join(parts) if lang == "en" else "；".join(parts)
