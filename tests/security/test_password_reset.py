"""Password reset without e-mail or SMS (issue 17): an operator's one-time link, on both engines.

The link is stored only as a hash, works once, expires (24 h by default), a newer one ends the older,
another scheme's operator cannot issue one, the new password follows registration's rules (a refused
password leaves the link usable), every old session ends, and both steps are in the audit log."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from tanhui.errors import InvalidInput, NotFound, Unauthorised
from tanhui.services import audit, identity, password_reset
from tanhui.services.clock import utcnow
from tanhui.services.schemes import create_scheme
from tanhui.store import Store
from tanhui.store.schema import audit_log, user_tokens

OPS = "operator:li"


def _person(store: Store, scheme_id: str) -> int:
    """The person "xm-<scheme>": usernames are unique across schemes, and PostgreSQL's database is shared."""
    create_scheme(store, scheme_id, "绿芽积分")
    return identity.register(store, scheme_id, f"xm-{scheme_id}", "old-password-1")


def _token(link: password_reset.ResetLink) -> str:
    assert link.path.startswith("/reset/")
    return link.path.removeprefix("/reset/")


def test_a_link_sets_a_new_password_once_and_ends_every_session(store: Store, scheme_id: str) -> None:
    account = _person(store, scheme_id)
    web = identity.web_session(store, account)
    api = identity.issue_api_token(store, f"xm-{scheme_id}", "old-password-1")["token"]
    link = password_reset.issue(store, scheme_id, f"xm-{scheme_id}", actor=OPS)
    token = _token(link)
    assert link.account_id == account
    assert timedelta(hours=23, minutes=59) < link.expires_at - utcnow() <= password_reset.RESET_TTL
    with store.unit_of_work(write=False) as uow:  # only the hash is kept
        mine = select(user_tokens).where(user_tokens.c.kind == "password_reset", user_tokens.c.account_id == account)
        stored = [r.token_hash for r in uow.conn.execute(mine)]  # this person's: PostgreSQL's database is shared
    assert stored == [hashlib.sha256(token.encode()).hexdigest()] and token not in stored

    assert password_reset.link_works(store, token) and password_reset.link_works(store, token)  # looking does not use it
    assert password_reset.complete(store, token, "new-password-2") == account
    assert identity.authenticate(store, f"xm-{scheme_id}", "new-password-2") == account
    with pytest.raises(Unauthorised):
        identity.authenticate(store, f"xm-{scheme_id}", "old-password-1")
    assert identity.principal_for_web_session(store, web) is None
    assert identity.principal_for_token(store, api) is None
    assert not password_reset.link_works(store, token)
    with pytest.raises(Unauthorised) as used:
        password_reset.complete(store, token, "third-password-3")
    assert used.value.code == "reset_link_invalid"
    assert identity.authenticate(store, f"xm-{scheme_id}", "new-password-2") == account


def test_an_expired_link_or_an_older_one_is_refused(store: Store, scheme_id: str) -> None:
    _person(store, scheme_id)
    old = _token(password_reset.issue(store, scheme_id, f"xm-{scheme_id}", actor=OPS, now=utcnow() - timedelta(hours=25)))
    assert not password_reset.link_works(store, old)
    with pytest.raises(Unauthorised):
        password_reset.complete(store, old, "new-password-2")
    short = _token(password_reset.issue(store, scheme_id, f"xm-{scheme_id}", actor=OPS, ttl=timedelta(hours=1)))
    newer = _token(password_reset.issue(store, scheme_id, f"xm-{scheme_id}", actor=OPS))
    assert not password_reset.link_works(store, short)  # a newer link ends the older
    with pytest.raises(Unauthorised):
        password_reset.complete(store, short, "new-password-2")
    assert password_reset.link_works(store, newer)
    with pytest.raises(InvalidInput):
        password_reset.issue(store, scheme_id, f"xm-{scheme_id}", actor=OPS, ttl=timedelta(days=30))


def test_a_weak_password_leaves_the_link_usable(store: Store, scheme_id: str) -> None:
    account = _person(store, scheme_id)
    token = _token(password_reset.issue(store, scheme_id, f"xm-{scheme_id}", actor=OPS))
    with pytest.raises(InvalidInput) as weak:
        password_reset.complete(store, token, "short")
    assert weak.value.code == "weak_password"
    assert password_reset.link_works(store, token)
    assert password_reset.complete(store, token, "long-enough-1") == account


def test_only_the_persons_own_scheme_can_issue_and_only_for_direct_registrations(store: Store, scheme_id: str) -> None:
    _person(store, scheme_id)
    other = scheme_id + "x"
    create_scheme(store, other, "冰城碳惠")
    with pytest.raises(NotFound):
        password_reset.issue(store, other, f"xm-{scheme_id}", actor="operator:wang")
    with pytest.raises(NotFound):
        password_reset.issue(store, scheme_id, "nobody-here", actor=OPS)
    with pytest.raises(Unauthorised):
        password_reset.complete(store, "not-a-link-at-all", "new-password-2")


def test_both_steps_are_audited_without_the_token(store: Store, scheme_id: str) -> None:
    account = _person(store, scheme_id)
    token = _token(password_reset.issue(store, scheme_id, f"xm-{scheme_id}", actor=OPS))
    password_reset.complete(store, token, "new-password-2")
    issued = audit.list_entries(store, scheme_id, "person.password_reset")
    done = audit.list_entries(store, scheme_id, "person.password_reset_done")
    assert [(e.actor, e.target, e.details) for e in issued] == [(OPS, f"account:{account}", {"hours": 24})]
    assert [(e.actor, e.target) for e in done] == [("person", f"account:{account}")]
    with store.unit_of_work(write=False) as uow:
        everything = " ".join(str(tuple(r)) for r in uow.conn.execute(select(audit_log)))
    assert token not in everything and hashlib.sha256(token.encode()).hexdigest() not in everything
