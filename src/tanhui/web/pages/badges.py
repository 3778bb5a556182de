"""The badge wall (issue 17): every badge, earned or still locked, with how far I am on the way to it.

Badges are derived from the account's own figures (domain/engagement.py), so the wall never disagrees
with the totals on the account page; a locked badge says what is left to do, in the figure's own unit.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.domain.engagement import BadgeProgress
from tanhui.services import accounts
from tanhui.store import Store
from tanhui.web.deps import language, signed_in, store_of
from tanhui.web.i18n import translator
from tanhui.web.render import grams_as_kg, html_errors, own

router = APIRouter(include_in_schema=False)


def progress_words(p: BadgeProgress, lang: str) -> str:
    """Progress in the figure's own unit: "0.450 / 1.000 kg", "3 / 10 times", "5 / 7 days" (in Chinese 次, 天)."""
    _ = translator(lang)
    measure, target, now = p.badge.measure, p.badge.target, p.current
    if measure == "carbon_g":
        return f"{grams_as_kg(now)} / {grams_as_kg(target)} kg"
    unit = _("days") if measure == "best_streak" else _("times")
    return f"{now:,} / {target:,} {unit}"


@router.get("/me/badges")
@html_errors
def badges_page(
    request: Request, account_id: int = Depends(signed_in), lang: str = Depends(language), store: Store = Depends(store_of)
) -> Response:
    wall = accounts.badges(store, account_id)
    shown: list[dict[str, Any]] = [
        {
            "title": p.badge.title_en if lang == "en" else p.badge.title_zh,
            "earned": p.earned,
            "percent": p.percent,
            "progress": progress_words(p, lang),
        }
        for p in sorted(wall, key=lambda p: (not p.earned, -p.percent))  # earned first, then the nearest
    ]
    return own(request, "badges.html", wall=shown, earned=sum(p.earned for p in wall))
