"""Stored secrets and the key that seals them (tanhui.secretbox): seal, open, check, rotate.

Partner HMAC secrets, and this platform's interconnection keys (its Ed25519 private key and the
federation key, services/interop.py), are the stored secrets: each is checked and re-sealed here.

A migration cannot read the key, so rows written before secrets were sealed (revision 0010) are
sealed by ``seal_plaintext``, which `tanhui db upgrade` and every `tanhui serve` start run right
after the migrations. ``check`` is what `tanhui serve` runs before it listens: a server whose key
does not open the stored secrets refuses to start with one line instead of answering partners 503.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tanhui import secretbox
from tanhui.errors import InvalidInput, ServiceUnavailable
from tanhui.secretbox import Keyring, Sealed
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.rows import PlatformRow, StoredSecret
from tanhui.store.uow import UnitOfWork


def partner_context(partner_id: str) -> str:
    """What a partner's sealed secret is bound to: it opens only as that partner's."""
    return f"partner_secret:{partner_id}"


def private_key_context(platform_id: str) -> str:
    """What this platform's sealed Ed25519 private key is bound to (services/interop.py)."""
    return f"interop_private_key:{platform_id}"


def federation_key_context(platform_id: str) -> str:
    return f"interop_federation_key:{platform_id}"


def keyring(store: Store, *, create: bool = False) -> Keyring:
    """The configured keys (``create``: make the SQLite default key file if missing, for sealing)."""
    return secretbox.keyring_for(store.url, create=create)


def seal_partner_secret(store: Store, partner_id: str, secret: str) -> Sealed:
    return keyring(store, create=True).seal(secret, partner_context(partner_id))


def open_partner_secrets(store: Store, stored: list[StoredSecret]) -> list[str]:
    """The secrets in the clear, for checking a signature (the keyring is read only when a row is sealed)."""
    if all(s.key_id is None for s in stored):
        return [s.secret for s in stored]
    ring = keyring(store)
    return [_open(ring, s) for s in stored]


def _open(ring: Keyring, stored: StoredSecret) -> str:
    if stored.key_id is None:
        return stored.secret
    return ring.open(Sealed(stored.key_id, stored.secret), partner_context(stored.partner_id))


def _reseal(uow: UnitOfWork, ring: Keyring, to: Keyring, *, not_key: str | None) -> int:
    rows = uow.partners.stored_secrets(not_key=not_key, lock=True)
    for row in rows:
        sealed = to.seal(_open(ring, row), partner_context(row.partner_id))
        uow.partners.set_sealed(row.id, sealed.key_id, sealed.text)
    return len(rows) + _reseal_platform(uow, ring, to, not_key=not_key)


def _platform_sealed(platform: PlatformRow) -> list[tuple[Sealed, str]]:
    """The platform's two sealed values with the contexts they are bound to."""
    return [
        (Sealed(platform.private_key_id, platform.private_key), private_key_context(platform.platform_id)),
        (Sealed(platform.federation_key_id, platform.federation_key), federation_key_context(platform.platform_id)),
    ]


def _reseal_platform(uow: UnitOfWork, ring: Keyring, to: Keyring, *, not_key: str | None) -> int:
    platform = uow.interop.platform(lock=True)
    if platform is None or {platform.private_key_id, platform.federation_key_id} == {not_key}:
        return 0
    (key, key_context), (federation, federation_context) = _platform_sealed(platform)
    new_key = to.seal(ring.open(key, key_context), key_context)
    new_federation = to.seal(ring.open(federation, federation_context), federation_context)
    uow.interop.set_platform_sealed(new_key.text, new_key.key_id, new_federation.text, new_federation.key_id)
    return 2


def seal_plaintext(store: Store) -> int:
    """Seal the secrets still stored in plaintext; how many there were."""
    store.require_initialised()
    with store.unit_of_work(write=False) as uow:
        if not uow.partners.secrets_by_key().get(None):
            return 0
    ring = keyring(store, create=True)
    with store.unit_of_work() as uow:
        rows = [row for row in uow.partners.stored_secrets(lock=True) if row.key_id is None]
        for row in rows:
            sealed = ring.seal(row.secret, partner_context(row.partner_id))
            uow.partners.set_sealed(row.id, sealed.key_id, sealed.text)
    return len(rows)


