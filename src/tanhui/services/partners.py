"""Partners: creation, secrets and their rotation, and request authentication."""

from __future__ import annotations

import secrets as random_secrets
from dataclasses import dataclass
from datetime import datetime

from tanhui.domain import signing
from tanhui.domain.schemes import validate_name
from tanhui.errors import InvalidInput, NotFound, Unauthorised
from tanhui.services import audit, secret_keys
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.rows import PartnerRow as PartnerRow  # re-exported: what the adapters name a partner by
from tanhui.store.uow import UnitOfWork


def new_partner_id() -> str:
    return "ptn_" + random_secrets.token_hex(8)


def new_secret() -> str:
    return "sk_" + random_secrets.token_urlsafe(32)


def _clean_scenarios(scenarios: list[str]) -> list[str]:
    from tanhui.services.methodologies import default_library

    known = set(default_library().scenarios)
    cleaned = sorted({s.strip() for s in scenarios if s.strip()})
    if not cleaned:
        raise InvalidInput("invalid_scenarios", details={"field": "scenarios"}, scenarios="")
    unknown = [s for s in cleaned if s not in known]
    if unknown:
        raise InvalidInput("invalid_scenarios", details={"field": "scenarios", "unknown": unknown}, scenarios=", ".join(unknown))
    return cleaned


@dataclass(frozen=True, slots=True)
class CreatedPartner:
    partner: PartnerRow
    secret: str

    def to_dict(self) -> dict[str, object]:
        return {
            "partner_id": self.partner.id,
            "secret": self.secret,
            "scheme_id": self.partner.scheme_id,
            "name": self.partner.name,
            "scenarios": list(self.partner.scenarios),
        }


def create_partner(
    store: Store, scheme_id: str, name: str, scenarios: list[str], now: datetime | None = None, *, actor: str = "system"
) -> CreatedPartner:
    name = validate_name(name)
    cleaned = _clean_scenarios(scenarios)
    secret, partner_id = new_secret(), new_partner_id()
    sealed = secret_keys.seal_partner_secret(store, partner_id, secret)  # before the transaction: the key may be read
    now = now or utcnow()
    with store.unit_of_work() as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        partner = uow.partners.add(partner_id, scheme_id, name, cleaned, sealed.key_id, sealed.text, now)
        audit.record(uow, actor, "partner.create", partner.id, {"scenarios": cleaned}, scheme_id, now=now)
    return CreatedPartner(partner, secret)


def _get(uow: UnitOfWork, partner_id: str) -> PartnerRow:
    partner = uow.partners.get(partner_id)
    if partner is None:
        raise NotFound("partner_not_found", partner_id=partner_id)
    return partner


def rotate_secret(store: Store, partner_id: str, now: datetime | None = None, *, actor: str = "system") -> str:
    """A new secret; the old one stays valid until `retire_old_secrets` (no downtime while rotating)."""
    secret = new_secret()
    sealed = secret_keys.seal_partner_secret(store, partner_id, secret)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        partner = _get(uow, partner_id)
        uow.partners.add_secret(partner.pk, sealed.key_id, sealed.text, now)
        audit.record(uow, actor, "partner.rotate_secret", partner.id, None, partner.scheme_id, now=now)
    return secret


def retire_old_secrets(store: Store, partner_id: str, now: datetime | None = None, *, actor: str = "system") -> int:
    now = now or utcnow()
    with store.unit_of_work() as uow:
        partner = _get(uow, partner_id)
        retired = uow.partners.retire_secrets_except_newest(partner.pk, now)
        audit.record(uow, actor, "partner.retire_old_secrets", partner.id, {"retired": retired}, partner.scheme_id, now=now)
        return retired


STATUS_ACTIONS = {"active": "partner.enable", "disabled": "partner.disable"}


