"""The public credit registry (docs/registry.md): JSON under /v1/registry (the pages are web/pages/registry.py).

No authentication: batches, holdings, retirements, certificates and inclusion proofs are public.
``GET /v1/me/credits`` (bearer) tells a person which batches their reductions went into.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tanhui.errors import Unauthorised
from tanhui.services import consent
from tanhui.services.registry import views
from tanhui.store import Store

TAGS = ["registry"]


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


def register(app: FastAPI, store: Store) -> None:
    """Add the registry's routes to the app (called once by create_app)."""
    from tanhui.http import heads_routes

    heads_routes.register(app, store)  # the ledger's daily hash-chain heads (docs/reliability.md)

    @app.get("/v1/registry/batches", response_model=BatchesOut, tags=TAGS)
    async def batches(scheme: str | None = None, vintage: int | None = Query(None, ge=1, le=9999)) -> Any:
        return {"batches": await run_in_threadpool(views.list_batches, store, scheme, vintage)}

    @app.get("/v1/registry/batches/{batch_id}", response_model=BatchDetailOut, tags=TAGS)
    async def batch(batch_id: str) -> Any:
        return await run_in_threadpool(views.batch_detail, store, batch_id)

    @app.get("/v1/registry/holdings", response_model=HoldingsOut, tags=TAGS)
    async def holdings(scheme: str | None = None, organisation: str | None = None) -> Any:
        return {"holdings": await run_in_threadpool(views.holdings, store, scheme, organisation)}

    @app.get("/v1/registry/retirements", response_model=RetirementsOut, tags=TAGS)
    async def retirements(scheme: str | None = None) -> Any:
        return {"retirements": await run_in_threadpool(views.list_retirements, store, scheme)}

    @app.get("/v1/registry/retirements/{retirement_id}", response_model=CertificateOut, tags=TAGS)
    async def retirement(retirement_id: str) -> Any:
        return await run_in_threadpool(views.certificate, store, retirement_id)

    @app.get("/v1/registry/proof", response_model=ProofOut, tags=TAGS)
    async def proof(partner: str, event: str, batch: str | None = None) -> Any:
        """Was this partner's event pooled into a batch (or into ``batch``)? With its Merkle proof."""
        return await run_in_threadpool(views.proof, store, partner, event, batch)

    @app.get("/v1/me/credits", response_model=ContributionsOut, tags=["user"])
    async def my_credits(request: Request) -> Any:
        scheme_, _, token = request.headers.get("authorization", "").partition(" ")
        account_id = await run_in_threadpool(consent.account_for_token, store, token.strip()) if scheme_.lower() == "bearer" and token else None
        if account_id is None:
            raise Unauthorised("unauthorised")
        return {"contributions": await run_in_threadpool(views.contributions, store, account_id)}
