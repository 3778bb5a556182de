"""Reading a page as a person does: its visible text, and the times it shows with the instants they mark.

Used over HTTP (an HTML string) and in the browser (the same checks on what Chromium extracted), so both
apply one rule: every time on a page sits in `<time datetime="ISO 8601 with offset">`, the offset is the
scheme's at that instant, the text is that instant's local time written for the language, and no clock
time or raw ISO text appears anywhere else.
"""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

HIDDEN = {"script", "style", "head", "title", "template"}
CLOCK = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?![\d:])")
RAW_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\+00:00|\bUTC\b")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class PageText(HTMLParser):
    """Visible text (outside `<time>`), and each `<time>` as (datetime attribute, its text)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.outside: list[str] = []
        self.times: list[tuple[str, str]] = []
        self._hidden = 0
        self._time: list[str] | None = None
        self._time_attr = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self._hidden += 1
        elif tag == "time":
            self._time, self._time_attr = [], dict(attrs).get("datetime") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "time" and self._time is not None:
            self.times.append((self._time_attr, "".join(self._time).strip()))
            self._time = None

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        (self._time if self._time is not None else self.outside).append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.outside).split())


def expected_texts(moment: datetime, zone: ZoneInfo, lang: str) -> set[str]:
    """How the instant may be written on a page: with minutes or seconds, or only its local day
    (spelt out here independently of the product's formatter)."""
    local = moment.astimezone(zone)
    if lang == "en":
        day = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
        return {f"{day}, {local:%H:%M}", f"{day}, {local:%H:%M:%S}", day}
    day = f"{local:%Y-%m-%d}"
    return {f"{day} {local:%H:%M}", f"{day} {local:%H:%M:%S}", day}


def time_problems(times: list[tuple[str, str]], outside: str, zone: ZoneInfo, lang: str, where: str) -> list[str]:
    problems = []
    for attr, text in times:
        try:
            moment = datetime.fromisoformat(attr)
        except ValueError:
            problems.append(f"{where}: <time datetime={attr!r}> is not ISO 8601")
            continue
        if moment.tzinfo is None or moment.utcoffset() != moment.astimezone(zone).utcoffset():
            problems.append(f"{where}: {attr} is not in the scheme's zone {zone.key}")
        if text not in expected_texts(moment, zone, lang):
            problems.append(f"{where}: {attr} shown as {text!r}, expected one of {sorted(expected_texts(moment, zone, lang))}")
    for pattern in (CLOCK, RAW_ISO):
        found = pattern.search(outside)
        if found:
            start = max(0, found.start() - 40)
            problems.append(f"{where}: a time outside <time>: …{outside[start : found.end() + 40]}…")
    return problems


def instants(times: list[tuple[str, str]]) -> set[datetime]:
    return {datetime.fromisoformat(attr) for attr, _text in times}
