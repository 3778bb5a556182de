"""The operator audit log (issue 9): who did what to a scheme, and when.

`record` takes the caller's unit of work, never a store, so an action and its audit row commit or
roll back together: a failed action leaves no row, and no row describes something that did not
happen. The log is append-only (database triggers) and viewers read it, so what goes in must be
safe to keep for ever and to show: ids, counts and choices — never secrets, tokens, passwords or
personal data such as names and phone numbers.

Actors: ``operator:<username>`` (dashboard session), ``org_admin:<username>`` (an organisation's
administrator, docs/web.md "Organisation administrators"), ``person`` (a person acting on their own
account, e.g. setting a new password with a reset link), ``token:<role>`` (an operator API token issued
by the CLI, which has no user), ``cli:<OS user>`` (the `tanhui` command) and ``system`` (code that
runs on its own, e.g. the demo builder). Services take ``actor: str = "system"`` from their adapter.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tanhui.errors import InvalidInput, NotFound
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.rows import AuditRow, OperatorScope
from tanhui.store.uow import UnitOfWork

SYSTEM = "system"

# Every action the log knows; `record` refuses others so a typo cannot hide an action from a filter.
ACTIONS = (
    "scheme.create",
    "scheme.apply",
    "partner.create",
    "partner.rotate_secret",
    "partner.retire_old_secrets",
    "partner.disable",
    "partner.enable",
    "partner.set_scenarios",
    "org.create",
    "org.grant_admin",
    "org.revoke_admin",
    "org.new_invite_code",
    "org.remove_member",
    "market.item_add",
    "market.item_update",
    "market.import_codes",
    "market.ship",
    "market.deliver",
    "market.cancel",
    "review.confirm",
    "review.accept",
    "points.expire",
    "events.purge_payloads",
    "credits.issue",
    "credits.transfer",
    "credits.retire",
    "credits.neutralise",
    "credits.transfer_out",
    "credits.transfer_settle",
    "credits.transfer_cancel",
    "credits.transfer_in",
    "admin.create_user",
    "admin.token",
    "person.password_reset",
    "person.password_reset_done",
    "secrets.rotate_key",
    "interop.init",
    "interop.peer_add",
    "interop.peer_remove",
    "interop.withdraw",
)

# A detail key naming any of these is refused: the value would be a secret or personal data.
_UNSAFE_KEY_PARTS = ("secret", "token", "password", "phone", "name", "code")

ACTOR_LEN_MAX = 128
TARGET_LEN_MAX = 200
LIST_LIMIT_MAX = 1000


def operator_actor(scope: OperatorScope) -> str:
    """The actor of an operator request: the signed-in user, else the token's role."""
    if scope.username and scope.organisation_id:
        return f"org_admin:{scope.username}"
    return f"operator:{scope.username}" if scope.username else f"token:{scope.role}"


def details_text(details: dict[str, Any] | None) -> str:
    """One line for a table cell (the CLI and the dashboard show details the same way)."""
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}" for k, v in (details or {}).items())


def _checked_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    if not details:
        return None
    unsafe = sorted(k for k in details if any(part in k.lower() for part in _UNSAFE_KEY_PARTS))
    if unsafe:
        raise ValueError(f"audit details may not carry {', '.join(unsafe)}: ids and counts only")
    return details


def record(
    uow: UnitOfWork,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    scheme_id: str | None = None,
    *,
    now: datetime | None = None,
) -> int:
    """Write the audit row inside the caller's transaction; returns its id."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return uow.audit.add(
        scheme_id,
        (actor or SYSTEM)[:ACTOR_LEN_MAX],
        action,
        None if target is None else target[:TARGET_LEN_MAX],
        _checked_details(details),
        now or utcnow(),
    )


def list_entries(
    store: Store, scheme_id: str | None = None, action: str | None = None, limit: int = 100, before_id: int | None = None
) -> list[AuditRow]:
    """Newest first. An unknown scheme or action is an error rather than an empty list, so a typo
    never reads as "nobody did anything"."""
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise InvalidInput("invalid_request", details={"limit": f"1..{LIST_LIMIT_MAX}"})
    if action is not None and action not in ACTIONS:
        raise InvalidInput("unknown_audit_action", details={"action": "unknown"}, action=action, actions=", ".join(ACTIONS))
    store.require_initialised()
    with store.unit_of_work(write=False) as uow:
        if scheme_id is not None and uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        return uow.audit.list(scheme_id, action, limit, before_id)


def page(store: Store, scheme_id: str, action: str | None, offset: int, limit: int) -> tuple[list[AuditRow], int]:
    """A page of a scheme's log, newest first, and how many entries there are (the dashboard)."""
    if action is not None and action not in ACTIONS:
        raise InvalidInput("unknown_audit_action", details={"action": "unknown"}, action=action, actions=", ".join(ACTIONS))
    if offset < 0 or not 1 <= limit <= LIST_LIMIT_MAX:
        raise InvalidInput("invalid_request", details={"page": f"offset >= 0, limit 1..{LIST_LIMIT_MAX}"})
    with store.unit_of_work(write=False) as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        return uow.audit.list(scheme_id, action, limit, offset=offset), uow.audit.count(scheme_id, action)


__all__ = ["ACTIONS", "SYSTEM", "details_text", "list_entries", "operator_actor", "page", "record"]
