"""A platform in a federation for the claims tests: a scheme with a partner, this platform's identity,
and peers' claims as sync stores them (through the same repository methods, without a peer's log to
verify: the sync itself is tested in test_claims_log_services.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tanhui import secretbox
from tanhui.domain import federation as fed
from tanhui.domain import platform_signing as ps
from tanhui.services import consent, ingest, interop, partners, schemes
from tanhui.store import Store
from tanhui.store.repositories.partners import PartnerRow
from tanhui.store.rows import PeerClaim, PeerLogRow

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
OCCURRED = NOW - timedelta(hours=1)


def key_file(path: Path) -> Path:
    secretbox.write_key_file(path, [secretbox.new_key_text()], replace=False)
    return path


@dataclass
class Platform:
    store: Store
    scheme_id: str
    partner: PartnerRow
    platform_id: str | None = None
    users: set[str] = field(default_factory=set)
    pulled_seq: dict[str, int] = field(default_factory=dict)

    def join(self, federation_key: Path, platform_id: str = "cn-a") -> None:
        interop.init_platform(self.store, platform_id, f"{platform_id} 碳惠", federation_key, now=NOW - timedelta(days=1))
        self.platform_id = platform_id

    def add_peer(self, platform_id: str) -> None:
        key = Ed25519PrivateKey.generate()
        interop.add_peer(
            self.store, platform_id, f"https://{platform_id}.example.org", ps.public_key_text(key), now=NOW - timedelta(days=1)
        )

    def consent(self, user_ref: str) -> None:
        if user_ref not in self.users:
            body = {"user_ref": user_ref, "scopes": ["behaviour:report"], "granted_at": (NOW - timedelta(days=2)).isoformat()}
            consent.grant(self.store, self.partner, uuid.uuid4().hex, body, now=NOW - timedelta(days=1))
            self.users.add(user_ref)

    def report(self, events: list[dict[str, Any]], now: datetime = NOW) -> list[dict[str, Any]]:
        for e in events:
            self.consent(e["user_ref"])
        return ingest.ingest_events(self.store, self.partner, events, now=now).results

    def bus(self, user_ref: str, trip: str, now: datetime = NOW, event_id: str | None = None) -> dict[str, Any]:
        [r] = self.report([bus_event(user_ref, trip, event_id)], now)
        return r

    def fingerprint(self, trip: str) -> str:
        return fed.fingerprint(interop.federation_key(self.store), "bus_ride", ("trip", trip))

    def pulled(self, peer_id: str, kind: str, fingerprint: str, recorded_at: datetime) -> None:
        """One entry of a peer's log as sync stores it after the peer's head verified."""
        peer = interop.active_peer(self.store, peer_id)
        seq = self.pulled_seq.get(peer_id, 0) + 1
        self.pulled_seq[peer_id] = seq
        with self.store.unit_of_work() as uow:
            uow.interop_log.add_peer_claims(peer.pk, [PeerClaim(fingerprint, seq, kind, "bus_ride", recorded_at)])
            state = uow.interop_log.peer_log(peer.pk, lock=True)
            if state is None:
                state = PeerLogRow(peer.pk, 0, "0" * 64, 0, None, [], "trusted", None, None, None, None, 0, 0)
            uow.interop_log.save_peer_log(replace(state, tree_size=seq, head_timestamp=int(recorded_at.timestamp())))

    def distrust(self, peer_id: str) -> None:
        """Sync found the peer lying (a forged head, a rewritten log): it is untrusted from now on."""
        peer = interop.active_peer(self.store, peer_id)
        with self.store.unit_of_work() as uow:
            state = uow.interop_log.peer_log(peer.pk, lock=True)
            assert state is not None, "distrust a peer something was pulled from"
            uow.interop_log.save_peer_log(replace(state, trust="untrusted", untrusted_reason="root_changed", untrusted_at=NOW))


def bus_event(user_ref: str, trip: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or f"bus-{trip}",
        "user_ref": user_ref,
        "scenario": "bus_ride",
        "occurred_at": OCCURRED.isoformat(),
        "data": {"trip_id": trip},
    }


def walk_event(user_ref: str, steps: int = 6000) -> dict[str, Any]:
    return {
        "event_id": f"walk-{user_ref}-{uuid.uuid4().hex[:6]}",
        "user_ref": user_ref,
        "scenario": "walking",
        "occurred_at": OCCURRED.isoformat(),
        "data": {"steps": steps},
    }


def platform(store: Store, scheme_id: str | None = None) -> Platform:
    scheme_id = scheme_id or f"s{uuid.uuid4().hex[:10]}"
    schemes.create_scheme(store, scheme_id, "绿芽积分", now=NOW - timedelta(days=3))
    created = partners.create_partner(store, scheme_id, "公交集团", ["bus_ride", "walking"], now=NOW - timedelta(days=3))
    return Platform(store, scheme_id, created.partner)
