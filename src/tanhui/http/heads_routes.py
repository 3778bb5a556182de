"""Public ledger heads: `GET /v1/registry/ledger-heads` (JSON; the page is web/pages/registry.py).

No authentication: whoever keeps a copy of a day's heads can later detect a rewritten journal
(services/ledger_heads.py, docs/reliability.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

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


def register(app: FastAPI, store: Store) -> None:
    @app.get("/v1/registry/ledger-heads", response_model=LedgerHeadsOut, tags=["registry"])
    async def heads(scheme: str, until: date | None = None, days: int = 7) -> Any:
        """The heads of the scheme's ledger hash chains at the end of each local day (default: the last 7
        finished days), and each day's combined hash."""
        return await run_in_threadpool(lambda: ledger_heads.daily_heads(store, scheme, until=until, days=days))
