"""Every password check the adapters make goes through `guarded` (issue 18, finding 7), shared by the JSON
API (`POST /v1/auth/token`) and the pages (`/login`, `/register`, `/admin/login`).

Two protections, both per server process:

* **Throttling.** Failed sign-ins are counted per client address (an IPv6 address by its /64) and per
  username, in a sliding window (``TANHUI_SIGN_IN_WINDOW_S``, 900 s). Once a username has
  ``TANHUI_SIGN_IN_FAILURES_PER_USERNAME`` (10) failures in the window, or an address
  ``TANHUI_SIGN_IN_FAILURES_PER_CLIENT`` (50), further attempts are refused with `TooManyAttempts`
  (429 and ``Retry-After``) *before* any password is hashed, even with the right password, until the
  oldest failure leaves the window. A check still running counts as a failure until it ends, so a burst
  of concurrent guesses cannot slip past the count. A correct password clears its username's
  failures, not its address's. People (web and `/v1/auth/token` share one count) and operators are
  counted apart; a registration whose username is taken counts against the address (it tells a
  username exists).
* **A cap on concurrent hashing.** argon2 takes 64 MiB and four CPU-bound threads per check: the checks
  run on a pool of ``TANHUI_PASSWORD_HASH_CONCURRENCY`` (2) threads of their own, so the rest wait as
  queued work items (no thread, no memory to speak of) and the server's own thread pool stays free for
  every other request. The pool's threads run at a lower CPU priority (nice +10, which argon2's own
  threads inherit), so the event loop, and `/healthz`, keep answering promptly while guesses are being
  hashed. services/identity.py holds a semaphore of the same size around argon2 itself, for every caller.

The counts live in the process's memory: with ``--workers N`` each worker counts on its own, so an
attacker spread over all of them gets up to N times the limits (docs/operations.md). The client's
address is what uvicorn reports: behind a reverse proxy, tell uvicorn to trust it
(``tanhui serve --forwarded-allow-ips``), or every client shares the proxy's address.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from tanhui import metrics
from tanhui.config import SignInLimits
from tanhui.errors import Conflict, TooManyAttempts, Unauthorised

log = logging.getLogger("tanhui.sign_in")

PEOPLE = "person"
OPERATORS = "operator"
REGISTRATION = "register"
_SWEEP_EVERY = 1024
HASHING_NICENESS = 10
T = TypeVar("T")


def client_key(host: str | None) -> str:
    """The address a client is counted by: IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Count:
    failures: deque[float] = field(default_factory=deque)
    running: int = 0


class Attempt:
    """One password check in progress; end it exactly once with `failed`, `succeeded` or `abandoned`."""

    def __init__(self, throttle: SignInThrottle, keys: tuple[tuple[str, str], ...]) -> None:
        self._throttle = throttle
        self._keys = keys

    def failed(self) -> None:
        self._throttle._end(self._keys, failed=True, clear=())

    def succeeded(self) -> None:
        self._throttle._end(self._keys, failed=False, clear=self._keys[1:])

    def abandoned(self) -> None:
        self._throttle._end(self._keys, failed=False, clear=())


class SignInThrottle:
    """Failed sign-ins per client and per username in a sliding window (thread-safe, in memory)."""

    def __init__(self, per_username: int, per_client: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_username = per_username
        self.per_client = per_client
        self.window_s = window_s
        self._clock = clock
        self._counts: dict[tuple[str, str], _Count] = {}
        self._lock = threading.Lock()
        self._started = 0

    def begin(self, realm: str, client: str, username: str | None) -> Attempt:
        """Start an attempt, or raise `TooManyAttempts` if the client or the username is over its limit."""
        keys: tuple[tuple[str, str], ...] = (("client", client),)
        if username is not None:
            keys += ((realm, username.strip().casefold()[:64]),)
        now = self._clock()
        with self._lock:
            self._started += 1
            if self._started % _SWEEP_EVERY == 0:
                self._sweep(now)
            for key in keys:
                wait = self._wait(key, self.per_client if key[0] == "client" else self.per_username, now)
                if wait > 0:
                    limit = "client" if key[0] == "client" else "username"
                    metrics.SIGN_IN_REFUSED.labels(realm, limit).inc()
                    log.warning("sign-in refused: too many failures", extra={"fields": {"realm": realm, "limit": limit}})
                    raise TooManyAttempts(retry_after=max(1, math.ceil(wait)))
            for key in keys:
                self._counts.setdefault(key, _Count()).running += 1
        return Attempt(self, keys)

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        """Seconds until one more attempt fits under `limit` (0: it fits now)."""
        count = self._counts.get(key)
        if count is None:
            return 0.0
        self._expire(count, now)
        excess = len(count.failures) + count.running - limit + 1
        if excess <= 0:
            return 0.0
        if excess > len(count.failures):  # checks still running fill the limit: they end within seconds
            return 1.0
        return count.failures[excess - 1] + self.window_s - now

    def _expire(self, count: _Count, now: float) -> None:
        while count.failures and count.failures[0] <= now - self.window_s:
            count.failures.popleft()

    def _end(self, keys: tuple[tuple[str, str], ...], *, failed: bool, clear: tuple[tuple[str, str], ...]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                count = self._counts.get(key)
                if count is None:
                    continue
                count.running = max(0, count.running - 1)
                if failed:
                    count.failures.append(now)
                if key in clear:
                    count.failures.clear()
                if not count.failures and not count.running:
                    del self._counts[key]

    def _sweep(self, now: float) -> None:
        """Forget counts whose failures have all left the window (memory stays bounded by the window)."""
        for key in list(self._counts):
            count = self._counts[key]
            self._expire(count, now)
            if not count.failures and not count.running:
                del self._counts[key]

    def tracked(self) -> int:
        with self._lock:
            return len(self._counts)


@lru_cache(maxsize=1)
def limits() -> SignInLimits:
    return SignInLimits.from_env()


@lru_cache(maxsize=1)
def throttle() -> SignInThrottle:
    """The process's throttle (limits from the environment, read once)."""
    chosen = limits()
    return SignInThrottle(chosen.failures_per_username, chosen.failures_per_client, chosen.window_s)


def _yield_the_cpu() -> None:
    """A password thread runs below the event loop's priority (Linux: nice applies per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: the cap alone still bounds the memory
        log.debug("password threads keep the normal CPU priority")


@lru_cache(maxsize=1)
def _password_threads() -> ThreadPoolExecutor:
    """The process's password pool (made on first use, in the server process that uses it)."""
    return ThreadPoolExecutor(limits().hash_concurrency, thread_name_prefix="tanhui-password", initializer=_yield_the_cpu)


async def guarded(realm: str, client_host: str | None, username: str | None, check: Callable[[], T]) -> T:
    """Run a blocking password check (`check`, which hashes or verifies) under the throttle and the cap.

    A `bad_credentials` refusal counts as a failure for the client and the username; for a registration,
    a taken username counts against the client. Anything else (success, bad input) does not count."""
    attempt = throttle().begin(realm, client_key(client_host), username if realm != REGISTRATION else None)
    try:
        context = contextvars.copy_context()  # the request's id reaches what the check logs
        result = await asyncio.get_running_loop().run_in_executor(_password_threads(), context.run, check)
    except Unauthorised:
        attempt.failed()
        raise
    except Conflict as error:
        if realm == REGISTRATION and error.code == "username_taken":
            attempt.failed()
        else:
            attempt.abandoned()
        raise
    except BaseException:
        attempt.abandoned()
        raise
    attempt.succeeded()
    return result
