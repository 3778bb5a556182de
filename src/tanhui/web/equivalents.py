"""Everyday equivalents of a reduction, each with where its number comes from (shown as footnotes).

Figures come from /work/shared/reference/emission-factors.csv where it has them; the one it lacks
(a tree's yearly uptake) is marked as an assumption in code and on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal


@dataclass(frozen=True, slots=True)
class Equivalent:
    key: str
    grams_per_unit: Decimal
    unit_zh: str
    unit_en: str
    text_zh: str  # "{n}" is the number
    text_en: str
    source: str
    assumption: bool = False

    def amount(self, carbon_g: int) -> Decimal:
        return (Decimal(carbon_g) / self.grams_per_unit).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


EQUIVALENTS = (
    Equivalent(
        "car_km",
        Decimal("272"),
        "公里",
        "km",
        "少开车 {n} 公里",
        "{n} km not driven by car",
        "272 g CO₂/人·公里：北京市交通委（新京报 2019-12-05：22 公里 5.98 kg，折算）"
        " / 272 g CO2 per passenger-km, Beijing Transport Commission (Beijing News 2019-12-05: 22 km, 5.98 kg; derived)",
    ),
    Equivalent(
        "grid_kwh",
        Decimal("530.6"),
        "千瓦时",
        "kWh",
        "少用电 {n} 千瓦时",
        "{n} kWh of grid electricity",
        "0.5306 kg CO₂/kWh：生态环境部、国家统计局 2023 年全国电力平均二氧化碳排放因子"
        " / 0.5306 kg CO2/kWh, MEE & NBS national grid average 2023",
    ),
    Equivalent(
        # ASSUMPTION: the reference data has no figure for a tree; 18 kg CO2 a year is the figure
        # commonly quoted in Chinese public-information material. Shown on the page as an assumption.
        "tree_year",
        Decimal("18000"),
        "棵树一年",
        "tree-years",
        "相当于 {n} 棵树一年的吸收量",
        "what {n} trees absorb in a year",
        "假设：一棵树每年约吸收 18 kg CO₂（公众宣传中常用的估算，非本项目参考数据）"
        " / assumption: a tree absorbs about 18 kg CO2 a year (a common public-information estimate, not from our reference data)",
        assumption=True,
    ),
)


def equivalents(carbon_g: int, lang: str) -> list[dict[str, object]]:
    out = []
    for index, e in enumerate(EQUIVALENTS, start=1):
        n = e.amount(carbon_g)
        text = (e.text_en if lang == "en" else e.text_zh).format(n=f"{n:,}")
        out.append({"key": e.key, "text": text, "source": e.source, "assumption": e.assumption, "note": index})
    return out
