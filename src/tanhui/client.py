"""Tanhui partner SDK: a small, signed HTTP client for the partner API (docs/partners.md).

A partner platform (a bus company, a food-delivery app, ...) uses it to record people's consent,
report their low-carbon behaviours and show them their carbon account::

    from tanhui.client import PartnerClient

    with PartnerClient("https://tanhui.example.cn", "ptn_...", "sk_...") as tanhui:
        tanhui.grant_consent("user-42")
        report = tanhui.send_events(events_from_my_database())   # any iterable, any length
        print(report.credited, report.carbon_g, report.points)

Every request is signed as api-v1.md "Partner authentication" says, by
``tanhui.domain.signing.sign`` — the same function the server verifies with, so client and server
cannot drift apart. The signature covers the exact bytes that go on the wire: the body is
serialised here (never by httpx) and the path is read back from the built request, so what is
signed is what is sent.

Errors::

    TanhuiAPIError          the server answered non-2xx (or not with JSON); carries the
                            api-v1 error body: status, code, message, details, retry_after
    httpx.TransportError    the server could not be reached (connection refused, timeout, ...);
                            left as httpx raises it, after send_events' retries are spent
    ValueError              a caller's mistake caught before anything is sent
"""

from __future__ import annotations

import email.utils
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import quote

import httpx

from tanhui import __version__
from tanhui.domain.signing import sign

__all__ = ["PartnerClient", "TanhuiAPIError", "EventsReport"]

BATCH_SIZE_MAX = 1000  # api-v1.md: 1..1000 events per request; more is 413
RETRY_BACKOFF_BASE_S = 0.5
RETRY_BACKOFF_MAX_S = 30.0
RETRY_AFTER_MAX_S = 300.0  # never let a server hint park a batch job for longer than this


