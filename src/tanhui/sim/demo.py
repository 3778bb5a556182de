"""`tanhui demo`: build the demo city on a fresh SQLite database and serve it.

1. apply the demo scheme file (partners, rules, campaigns, 106 items), create organisations;
2. N people authorise their partners (consents; a binding code links each person's other partners);
3. D days of behaviour: every partner sends its reports through the real signed HTTP API of a
   server started for the demo; people check in and order in the marketplace on the day they would;
4. the scheme issues credits from its reductions, and a company buys and retires some for a named
   event; then the server keeps serving the web app at http://127.0.0.1:8000.
Deterministic for a given --seed (ids of secrets and tokens aside).
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tanhui.client import PartnerClient
from tanhui.domain.schemes import DEFAULT_TIMEZONE
from tanhui.lifecycle import PARENT_ENV
from tanhui.services import consent, engagement, identity, market, scheme_file
from tanhui.sim.population import PARTNERS, Person, people, simulate
from tanhui.store import Store, migrate

SCHEME_FILE = Path(__file__).with_name("luzhou.toml")
SCHEME_ID = "luzhou"
ORGANISATIONS = [
    ("泸州老窖股份有限公司", "company"),
    ("川南电力", "company"),
    ("泸州银行", "company"),
    ("酒城物流", "company"),
    ("泸州市第一中学", "school"),
    ("泸州职业技术学院", "school"),
    ("江阳区实验小学", "school"),
    ("龙马潭区红星社区", "community"),
    ("江阳区北城社区", "community"),
    ("泸州市生态环境局", "government"),
    ("绿芽志愿者协会", "group"),
    ("长江骑行俱乐部", "group"),
]


CARRIERS = (("顺丰速运", "SF"), ("中国邮政 EMS", "EMS"), ("京东物流", "JD"), ("中通快递", "ZTO"))


@dataclass
class DemoResult:
    database_url: str
    people: int
    days: int
    events_sent: int = 0
    summary: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    checkins: int = 0
    orders: int = 0
    credits_issued: int = 0
    certificate_url: str | None = None
    login_url: str | None = None
    seconds: float = 0.0
    # the partners' credentials (never printed) and a bus rider's ref: the federation demo reports one more trip
    partners: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    bus_rider_ref: str | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, host: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "tanhui.cli.main", "serve", "--host", host, "--port", str(port), "--workers", "2"],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "TANHUI_DATABASE_URL": database_url,
            "TANHUI_PARTNER_RATE_PER_MINUTE": "1000000",
            PARENT_ENV: str(os.getpid()),  # the server ends with the demo, even after a kill -9
        },
    )
    base = f"http://{host}:{port}"
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit(f"the server stopped: see {log}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def build(
    database_url: str,
    *,
    people_count: int = 2000,
    days: int = 30,
    seed: int = 7,
    base_url: str,
    console: Console,
    today: date | None = None,
    trip_prefix: str = "LZ",
) -> DemoResult:
    """Everything but serving: the caller has a server running on `base_url` for the database."""
    started = time.perf_counter()
    result = DemoResult(database_url, people_count, days)
    store = Store(database_url)
    migrate.upgrade(store)
    report = scheme_file.apply(store, SCHEME_FILE)
    if not report.scheme_created:
        raise SystemExit("the demo database already has the demo scheme: start from an empty database")
    tz = ZoneInfo(DEFAULT_TIMEZONE)  # the demo scheme file's time zone
    today = today or datetime.now(UTC).astimezone(tz).date()
    first_day = today - timedelta(days=days)
    secrets = {p["name"]: p for p in report.partners_created}
    _settings_for_a_month_of_history(store, days)
    from tanhui.services import organisations

    orgs = [organisations.create(store, SCHEME_ID, name, kind) for name, kind in ORGANISATIONS]
    population = people(people_count, seed)
    rng = random.Random(seed + 2)

    with Progress(
        TextColumn("[bold green]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        accounts = _consents(store, population, secrets, progress, first_day, tz)
        _join_organisations(store, accounts, orgs, rng)
        plans = list(simulate(population, first_day, days, seed, tz, trip_prefix))
        total = sum(len(p.reports) for p in plans)
        task = progress.add_task("合作方上报 partners report (HTTP)", total=total)
        clients = {name: PartnerClient(base_url, secrets[name]["partner_id"], secrets[name]["secret"]) for name in PARTNERS}
        try:
            for plan in plans:
                by_partner: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for r in plan.reports:
                    by_partner[r.partner].append(r.event)
                for name, events in by_partner.items():
                    sent = clients[name].send_events(events, keep_results=True)
                    for item in sent.results:
                        result.summary[item["status"]] += 1
                        if item["status"] == "rejected":
                            result.rejected[item["reason"]] += 1
                    result.summary["carbon_g"] += sent.summary["carbon_g"]
                    result.summary["points"] += sent.summary["points"]
                    result.events_sent += len(events)
                    progress.advance(task, len(events))
        finally:
            for client in clients.values():
                client.close()
        task = progress.add_task("签到与兑换 check-ins and orders", total=len(plans))
        items = [i for i in market.list_items(store, SCHEME_ID, only_active=True) if i.kind != "physical" or i.points_price < 400]
        for plan in plans:
            result.checkins += engagement.checkin_many(store, [(accounts[i], when.astimezone(UTC)) for i, when in plan.checkins])
            result.orders += _shop(store, population, accounts, items, plan.day, tz, rng)
            progress.advance(task)

    result.credits_issued, result.certificate_url = _credits(store, today, orgs)
    result.login_url = _sample_login(store, population, accounts)
    result.partners = secrets
    rider = next((p for p in population if p.commuter and not p.cheat), None)
    result.bus_rider_ref = rider.user_ref("泸州公交") if rider is not None else None
    result.seconds = time.perf_counter() - started
    store.dispose()
    return result


def _settings_for_a_month_of_history(store: Store, days: int) -> None:
    """The demo loads a month of history at once, so its scheme accepts reports that old; and as every
    report arrives today, its holding period before issuance is 0 days (the default is 30)."""
    with store.unit_of_work() as uow:
        scheme = uow.schemes.get(SCHEME_ID)
        assert scheme is not None
        settings = {**scheme.settings, "acceptance_window_days": days + 2, "registry": {"holding_days": 0}}
        uow.schemes.update(SCHEME_ID, scheme.name, settings)


def _consents(
    store: Store, population: list[Person], secrets: dict[str, Any], progress: Progress, first_day: date, tz: ZoneInfo
) -> dict[int, int]:
    """Each person authorises their partners: the first creates the account, a binding code links the rest."""
    from tanhui.services.ingest import find_partner

    partners = {name: find_partner(store, secrets[name]["partner_id"]) for name in PARTNERS}
    # People join the day before the history starts: the dashboard's registered people then count
    # them in the period they belong to, not on the day the demo happened to be built.
    joined = datetime.combine(first_day - timedelta(days=1), datetime.min.time(), tz)
    granted_at = joined.isoformat()
    accounts: dict[int, int] = {}
    task = progress.add_task("授权 consents", total=len(population))
    for person in population:
        first, *others = person.partners
        _, view = consent.grant(
            store,
            partners[first],
            f"demo-{person.index:08d}-{first[:2]}-nonce".encode().hex()[:40],
            {
                "user_ref": person.user_ref(first),
                "scopes": ["behaviour:report"],
                "granted_at": granted_at,
                "display_name": person.name,
            },
            now=joined.astimezone(UTC),
        )
        account_id = int(view["account_id"])
        accounts[person.index] = account_id
        for n, other in enumerate(others):
            code = consent.new_binding_code(store, account_id, now=joined.astimezone(UTC))["code"]
            consent.grant(
                store,
                partners[other],
                f"demo-{person.index:08d}-{n}-bind-nonce".encode().hex()[:40],
                {
                    "user_ref": person.user_ref(other),
                    "scopes": ["behaviour:report"],
                    "granted_at": granted_at,
                    "binding_code": code,
                },
                now=joined.astimezone(UTC),
            )
        progress.advance(task)
    return accounts


def _join_organisations(store: Store, accounts: dict[int, int], orgs: list[Any], rng: random.Random) -> None:
    from tanhui.services import organisations

    join = getattr(organisations, "join", None)
    if join is None:
        return
    for account_id in accounts.values():
        if rng.random() < 0.7:
            org = orgs[rng.randrange(len(orgs))]
            join(store, account_id, org.invite_code)


def _shop(
    store: Store,
    population: list[Person],
    accounts: dict[int, int],
    items: list[Any],
    day: date,
    tz: ZoneInfo,
    rng: random.Random,
) -> int:
    from tanhui.errors import TanhuiError

    placed = 0
    when = datetime.combine(day, datetime.min.time(), tz) + timedelta(hours=20)
    for person in population:
        if not person.shopper or rng.random() > 0.08:
            continue
        # people redeem what their points reach: the cheapest of three items that caught their eye
        item = min((items[rng.randrange(len(items))] for _ in range(3)), key=lambda i: i.points_price)
        try:
            _, order = market.place_order(
                store, accounts[person.index], item.public_id, 1, f"demo-{day}-{person.index}", now=when.astimezone(UTC)
            )
        except TanhuiError:
            continue
        placed += 1
        if order["status"] == "pending" and rng.random() < 0.2:
            market.cancel_order(
                store,
                order["order_id"],
                account_id=accounts[person.index],
                now=(when + timedelta(hours=1)).astimezone(UTC),
            )
        elif order["status"] == "pending" and rng.random() < 0.6:
            # shipped the next day, but never later than now: the audit log must not hold a time ahead of the clock
            shipped = min((when + timedelta(days=1)).astimezone(UTC), datetime.now(UTC))
            carrier, prefix = CARRIERS[person.index % len(CARRIERS)]
            tracking = f"{prefix}{day:%m%d}{person.index:08d}"
            market.ship_order(store, order["order_id"], now=shipped, carrier=carrier, tracking=tracking)
    return placed


def _credits(store: Store, today: date, orgs: list[Any]) -> tuple[int, str | None]:
    from tanhui.services.registry import issuance, movements

    issued = 0
    for vintage in sorted({today.year, (today - timedelta(days=40)).year}):
        outcome = issuance.issue(store, SCHEME_ID, vintage, as_of=today)
        issued += outcome.issued
    if issued == 0:
        return 0, None
    buyer = orgs[0]
    certificate = movements.buy_and_neutralise(
        store,
        SCHEME_ID,
        organisation=buyer.public_id,
        event_name="2026 泸州城市马拉松",
        emission_t=min(issued, 3),
        idempotency_key="demo-marathon-2026",
        beneficiary=buyer.name,
    )
    return issued, certificate.get("url")


def _sample_login(store: Store, population: list[Person], accounts: dict[int, int]) -> str:
    """A one-time sign-in link for a busy ordinary person (what a partner app would open)."""
    person = next((p for p in population if p.commuter and p.walker and not p.cheat), population[0])
    return identity.login_link(store, accounts[person.index], ttl=timedelta(hours=12))
