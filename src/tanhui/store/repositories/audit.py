"""The operator audit log: rows are only ever added (triggers on both engines refuse UPDATE and DELETE)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from tanhui.store.repositories.base import Repository
from tanhui.store.schema import audit_log


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    scheme_id: str | None
    actor: str
    action: str
    target: str | None
    details: dict[str, Any] | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scheme_id": self.scheme_id,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": self.details,
            "created_at": self.created_at.isoformat(),
        }


def _row(row: Any) -> AuditRow:
    return AuditRow(int(row.id), row.scheme_id, row.actor, row.action, row.target, row.details, row.created_at)


class AuditRepository(Repository):
    def add(
        self, scheme_id: str | None, actor: str, action: str, target: str | None, details: dict[str, Any] | None, now: datetime
    ) -> int:
        return int(
            self.conn.execute(
                insert(audit_log)
                .values(scheme_id=scheme_id, actor=actor, action=action, target=target, details=details, created_at=now)
                .returning(audit_log.c.id)
            ).scalar_one()
        )

    def list(
        self,
        scheme_id: str | None = None,
        action: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
        offset: int = 0,
    ) -> list[AuditRow]:
        """Newest first; ``before_id`` pages back (ids only grow, so a page never shifts under a reader)."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit).offset(offset)
        if scheme_id is not None:
            query = query.where(audit_log.c.scheme_id == scheme_id)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        if before_id is not None:
            query = query.where(audit_log.c.id < before_id)
        return [_row(r) for r in self.conn.execute(query)]

    def count(self, scheme_id: str, action: str | None = None) -> int:
        query = select(func.count()).select_from(audit_log).where(audit_log.c.scheme_id == scheme_id)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        return int(self.conn.execute(query).scalar_one())

    def of_action(self, scheme_id: str, action: str) -> builtins.list[AuditRow]:
        """Every entry of one action in a scheme, oldest first (e.g. the review decisions)."""
        query = select(audit_log).where(audit_log.c.scheme_id == scheme_id, audit_log.c.action == action)
        return [_row(r) for r in self.conn.execute(query.order_by(audit_log.c.id))]

    def for_targets(self, scheme_id: str, action: str, targets: Sequence[str]) -> builtins.list[AuditRow]:
        """The entries of one action about any of these targets, oldest first."""
        query = select(audit_log).where(
            audit_log.c.scheme_id == scheme_id,
            audit_log.c.action == action,
            self.dialect.in_values(audit_log.c.target, list(targets)),
        )
        return [_row(r) for r in self.conn.execute(query.order_by(audit_log.c.id))]
