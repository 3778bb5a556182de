"""The words a calculation page reads in (issue 17, item 4): one sentence per scenario, units, factors
whose methodology file gives no description, the values of enumerated inputs and the confidence grades.

Each entry is (zh-CN, English). Sentences name the inputs they need in braces (`{distance_km}`) and
`{g}` for the grams; the first sentence whose inputs the behaviour has is the one shown.
tests/web/test_calculation_words.py checks that every methodology in the library has its words here.
"""

from __future__ import annotations

SENTENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "bus_ride": (
        (
            "乘坐公交 {distance_km} 公里，比开车出行少排放 {g} 克二氧化碳。",
            "You rode the bus {distance_km} km and emitted {g} g less CO₂ than going by car.",
        ),
        ("乘坐公交一次，比开车出行少排放 {g} 克二氧化碳。", "You took the bus and emitted {g} g less CO₂ than going by car."),
    ),
    "metro_ride": (
        (
            "乘坐地铁 {distance_km} 公里，比开车出行少排放 {g} 克二氧化碳。",
            "You rode the metro {distance_km} km and emitted {g} g less CO₂ than going by car.",
        ),
        ("乘坐地铁一次，比开车出行少排放 {g} 克二氧化碳。", "You took the metro and emitted {g} g less CO₂ than going by car."),
    ),
    "walking": (
        (
            "步行 {steps} 步，比开车出行少排放 {g} 克二氧化碳。",
            "You walked {steps} steps and emitted {g} g less CO₂ than going by car.",
        ),
    ),
    "cycling": (
        (
            "骑行 {distance_km} 公里，比开车出行少排放 {g} 克二氧化碳。",
            "You cycled {distance_km} km and emitted {g} g less CO₂ than going by car.",
        ),
    ),
    "carpool": (
        (
            "拼车出行 {distance_km} 公里，比各自开车少排放 {g} 克二氧化碳。",
            "You shared a {distance_km} km ride and emitted {g} g less CO₂ than driving alone.",
        ),
    ),
    "car_free_day": (
        ("私家车停驶一天，少排放 {g} 克二氧化碳。", "You left the car at home for a day and emitted {g} g less CO₂."),
    ),
    "ev_charging": (
        (
            "为电动汽车充电 {energy_kwh} 千瓦时，比开燃油车少排放 {g} 克二氧化碳。",
            "You charged an electric car with {energy_kwh} kWh and emitted {g} g less CO₂ than a petrol car would.",
        ),
    ),
    "clean_plate": (
        ("吃光一餐不浪费，少排放 {g} 克二氧化碳。", "You finished your meal without waste and avoided {g} g of CO₂."),
    ),
    "recycling": (
        ("回收 {weight_kg} 千克可回收物，少排放 {g} 克二氧化碳。", "You recycled {weight_kg} kg and avoided {g} g of CO₂."),
    ),
    "paperless_bill": (
        (
            "使用 {pages} 页电子账单代替纸质账单，少排放 {g} 克二氧化碳。",
            "A paperless bill of {pages} pages avoided {g} g of CO₂.",
        ),
        ("使用电子账单代替纸质账单，少排放 {g} 克二氧化碳。", "A paperless bill avoided {g} g of CO₂."),
    ),
    "e_invoice": (
        ("使用电子发票代替纸质发票，少排放 {g} 克二氧化碳。", "An e-invoice instead of a paper one avoided {g} g of CO₂."),
    ),
    "online_service": (("在线上办事，少跑一趟，少排放 {g} 克二氧化碳。", "Doing it online saved a trip and {g} g of CO₂."),),
    "second_hand": (
        ("买卖二手物品，少生产一件新品，少排放 {g} 克二氧化碳。", "A second-hand item spared a new one and {g} g of CO₂."),
    ),
    "reusable_bag": (("自带购物袋，少用一个塑料袋，少排放 {g} 克二氧化碳。", "Your own shopping bag avoided {g} g of CO₂."),),
    "reusable_cup": (("自带杯子，少用一个一次性杯，少排放 {g} 克二氧化碳。", "Your own cup avoided {g} g of CO₂."),),
    "electricity_saving": (
        (
            "节约用电 {saved_kwh} 千瓦时，少排放 {g} 克二氧化碳。",
            "You saved {saved_kwh} kWh of electricity and avoided {g} g of CO₂.",
        ),
    ),
}
FALLBACK = ("{scenario}，少排放 {g} 克二氧化碳。", "{scenario}: {g} g of CO₂ avoided.")

