"""Signing in and sessions: people who register on the web (username + password), people a partner's
app sends (a session token and a one-time login ticket), and scheme operators.

Every session is created, looked up and ended here. Passwords are argon2id hashes (argon2-cffi's
defaults); tokens are random and only their SHA-256 is stored, so a database copy signs nobody in.
Each argon2 hash or verification takes 64 MiB for a fifth of a second: at most
``TANHUI_PASSWORD_HASH_CONCURRENCY`` of them run at once in a process (a semaphore), so a flood of
password guesses queues instead of taking the machine's memory (issue 18, finding 7). Throttling the
guesses themselves is the adapters' part (tanhui/sign_in.py: it knows the client's address).
Operator access is always scoped to one scheme and one role (``operator`` may act, ``viewer`` only reads).
"""

from __future__ import annotations

import re
import secrets as random_secrets
import threading
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tanhui.config import SignInLimits
from tanhui.errors import Conflict, InvalidInput, NotFound, Unauthorised
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.services.consent import active_consent, token_hash
from tanhui.services.partners import spend_nonce
from tanhui.services.principal import Principal as Principal  # re-exported: who is asking on a person's behalf
from tanhui.store import Store
from tanhui.store.errors import UniqueViolation
from tanhui.store.rows import OperatorScope as OperatorScope  # re-exported: what the adapters name a scope by
from tanhui.store.rows import PartnerRow, TokenOwner

ROLES = ("operator", "viewer")  # a scheme's operators
ORG_ADMIN = "org_admin"  # an organisation's administrator: its own organisation's pages, nothing of the scheme
USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
PASSWORD_LEN_MIN = 8
PASSWORD_LEN_MAX = 256
SESSION_TTL = timedelta(minutes=15)  # a partner-opened session and its login ticket
WEB_SESSION_TTL = timedelta(days=7)  # a browser session (the cookie)
API_TOKEN_TTL = timedelta(hours=12)  # POST /v1/auth/token
OPERATOR_WEB_TTL = timedelta(hours=12)

_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _hashing() -> threading.BoundedSemaphore:
    """The process's argon2 slots (read from the environment on first use)."""
    return threading.BoundedSemaphore(SignInLimits.from_env().hash_concurrency)


def _principal(owner: TokenOwner | None) -> Principal | None:
    return None if owner is None else Principal(owner.account_id, owner.partner_pk)


def _check_username(username: str) -> str:
    cleaned = (username or "").strip()
    if not USERNAME.match(cleaned):
        raise InvalidInput("invalid_username", details={"username": "3-32 of A-Z a-z 0-9 _ . -"})
    return cleaned


def _check_password(password: str) -> str:
    if not isinstance(password, str) or not PASSWORD_LEN_MIN <= len(password) <= PASSWORD_LEN_MAX:
        raise InvalidInput(
            "weak_password", details={"password": f"{PASSWORD_LEN_MIN}..{PASSWORD_LEN_MAX} characters"}, min_len=PASSWORD_LEN_MIN
        )
    return password


def new_password_hash(password: str) -> str:
    """The hash of a new password, once it passes registration's rules (a reset uses the same rules)."""
    return _hash(_check_password(password))


def _hash(password: str) -> str:
    with _hashing():
        return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        with _hashing():
            return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so both answers take the same time."""
    return _hash("tanhui-no-such-user")


# -- people --------------------------------------------------------------------------------


def register(
    store: Store, scheme_id: str, username: str, password: str, display_name: str | None = None, now: datetime | None = None
) -> int:
    """A new person's account in a scheme, with a username and password; returns the account id."""
    name = _check_username(username)
    password_hash = _hash(_check_password(password))
    now = now or utcnow()
    try:
        with store.unit_of_work() as uow:
            if uow.schemes.get(scheme_id) is None:
                raise NotFound("scheme_not_found", scheme_id=scheme_id)
            if uow.identity.credentials_by_username(name) is not None:
                raise Conflict("username_taken", username=name)
            account_id = uow.accounts.open(scheme_id, now, display_name=(display_name or "").strip()[:200] or None)
            uow.identity.add_credentials(account_id, name, password_hash, now)
            return account_id
    except UniqueViolation:  # the same username registered concurrently
        raise Conflict("username_taken", username=name) from None


def authenticate(store: Store, username: str, password: str) -> int:
    """The account whose username and password these are, or ``bad_credentials``."""
    with store.unit_of_work(write=False) as uow:
        found = uow.identity.credentials_by_username((username or "").strip())
        account = uow.accounts.get(found[0]) if found else None
    if found is None or account is None or account.erased_at is not None:
        _verify(_dummy_hash(), password or "")
        raise Unauthorised("bad_credentials")
    if not _verify(found[1], password or ""):
        raise Unauthorised("bad_credentials")
    if _hasher.check_needs_rehash(found[1]):
        with store.unit_of_work() as uow:
            uow.identity.set_password_hash(found[0], _hash(password))
    return found[0]