@dataclass(frozen=True, slots=True)
class KeyStatus:
    source: str
    current_key: str | None
    by_key: dict[str, int] = field(default_factory=dict)
    plaintext: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "current_key": self.current_key, "by_key": self.by_key, "plaintext": self.plaintext}


def check(store: Store) -> KeyStatus:
    """Seal what is still plaintext, then open every stored secret with the configured keys; raises
    the first that does not open (``secret_key_unknown``, ``secret_damaged``)."""
    seal_plaintext(store)
    with store.unit_of_work(write=False) as uow:
        rows = uow.partners.stored_secrets()
        platform = uow.interop.platform()
    sealed = _platform_sealed(platform) if platform else []
    if not rows and not sealed:  # nothing to open: a server database may run without a key until its first partner
        try:
            return KeyStatus(secretbox.source_for(store.url).describe(), None)
        except ServiceUnavailable:
            return KeyStatus("", None)
    ring = keyring(store)
    by_key: dict[str, int] = {}
    for row in rows:
        _open(ring, row)
        by_key[row.key_id or ""] = by_key.get(row.key_id or "", 0) + 1
    for value, context in sealed:
        ring.open(value, context)
        by_key[value.key_id] = by_key.get(value.key_id, 0) + 1
    return KeyStatus(ring.source.describe() if ring.source else "memory", ring.current.key_id, by_key)


@dataclass(frozen=True, slots=True)
class Rotation:
    new_key: str
    old_keys: list[str]
    resealed: int
    installed_in: str | None  # the key file that now holds the new key; None: the operator installs it

    def to_dict(self) -> dict[str, object]:
        return {
            "new_key": self.new_key,
            "old_keys": self.old_keys,
            "resealed": self.resealed,
            "installed_in": self.installed_in,
        }


def rotate_key(store: Store, new_key_file: Path, *, actor: str = "system", now: datetime | None = None) -> Rotation:
    """Re-seal every stored secret with the first key of ``new_key_file``, in one transaction, audited.

    When the configured keys come from a file (TANHUI_SECRET_KEY_FILE or the default beside an SQLite
    database), that file is rewritten to hold the new key: first with the new key ahead of the old
    ones (so every server, which reads the file again when it changes, opens either while the
    transaction runs), then, once the transaction has committed, with the new key alone. Keys from
    TANHUI_SECRET_KEY are the operator's to replace; the servers need a restart with the new key.
    """
    store.require_initialised()
    now = now or utcnow()
    ring = keyring(store)
    new_words = secretbox.key_file_words(new_key_file)
    to = Keyring(secretbox.read_key_file(new_key_file)[:1])
    new_id = to.current.key_id
    if new_id == ring.current.key_id:
        raise InvalidInput("secret_key_same", key_id=new_id)
    source = ring.source
    installs = source is not None and source.is_file and source.path is not None
    before: list[str] = []
    if installs:
        assert source is not None and source.path is not None
        before = secretbox.key_file_words(source.path)
        secretbox.write_key_file(source.path, [new_words[0], *before], replace=True)
    try:
        with store.unit_of_work() as uow:
            platform = uow.interop.platform()
            platform_keys = {platform.private_key_id, platform.federation_key_id} if platform else set()
            old_keys = sorted(({row.key_id or "plaintext" for row in uow.partners.stored_secrets()} | platform_keys) - {new_id})
            resealed = _reseal(uow, ring, to, not_key=new_id)
            audit.record(
                uow,
                actor,
                "secrets.rotate_key",
                f"key:{new_id}",
                {"from_keys": old_keys, "rows": resealed},
                now=now,
            )
        with store.unit_of_work() as uow:  # a secret sealed by another process meanwhile, with an old key
            stragglers = _reseal(uow, keyring(store), to, not_key=new_id)
    except BaseException:
        if installs:
            assert source is not None and source.path is not None
            secretbox.write_key_file(source.path, before, replace=True)
        raise
    if installs:
        assert source is not None and source.path is not None
        secretbox.write_key_file(source.path, new_words[:1], replace=True)
    return Rotation(new_id, old_keys, resealed + stragglers, str(source.path) if installs and source else None)
