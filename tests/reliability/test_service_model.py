"""Model-based simulation of the whole service (hypothesis RuleBasedStateMachine, seeded, replayable).

One example is one fresh scheme (a partner, two catalog items, an organisation) driven through the
real services by short random programs of: consent grant / withdrawal, event batches (valid,
replayed, conflicting, fraudulent: a reused trip, an implausible ride, a second bill for one period),
check-ins, orders / retries / cancels / shipping / delivery, points expiry, credit issuance,
transfer and retirement, reversals of credited events, and the clock moving on. A plain-Python
model predicts every answer (each event's status, reason, grams and points; each order's outcome;
every issued credit by the registry's remainder rule). After every step: the ledger verifies (hash
chains, zero sum per asset, no negative holdings), the registry verifies, and every person's
holdings, the stock and the credit holdings equal the model's.

Runs on SQLite and PostgreSQL (and Citus: tests/citus); TANHUI_MODEL_EXAMPLES (default 200) examples on
SQLite, a fifth of them on PostgreSQL and a 50th (at least 4) on Citus; TANHUI_SOAK=1 multiplies them by 10.
A failure prints the shrunk program and a
`@reproduce_failure` blob; `--hypothesis-seed=N` replays a run.
"""

from __future__ import annotations

import functools
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tanhui.errors import TanhuiError
from tanhui.services import consent, engagement, ingest, ledger, market, organisations, partners, schemes
from tanhui.services.registry import issuance, movements, verify, views
from tanhui.store import Store

EXAMPLES = int(os.environ.get("TANHUI_MODEL_EXAMPLES", "200")) * (10 if os.environ.get("TANHUI_SOAK") else 1)
STEPS = int(os.environ.get("TANHUI_MODEL_STEPS", "8"))
PEOPLE = 3
START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
TONNE = 1_000_000
ITEMS = {"phys": ("physical", 30, 3, None), "coupon": ("coupon", 20, 2, 1)}  # kind, price, stock, limit
BUS_POINTS, BUS_POINTS_DAY, BUS_EVENTS_DAY = 10, 60, 8
SAVING_POINTS_DAY = 100  # the fallback rule: 1 point per 10 g, at most 100 a day

FIGURES: dict[str, int] = {"examples": 0, "steps": 0, "events": 0, "orders": 0, "credits_issued": 0, "anomalies": 0}


@dataclass
class Sent:
    event_id: str
    person: int
    kind: str  # bus | saving
    payload: dict[str, Any]
    status: str
    reason: str | None
    carbon_g: int
    points: int
    methodology: str | None
    order: int = 0  # recording order, for the registry's remainder rule
    reversed: bool = False
    consumed: bool = False


@dataclass
class Model:
    consent: list[str | None] = field(default_factory=lambda: [None] * PEOPLE)  # None | active | revoked
    account: list[int | None] = field(default_factory=lambda: [None] * PEOPLE)
    points: list[int] = field(default_factory=lambda: [0] * PEOPLE)
    carbon: list[int] = field(default_factory=lambda: [0] * PEOPLE)
    events: dict[str, Sent] = field(default_factory=dict)
    trips: set[str] = field(default_factory=set)  # claimed trip ids (global identity)
    periods: set[tuple[int, str]] = field(default_factory=set)  # claimed (person, bill period)
    usage: dict[tuple[int, str, date], list[int]] = field(default_factory=dict)  # [events, points]
    month_usage: dict[tuple[int, str, int], int] = field(default_factory=dict)
    checkins: list[tuple[date, int] | None] = field(default_factory=lambda: [None] * PEOPLE)
    stock: dict[str, int] = field(default_factory=lambda: {k: v[2] for k, v in ITEMS.items()})
    orders: dict[str, tuple[int, str, int, int, str, str]] = field(
        default_factory=dict
    )  # id -> person, item, qty, points, status, key
    expired: set[int] = field(default_factory=set)  # people whose cut-off year expired
    carry: dict[str, int] = field(default_factory=dict)  # methodology -> carried grams
    scheme_credits: int = 0
    org_credits: int = 0
    retired: int = 0
    grams: dict[str, int] = field(default_factory=dict)  # kind -> grams of one such event