# -- people's sessions ----------------------------------------------------------------------


def open_session(store: Store, partner: PartnerRow, nonce: str, user_ref: str, now: datetime | None = None) -> dict[str, Any]:
    """A short-lived user token and a one-time login URL for the partner's app (api-v1.md)."""
    now = now or utcnow()
    token = "ut_" + random_secrets.token_urlsafe(32)
    ticket = random_secrets.token_urlsafe(24)
    expires_at = now + SESSION_TTL
    with store.unit_of_work() as uow:
        spend_nonce(uow, partner, nonce, now)
        consent = active_consent(uow, partner, user_ref)
        # both carry the partner: they see only its data, and die with its consent
        uow.consents.add_token(token_hash(token), consent.account_id, "session", now, expires_at, partner_pk=partner.pk)
        uow.consents.add_token(token_hash(ticket), consent.account_id, "login_ticket", now, expires_at, partner_pk=partner.pk)
    return {"token": token, "expires_at": expires_at.isoformat(), "login_url": f"/login/ticket/{ticket}"}


def login_link(store: Store, account_id: int, ttl: timedelta = SESSION_TTL, now: datetime | None = None) -> str:
    """A one-time `login_url` for an account (what a partner session returns, for operators' tools)."""
    now = now or utcnow()
    ticket = random_secrets.token_urlsafe(24)
    with store.unit_of_work() as uow:
        uow.consents.add_token(token_hash(ticket), account_id, "login_ticket", now, now + ttl)
    return f"/login/ticket/{ticket}"


def use_login_ticket(store: Store, ticket: str, now: datetime | None = None) -> Principal | None:
    """Who a one-time login ticket signs in (with its partner's scope when a partner's session made it)."""
    with store.unit_of_work() as uow:
        return _principal(uow.consents.use_token(token_hash(ticket), "login_ticket", now or utcnow()))


def principal_for_token(store: Store, token: str, now: datetime | None = None) -> Principal | None:
    """Who a bearer token for /v1/me* speaks for (a partner-opened session or an API token)."""
    with store.unit_of_work(write=False) as uow:
        return _principal(uow.consents.token_owner(token_hash(token), "session", now or utcnow()))


def web_session(store: Store, who: int | Principal, now: datetime | None = None) -> str:
    """A browser session after a sign-in; the cookie carries the token. A session made from a partner's
    login ticket keeps that partner's scope."""
    principal = who if isinstance(who, Principal) else Principal(who)
    now = now or utcnow()
    token = "ws_" + random_secrets.token_urlsafe(32)
    with store.unit_of_work() as uow:
        expires_at = now + WEB_SESSION_TTL
        uow.consents.add_token(token_hash(token), principal.account_id, "web", now, expires_at, partner_pk=principal.partner_pk)
    return token


def principal_for_web_session(store: Store, token: str, now: datetime | None = None) -> Principal | None:
    with store.unit_of_work(write=False) as uow:
        return _principal(uow.consents.token_owner(token_hash(token), "web", now or utcnow()))


def issue_api_token(store: Store, username: str, password: str, now: datetime | None = None) -> dict[str, str]:
    """POST /v1/auth/token: a bearer token for /v1/me* (the same kind a partner session gives)."""
    account_id = authenticate(store, username, password)
    now = now or utcnow()
    token = "ut_" + random_secrets.token_urlsafe(32)
    expires_at = now + API_TOKEN_TTL
    with store.unit_of_work() as uow:
        uow.consents.add_token(token_hash(token), account_id, "session", now, expires_at)
    return {"token": token, "expires_at": expires_at.isoformat()}


def end_web_session(store: Store, token: str, now: datetime | None = None) -> None:
    with store.unit_of_work() as uow:
        uow.identity.revoke_user_token(token_hash(token), now or utcnow())


# -- operators ------------------------------------------------------------------------------


def create_operator(
    store: Store,
    scheme_id: str,
    username: str,
    password: str,
    role: str = "operator",
    now: datetime | None = None,
    *,
    actor: str = "system",
) -> int:
    """An operator user of one scheme; creating one that exists (same scheme) sets its password and role."""
    if role not in ROLES:
        raise InvalidInput("invalid_role", details={"role": " or ".join(ROLES)}, role=role)
    name = _check_username(username)
    password_hash = _hash(_check_password(password))
    now = now or utcnow()
    with store.unit_of_work() as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        existing = uow.identity.operator_by_username(name)
        if existing is not None:
            if existing.scheme_id != scheme_id or existing.organisation_id is not None:  # not an org admin's name
                raise Conflict("username_taken", username=name)
            uow.identity.set_operator(existing.id, password_hash, role)
            operator_id, created = existing.id, False
        else:
            operator_id, created = uow.identity.add_operator(name, password_hash, scheme_id, role, now), True
        audit.record(
            uow,
            actor,
            "admin.create_user",
            f"operator:{name}",
            {"operator_id": operator_id, "role": role, "created": created},
            scheme_id,
            now=now,
        )
        return operator_id


