"""The public credit registry's JSON (`/v1/registry/...`, docs/registry.md); its pages are served by the web.

No authentication: batches, holdings, retirements, certificates, inclusion proofs and the ledger's
daily hash-chain heads are public. Whoever keeps a copy of a day's heads can later detect a rewritten
journal (services/ledger_heads.py, docs/reliability.md). A person's own contributions are
`GET /v1/me/credits` (http/me.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tanhui.http.deps import StoreDep
from tanhui.services import ledger_heads
from tanhui.services.registry import transfers as transfer_service
from tanhui.services.registry import views

router = APIRouter(tags=["registry"])


# -- response models (documented in /openapi.json) -----------------------------------------


class Holder(BaseModel):
    id: str
    name: str


class Batch(BaseModel):
    batch_id: str
    scheme_id: str
    vintage: int
    methodology: str
    serial_first: str
    serial_last: str
    quantity: int
    issued_g: int
    event_count: int
    consumed_g: int
    carried_in_g: int
    carried_out_g: int
    merkle_root: str
    as_of: str
    issued_at: str
    origin: dict[str, Any] | None = None  # minted from another registry: its platform, transfer and block


class BatchesOut(BaseModel):
    batches: list[Batch]


class Block(BaseModel):
    block_id: str
    batch_id: str
    vintage: int
    methodology: str
    serial_first: str
    serial_last: str
    quantity: int
    merkle_root: str


class HeldBlock(Block):
    holder: Holder
    status: str
    retirement_id: str | None = None


class BatchDetailOut(Batch):
    blocks: list[HeldBlock]


class StatusBlock(Block):
    status: str


class Holding(BaseModel):
    scheme_id: str
    holder: Holder
    batch_id: str
    vintage: int
    methodology: str
    held: int
    retired: int
    escrow: int = 0  # offered to another registry, awaiting its receipt
    transferred: int = 0  # moved to another registry (docs/interop.md "Credit transfer")
    blocks: list[StatusBlock]


class HoldingsOut(BaseModel):
    holdings: list[Holding]


class CertificateOut(BaseModel):
    retirement_id: str
    scheme_id: str
    scheme_name: str
    holder: Holder
    quantity: int
    tonnes_co2e: int
    beneficiary: str
    purpose: str
    details: dict[str, Any]
    retired_at: str
    blocks: list[Block]
    vintages: list[int]
    methodologies: list[str]
    url: str
    pdf_url: str


class RetirementsOut(BaseModel):
    retirements: list[CertificateOut]


class ProofOut(BaseModel):
    included: bool
    partner_id: str
    event_id: str
    batch_id: str | None = None
    merkle_root: str | None = None
    record: dict[str, Any] | None = None
    leaf: str | None = None
    index: int | None = None
    steps: list[list[str]] | None = None
    verified: bool | None = None


class Contribution(BaseModel):
    batch_id: str
    vintage: int
    methodology: str
    events: int
    carbon_g: int


class ContributionsOut(BaseModel):
    contributions: list[Contribution]


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


# -- routes -----------------------------------------------------------------------------------


@router.get("/v1/registry/ledger-heads", response_model=LedgerHeadsOut)
async def heads(store: StoreDep, scheme: str, until: date | None = None, days: int = 7) -> Any:
    """The heads of the scheme's ledger hash chains at the end of each local day (default: the last 7
    finished days), and each day's combined hash."""
    return await run_in_threadpool(lambda: ledger_heads.daily_heads(store, scheme, until=until, days=days))


@router.get("/v1/registry/batches", response_model=BatchesOut)
async def batches(store: StoreDep, scheme: str | None = None, vintage: int | None = Query(None, ge=1, le=9999)) -> Any:
    return {"batches": await run_in_threadpool(views.list_batches, store, scheme, vintage)}


@router.get("/v1/registry/batches/{batch_id}", response_model=BatchDetailOut)
async def batch(batch_id: str, store: StoreDep) -> Any:
    return await run_in_threadpool(views.batch_detail, store, batch_id)


@router.get("/v1/registry/holdings", response_model=HoldingsOut)
async def holdings(store: StoreDep, scheme: str | None = None, organisation: str | None = None) -> Any:
    return {"holdings": await run_in_threadpool(views.holdings, store, scheme, organisation)}


@router.get("/v1/registry/retirements", response_model=RetirementsOut)
async def retirements(store: StoreDep, scheme: str | None = None) -> Any:
    return {"retirements": await run_in_threadpool(views.list_retirements, store, scheme)}


@router.get("/v1/registry/retirements/{retirement_id}", response_model=CertificateOut)
async def retirement(retirement_id: str, store: StoreDep) -> Any:
    return await run_in_threadpool(views.certificate, store, retirement_id)


@router.get("/v1/registry/proof", response_model=ProofOut)
async def proof(store: StoreDep, partner: str, event: str, batch: str | None = None) -> Any:
    """Was this partner's event pooled into a batch (or into ``batch``)? With its Merkle proof."""
    return await run_in_threadpool(views.proof, store, partner, event, batch)


@router.get("/v1/registry/transfers")
async def transfers(store: StoreDep, scheme: str | None = None, direction: str | None = None) -> Any:
    """Credits moved to or from other registries (docs/interop.md "Credit transfer"): each transfer's
    state, origin platform and serials, what the destination minted, and both signed messages."""
    return {"transfers": await run_in_threadpool(transfer_service.list_transfers, store, scheme, direction)}


@router.get("/v1/registry/transfers/{origin_platform}/{transfer_id}")
async def transfer(origin_platform: str, transfer_id: str, store: StoreDep) -> Any:
    return await run_in_threadpool(transfer_service.transfer_detail, store, origin_platform, transfer_id)
