"""Check-in: the words a person reads after checking in, and the month calendar of their check-ins.

The message is built from the check-in the store holds for today, never from the address, so a
shared or replayed link cannot show points that were not given.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.domain.engagement import days_to_bonus
from tanhui.errors import InvalidInput
from tanhui.services import engagement
from tanhui.store import Store
from tanhui.web.deps import language, signed_in, store_of
from tanhui.web.i18n import translator
from tanhui.web.render import html_errors, own

router = APIRouter(include_in_schema=False)

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
WEEKDAYS = {"zh-CN": "一二三四五六日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
BACK = {"account": "/me", "calendar": "/me/checkins"}  # where a check-in form may send the person back


def month_text(first: date, lang: str) -> str:
    return f"{calendar.month_name[first.month]} {first.year}" if lang == "en" else f"{first.year} 年 {first.month} 月"


def checkin_message(store: Store, account_id: int, state: str | None, lang: str) -> str | None:
    """After a check-in: done (or already done today), the streak, the points, and the next bonus."""
    if state not in ("new", "again"):
        return None
    today, policy = engagement.checkin_today(store, account_id)
    if today is None:
        return None
    _ = translator(lang)
    head = _("Checked in!") if state == "new" else _("You have already checked in today.")
    words = [head, _("{days}-day streak, {points} points today.").format(days=today.streak, points=today.points + today.bonus)]
    if today.bonus:
        words.append(_("That includes a streak bonus of {bonus}.").format(bonus=today.bonus))
    ahead = days_to_bonus(policy, today.streak)
    if ahead:
        words.append(_("{days} more days in a row for a bonus of {bonus} points.").format(days=ahead, bonus=policy.streak_bonus))
    return (" " if lang == "en" else "").join(words)


def parse_month(text: str | None) -> date | None:
    if text is None or text == "":
        return None
    found = MONTH_RE.match(text)
    if found is None or not 1 <= int(found.group(2)) <= 12 or int(found.group(1)) < 2000:
        raise InvalidInput("invalid_request", details={"month": "YYYY-MM"})
    return date(int(found.group(1)), int(found.group(2)), 1)


def weeks_of(found: engagement.CheckinMonth) -> list[list[dict[str, Any] | None]]:
    """The month as weeks from Monday: each day with whether it was checked in, today, or still ahead."""
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(found.first.year, found.first.month):
        row: list[dict[str, Any] | None] = []
        for day in week:
            if day.month != found.first.month:
                row.append(None)
                continue
            done = found.days.get(day)
            row.append(
                {
                    "day": day,
                    "done": done,
                    "today": day == found.today,
                    "ahead": day > found.today,
                }
            )
        weeks.append(row)
    return weeks


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@router.get("/me/checkins")
@html_errors
def calendar_page(
    request: Request,
    month: str | None = None,
    checkin: str | None = None,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    found = engagement.checkin_month(store, account_id, parse_month(month))
    this_month = found.today.replace(day=1)
    earlier, later = _shift(found.first, -1), _shift(found.first, 1)
    return own(
        request,
        "checkins.html",
        c=found,
        weeks=weeks_of(found),
        weekdays=WEEKDAYS["en" if lang == "en" else "zh-CN"],
        title=month_text(found.first, lang),
        earlier=earlier.strftime("%Y-%m"),
        later=later.strftime("%Y-%m") if later <= this_month else None,
        checked_today=found.today in found.days or engagement.checkin_today(store, account_id)[0] is not None,
        flash=checkin_message(store, account_id, checkin, lang),
    )
