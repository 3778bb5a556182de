"""The one time rule of the pages: every instant a person or an operator reads is shown in the scheme's
time zone, formatted for the language, inside ``<time datetime="…">`` carrying the same instant as ISO 8601
with the scheme's offset; exports carry that ISO text.

Stored instants are UTC (store/types.py). Formatting them anywhere else (a template slicing an ISO string,
a table calling strftime) is how orders came to show UTC while the audit log showed Beijing time, so every
page and table goes through `LocalTimes`, and tests/web/test_times.py checks each `<time>` on the main pages
against the stored instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from markupsafe import Markup, escape

from tanhui.domain.schemes import DEFAULT_TIMEZONE
from tanhui.store import Store

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def instant(moment: datetime | str) -> datetime:
    """A stored instant (a datetime or its ISO text); a naive one is UTC, as the store writes them."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def day_text(day: date, lang: str) -> str:
    """A calendar day in the language's usual order: 2025-06-01 in Chinese, 1 Jun 2025 in English."""
    if lang == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return day.isoformat()


def time_text(local: datetime, lang: str, seconds: bool = False) -> str:
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{day_text(local.date(), lang)}, {clock}" if lang == "en" else f"{day_text(local.date(), lang)} {clock}"


@dataclass(frozen=True)
class LocalTimes:
    """A scheme's zone and a language: what a page needs to show any instant."""

    zone: ZoneInfo
    lang: str

    def local(self, moment: datetime | str) -> datetime:
        return instant(moment).astimezone(self.zone)

    def iso(self, moment: datetime | str | None) -> str | None:
        """ISO 8601 with the scheme's offset, to the second (exports and the `datetime` attribute)."""
        return None if moment is None else self.local(moment).isoformat(timespec="seconds")

    def text(self, moment: datetime | str, seconds: bool = False) -> str:
        return time_text(self.local(moment), self.lang, seconds)

    def __call__(self, moment: datetime | str | None, seconds: bool = False) -> Markup:
        """`<time datetime="2025-06-01T15:18:00+08:00">2025-06-01 15:18</time>`; an absent time is a dash."""
        if moment is None:
            return Markup("—")
        return Markup('<time datetime="{}">{}</time>').format(self.iso(moment), escape(self.text(moment, seconds)))

    def day(self, moment: datetime | str | None) -> Markup:
        """Only the scheme-local day of an instant, still marked with the whole instant."""
        if moment is None:
            return Markup("—")
        return Markup('<time datetime="{}">{}</time>').format(self.iso(moment), day_text(self.local(moment).date(), self.lang))


def zone_of_scheme(store: Store, scheme_id: str | None) -> ZoneInfo:
    scheme = None
    if scheme_id:
        with store.unit_of_work(write=False) as uow:
            scheme = uow.schemes.get(scheme_id)
    return ZoneInfo(scheme.timezone if scheme else DEFAULT_TIMEZONE)


def zone_of_account(store: Store, account_id: int) -> ZoneInfo:
    with store.unit_of_work(write=False) as uow:
        account = uow.accounts.get(account_id)
        scheme = uow.schemes.get(account.scheme_id) if account else None
    return ZoneInfo(scheme.timezone if scheme else DEFAULT_TIMEZONE)


def for_request(request: Request, lang: str, scheme_id: str | None = None) -> LocalTimes:
    """The zone of the scheme in question: the operator's scheme, else the signed-in person's (deps put
    `account_id` on the request), else the default; looked up once per request."""
    cached = getattr(request.state, "local_zone", None)
    if cached is None:
        store: Store = request.app.state.store
        account_id = getattr(request.state, "account_id", None)
        if scheme_id is None and account_id is not None:
            cached = zone_of_account(store, account_id)
        else:
            cached = zone_of_scheme(store, scheme_id)
        request.state.local_zone = cached
    return LocalTimes(cached, lang)
