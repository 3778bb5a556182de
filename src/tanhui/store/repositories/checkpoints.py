from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from tanhui.store.repositories.base import Repository
from tanhui.store.schema import ledger_checkpoints


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    scheme_id: str
    seq: int
    heads: dict[str, tuple[int, str]]
    entries: int
    created_at: datetime
    prev_hash: str
    checkpoint_hash: str


class CheckpointRepository(Repository):
    def of_scheme(self, scheme_id: str) -> list[CheckpointRow]:
        """The scheme's verification checkpoints, oldest first (a few a day at most)."""
        rows = self.conn.execute(
            select(ledger_checkpoints).where(ledger_checkpoints.c.scheme_id == scheme_id).order_by(ledger_checkpoints.c.seq)
        )
        return [
            CheckpointRow(
                r.scheme_id,
                int(r.seq),
                {chain: (int(seq), str(digest)) for chain, (seq, digest) in r.heads.items()},
                int(r.entries),
                r.created_at,
                r.prev_hash,
                r.checkpoint_hash,
            )
            for r in rows
        ]

    def add(self, row: CheckpointRow) -> None:
        self.conn.execute(
            insert(ledger_checkpoints).values(
                scheme_id=row.scheme_id,
                seq=row.seq,
                heads={chain: [seq, digest] for chain, (seq, digest) in sorted(row.heads.items())},
                entries=row.entries,
                created_at=row.created_at,
                prev_hash=row.prev_hash,
                checkpoint_hash=row.checkpoint_hash,
            )
        )
