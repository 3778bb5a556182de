"""Pydantic models of the API's bodies, for the OpenAPI document and response validation.

Request bodies are parsed by the services themselves (a batch must survive one bad event, and the
signature covers the raw bytes), so these describe the wire format rather than gate it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    error: ErrorBody


class ConsentIn(BaseModel):
    user_ref: str = Field(min_length=1, max_length=128)
    scopes: list[Literal["behaviour:report"]] = Field(min_length=1)
    granted_at: str = Field(description="RFC 3339 with an offset")
    display_name: str | None = Field(default=None, max_length=200)
    binding_code: str | None = Field(default=None, max_length=64)


class ConsentOut(BaseModel):
    consent_id: str
    account_id: str
    user_ref: str | None
    scopes: list[str]
    status: Literal["active", "revoked"]
    granted_at: str


class RevokedOut(BaseModel):
    status: Literal["revoked"]
    revoked_at: str


class PartnerAccountOut(BaseModel):
    account_id: str
    carbon_g_total: int
    points_balance: int
    events_credited: int
    rank_in_scheme: int


class SessionOut(BaseModel):
    token: str
    expires_at: str
    login_url: str


class EventIn(BaseModel):
    event_id: str = Field(min_length=1, max_length=128, description="unique per partner: the idempotency key")
    user_ref: str = Field(min_length=1, max_length=128)
    scenario: str
    occurred_at: str = Field(description="RFC 3339 with an offset")
    data: dict[str, Any] = {}


class EventsIn(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EventResult(BaseModel):
    event_id: str | None
    status: Literal["credited", "duplicate", "rejected"]
    reason: str | None
    carbon_g: int
    points: int
    methodology: str | None
    details: dict[str, Any] | None = None


class EventsSummary(BaseModel):
    credited: int
    duplicate: int
    rejected: int
    carbon_g: int
    points: int


class EventsOut(BaseModel):
    results: list[EventResult]
    summary: EventsSummary


class ScenarioTotals(BaseModel):
    events: int
    carbon_g: int
    points: int


class MeOut(BaseModel):
    account_id: str
    scheme_id: str
    carbon_g_total: int
    points_balance: int
    events_credited: int
    by_scenario: dict[str, ScenarioTotals]
    rank_in_scheme: int
    streak: int
    best_streak: int
    badges: list[BadgeOut]


class BadgeOut(BaseModel):
    code: str
    title_zh: str
    title_en: str


class Withdrawn(BaseModel):
    """The credit was reversed: another platform of the federation claimed the behaviour first."""

    claimed_by: str
    withdrawn_at: str


class MyEvent(BaseModel):
    id: str
    event_id: str
    scenario: str
    occurred_at: str | None
    received_at: str
    carbon_g: int
    points: int
    methodology: str | None
    explanation: dict[str, Any] | None
    withdrawn: Withdrawn | None = None


class MyEventsOut(BaseModel):
    events: list[MyEvent]
    next_cursor: str | None


class MyConsent(BaseModel):
    consent_id: str
    account_id: str
    partner_id: str
    user_ref: str | None
    scopes: list[str]
    purpose: str
    status: Literal["active", "revoked"]
    granted_at: str
    revoked_at: str | None


class MyConsentsOut(BaseModel):
    consents: list[MyConsent]


class BindingCodeOut(BaseModel):
    code: str
    expires_at: str


class Health(BaseModel):
    status: str


class ItemOut(BaseModel):
    id: str
    key: str
    title: str
    title_zh: str
    title_en: str
    description: str
    kind: Literal["coupon", "physical", "service", "donation"]
    category: str
    points_price: int
    stock: int
    per_person_limit: int | None
    sale_starts_at: str | None
    sale_ends_at: str | None
    merchant: str
    status: str


class ItemsOut(BaseModel):
    items: list[ItemOut]


class DeliveryIn(BaseModel):
    method: Literal["address", "pickup"]
    recipient: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=6, max_length=20)
    place: str = Field(min_length=1, max_length=200, description="the address, or one of the scheme's pick-up points")


class OrderIn(BaseModel):
    item_id: str = Field(min_length=1, max_length=40)
    quantity: int = Field(default=1, ge=1, le=10)
    delivery: DeliveryIn | None = Field(default=None, description="where a physical good goes (ignored for other kinds)")


class OrderOut(BaseModel):
    order_id: str
    status: Literal["pending", "shipped", "delivered", "fulfilled", "cancelled"]
    item_id: str
    item_title: str
    kind: str
    quantity: int
    points: int
    created_at: str
    updated_at: str
    coupon_code: str | None = None
    coupon_codes: list[str] | None = None


class OrdersOut(BaseModel):
    orders: list[OrderOut]


class CheckinOut(BaseModel):
    date: str
    streak: int
    points: int
    bonus: int
