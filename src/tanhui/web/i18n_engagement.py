"""The zh-CN texts of the residents' pages added in issue 17's second part — the calculation told in
words, consents and connecting an app, leaderboards, coupons, the badge wall and delivery — kept apart
from web/i18n.py (which merges them into `ZH`) so no catalogue outgrows the adapters' size rule.
"""

from __future__ import annotations

ENGAGEMENT: dict[str, str] = {
    # the calculation page
    "g CO₂e": "克 CO₂e",
    "How it was calculated": "计算方法",
    "What was reported": "上报的数据",
    "Nothing but the behaviour itself.": "只有这次行为本身，没有其他数据。",
    ": ": "：",
    "Number of the report": "上报编号",
}