class TanhuiAPIError(Exception):
    """A non-2xx answer, parsed from api-v1's ``{"error": {"code", "message", "details"}}``.

    ``code`` is the stable, machine-readable part (``bad_signature``, ``stale_request``,
    ``consent_not_found``, ``rate_limited`` ...): branch on it, never on ``message``, which is
    human text in zh-CN or English. ``retry_after`` is the ``Retry-After`` header in seconds
    (429), else None. When the body is not the api-v1 shape (a proxy's HTML 502, say), ``code``
    is ``http_<status>`` and ``message`` the start of the body.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after
        super().__init__(f"{status} {code}: {message}")

    @classmethod
    def from_response(cls, response: httpx.Response) -> TanhuiAPIError:
        retry_after = _retry_after_s(response.headers.get("retry-after"))
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error.get("message", ""))
            details = error.get("details") if isinstance(error.get("details"), dict) else {}
        except (ValueError, KeyError, TypeError):
            return cls(response.status_code, f"http_{response.status_code}", response.text[:200], {}, retry_after)
        return cls(response.status_code, code, message, details, retry_after)


@dataclass(slots=True)
class EventsReport:
    """What ``send_events`` did, summed over every batch.

    The counters add up each batch's ``summary``. ``reasons`` counts the reason codes of
    ``duplicate`` and ``rejected`` results (e.g. ``{"no_consent": 3}``), so a run over millions
    of events can be judged without keeping every result. ``results`` holds every result in
    input order only when asked for (``keep_results=True``). ``retries`` is how many times a
    batch had to be sent again (429, 5xx, connection trouble).
    """

    batches: int = 0
    events: int = 0
    credited: int = 0
    duplicate: int = 0
    rejected: int = 0
    carbon_g: int = 0
    points: int = 0
    retries: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    results: list[dict[str, Any]] | None = None

    @property
    def summary(self) -> dict[str, int]:
        """The same shape as one batch's ``summary`` in the API, for the whole run."""
        return {
            "credited": self.credited,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "carbon_g": self.carbon_g,
            "points": self.points,
        }

    def _add(self, results: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> None:
        self.batches += 1
        self.events += len(results)
        for key in ("credited", "duplicate", "rejected", "carbon_g", "points"):
            setattr(self, key, getattr(self, key) + int(summary.get(key, 0)))
        self.reasons.update(r["reason"] for r in results if r.get("reason"))
        if self.results is not None:
            self.results.extend(dict(r) for r in results)


class PartnerClient:
    """A signed client for one partner of one Tanhui server.

    ``transport`` takes any ``httpx.BaseTransport`` (``httpx.MockTransport`` in tests). ``sleep``
    is what ``send_events`` waits with between retries; tests pass a recorder instead of
    ``time.sleep``. ``lang`` sets ``Accept-Language`` (``"en"`` or ``"zh-CN"``, the server's
    default) for error messages. Use it as a context manager, or call ``close()``.
    """

    def __init__(
        self,
        base_url: str,
        partner_id: str,
        secret: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        lang: str | None = None,
    ) -> None:
        if not partner_id or not secret:
            raise ValueError("partner_id and secret are required")
        self.partner_id = partner_id
        self._secret = secret
        self._sleep = sleep
        headers = {"User-Agent": f"tanhui-python/{__version__}", "Accept": "application/json"}
        if lang:
            headers["Accept-Language"] = lang
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport, headers=headers)

    def __repr__(self) -> str:  # never show the secret
        return f"PartnerClient({str(self._http.base_url)!r}, {self.partner_id!r})"

    def __enter__(self) -> PartnerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- consent ----------------------------------------------------------------------------

    def grant_consent(
        self,
        user_ref: str,
        *,
        granted_at: datetime | str | None = None,
        scopes: Iterable[str] = ("behaviour:report",),
        display_name: str | None = None,
        binding_code: str | None = None,
    ) -> dict[str, Any]:
        """Record that the person ``user_ref`` authorised you to report their behaviours.

        ``granted_at`` is when they agreed (your own record is the evidence); it defaults to now.
        With a ``binding_code`` (the person got it from their Tanhui account) ``user_ref`` joins
        their existing account instead of opening a new one. Granting again while the consent is
        active returns the same consent, so calling this on every login is harmless.
        """
        body: dict[str, Any] = {
            "user_ref": user_ref,
            "scopes": list(scopes),
            "granted_at": _rfc3339(granted_at),
        }
        if display_name is not None:
            body["display_name"] = display_name
        if binding_code is not None:
            body["binding_code"] = binding_code
        return self.request("POST", "/v1/partner/consents", body=body)

    def revoke_consent(self, user_ref: str) -> dict[str, Any]:
        """Withdraw the consent now: later events for ``user_ref`` are rejected ``no_consent``."""
        return self.request("DELETE", f"/v1/partner/consents/{_segment(user_ref)}")

    def account(self, user_ref: str) -> dict[str, Any]:
        """The consenting person's totals: carbon_g_total, points_balance, events_credited, rank."""
        return self.request("GET", f"/v1/partner/accounts/{_segment(user_ref)}")

    def session(self, user_ref: str) -> dict[str, Any]:
        """A short-lived token and a one-time ``login_url`` (a path on the server) that opens the
        person's Tanhui pages from your app without another login."""
        return self.request("POST", f"/v1/partner/accounts/{_segment(user_ref)}/sessions")

    # -- events -----------------------------------------------------------------------------

    def send_events(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = BATCH_SIZE_MAX,
        keep_results: bool = False,
        on_results: Callable[[list[dict[str, Any]]], None] | None = None,
        retries: int = 5,
    ) -> EventsReport:
        """Report behaviour events, any number of them, in batches of at most ``batch_size``.

        ``events`` may be any iterable, a generator over millions of rows included: it is read
        one batch at a time, so memory stays flat. Each batch that meets 429, a 5xx or a
        connection problem is sent again, unchanged, up to ``retries`` times (waiting
        ``Retry-After`` when the server says so, else an exponential backoff). That is safe
        because ``event_id`` is the idempotency key: an event the server already decided answers
        ``duplicate`` with its original figures and is never credited twice. (So after a
        timeout, some events of the retried batch may be counted as ``duplicate`` though this
        run credited them.) Other errors (401, 413, 422, ...) raise at once: retrying would not
        help. Batches already sent stay sent.

        ``on_results`` is called with each batch's results (in input order) as it comes back:
        the place to store outcomes when there are too many to keep. ``keep_results=True``
        keeps all of them in ``report.results``.
        """
        if not 1 <= batch_size <= BATCH_SIZE_MAX:
            raise ValueError(f"batch_size must be 1..{BATCH_SIZE_MAX}, got {batch_size}")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        report = EventsReport(results=[] if keep_results else None)
        for batch in _batches(events, batch_size):
            answer, retried = self._post_batch(batch, retries)
            report.retries += retried
            results = answer["results"]
            report._add(results, answer["summary"])
            if on_results is not None:
                on_results(results)
        return report

    def _post_batch(self, batch: list[Mapping[str, Any]], retries: int) -> tuple[dict[str, Any], int]:
        for attempt in range(retries + 1):
            try:
                # A fresh timestamp and nonce each time: a resent request is a new request.
                return self.request("POST", "/v1/partner/events", body={"events": batch}), attempt
            except TanhuiAPIError as error:
                if attempt == retries or not (error.status == 429 or error.status >= 500):
                    raise
                wait = error.retry_after if error.retry_after is not None else _backoff_s(attempt)
            except httpx.TransportError:
                if attempt == retries:
                    raise
                wait = _backoff_s(attempt)
            self._sleep(min(wait, RETRY_AFTER_MAX_S))
        raise AssertionError("unreachable")

    # -- the signed request -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """Send one signed request and return its JSON; raise ``TanhuiAPIError`` unless 2xx.

        The building block of the methods above, public for paths this SDK does not wrap yet.
        ``path`` is relative to the base URL; path segments taken from data must be quoted by
        the caller (``urllib.parse.quote(value, safe="")``). ``body`` is any JSON value.
        """
        content = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = self._http.build_request(method.upper(), path, params=params, content=content, headers=headers)
        self._sign(request, content)
        response = self._http.send(request)
        if not response.is_success:
            raise TanhuiAPIError.from_response(response)
        try:
            return response.json()
        except ValueError:
            raise TanhuiAPIError(response.status_code, "invalid_response", response.text[:200]) from None

    def _sign(self, request: httpx.Request, content: bytes) -> None:
        # The path and query as they go on the wire (httpx's request target), not as written.
        target = request.url.raw_path.decode("ascii")
        timestamp = str(int(time.time()))
        nonce = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]
        request.headers["Tanhui-Partner"] = self.partner_id
        request.headers["Tanhui-Timestamp"] = timestamp
        request.headers["Tanhui-Nonce"] = nonce
        request.headers["Tanhui-Signature"] = sign(self._secret, timestamp, nonce, request.method, target, content)


def _segment(user_ref: str) -> str:
    """One path segment: '/', '?', '%', spaces and non-ASCII must not change the path's shape."""
    if not user_ref:
        raise ValueError("user_ref must not be empty")
    return quote(user_ref, safe="")


def _rfc3339(moment: datetime | str | None) -> str:
    if moment is None:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None:
        raise ValueError("granted_at needs a time zone (api-v1 times are RFC 3339 with an offset)")
    return moment.isoformat()


def _batches(events: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch


def _backoff_s(attempt: int) -> float:
    return min(RETRY_BACKOFF_MAX_S, RETRY_BACKOFF_BASE_S * 2**attempt)


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
