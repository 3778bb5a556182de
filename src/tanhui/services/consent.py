"""Consent (api-v1.md "Consent"): a partner asserts a person authorised it; the person can withdraw.

No behaviour is credited without an active consent; withdrawal takes effect for the next event.
"""

from __future__ import annotations

import hashlib
import secrets as random_secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from tanhui.domain.events import USER_REF_LEN_MAX, canonical_user_ref, parse_time
from tanhui.errors import Conflict, InvalidInput, NotFound
from tanhui.services.clock import utcnow
from tanhui.services.partners import spend_nonce
from tanhui.services.principal import Principal, as_principal
from tanhui.store import Store
from tanhui.store.rows import ConsentRow, PartnerRow
from tanhui.store.uow import UnitOfWork

SCOPES = ("behaviour:report",)
DEFAULT_PURPOSE = "记录低碳行为并计入个人碳账户 / record low-carbon behaviour in the personal carbon account"
BINDING_CODE_TTL = timedelta(minutes=10)
DISPLAY_NAME_LEN_MAX = 200


def token_hash(token: str) -> str:
    """What is stored of a token, login ticket or binding code: its SHA-256, never the value."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_consent_id() -> str:
    return "cns_" + random_secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    user_ref: str
    scopes: list[str]
    granted_at: datetime
    display_name: str | None
    binding_code: str | None
    user_ref_sent: str | None = None  # as sent, when that is not the canonical user_ref (issue 18, finding 10)


def parse_consent_request(body: Any) -> ConsentRequest:
    problems: dict[str, str] = {}
    if not isinstance(body, dict):
        raise InvalidInput("invalid_request", details={"body": "not_an_object"})
    sent = body.get("user_ref")
    # canonical (NFKC, trimmed); a control or format character in it is refused (domain/identifiers.py)
    user_ref = canonical_user_ref(sent) if isinstance(sent, str) and 1 <= len(sent) <= USER_REF_LEN_MAX else None
    if user_ref is None:
        problems["user_ref"] = "missing" if sent is None else "invalid"
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        problems["scopes"] = "missing" if scopes is None else "invalid"
    elif any(s not in SCOPES for s in scopes):
        problems["scopes"] = "unknown_scope"
    granted_at = parse_time(body.get("granted_at"))
    if granted_at is None:
        problems["granted_at"] = "missing" if body.get("granted_at") is None else "invalid"
    display_name = body.get("display_name")
    if display_name is not None and (not isinstance(display_name, str) or len(display_name) > DISPLAY_NAME_LEN_MAX):
        problems["display_name"] = "invalid"
    binding_code = body.get("binding_code")
    if binding_code is not None and (not isinstance(binding_code, str) or not 1 <= len(binding_code) <= 64):
        problems["binding_code"] = "invalid"
    if problems:
        raise InvalidInput("invalid_request", details=problems)
    # checked above: a list of known scope strings, a time, optional strings (problems raised otherwise)
    return ConsentRequest(
        cast(str, user_ref),
        sorted(set(cast(list[str], scopes))),
        cast(datetime, granted_at),
        display_name,
        binding_code,
        sent if sent != user_ref else None,
    )


def consent_view(consent: ConsentRow) -> dict[str, Any]:
    return {
        "consent_id": consent.public_id,
        "account_id": str(consent.account_id),
        "user_ref": consent.user_ref,
        "scopes": list(consent.scopes),
        "status": "active" if consent.active else "revoked",
        "granted_at": consent.granted_at.isoformat(),
    }


def grant(store: Store, partner: PartnerRow, nonce: str, body: Any, now: datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """(created, consent). Granting again while active returns the existing consent."""
    request = parse_consent_request(body)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        spend_nonce(uow, partner, nonce, now)
        link = find_link(uow, partner.pk, request.user_ref, request.user_ref_sent)
        if link is not None:
            active = uow.consents.active_for_link(link[0])
            if active is not None:
                return False, consent_view(active)
        account_id = _bound_account(uow, partner, request, now)
        if link is None:
            if account_id is None:
                account_id = uow.accounts.open(partner.scheme_id, now, display_name=request.display_name)
            link_id = uow.consents.add_link(partner.pk, request.user_ref, account_id, now)
        else:
            link_id, linked_account = link
            if account_id is not None and account_id != linked_account:
                raise Conflict("user_ref_linked", user_ref=request.user_ref)
        via = "binding_code" if request.binding_code else "partner_api"
        consent_id = uow.consents.grant(new_consent_id(), link_id, request.scopes, DEFAULT_PURPOSE, request.granted_at, via, now)
        consent = uow.consents.get(consent_id)
        assert consent is not None
        return True, consent_view(consent)


def _bound_account(uow: UnitOfWork, partner: PartnerRow, request: ConsentRequest, now: datetime) -> int | None:
    if request.binding_code is None:
        return None
    account_id = uow.consents.use_binding_code(token_hash(request.binding_code), now)
    if account_id is None:
        raise InvalidInput("invalid_binding_code", details={"binding_code": "unknown_or_expired"})
    account = uow.accounts.get(account_id)
    if account is None or account.scheme_id != partner.scheme_id or account.erased_at is not None:
        raise InvalidInput("invalid_binding_code", details={"binding_code": "unknown_or_expired"})
    return account_id


def find_link(uow: UnitOfWork, partner_pk: int, user_ref: str | None, sent: str | None = None) -> tuple[int, int] | None:
    """(link, account) of the canonical ``user_ref``; else of the user_ref exactly as ``sent``, which is
    how a link recorded before user_refs were canonical (issue 18, finding 10) is still found."""
    for ref in (user_ref, sent):
        if ref is not None:
            link = uow.consents.link(partner_pk, ref)
            if link is not None:
                return link
    return None


def active_consent(uow: UnitOfWork, partner: PartnerRow, user_ref: str) -> ConsentRow:
    """The partner's view of a person exists only while that person's consent to it is active.

    ``user_ref`` as the partner sent it (a path segment): its canonical form names the person."""
    canonical = canonical_user_ref(user_ref)
    link = find_link(uow, partner.pk, canonical, user_ref if user_ref != canonical else None)
    consent = None if link is None else uow.consents.active_for_link(link[0])
    if consent is None:
        raise NotFound("consent_not_found", user_ref=user_ref)
    return consent


def revoke_by_partner(
    store: Store, partner: PartnerRow, nonce: str, user_ref: str, now: datetime | None = None
) -> dict[str, Any]:
    now = now or utcnow()
    with store.unit_of_work() as uow:
        spend_nonce(uow, partner, nonce, now)
        consent = active_consent(uow, partner, user_ref)
        withdraw(uow, consent, now, by="partner")
    return {"status": "revoked", "revoked_at": now.isoformat()}


def withdraw(uow: UnitOfWork, consent: ConsentRow, now: datetime, by: str) -> None:
    """A consent ends, and with it every session, login ticket and browser session its partner opened
    for the person: at once, in the same transaction (issue 18)."""
    uow.consents.revoke(consent.id, now, by=by)
    uow.consents.revoke_partner_tokens(consent.account_id, consent.partner_pk, now)


def revoke_by_person(store: Store, who: int | Principal, consent_public_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The person withdraws a consent; a partner's session may withdraw only its own partner's (403 otherwise)."""
    principal = as_principal(who)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        consent = uow.consents.get_public(consent_public_id)
        if consent is None or consent.account_id != principal.account_id:
            raise NotFound("consent_not_found", user_ref=consent_public_id)
        if principal.scoped and consent.partner_pk != principal.partner_pk:
            principal.require_own_sign_in("revoke another partner's consent")
        if consent.active:
            withdraw(uow, consent, now, by="person")
        consent = uow.consents.get(consent.id)
        assert consent is not None
    return {**consent.to_dict()}