def set_status(store: Store, partner_id: str, status: str, *, actor: str = "system") -> PartnerRow:
    if status not in STATUS_ACTIONS:
        raise InvalidInput("invalid_request", details={"status": " or ".join(STATUS_ACTIONS)})
    with store.unit_of_work() as uow:
        partner = _get(uow, partner_id)
        uow.partners.set_status(partner.pk, status)
        audit.record(uow, actor, STATUS_ACTIONS[status], partner.id, {"was": partner.status}, partner.scheme_id)
        return _get(uow, partner_id)


def set_scenarios(store: Store, partner_id: str, scenarios: list[str], *, actor: str = "system") -> PartnerRow:
    cleaned = _clean_scenarios(scenarios)
    with store.unit_of_work() as uow:
        partner = _get(uow, partner_id)
        uow.partners.set_scenarios(partner.pk, cleaned)
        audit.record(
            uow,
            actor,
            "partner.set_scenarios",
            partner.id,
            {"scenarios": cleaned, "was": list(partner.scenarios)},
            partner.scheme_id,
        )
        return _get(uow, partner_id)


def list_partners(store: Store, scheme_id: str | None = None) -> list[PartnerRow]:
    with store.unit_of_work(write=False) as uow:
        return uow.partners.list(scheme_id)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    partner_id: str | None
    timestamp: str | None
    nonce: str | None
    signature: str | None
    method: str
    path: str
    body: bytes


def authenticate(store: Store, request: SignedRequest, now: datetime | None = None) -> PartnerRow:
    """Check a partner's signature and clock (read-only). The nonce is spent by `spend_nonce`
    inside the request's own unit of work, so a request that fails leaves its nonce unused."""
    now = now or utcnow()
    if not request.partner_id:
        raise Unauthorised("bad_signature", reason="Tanhui-Partner")
    with store.unit_of_work(write=False) as uow:
        partner = uow.partners.get(request.partner_id)
        if partner is None or partner.status != "active":
            raise Unauthorised("unknown_partner", partner_id=request.partner_id)
        stored = uow.partners.active_secrets(partner.pk)
    active = secret_keys.open_partner_secrets(store, stored)
    if not (request.timestamp and request.nonce and request.signature):
        raise Unauthorised("bad_signature", reason="Tanhui-Timestamp, Tanhui-Nonce, Tanhui-Signature")
    timestamp = signing.parse_timestamp(request.timestamp)
    if timestamp is None or not signing.valid_nonce(request.nonce):
        raise Unauthorised("bad_signature", reason="Tanhui-Timestamp / Tanhui-Nonce format")
    if not signing.signature_matches(
        active, request.signature, request.timestamp, request.nonce, request.method, request.path, request.body
    ):
        raise Unauthorised("bad_signature", reason="HMAC")
    if not signing.is_fresh(timestamp, int(now.timestamp())):
        raise Unauthorised("stale_request", skew_s=signing.TIMESTAMP_SKEW_S)
    return partner


NONCE_SWEEP_EVERY = 500  # requests per process between sweeps of expired nonces
_since_sweep = [0]


def spend_nonce(uow: UnitOfWork, partner: PartnerRow, nonce: str, now: datetime) -> None:
    """Record the request's nonce in the shared store (every server process sees it).

    Every few hundred requests the same transaction also forgets nonces past the replay window,
    so the table stays as small as one window's traffic.
    """
    if not uow.partners.use_nonce(partner.pk, nonce, now):
        raise Unauthorised("replayed_request", window_s=signing.NONCE_TTL_S)
    _since_sweep[0] += 1
    if _since_sweep[0] >= NONCE_SWEEP_EVERY:
        _since_sweep[0] = 0
        uow.partners.forget_nonces_before(uow.partners.nonce_cutoff(now, signing.NONCE_TTL_S))


def forget_old_nonces(store: Store, now: datetime | None = None) -> int:
    """Nonces older than the replay window can go: a request that old is refused as stale anyway."""
    now = now or utcnow()
    with store.unit_of_work() as uow:
        return uow.partners.forget_nonces_before(uow.partners.nonce_cutoff(now, signing.NONCE_TTL_S))