def make_machine(store: Store) -> type[RuleBasedStateMachine]:
    class Service(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            self.scheme_id = f"sm{uuid.uuid4().hex[:10]}"
            self.now = START
            schemes.create_scheme(
                store, self.scheme_id, "模型", settings={"registry": {"holding_days": 0}}, now=START - timedelta(days=1)
            )
            self.partner = partners.create_partner(
                store, self.scheme_id, "公交", ["bus_ride", "electricity_saving"], now=START
            ).partner
            self.items = {
                key: market.add_item(
                    store,
                    self.scheme_id,
                    {
                        "key": key,
                        "kind": kind,
                        "title_zh": key,
                        "title_en": key,
                        "points_price": price,
                        "stock": stock,
                        **({"per_person_limit": limit} if limit else {}),
                    },
                    now=START,
                )
                for key, (kind, price, stock, limit) in ITEMS.items()
            }
            self.org = organisations.create(store, self.scheme_id, "买家", now=START).public_id
            self.m = Model()
            self.n = 0
            FIGURES["examples"] += 1
            # Everyone starts consented with one household bill credited (~0.53 t, 100 points), so
            # short programs reach orders and issuance; the rules may still withdraw and re-grant.
            for p in range(PEOPLE):
                self.grant(p)
            occurred = (self.now - timedelta(hours=1)).isoformat()
            self.report_batch(
                [
                    {
                        "event_id": self._id("es"),
                        "user_ref": f"u{p}",
                        "scenario": "electricity_saving",
                        "occurred_at": occurred,
                        "data": {"saved_kwh": "1000", "period": "2026-00"},
                    }
                    for p in range(PEOPLE)
                ]
            )

        def _id(self, prefix: str) -> str:
            self.n += 1
            return f"{prefix}{self.n}"

        # -- consent -------------------------------------------------------------------
        @rule(p=st.integers(0, PEOPLE - 1))
        def grant(self, p: int) -> None:
            body = {"user_ref": f"u{p}", "scopes": ["behaviour:report"], "granted_at": self.now.isoformat()}
            created, view = consent.grant(store, self.partner, uuid.uuid4().hex, body, now=self.now)
            assert created == (self.m.consent[p] != "active")
            assert view["status"] == "active"
            if self.m.account[p] is None:
                self.m.account[p] = int(view["account_id"])
            assert int(view["account_id"]) == self.m.account[p]  # a new consent keeps the person's account
            self.m.consent[p] = "active"

        @rule(p=st.integers(0, PEOPLE - 1))
        def withdraw(self, p: int) -> None:
            try:
                out = consent.revoke_by_partner(store, self.partner, uuid.uuid4().hex, f"u{p}", now=self.now)
            except TanhuiError as error:
                assert error.code == "consent_not_found" and self.m.consent[p] != "active"
                return
            assert self.m.consent[p] == "active" and out["status"] == "revoked"
            self.m.consent[p] = "revoked"

        # -- events --------------------------------------------------------------------
        @rule(
            spec=st.lists(
                st.tuples(
                    st.sampled_from(["bus", "bus", "reused_trip", "implausible", "saving", "replay", "conflict"]),
                    st.integers(0, PEOPLE - 1),
                    st.integers(1, 3),
                ),
                min_size=1,
                max_size=5,
            )
        )
        def report(self, spec: list[tuple[str, int, int]]) -> None:
            occurred = (self.now - timedelta(hours=1)).isoformat()
            batch: list[dict[str, Any]] = []
            for kind, p, period in spec:
                if kind in ("replay", "conflict") and self.m.events:
                    old = self.m.events[sorted(self.m.events)[p % len(self.m.events)]]
                    payload = dict(old.payload)
                    if kind == "conflict":
                        payload = {**payload, "data": {**payload["data"], "line": "conflict"}}
                elif kind == "saving":
                    payload = {
                        "event_id": self._id("es"),
                        "user_ref": f"u{p}",
                        "scenario": "electricity_saving",
                        "occurred_at": occurred,
                        "data": {"saved_kwh": "1000", "period": f"2026-0{period}"},
                    }
                elif kind == "reused_trip" and self.m.trips:
                    trip = sorted(self.m.trips)[p % len(self.m.trips)]
                    payload = {
                        "event_id": self._id("eb"),
                        "user_ref": f"u{p}",
                        "scenario": "bus_ride",
                        "occurred_at": occurred,
                        "data": {"trip_id": trip},
                    }
                elif kind == "implausible":
                    payload = {
                        "event_id": self._id("eb"),
                        "user_ref": f"u{p}",
                        "scenario": "bus_ride",
                        "occurred_at": occurred,
                        "data": {"trip_id": f"{self.scheme_id}-{self._id('t')}", "distance_km": 200},
                    }
                else:
                    payload = {
                        "event_id": self._id("eb"),
                        "user_ref": f"u{p}",
                        "scenario": "bus_ride",
                        "occurred_at": occurred,
                        "data": {"trip_id": f"{self.scheme_id}-{self._id('t')}"},
                    }
                batch.append(payload)
            self.report_batch(batch)

        def report_batch(self, batch: list[dict[str, Any]]) -> None:
            outcome = ingest.ingest_events(store, self.partner, batch, nonce=uuid.uuid4().hex, now=self.now)
            assert len(outcome.results) == len(batch)
            for payload, got in zip(batch, outcome.results, strict=True):
                self._check_event(payload, got)
            FIGURES["events"] += len(batch)

        def _check_event(self, payload: dict[str, Any], got: dict[str, Any]) -> None:
            m = self.m
            event_id = payload["event_id"]
            assert got["event_id"] == event_id
            old = m.events.get(event_id)
            if old is not None:
                if old.payload == payload:
                    assert (got["status"], got["reason"], got["carbon_g"], got["points"]) == (
                        "duplicate",
                        "duplicate_event",
                        old.carbon_g,
                        old.points,
                    ), got
                else:
                    assert (got["status"], got["reason"], got["carbon_g"], got["points"]) == (
                        "rejected",
                        "event_id_reused",
                        0,
                        0,
                    ), got
                return
            p = int(payload["user_ref"][1:])
            scenario = payload["scenario"]
            kind = "bus" if scenario == "bus_ride" else "saving"
            day = (self.now - timedelta(hours=1)).astimezone(timezone(timedelta(hours=8))).date()
            reason = None
            if m.consent[p] != "active":
                reason = "no_consent"
            elif kind == "bus" and payload["data"].get("distance_km") == 200:
                reason = "implausible"
            elif (
                kind == "bus"
                and payload["data"]["trip_id"] in m.trips
                or kind == "saving"
                and (p, payload["data"]["period"]) in m.periods
            ):
                reason = "duplicate_behaviour"
            usage = m.usage.setdefault((p, kind, day), [0, 0])
            month_key = (p, kind, day.year * 100 + day.month)
            if reason is None:
                if kind == "bus" and usage[0] >= BUS_EVENTS_DAY:
                    reason = "cap_reached"
                if kind == "saving" and m.month_usage.get(month_key, 0) >= 2:
                    reason = "cap_reached"
            sent = Sent(
                event_id, p, kind, payload, "rejected" if reason else "credited", reason, 0, 0, got["methodology"], order=self.n
            )
            m.events[event_id] = sent
            assert (got["status"], got["reason"]) == (sent.status, reason), (got, sent)
            if reason is not None:
                assert got["carbon_g"] == 0 and got["points"] == 0
                return
            grams = m.grams.setdefault(kind, got["carbon_g"])
            assert got["carbon_g"] == grams > 0, got
            if kind == "bus":
                points = max(0, min(BUS_POINTS, BUS_POINTS_DAY - usage[1]))
                m.trips.add(payload["data"]["trip_id"])
            else:
                points = max(0, min(grams // 10, SAVING_POINTS_DAY - usage[1]))
                m.periods.add((p, payload["data"]["period"]))
                m.month_usage[month_key] = m.month_usage.get(month_key, 0) + 1
            assert got["points"] == points, (got, points)
            usage[0] += 1
            usage[1] += points
            sent.carbon_g, sent.points = grams, points
            m.points[p] += points
            m.carbon[p] += grams

        @rule(data=st.data())
        def reverse(self, data: st.DataObject) -> None:
            credited = sorted(e for e, s in self.m.events.items() if s.status == "credited")
            if not credited:
                return
            sent = self.m.events[data.draw(st.sampled_from(credited))]
            with store.unit_of_work(write=False) as uow:
                [row] = [
                    r
                    for r in uow.conn.exec_driver_sql(
                        "SELECT entry_id FROM events WHERE partner_pk = %s AND event_id = %s"
                        if store.dialect.name == "postgresql"
                        else "SELECT entry_id FROM events WHERE partner_pk = ? AND event_id = ?",
                        (self.partner.pk, sent.event_id),
                    )
                ]
            p = sent.person
            can = sent.reversed or (self.m.points[p] >= sent.points and self.m.carbon[p] >= sent.carbon_g)
            try:
                out = ledger.reverse(store, self.scheme_id, row[0], idempotency_key=f"rev:{sent.event_id}", now=self.now)
            except TanhuiError as error:
                assert not can and error.code == "insufficient_balance", error
                return
            assert can
            assert out.replayed == sent.reversed
            if not sent.reversed:
                sent.reversed = True
                self.m.points[p] -= sent.points
                self.m.carbon[p] -= sent.carbon_g

        # -- engagement ----------------------------------------------------------------
        @rule(p=st.integers(0, PEOPLE - 1))
        def check_in(self, p: int) -> None:
            account = self.m.account[p]
            if account is None:
                return
            created, view = engagement.checkin(store, account, now=self.now)
            today = self.now.astimezone(timezone(timedelta(hours=8))).date()
            last = self.m.checkins[p]
            assert created == (last is None or last[0] != today)
            if created:
                streak = last[1] + 1 if last is not None and last[0] == today - timedelta(days=1) else 1
                gained = 1 + (5 if streak % 7 == 0 else 0)
                assert (view["streak"], view["points"] + view["bonus"]) == (streak, gained), view
                self.m.checkins[p] = (today, streak)
                self.m.points[p] += gained

        @rule(hours=st.sampled_from([1, 24, 24, 48]))
        def tick(self, hours: int) -> None:
            self.now += timedelta(hours=hours)

        @rule()
        def expire(self) -> None:
            as_of = date(self.now.year + 2, 1, 1)  # everything earned so far is past its end-of-next-year
            # run on that day (an "as of" later than the run's today is refused); the model's clock stays
            run_at = datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC)
            notices = engagement.expire_points(store, self.scheme_id, as_of, now=run_at)
            lost = {n.account_id: n.amount for n in notices}
            # Once per person and cut-off year: whoever holds points and has not expired yet loses them all
            # (everything here was earned in the cut-off year); points coming back later stay.
            expected = {}
            for p in range(PEOPLE):
                if self.m.account[p] is not None and self.m.points[p] > 0 and p not in self.m.expired:
                    expected[self.m.account[p]] = self.m.points[p]
                    self.m.points[p] = 0
                    self.m.expired.add(p)
            assert lost == expected, (lost, expected)

        # -- marketplace ---------------------------------------------------------------
        @rule(p=st.integers(0, PEOPLE - 1), key=st.sampled_from(sorted(ITEMS)), qty=st.integers(1, 2))
        def order(self, p: int, key: str, qty: int) -> None:
            account = self.m.account[p]
            if account is None:
                return
            kind, price, _, limit = ITEMS[key]
            idem = self._id("k")
            taken = sum(o[2] for o in self.m.orders.values() if o[0] == p and o[1] == key and o[4] != "cancelled")
            expected_error = None
            if limit is not None and taken + qty > limit:
                expected_error = "limit_reached"
            elif self.m.stock[key] < qty:
                expected_error = "out_of_stock"
            elif self.m.points[p] < price * qty:
                expected_error = "insufficient_points"
            try:
                created, order = market.place_order(store, account, self.items[key].public_id, qty, idem, now=self.now)
            except TanhuiError as error:
                assert error.code == expected_error, (error.code, expected_error)
                return
            assert expected_error is None and created, expected_error
            status = "fulfilled" if kind == "coupon" else "pending"
            assert (order["status"], order["points"], order["quantity"]) == (status, price * qty, qty)
            self.m.orders[order["order_id"]] = (p, key, qty, price * qty, status, idem)
            self.m.points[p] -= price * qty
            self.m.stock[key] -= qty
            again = market.place_order(store, account, self.items[key].public_id, qty, idem, now=self.now)  # a retry
            assert again == (False, order)
            FIGURES["orders"] += 1

        @rule(data=st.data(), action=st.sampled_from(["cancel", "ship", "deliver"]))
        def order_step(self, data: st.DataObject, action: str) -> None:
            if not self.m.orders:
                return
            order_id = data.draw(st.sampled_from(sorted(self.m.orders)))
            p, key, qty, points, status, idem = self.m.orders[order_id]
            allowed = {
                "cancel": {"pending": "cancelled", "cancelled": "cancelled"},
                "ship": {"pending": "shipped"},
                "deliver": {"shipped": "delivered"},
            }[action]
            try:
                if action == "cancel":
                    out = market.cancel_order(store, order_id, account_id=self.m.account[p], now=self.now)
                else:
                    out = (market.ship_order if action == "ship" else market.deliver_order)(store, order_id, now=self.now)
            except TanhuiError as error:
                assert status not in allowed and error.code in ("not_cancellable", "order_transition"), (
                    error.code,
                    status,
                    action,
                )
                return
            assert status in allowed, (status, action)
            assert out["status"] == allowed[status]
            if action == "cancel" and status == "pending":
                self.m.points[p] += points
                self.m.stock[key] += qty
            self.m.orders[order_id] = (p, key, qty, points, allowed[status], idem)

        # -- the credit registry -------------------------------------------------------
        @rule()
        def issue(self) -> None:
            vintage = (self.now - timedelta(hours=1)).astimezone(timezone(timedelta(hours=8))).year
            result = issuance.issue(
                store, self.scheme_id, vintage, as_of=self.now.astimezone(timezone(timedelta(hours=8))).date(), now=self.now
            )
            expected = 0
            by_methodology: dict[str, list[Sent]] = {}
            for s in sorted(self.m.events.values(), key=lambda s: s.order):
                if s.status == "credited" and not s.consumed and not s.reversed:
                    assert s.methodology is not None
                    by_methodology.setdefault(s.methodology, []).append(s)
            for ref, pool in by_methodology.items():
                carry = self.m.carry.get(ref, 0)
                total = carry + sum(s.carbon_g for s in pool)
                n = total // TONNE
                if n == 0:
                    continue
                consumed = 0
                for s in pool:
                    if carry + consumed >= n * TONNE:
                        break
                    s.consumed = True
                    consumed += s.carbon_g
                self.m.carry[ref] = carry + consumed - n * TONNE
                expected += n
            issued = result.issued
            assert issued == expected, (issued, expected)
            self.m.scheme_credits += issued
            FIGURES["credits_issued"] += issued

        @rule(qty=st.integers(1, 2), retire=st.booleans())
        def move_credits(self, qty: int, retire: bool) -> None:
            key = self._id("mv")
            if retire:
                ok = self.m.org_credits >= qty
                call = functools.partial(
                    movements.retire,
                    store,
                    self.scheme_id,
                    holder=self.org,
                    quantity=qty,
                    beneficiary="某公司",
                    purpose="碳中和",
                    idempotency_key=key,
                    now=self.now,
                )
            else:
                ok = self.m.scheme_credits >= qty
                call = functools.partial(
                    movements.transfer,
                    store,
                    self.scheme_id,
                    from_holder="scheme",
                    to_holder=self.org,
                    quantity=qty,
                    idempotency_key=key,
                    now=self.now,
                )
            try:
                first = call()
            except TanhuiError as error:
                assert not ok, error
                assert error.code in ("insufficient_credits", "no_credits"), error.code
                return
            assert ok
            again = call()  # the same key again: the same answer, nothing moves twice
            assert {k: v for k, v in again.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}
            if retire:
                self.m.org_credits -= qty
                self.m.retired += qty
            else:
                self.m.scheme_credits -= qty
                self.m.org_credits += qty

        # -- after every step ----------------------------------------------------------
        @invariant()
        def service_agrees_with_model(self) -> None:
            if not hasattr(self, "m"):
                return
            FIGURES["steps"] += 1
            report = ledger.verify(store, self.scheme_id)
            assert report.ok, report.problems
            registry = verify.verify(store, self.scheme_id)
            assert registry.ok, registry.problems
            with store.unit_of_work(write=False) as uow:
                for p in range(PEOPLE):
                    account = self.m.account[p]
                    if account is None:
                        continue
                    mine = uow.ledger.holdings(account)
                    assert uow.ledger.balance(mine["POINTS"].id) == self.m.points[p], ("points", p)
                    assert uow.ledger.balance(mine["CO2E"].id) == self.m.carbon[p], ("carbon", p)
            for key, it in self.items.items():
                assert market.get_item(store, it.public_id).stock == self.m.stock[key]
            held = {"scheme": 0, "org": 0, "retired": 0}
            for row in views.holdings(store, self.scheme_id):
                who = "scheme" if row["holder"]["id"] == "scheme" else "org"
                held[who] += row["held"]
                held["retired"] += row["retired"]
            assert held == {"scheme": self.m.scheme_credits, "org": self.m.org_credits, "retired": self.m.retired}, held

    return Service


@pytest.mark.slow
def test_whole_service_agrees_with_model(store: Store) -> None:
    machine = make_machine(store)
    # PostgreSQL and Citus run the same services as SQLite, where the examples are many; there each step
    # costs ~0.1 s (PostgreSQL) and ~2 s (Citus: the invariants' statements cross all shards), so they run
    # enough examples to reach every engine-specific path (locks, claims, two-phase commits), not the same number
    if store.dialect.distributed:
        examples = max(EXAMPLES // 50, 4)
    elif store.dialect.name == "postgresql":
        examples = max(EXAMPLES // 5, 20)
    else:
        examples = EXAMPLES
    machine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=False,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    for k in FIGURES:
        FIGURES[k] = 0
    machine.TestCase().runTest()
    ran = FIGURES["examples"]
    print(
        f"\nmodel-based simulation on {store.dialect.name}: {ran} examples, {FIGURES['steps']} checked steps, "
        f"{FIGURES['events']} events, {FIGURES['orders']} orders, {FIGURES['credits_issued']} credits issued, 0 anomalies"
    )
    assert ran >= examples