def grant_again_by_person(
    store: Store, who: int | Principal, consent_public_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The person undoes a withdrawal from their own account page: a new consent on the same link, with the
    same scopes and purpose, granted now (the withdrawn one stays withdrawn, so the history stays true).
    The partner sees the person again from the next event; a disabled partner cannot be granted (409)."""
    principal = as_principal(who)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        old = uow.consents.get_public(consent_public_id)
        if old is None or old.account_id != principal.account_id:
            raise NotFound("consent_not_found", user_ref=consent_public_id)
        if principal.scoped and old.partner_pk != principal.partner_pk:
            principal.require_own_sign_in("grant another partner's consent")
        current = uow.consents.active_for_link(old.link_id)
        if current is None:
            partner = uow.partners.get(old.partner_id)
            if partner is None or partner.status != "active":
                raise Conflict("unknown_partner", partner_id=old.partner_id)
            created = uow.consents.grant(new_consent_id(), old.link_id, list(old.scopes), old.purpose, now, "person_web", now)
            current = uow.consents.get(created)
        assert current is not None
    return current.to_dict()


def consents_of(store: Store, who: int | Principal) -> list[dict[str, Any]]:
    """The person's consents; a partner's session sees only its own partner's."""
    principal = as_principal(who)
    with store.unit_of_work(write=False) as uow:
        return [c.to_dict() for c in uow.consents.for_account(principal.account_id) if _visible(principal, c)]


def _visible(principal: Principal, consent: ConsentRow) -> bool:
    return principal.partner_pk is None or consent.partner_pk == principal.partner_pk


def partner_account_view(
    store: Store, partner: PartnerRow, nonce: str, user_ref: str, now: datetime | None = None
) -> dict[str, Any]:
    from tanhui.services import ranking
    from tanhui.services.accounts import summary_in

    now = now or utcnow()
    with store.unit_of_work() as uow:
        spend_nonce(uow, partner, nonce, now)
        consent = active_consent(uow, partner, user_ref)
        summary = summary_in(uow, consent.account_id, lambda scheme_id, grams: ranking.rank(store, scheme_id, grams))
    return {
        "account_id": str(consent.account_id),
        "carbon_g_total": summary["carbon_g_total"],
        "points_balance": summary["points_balance"],
        "events_credited": summary["events_credited"],
        "rank_in_scheme": summary["rank_in_scheme"],
    }


def new_binding_code(store: Store, who: int | Principal, now: datetime | None = None) -> dict[str, Any]:
    """A short single-use code the person gives to another partner's app to connect it. A partner's session
    may ask for one (api-v1: that is how a person a partner brought connects a second source); the code only
    lets another partner link a new user_ref after its own consent, and shows it nothing of the first's."""
    account_id = as_principal(who).account_id
    now = now or utcnow()
    code = "".join(random_secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(10))
    expires_at = now + BINDING_CODE_TTL
    with store.unit_of_work() as uow:
        uow.consents.add_binding_code(token_hash(code), account_id, now, expires_at)
    return {"code": code, "expires_at": expires_at.isoformat()}
