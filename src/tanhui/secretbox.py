"""Secrets the server must read back, sealed at rest under a key that is kept outside the database.

A partner's HMAC secret cannot be hashed like a password: the server recomputes the signature with
it. So it is stored sealed (AES-256-GCM, ``cryptography``), and a copy of the database, of its
write-ahead log or of a backup yields nothing without the key. The platform's own signing key
(interconnection) is meant to use the same box: ``keyring_for(url).seal(value, context)`` and
``.open(sealed, context)``.

Keys are 32 random bytes written as base64 (url-safe; the same text as a Fernet key). Where the
keys come from, first found wins:

- ``TANHUI_SECRET_KEY``: one or more keys separated by commas or white space;
- ``TANHUI_SECRET_KEY_FILE``: a file with one key per line (``#`` comments allowed); it must not be
  readable by the group or others (mode 0600 or 0400), else it is refused, as ssh refuses a key;
- otherwise, for an SQLite database file, ``<database file>.key``, generated with mode 0600 the
  first time a secret is sealed (its path is logged, never the key); when it is missing but secrets
  are stored, that is an error, not a new key. A database server has no
  default: every server process must use the same key, which only the operator can arrange.

The first key seals; every key opens (the window of a rotation). Each sealed value names the key
that sealed it by ``key_id``, 16 hex digits of HMAC-SHA256(key, "tanhui key id"), which says
nothing about the key. ``context`` is authenticated with the ciphertext (AES-GCM's associated
data): a value sealed for partner A does not open as partner B's.

A key file that changes on disk (``tanhui secrets rotate-key`` rewrites it) is read again by every
process on its next use, and the keys it had before stay known to that process, so a server opens
values sealed with either key while a rotation is under way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import stat
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tanhui.errors import InvalidInput, ServiceUnavailable

ENV_KEY = "TANHUI_SECRET_KEY"
ENV_KEY_FILE = "TANHUI_SECRET_KEY_FILE"
DEFAULT_KEY_SUFFIX = ".key"
KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_V1 = b"\x01"  # the first byte of every sealed blob: the format, so another can follow
_KEY_ID_LABEL = b"tanhui key id"
_SEPARATORS = re.compile(r"[\s,]+")

log = logging.getLogger("tanhui.secrets")


@dataclass(frozen=True, slots=True)
class Sealed:
    """What is stored: the id of the key that sealed it and base64url(format, nonce, ciphertext, tag)."""

    key_id: str
    text: str


class Key:
    """One AES-256-GCM key and its id (the key bytes themselves are not kept as an attribute)."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError(f"a key is {KEY_BYTES} bytes")
        self.key_id = hmac.new(raw, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]
        self._aead = AESGCM(raw)

    def __repr__(self) -> str:
        return f"Key({self.key_id})"

    def seal(self, plaintext: str, context: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        blob = FORMAT_V1 + nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return Sealed(self.key_id, base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii"))

    def open(self, sealed: Sealed, context: str) -> str:
        try:
            blob = base64.urlsafe_b64decode(sealed.text + "=" * (-len(sealed.text) % 4))
        except (binascii.Error, ValueError):
            raise ServiceUnavailable("secret_damaged", key_id=sealed.key_id) from None
        if blob[:1] != FORMAT_V1 or len(blob) < 1 + NONCE_BYTES + 16:
            raise ServiceUnavailable("secret_damaged", key_id=sealed.key_id)
        nonce, ciphertext = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context.encode("utf-8")).decode("utf-8")
        except InvalidTag:
            raise ServiceUnavailable("secret_damaged", key_id=sealed.key_id) from None


def new_key_text() -> str:
    """A fresh key as written in a key file or TANHUI_SECRET_KEY."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _key_words(text: str, where: str) -> list[tuple[str, bytes]]:
    """Each key's text and bytes: base64 (standard or url-safe, padded or not) of 32 bytes."""
    found: list[tuple[str, bytes]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        for word in (w for w in _SEPARATORS.split(line) if w):
            try:
                raw = base64.b64decode(word.replace("-", "+").replace("_", "/") + "=" * (-len(word) % 4), validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != KEY_BYTES:
                raise InvalidInput("secret_key_invalid", where=where)
            found.append((word, raw))
    if not found:
        raise InvalidInput("secret_key_invalid", where=where)
    return found


def key_bytes(word: str, where: str) -> bytes:
    """The 32 bytes of one key as written in a key file (the same forms ``read_key_file`` accepts)."""
    [(_, raw)] = _key_words(word, where)
    return raw


def parse_keys(text: str, where: str) -> list[Key]:
    """The keys in a file's or a variable's text, in order (the first seals)."""
    return [Key(raw) for _, raw in _key_words(text, where)]


def _read_private(path: Path) -> str:
    """A key file's text, refused when the group or others may read or write it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise InvalidInput("secret_key_file_unreadable", path=str(path), reason=error.strerror or type(error).__name__) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InvalidInput("secret_key_file_unreadable", path=str(path), reason="not a regular file")
        if mode & 0o077:
            raise InvalidInput("secret_key_file_exposed", path=str(path), mode=f"{stat.S_IMODE(mode):04o}")
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(64 * 1024)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("secret_key_invalid", where=str(path)) from None


def read_key_file(path: Path) -> list[Key]:
    """The keys in the file ``path`` (mode 0600 or stricter), in order."""
    return parse_keys(_read_private(path), str(path))


def key_file_words(path: Path) -> list[str]:
    """The keys in the file ``path`` as written there (for rewriting a key file), checked like ``read_key_file``."""
    return [word for word, _ in _key_words(_read_private(path), str(path))]


def write_key_file(path: Path, keys_text: Sequence[str], *, replace: bool) -> None:
    """Write keys to ``path`` with mode 0600, whole or not at all (a temporary file renamed or linked
    into place). ``replace=False`` refuses an existing file (FileExistsError)."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=".tanhui-key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write("".join(f"{k}\n" for k in keys_text))
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)  # fails if the file exists: two processes never both create it
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where a database's keys come from: ``env``, ``file`` (TANHUI_SECRET_KEY_FILE), ``default``
    (the file beside an SQLite database, made on first use) or ``memory`` (an in-memory database)."""

    kind: str
    path: Path | None = None
    env_text: str = ""

    def describe(self) -> str:
        if self.kind == "env":
            return ENV_KEY
        if self.kind == "file":
            return f"{ENV_KEY_FILE}={self.path}"
        if self.kind == "default":
            return str(self.path)
        return "memory"

    @property
    def is_file(self) -> bool:
        return self.kind in ("file", "default")


def source_for(database_url: str, environ: Mapping[str, str] | None = None) -> KeySource:
    """The key source for ``database_url`` (``secret_key_missing`` for a server database without one)."""
    from tanhui.store import embedded_file

    environ = os.environ if environ is None else environ
    if environ.get(ENV_KEY, "").strip():
        return KeySource("env", env_text=environ[ENV_KEY])
    if environ.get(ENV_KEY_FILE, "").strip():
        return KeySource("file", Path(environ[ENV_KEY_FILE]).expanduser())
    database = embedded_file(database_url)
    if database is None:
        raise ServiceUnavailable("secret_key_missing")
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return KeySource("memory")
    return KeySource("default", Path(database + DEFAULT_KEY_SUFFIX))


class Keyring:
    """The keys of one source: the first seals, all open. Safe to share between threads."""

    def __init__(self, keys: Sequence[Key], source: KeySource | None = None) -> None:
        if not keys:
            raise ValueError("a keyring needs a key")
        self.source = source
        self.current = keys[0]
        self._keys = {k.key_id: k for k in keys}

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def has(self, key_id: str) -> bool:
        return key_id in self._keys

    def seal(self, plaintext: str, context: str) -> Sealed:
        return self.current.seal(plaintext, context)

    def open(self, sealed: Sealed, context: str) -> str:
        key = self._keys.get(sealed.key_id)
        if key is None:
            where = self.source.describe() if self.source else "memory"
            raise ServiceUnavailable("secret_key_unknown", key_id=sealed.key_id, where=where, known=", ".join(self._keys))
        return key.open(sealed, context)

    def _learn(self, keys: Sequence[Key]) -> None:
        """A key file read again: its first key seals from now on; keys seen before still open."""
        merged = {k.key_id: k for k in keys}
        for key_id, key in self._keys.items():
            merged.setdefault(key_id, key)
        self.current = keys[0]
        self._keys = merged


_lock = threading.Lock()
_rings: dict[tuple[str, str], tuple[Keyring, tuple[int, int, int] | None]] = {}


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _load(source: KeySource, create: bool) -> list[Key]:
    if source.kind == "env":
        return parse_keys(source.env_text, ENV_KEY)
    if source.kind == "memory":
        return [Key(os.urandom(KEY_BYTES))]
    assert source.path is not None
    if create and source.kind == "default" and not source.path.exists():
        try:
            write_key_file(source.path, [new_key_text()], replace=False)
            log.warning("generated the secret key file %s (mode 0600): back it up apart from the database", source.path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError as error:
            raise InvalidInput(
                "secret_key_file_unreadable", path=str(source.path), reason=error.strerror or type(error).__name__
            ) from None
    return read_key_file(source.path)


def keyring(source: KeySource, *, create: bool = False) -> Keyring:
    """The process's keyring for ``source``; a key file is read again when it changed on disk.

    ``create``: make the default key file if it is missing (only when about to seal: a missing key
    that should open stored secrets is an error, never silently a new key)."""
    cache_key = (source.kind, str(source.path) if source.path else hashlib.sha256(source.env_text.encode()).hexdigest())
    with _lock:
        cached = _rings.get(cache_key)
        state = _file_state(source.path) if source.is_file and source.path else None
        if cached is not None and (not source.is_file or cached[1] == state):
            return cached[0]
        keys = _load(source, create)
        state = _file_state(source.path) if source.is_file and source.path else None
        if cached is None:
            ring = Keyring(keys, source)
        else:
            ring = cached[0]
            ring._learn(keys)
        _rings[cache_key] = (ring, state)
        return ring


def keyring_for(database_url: str, *, create: bool = False) -> Keyring:
    """The keyring of the database at ``database_url`` under the current environment (``create``: see ``keyring``)."""
    return keyring(source_for(database_url), create=create)