def create_org_admin(
    store: Store, organisation_id: str, username: str, password: str, now: datetime | None = None, *, actor: str = "system"
) -> int:
    """An organisation administrator (role ``org_admin``) of one organisation, signing in at /admin/login like an
    operator; again for the same name and organisation: a new password. A name any other operator user has
    is refused, so no one's scope is ever widened or narrowed by this."""
    name = _check_username(username)
    password_hash = _hash(_check_password(password))
    now = now or utcnow()
    with store.unit_of_work() as uow:
        org = uow.organisations.get(organisation_id)
        if org is None:
            raise NotFound("organisation_not_found", organisation_id=organisation_id)
        existing = uow.identity.operator_by_username(name)
        if existing is not None and existing.organisation_id != org.public_id:
            raise Conflict("username_taken", username=name)
        if existing is not None:
            uow.identity.set_operator(existing.id, password_hash, ORG_ADMIN)
            operator_id, created = existing.id, False
        else:
            operator_id, created = uow.identity.add_operator(name, password_hash, org.scheme_id, ORG_ADMIN, now, org.id), True
        audit.record(
            uow,
            actor,
            "org.grant_admin",
            org.public_id,
            {"operator_id": operator_id, "role": ORG_ADMIN, "created": created},
            org.scheme_id,
            now=now,
        )
        return operator_id


def revoke_org_admin(store: Store, username: str, now: datetime | None = None, *, actor: str = "system") -> str:
    """An organisation administrator loses the role: the user and its sessions are gone at once.
    Returns the organisation's id. Only an ``org_admin`` user can be removed this way."""
    name = (username or "").strip()
    now = now or utcnow()
    with store.unit_of_work() as uow:
        found = uow.identity.operator_by_username(name)
        if found is None or found.role != ORG_ADMIN or found.organisation_id is None:
            raise NotFound("org_admin_not_found", username=name)
        uow.identity.delete_operator(found.id)
        audit.record(uow, actor, "org.revoke_admin", found.organisation_id, {"operator_id": found.id}, found.scheme_id, now=now)
        return found.organisation_id


def operator_sign_in(store: Store, username: str, password: str, now: datetime | None = None) -> tuple[str, OperatorScope]:
    """A dashboard session token for an operator's username and password."""
    with store.unit_of_work(write=False) as uow:
        found = uow.identity.operator_by_username((username or "").strip())
    if found is None:
        _verify(_dummy_hash(), password or "")
        raise Unauthorised("bad_credentials")
    if not _verify(found.password_hash, password or ""):
        raise Unauthorised("bad_credentials")
    now = now or utcnow()
    token = "ow_" + random_secrets.token_urlsafe(32)
    with store.unit_of_work() as uow:
        uow.identity.add_operator_token(
            token_hash(token), found.scheme_id, found.role, found.id, "web", now, now + OPERATOR_WEB_TTL
        )
    return token, OperatorScope(found.scheme_id, found.role, found.id, found.username, found.organisation_id)


def issue_operator_token(
    store: Store,
    scheme_id: str,
    role: str = "operator",
    ttl: timedelta | None = None,
    now: datetime | None = None,
    *,
    actor: str = "system",
) -> str:
    """`tanhui admin token`: a bearer token for /v1/admin/schemes/{scheme_id}/* (no expiry unless ttl)."""
    if role not in ROLES:
        raise InvalidInput("invalid_role", details={"role": " or ".join(ROLES)}, role=role)
    now = now or utcnow()
    token = "ot_" + random_secrets.token_urlsafe(32)
    expires_at = now + ttl if ttl else None
    with store.unit_of_work() as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        uow.identity.add_operator_token(token_hash(token), scheme_id, role, None, "api", now, expires_at)
        audit.record(
            uow,
            actor,
            "admin.token",
            f"token:{role}",
            {"role": role, "expires_at": expires_at.isoformat() if expires_at else None},
            scheme_id,
            now=now,
        )
    return token


def operator_scope(store: Store, token: str, kind: str, now: datetime | None = None) -> OperatorScope | None:
    with store.unit_of_work(write=False) as uow:
        return uow.identity.operator_scope(token_hash(token), kind, now or utcnow())


def end_operator_session(store: Store, token: str, now: datetime | None = None) -> None:
    with store.unit_of_work() as uow:
        uow.identity.revoke_operator_token(token_hash(token), now or utcnow())


__all__ = [
    "ORG_ADMIN",
    "ROLES",
    "SESSION_TTL",
    "WEB_SESSION_TTL",
    "OperatorScope",
    "Principal",
    "authenticate",
    "create_operator",
    "create_org_admin",
    "revoke_org_admin",
    "end_operator_session",
    "end_web_session",
    "issue_api_token",
    "issue_operator_token",
    "login_link",
    "new_password_hash",
    "open_session",
    "operator_scope",
    "operator_sign_in",
    "principal_for_token",
    "principal_for_web_session",
    "register",
    "use_login_ticket",
    "web_session",
]
