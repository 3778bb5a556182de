"""Password reset without e-mail or SMS (issue 17): a scheme's operator issues a one-time link for a person
who registered directly, and hands it over by whatever channel they trust (in person, by phone).

The link is a random token in the path (`/reset/<token>`); only its SHA-256 is stored, as a user token of
kind ``password_reset``, so a database copy resets nobody's password. It lasts 24 hours unless the operator
says otherwise, works once, and a newer link for the same person ends the older one. Setting the new
password ends every session and token the person had (someone who knew the old password is signed out).
Issuing and using a link are both in the audit log: the operator as the actor of the first, the person
(`person`) of the second; neither entry holds the token.
"""

from __future__ import annotations

import secrets as random_secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tanhui.errors import InvalidInput, NotFound, Unauthorised
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.services.consent import token_hash
from tanhui.services.identity import new_password_hash
from tanhui.store import Store

KIND = "password_reset"  # user_tokens.kind
RESET_TTL = timedelta(hours=24)
TTL_MIN, TTL_MAX = timedelta(hours=1), timedelta(days=7)
PATH = "/reset/"


@dataclass(frozen=True, slots=True)
class ResetLink:
    path: str  # /reset/<token>: shown once, never stored
    account_id: int
    expires_at: datetime


def issue(
    store: Store, scheme_id: str, username: str, *, actor: str, ttl: timedelta = RESET_TTL, now: datetime | None = None
) -> ResetLink:
    """A one-time link for the person with this username in this scheme (any other scheme's: not found)."""
    if not TTL_MIN <= ttl <= TTL_MAX:
        raise InvalidInput("invalid_reset_ttl", details={"ttl": "1..168 hours"})
    name = (username or "").strip()
    now = now or utcnow()
    token = random_secrets.token_urlsafe(32)
    store.require_initialised()
    with store.unit_of_work() as uow:
        found = uow.identity.credentials_by_username(name) if name else None
        account = uow.accounts.get(found[0]) if found else None
        if account is None or account.erased_at is not None or account.scheme_id != scheme_id:
            raise NotFound("person_not_found", details={"username": "unknown"}, username=name)
        uow.identity.revoke_user_tokens_of_kind(account.id, KIND, now)  # only the newest link works
        uow.consents.add_token(token_hash(token), account.id, KIND, now, now + ttl)
        audit.record(
            uow,
            actor,
            "person.password_reset",
            f"account:{account.id}",
            {"hours": int(ttl.total_seconds() // 3600)},
            scheme_id,
            now=now,
        )
    return ResetLink(PATH + token, account.id, now + ttl)


def link_works(store: Store, token: str, now: datetime | None = None) -> bool:
    """Whether the link can still be used (the form is shown only then); looking does not use it."""
    with store.unit_of_work(write=False) as uow:
        return uow.consents.token_owner(token_hash(token), KIND, now or utcnow()) is not None


def complete(store: Store, token: str, password: str, now: datetime | None = None) -> int:
    """Set the new password with the link; returns the account id. A password the registration rules
    refuse leaves the link unused (the person can try again); a used or expired link is refused."""
    password_hash = new_password_hash(password)
    now = now or utcnow()
    with store.unit_of_work() as uow:
        owner = uow.consents.use_token(token_hash(token), KIND, now)
        account = uow.accounts.get(owner.account_id) if owner else None
        if owner is None or account is None or account.erased_at is not None:
            raise Unauthorised("reset_link_invalid")
        uow.identity.set_password_hash(account.id, password_hash)
        uow.identity.revoke_user_tokens(account.id, now)  # every session and token ends
        audit.record(uow, "person", "person.password_reset_done", f"account:{account.id}", None, account.scheme_id, now=now)
        return account.id


__all__ = ["KIND", "RESET_TTL", "ResetLink", "complete", "issue", "link_works"]
