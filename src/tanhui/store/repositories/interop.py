"""This platform's interconnection identity, its peers, and the peers' spent nonces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update

from tanhui.store.repositories.base import Repository
from tanhui.store.schema import interop_peer_nonces, interop_peers, interop_platform


@dataclass(frozen=True, slots=True)
class PlatformRow:
    platform_id: str
    name: str
    public_key: str
    private_key: str  # sealed
    private_key_id: str
    federation_key: str  # sealed
    federation_key_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PeerRow:
    pk: int
    platform_id: str
    url: str
    public_key: str
    status: str
    added_at: datetime
    removed_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "platform_id": self.platform_id,
            "url": self.url,
            "public_key": self.public_key,
            "status": self.status,
            "added_at": self.added_at.isoformat(),
            "removed_at": self.removed_at.isoformat() if self.removed_at else None,
        }


_PLATFORM = (
    interop_platform.c.platform_id,
    interop_platform.c.name,
    interop_platform.c.public_key,
    interop_platform.c.private_key,
    interop_platform.c.private_key_id,
    interop_platform.c.federation_key,
    interop_platform.c.federation_key_id,
    interop_platform.c.created_at,
)
_PEER = (
    interop_peers.c.pk,
    interop_peers.c.platform_id,
    interop_peers.c.url,
    interop_peers.c.public_key,
    interop_peers.c.status,
    interop_peers.c.added_at,
    interop_peers.c.removed_at,
)


class InteropRepository(Repository):
    def platform(self, *, lock: bool = False) -> PlatformRow | None:
        query = select(*_PLATFORM).where(interop_platform.c.id == 1)
        if lock:
            query = self.dialect.for_update(query)
        row = self.conn.execute(query).first()
        return PlatformRow(*row) if row else None

    def create_platform(self, row: PlatformRow) -> bool:
        """Write the one identity row; False when one is there already (a second init, or a race)."""
        inserted = self.conn.execute(
            self.dialect.insert_ignore(interop_platform)
            .values(
                id=1,
                platform_id=row.platform_id,
                name=row.name,
                public_key=row.public_key,
                private_key=row.private_key,
                private_key_id=row.private_key_id,
                federation_key=row.federation_key,
                federation_key_id=row.federation_key_id,
                created_at=row.created_at,
            )
            .returning(interop_platform.c.id)
        ).first()
        return inserted is not None

    def set_platform_sealed(self, private_key: str, private_key_id: str, federation_key: str, federation_key_id: str) -> None:
        self.conn.execute(
            update(interop_platform)
            .where(interop_platform.c.id == 1)
            .values(
                private_key=private_key,
                private_key_id=private_key_id,
                federation_key=federation_key,
                federation_key_id=federation_key_id,
            )
        )

    def peer(self, platform_id: str, *, lock: bool = False) -> PeerRow | None:
        query = select(*_PEER).where(interop_peers.c.platform_id == platform_id)
        if lock:
            query = self.dialect.for_update(query)
        row = self.conn.execute(query).first()
        return PeerRow(*row) if row else None

    def peers(self, *, include_removed: bool = False) -> list[PeerRow]:
        query = select(*_PEER).order_by(interop_peers.c.platform_id)
        if not include_removed:
            query = query.where(interop_peers.c.status == "active")
        return [PeerRow(*row) for row in self.conn.execute(query)]

    def add_peer(self, platform_id: str, url: str, public_key: str, now: datetime) -> None:
        self.conn.execute(
            insert(interop_peers).values(platform_id=platform_id, url=url, public_key=public_key, status="active", added_at=now)
        )

    def reactivate_peer(self, pk: int, url: str, public_key: str, now: datetime) -> None:
        self.conn.execute(
            update(interop_peers)
            .where(interop_peers.c.pk == pk)
            .values(url=url, public_key=public_key, status="active", added_at=now, removed_at=None)
        )

    def remove_peer(self, pk: int, now: datetime) -> None:
        self.conn.execute(update(interop_peers).where(interop_peers.c.pk == pk).values(status="removed", removed_at=now))

    def use_nonce(self, peer_pk: int, nonce: str, now: datetime) -> bool:
        """Record a peer's nonce; False when that peer already used it (a replayed request)."""
        inserted = self.conn.execute(
            self.dialect.insert_ignore(interop_peer_nonces, ["peer_pk", "nonce"])
            .values(peer_pk=peer_pk, nonce=nonce, seen_at=now)
            .returning(interop_peer_nonces.c.nonce)
        ).first()
        return inserted is not None

    def forget_nonces_before(self, cutoff: datetime) -> int:
        deleted = self.conn.execute(
            delete(interop_peer_nonces).where(interop_peer_nonces.c.seen_at < cutoff).returning(interop_peer_nonces.c.nonce)
        )
        return len(deleted.all())

    @staticmethod
    def nonce_cutoff(now: datetime, ttl_s: int) -> datetime:
        return now - timedelta(seconds=ttl_s)
