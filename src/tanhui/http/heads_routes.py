"""Public ledger heads: `GET /v1/registry/ledger-heads` (JSON) and `/registry/ledger-heads` (page).

No authentication: whoever keeps a copy of a day's heads can later detect a rewritten journal
(services/ledger_heads.py, docs/reliability.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, select_autoescape
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tanhui.http.errors import request_lang
from tanhui.services import ledger_heads
from tanhui.store import Store


class ChainHead(BaseModel):
    chain_id: str
    seq: int
    head: str


class DayHeads(BaseModel):
    date: str
    end: str
    chains: list[ChainHead]
    combined: str


class LedgerHeadsOut(BaseModel):
    scheme_id: str
    timezone: str
    days: list[DayHeads]


_PAGE = Environment(autoescape=select_autoescape(default=True)).from_string("""<!doctype html>
<html lang="{{ 'en' if lang == 'en' else 'zh-CN' }}"><head><meta charset="utf-8">
<title>{{ t('账本每日哈希链头', 'Daily ledger heads') }} · {{ h.scheme_id }}</title></head><body>
<h1>{{ t('账本每日哈希链头', 'Daily ledger heads') }} · {{ h.scheme_id }}</h1>
<p>{{ t('保存这些值：若日后重算结果不同，说明账本被改写。', 'Keep these values: if a later recomputation differs, the ledger was rewritten.') }}
 <a href="/v1/registry/ledger-heads?scheme={{ h.scheme_id }}">JSON</a></p>
<table><tr><th>{{ t('日期', 'Date') }}</th><th>{{ t('合并哈希', 'Combined hash') }}</th><th>{{ t('各链', 'Chains') }}</th></tr>
{% for d in h.days %}<tr><td>{{ d.date }}</td><td><code>{{ d.combined }}</code></td>
<td>{% for c in d.chains %}<code>{{ c.chain_id }} #{{ c.seq }} {{ c.head }}</code><br>{% endfor %}</td></tr>{% endfor %}
</table></body></html>""")


def register(app: FastAPI, store: Store) -> None:
    @app.get("/v1/registry/ledger-heads", response_model=LedgerHeadsOut, tags=["registry"])
    async def heads(scheme: str, until: date | None = None, days: int = 7) -> Any:
        """The heads of the scheme's ledger hash chains at the end of each local day (default: the last 7
        finished days), and each day's combined hash."""
        return await run_in_threadpool(lambda: ledger_heads.daily_heads(store, scheme, until=until, days=days))

    @app.get("/registry/ledger-heads", include_in_schema=False)
    async def heads_page(request: Request, scheme: str, until: date | None = None, days: int = 7) -> Response:
        lang = request_lang(request)
        found = await run_in_threadpool(lambda: ledger_heads.daily_heads(store, scheme, until=until, days=days))
        return HTMLResponse(_PAGE.render(lang=lang, h=found, t=lambda zh, en: en if lang == "en" else zh))
