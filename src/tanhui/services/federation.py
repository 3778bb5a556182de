"""Whether this deployment is a member of a federation, and its federation key: asked by ingest on
every batch, so answered from a per-process cache.

A platform's identity is made once (``tanhui interop init``) and never removed, so a "yes" is kept for
the process's life. A "no" is asked again at most every ``RECHECK_SECONDS``: a server running when the
operator initialises interop starts claiming within that time (events credited before are not in the
claims log, as events credited before the platform joined are not).
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from tanhui.services import interop
from tanhui.store import Store

RECHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Member:
    platform_id: str
    key: bytes  # the federation key (32 bytes)


_known: weakref.WeakKeyDictionary[Store, tuple[float, Member | None]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def member_of(store: Store) -> Member | None:
    """This platform in its federation, or None before ``tanhui interop init``."""
    now = time.monotonic()
    with _lock:
        known = _known.get(store)
    if known is not None and (known[1] is not None or now - known[0] < RECHECK_SECONDS):
        return known[1]
    with store.unit_of_work(write=False) as uow:
        found = uow.interop.platform()
    found_member = None if found is None else Member(found.platform_id, interop.open_federation_key(store, found))
    with _lock:
        _known[store] = (now, found_member)
    return found_member


def forget(store: Store) -> None:
    """Drop the cached answer (a test that initialises a platform and ingests at once)."""
    with _lock:
        _known.pop(store, None)
