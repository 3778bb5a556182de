"""People with habits, and the behaviour reports their partners send — deterministic for a seed.

Pure: the caller gives the seed, the start day and the scheme's time zone; nothing here reads the
clock or the store. Most people are ordinary (commuters, walkers, diners, recyclers, bank
customers, EV drivers); a few cheat in the ways the field has seen (a step counter shaken all day,
a bus card tapped twenty times, a trip reported twice), and the fraud rules must catch them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# partner name in the demo scheme file -> the scenarios it reports
PARTNERS = {
    "泸州公交": ("bus_ride",),
    "酒城单车": ("cycling",),
    "健步走APP": ("walking",),
    "光盘餐厅联盟": ("clean_plate",),
    "再生资源回收站": ("recycling",),
    "泸州银行": ("paperless_bill", "e_invoice", "online_service"),
    "绿电充电": ("ev_charging",),
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力斌宇浩凯俊帆琳雪梅婷欣怡晨阳轩涵"


@dataclass(frozen=True, slots=True)
class Person:
    index: int
    name: str
    partners: tuple[str, ...]  # the partners this person authorised
    commuter: bool
    walker: bool
    cyclist: bool
    diner: bool
    recycler: bool
    banker: bool
    ev_driver: bool
    checks_in: float  # chance of a daily check-in
    shopper: bool
    cheat: str | None = None  # "steps", "bus_spam", "double_trip"

    def user_ref(self, partner: str) -> str:
        return f"{abs(hash_text(partner)) % 9973:04d}-{self.index:06d}"


def hash_text(text: str) -> int:
    """A stable hash (Python's hash() is salted per process)."""
    value = 0
    for ch in text:
        value = (value * 131 + ord(ch)) % 2_147_483_647
    return value


def people(count: int, seed: int) -> list[Person]:
    rng = random.Random(seed)
    cheats = (
        {rng.randrange(count): kind for kind in ("steps", "steps", "bus_spam", "bus_spam", "double_trip")} if count >= 50 else {}
    )
    found = []
    for i in range(count):
        commuter = rng.random() < 0.55
        walker = rng.random() < 0.6
        cyclist = rng.random() < 0.25
        diner = rng.random() < 0.45
        recycler = rng.random() < 0.2
        banker = rng.random() < 0.35
        ev_driver = rng.random() < 0.08
        cheat = cheats.get(i)
        if cheat == "steps":
            walker = True
        if cheat in ("bus_spam", "double_trip"):
            commuter = True
        wanted = {
            "泸州公交": commuter,
            "酒城单车": cyclist,
            "健步走APP": walker,
            "光盘餐厅联盟": diner,
            "再生资源回收站": recycler,
            "泸州银行": banker,
            "绿电充电": ev_driver,
        }
        partners = tuple(p for p, on in wanted.items() if on) or ("健步走APP",)
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
        found.append(
            Person(
                i,
                name,
                partners,
                commuter,
                walker or partners == ("健步走APP",),
                cyclist,
                diner,
                recycler,
                banker,
                ev_driver,
                checks_in=rng.choice([0, 0, 0.3, 0.6, 0.9]),
                shopper=rng.random() < 0.15,
                cheat=cheat,
            )
        )
    return found


@dataclass
class Report:
    partner: str
    event: dict[str, Any]


@dataclass
class DayPlan:
    day: date
    reports: list[Report] = field(default_factory=list)
    checkins: list[tuple[int, datetime]] = field(default_factory=list)  # (person index, when)


def at(day: date, hour: float, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz) + timedelta(hours=hour)


def simulate(
    population: list[Person], first_day: date, days: int, seed: int, tz: ZoneInfo, trip_prefix: str = "LZ"
) -> Iterator[DayPlan]:
    """Each day's reports, in the order partners would send them. ``trip_prefix`` starts the bus
    companies' trip ids: a second city (tanhui demo --second-city) has its own buses and trips."""
    rng = random.Random(seed + 1)
    serial = 0

    def report(partner: str, person: Person, scenario: str, when: datetime, data: dict[str, Any]) -> Report:
        nonlocal serial
        serial += 1
        event = {
            "event_id": f"{hash_text(partner) % 1000:03d}-{serial:09d}",
            "user_ref": person.user_ref(partner),
            "scenario": scenario,
            "occurred_at": when.isoformat(),
            "data": data,
        }
        return Report(partner, event)

    for offset in range(days):
        day = first_day + timedelta(days=offset)
        weekend = day.weekday() >= 5
        plan = DayPlan(day)
        for p in population:
            if p.commuter and (not weekend or rng.random() < 0.3):
                rides = 2 if not weekend else rng.randint(1, 3)
                if p.cheat == "bus_spam":
                    rides = 20
                for r in range(rides):
                    trip = f"{trip_prefix}-{day:%Y%m%d}-{p.index:06d}-{r}"
                    data: dict[str, Any] = {"trip_id": trip, "line": str(rng.choice([1, 2, 3, 5, 8, 11, 16, 22]))}
                    if rng.random() < 0.5:
                        data["distance_km"] = str(rng.randint(20, 120) / 10)
                    when = at(day, 7.5 + 10 * r + rng.random(), tz) if r < 2 else at(day, 12 + r * 0.4, tz)
                    plan.reports.append(report("泸州公交", p, "bus_ride", when, data))
                    if p.cheat == "double_trip":
                        plan.reports.append(report("泸州公交", p, "bus_ride", when + timedelta(minutes=3), dict(data)))
            if p.walker and rng.random() < 0.9:
                steps = rng.randint(3000, 16000) + (3000 if weekend else 0)
                if p.cheat == "steps":
                    steps = rng.randint(120_000, 200_000)
                plan.reports.append(
                    report("健步走APP", p, "walking", at(day, 22.5, tz), {"steps": steps, "date": day.isoformat()})
                )
            if p.cyclist and rng.random() < (0.5 if day.month in (11, 12, 1, 2) else 0.8):
                plan.reports.append(
                    report(
                        "酒城单车",
                        p,
                        "cycling",
                        at(day, 8 + rng.random() * 10, tz),
                        {
                            "distance_km": str(rng.randint(10, 60) / 10),
                            "trip_id": f"BK-{day:%Y%m%d}-{p.index}",
                            "bike_type": "shared",
                        },
                    )
                )
            if p.diner:
                for meal, hour in (("lunch", 12.3), ("dinner", 18.6)):
                    if rng.random() < 0.55:
                        plan.reports.append(
                            report(
                                "光盘餐厅联盟",
                                p,
                                "clean_plate",
                                at(day, hour + rng.random(), tz),
                                {"meal": meal, "order_id": f"ORD-{day:%Y%m%d}-{p.index}-{meal}", "photo_verified": True},
                            )
                        )
            if p.recycler and day.weekday() == 5:
                plan.reports.append(
                    report(
                        "再生资源回收站",
                        p,
                        "recycling",
                        at(day, 10 + rng.random() * 4, tz),
                        {
                            "material": rng.choice(["paper", "plastic", "metal", "clothing", "glass"]),
                            "weight_kg": str(rng.randint(5, 60) / 10),
                        },
                    )
                )
            if p.banker and day.day in (1, 15):
                plan.reports.append(
                    report("泸州银行", p, "paperless_bill", at(day, 9, tz), {"bill_id": f"BILL-{day:%Y%m}-{day.day}-{p.index}"})
                )
            if p.banker and rng.random() < 0.05:
                plan.reports.append(
                    report(
                        "泸州银行",
                        p,
                        "online_service",
                        at(day, 15, tz),
                        {
                            "service": rng.choice(["utility_payment", "ticket", "hospital_appointment"]),
                            "order_id": f"SVC-{day:%Y%m%d}-{p.index}",
                        },
                    )
                )
            if p.ev_driver and rng.random() < 0.3:
                plan.reports.append(
                    report(
                        "绿电充电",
                        p,
                        "ev_charging",
                        at(day, 20 + rng.random(), tz),
                        {
                            "energy_kwh": str(rng.randint(150, 450) / 10),
                            "session_id": f"EV-{day:%Y%m%d}-{p.index}",
                            "province": "四川",
                        },
                    )
                )
            if p.checks_in and rng.random() < p.checks_in:
                plan.checkins.append((p.index, at(day, 8 + rng.random() * 12, tz)))
        yield plan