UNITS: dict[str, tuple[str, str]] = {
    "km": ("公里", "km"),
    "persons": ("人", "people"),
    "min": ("分钟", "min"),
    "kWh": ("千瓦时", "kWh"),
    "sheets": ("页", "pages"),
    "kg": ("千克", "kg"),
    "steps": ("步", "steps"),
    "1": ("", ""),
    "gCO2/ride": ("克/次", "g per ride"),
    "gCO2/pkm": ("克/人公里", "g per passenger-km"),
    "gCO2/km": ("克/公里", "g per km"),
    "km/day": ("公里/天", "km a day"),
    "gCO2e/check-in": ("克/次", "g per meal"),
    "gCO2/invoice": ("克/张", "g per invoice"),
    "kgCO2/kWh": ("千克/千瓦时", "kg per kWh"),
    "kWh/100km": ("千瓦时/百公里", "kWh per 100 km"),
    "L/100km": ("升/百公里", "litres per 100 km"),
    "MJ/L": ("兆焦/升", "MJ per litre"),
    "tCO2/TJ (= gCO2/MJ)": ("克/兆焦", "g per MJ"),
    "kgCO2/trip": ("千克/次", "kg per ride"),
    "gCO2/event": ("克/次", "g each time"),
    "gCO2e/sheet": ("克/页", "g per page"),
    "kgCO2e/kg": ("千克/千克", "kg per kg"),
    "gCO2/use": ("克/次", "g each time"),
    "kgCO2e/item": ("千克/件", "kg per item"),
    "gCO2/500 steps": ("克/500 步", "g per 500 steps"),
    "gCO2/step": ("克/步", "g per step"),
}

FACTORS: dict[str, tuple[str, str]] = {
    "per_ride_g": ("每次乘车的减排量", "reduction per ride"),
    "per_trip_kg": ("每次乘车的减排量", "reduction per ride"),
    "car_g_per_km": ("汽车每公里排放", "a car's emissions per km"),
    "detour_factor": ("绕路系数", "detour factor"),
    "per_checkin_g": ("每次光盘的减排量", "reduction per clean plate"),
    "per_invoice_g": ("每张电子发票的减排量", "reduction per e-invoice"),
    "g_per_event": ("每次线上办事的减排量", "reduction per online service"),
    "g_per_sheet": ("每页纸的排放", "emissions per sheet of paper"),
    "per_use_g": ("每次使用的减排量", "reduction per use"),
    "g_per_500_steps": ("每 500 步的减排量", "reduction per 500 steps"),
    "g_per_step": ("每步的减排量", "reduction per step"),
}

# inputs whose description lists their codes ("gasoline, ev or hybrid"): their name instead
INPUTS: dict[str, tuple[str, str]] = {
    "vehicle_type": ("车型", "vehicle"),
    "bike_type": ("车型", "bike"),
    "condition": ("成色", "condition"),
}

VALUES: dict[str, tuple[str, str]] = {
    "gasoline": ("燃油车", "petrol car"),
    "ev": ("纯电动车", "electric car"),
    "hybrid": ("混合动力车", "hybrid car"),
    "unknown": ("未说明", "not stated"),
    "breakfast": ("早餐", "breakfast"),
    "lunch": ("午餐", "lunch"),
    "dinner": ("晚餐", "dinner"),
    "shared": ("共享单车", "shared bike"),
    "own": ("自有自行车", "own bicycle"),
    "e-bike": ("电动自行车", "e-bike"),
    "utility_payment": ("缴纳水电费", "paying a utility bill"),
    "ticket": ("购票", "buying a ticket"),
    "train_ticket": ("购买火车票", "buying a train ticket"),
    "hospital_appointment": ("医院挂号", "a hospital appointment"),
    "paper": ("纸", "paper"),
    "cardboard": ("纸板", "cardboard"),
    "mixed_paper": ("混合废纸", "mixed paper"),
    "plastic": ("塑料", "plastic"),
    "pet": ("PET 塑料瓶", "PET bottles"),
    "hdpe": ("HDPE 塑料", "HDPE plastic"),
    "metal": ("金属", "metal"),
    "aluminium": ("铝", "aluminium"),
    "steel": ("钢", "steel"),
    "glass": ("玻璃", "glass"),
    "clothing": ("衣物", "clothing"),
    "phone": ("手机", "phone"),
    "laptop": ("笔记本电脑", "laptop"),
    "book": ("书", "book"),
    "appliance": ("家电", "appliance"),
    "like_new": ("几乎全新", "like new"),
    "good": ("良好", "good"),
    "fair": ("一般", "fair"),
}

CONFIDENCE: dict[str, tuple[str, str]] = {
    "high": ("可信度高", "high confidence"),
    "medium": ("可信度中等", "medium confidence"),
    "low": ("可信度低", "low confidence"),
    "medium-high": ("可信度中高", "medium to high confidence"),
    "low-medium": ("可信度中低", "low to medium confidence"),
    "assumption": ("假设值（没有更直接的数据时采用）", "an assumption (no more direct figure is known)"),
}

ROUNDING = ("四舍六入五成双，取整到克", "rounded half to even, to whole grams")
NOT_BELOW_ZERO = ("结果小于 0 时按 0 计", "a result below 0 counts as 0")
FUNCTIONS = {"max": ("较大值", "the larger of"), "min": ("较小值", "the smaller of")}
