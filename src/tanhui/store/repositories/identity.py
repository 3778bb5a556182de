"""Who may sign in: people's credentials and sessions (user tokens), operators and their tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update

from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository
from tanhui.store.schema import credentials, operator_tokens, operators, organisations, user_tokens, username_claims


@dataclass(frozen=True, slots=True)
class OperatorRow:
    id: int
    username: str
    password_hash: str
    scheme_id: str
    role: str
    organisation_id: str | None = None  # an organisation administrator's organisation (its public id)


@dataclass(frozen=True, slots=True)
class OperatorScope:
    """What an operator token or dashboard session may see: one scheme, one role."""

    scheme_id: str
    role: str
    operator_id: int | None
    username: str | None = None  # the operator's, for the audit log; None for a token issued by the CLI
    organisation_id: str | None = None  # role org_admin: the one organisation (public id) it may see, nothing else


class IdentityRepository(Repository):
    # -- people --------------------------------------------------------------------------
    def add_credentials(self, account_id: int, username: str, password_hash: str, now: datetime) -> None:
        """A second person with the same name is refused by the claim (a unique-key violation)."""
        self.conn.execute(insert(username_claims).values(username=username, account_id=account_id))
        self.conn.execute(
            insert(credentials).values(
                pkey=pkey_of(account_id), account_id=account_id, username=username, password_hash=password_hash, created_at=now
            )
        )

    def credentials_by_username(self, username: str) -> tuple[int, str] | None:
        account_id = self.conn.execute(
            select(username_claims.c.account_id).where(username_claims.c.username == username)
        ).scalar()
        if account_id is None:
            return None
        row = self.conn.execute(
            select(credentials.c.account_id, credentials.c.password_hash).where(
                credentials.c.pkey == pkey_of(int(account_id)), credentials.c.account_id == account_id
            )
        ).first()
        return None if row is None else (int(row.account_id), row.password_hash)

    def username_of(self, account_id: int) -> str | None:
        return self.conn.execute(
            select(credentials.c.username).where(
                credentials.c.pkey == pkey_of(account_id), credentials.c.account_id == account_id
            )
        ).scalar()

    def set_password_hash(self, account_id: int, password_hash: str) -> None:
        self.conn.execute(
            update(credentials)
            .where(credentials.c.pkey == pkey_of(account_id), credentials.c.account_id == account_id)
            .values(password_hash=password_hash)
        )

    def delete_credentials(self, account_id: int) -> int:
        """The sign-in name goes with them (erasure): its claim too."""
        self.conn.execute(delete(username_claims).where(username_claims.c.account_id == account_id))
        return (
            self.conn.execute(
                delete(credentials).where(credentials.c.pkey == pkey_of(account_id), credentials.c.account_id == account_id)
            ).rowcount
            or 0
        )

    def revoke_user_token(self, token_hash: str, now: datetime) -> None:
        """A session or token ends at once (marked used: token lookups refuse used tokens)."""
        self.conn.execute(
            update(user_tokens).where(user_tokens.c.token_hash == token_hash, user_tokens.c.used_at.is_(None)).values(used_at=now)
        )

    def revoke_user_tokens(self, account_id: int, now: datetime) -> int:
        return (
            self.conn.execute(
                update(user_tokens)
                .where(user_tokens.c.account_id == account_id, user_tokens.c.used_at.is_(None))
                .values(used_at=now)
            ).rowcount
            or 0
        )

    def revoke_user_tokens_of_kind(self, account_id: int, kind: str, now: datetime) -> int:
        """The account's live tokens of one kind end now (a new password reset link replaces the last)."""
        return (
            self.conn.execute(
                update(user_tokens)
                .where(user_tokens.c.account_id == account_id, user_tokens.c.kind == kind, user_tokens.c.used_at.is_(None))
                .values(used_at=now)
            ).rowcount
            or 0
        )

    # -- operators -----------------------------------------------------------------------
    def add_operator(
        self, username: str, password_hash: str, scheme_id: str, role: str, now: datetime, organisation_pk: int | None = None
    ) -> int:
        return int(
            self.conn.execute(
                insert(operators)
                .values(
                    username=username,
                    password_hash=password_hash,
                    scheme_id=scheme_id,
                    role=role,
                    created_at=now,
                    organisation_id=organisation_pk,
                )
                .returning(operators.c.id)
            ).scalar_one()
        )

    def operator_by_username(self, username: str) -> OperatorRow | None:
        row = self.conn.execute(
            select(operators, organisations.c.public_id.label("organisation_public_id"))
            .select_from(operators.outerjoin(organisations, organisations.c.id == operators.c.organisation_id))
            .where(operators.c.username == username)
        ).first()
        if row is None:
            return None
        return OperatorRow(int(row.id), row.username, row.password_hash, row.scheme_id, row.role, row.organisation_public_id)

    def set_operator(self, operator_id: int, password_hash: str, role: str) -> None:
        self.conn.execute(update(operators).where(operators.c.id == operator_id).values(password_hash=password_hash, role=role))

    def delete_operator(self, operator_id: int) -> None:
        """The user and its sessions go (nothing else refers to it: the audit log names it by its username)."""
        self.conn.execute(delete(operator_tokens).where(operator_tokens.c.operator_id == operator_id))
        self.conn.execute(delete(operators).where(operators.c.id == operator_id))

    def add_operator_token(
        self,
        token_hash: str,
        scheme_id: str,
        role: str,
        operator_id: int | None,
        kind: str,
        now: datetime,
        expires_at: datetime | None,
    ) -> None:
        self.conn.execute(
            insert(operator_tokens).values(
                token_hash=token_hash,
                scheme_id=scheme_id,
                role=role,
                operator_id=operator_id,
                kind=kind,
                created_at=now,
                expires_at=expires_at,
            )
        )

    def operator_scope(self, token_hash: str, kind: str, now: datetime) -> OperatorScope | None:
        row = self.conn.execute(
            select(
                operator_tokens.c.scheme_id,
                operator_tokens.c.role,
                operator_tokens.c.operator_id,
                operators.c.username,
                organisations.c.public_id.label("organisation_public_id"),
            )
            .select_from(
                operator_tokens.outerjoin(operators, operators.c.id == operator_tokens.c.operator_id).outerjoin(
                    organisations, organisations.c.id == operators.c.organisation_id
                )
            )
            .where(
                operator_tokens.c.token_hash == token_hash,
                operator_tokens.c.kind == kind,
                operator_tokens.c.revoked_at.is_(None),
                or_(operator_tokens.c.expires_at.is_(None), operator_tokens.c.expires_at > now),
            )
        ).first()
        if row is None:
            return None
        operator_id = None if row.operator_id is None else int(row.operator_id)
        return OperatorScope(row.scheme_id, row.role, operator_id, row.username, row.organisation_public_id)

    def revoke_operator_token(self, token_hash: str, now: datetime) -> None:
        self.conn.execute(update(operator_tokens).where(operator_tokens.c.token_hash == token_hash).values(revoked_at=now))
