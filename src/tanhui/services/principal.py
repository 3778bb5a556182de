"""Who is asking on a person's behalf (issue 18): the account, and the partner whose session it is.

A person's own sign-in (username and password: an API token or a browser login) has full rights over
the account. A session a partner's app opened (api-v1 "sessions": its bearer token, its login ticket
and the browser session made from that ticket) carries the partner: it sees only that partner's link,
consent and events, may not erase the account, make binding codes or withdraw another partner's
consent, and lives only while that partner's consent is active (services/identity resolves it).
"""

from __future__ import annotations

from dataclasses import dataclass

from tanhui.errors import Forbidden


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: int
    partner_pk: int | None = None  # None: the person's own sign-in

    @property
    def scoped(self) -> bool:
        return self.partner_pk is not None

    def require_own_sign_in(self, action: str) -> None:
        """Refuse (403 ``partner_session_forbidden``) what only the person's own sign-in may do."""
        if self.partner_pk is not None:
            raise Forbidden("partner_session_forbidden", action=action)


def as_principal(who: int | Principal) -> Principal:
    """An account id (the person's own, e.g. from the CLI or tests) or a resolved principal."""
    return who if isinstance(who, Principal) else Principal(who)


__all__ = ["Principal", "as_principal"]
