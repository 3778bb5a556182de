"""The account page a partner's login_url lands on (the full web app comes with its own issue)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape

_ENV = Environment(autoescape=select_autoescape(default=True))
_PAGE = _ENV.from_string(
    """<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t('我的碳账户', 'My carbon account') }} · Tanhui 碳惠</title>
<style>body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:0 auto;max-width:40rem;padding:1rem;color:#1b3a1b}
.big{font-size:2.2rem;font-weight:700;color:#1f7a1f}table{border-collapse:collapse;width:100%}td,th{padding:.4rem;border-bottom:1px solid #ddd;text-align:left}</style>
</head>
<body>
<h1>{{ t('我的碳账户', 'My carbon account') }}</h1>
<p>{{ t('累计减排', 'Total reduction') }}</p>
<p class="big">{{ kg(s.carbon_g_total) }} kg CO₂e</p>
<p>{{ t('积分', 'Points') }}: <strong>{{ s.points_balance }}</strong> · {{ t('方案内排名', 'Rank in scheme') }}: <strong>{{ s.rank_in_scheme }}</strong> · {{ t('已记录行为', 'Behaviours credited') }}: <strong>{{ s.events_credited }}</strong></p>
<table><thead><tr><th>{{ t('场景', 'Scenario') }}</th><th>{{ t('次数', 'Events') }}</th><th>{{ t('减排 (g)', 'Reduction (g)') }}</th><th>{{ t('积分', 'Points') }}</th></tr></thead>
<tbody>{% for name, row in s.by_scenario|dictsort %}<tr><td>{{ name }}</td><td>{{ row.events }}</td><td>{{ row.carbon_g }}</td><td>{{ row.points }}</td></tr>{% endfor %}</tbody></table>
</body></html>"""
)


def account_page(summary: dict[str, Any], lang: str) -> str:
    return _PAGE.render(s=summary, lang=lang, t=lambda zh, en: en if lang == "en" else zh, kg=grams_as_kg)


def grams_as_kg(grams: int) -> str:
    """Integer grams shown as kilograms with three decimals, without a float in between."""
    sign = "-" if grams < 0 else ""
    whole, rest = divmod(abs(grams), 1000)
    return f"{sign}{whole:,}.{rest:03d}"
