"""Interconnection between Tanhui deployments (`/v1/interop/...`, docs/interop.md).

Public: this platform's identity and key, and the check of a portable statement. Peer-only paths
take an Ed25519-signed request from a configured peer (deps.signed_peer).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from tanhui.errors import InvalidInput
from tanhui.http.deps import Peer, StoreDep, parse_json
from tanhui.services import interop, interop_log, portable_statements
from tanhui.services.registry import transfers

router = APIRouter(tags=["interop"])


class PlatformOut(BaseModel):
    platform_id: str
    name: str
    public_key: str
    algorithm: str
    protocol: str
    protocol_version: int


class PingOut(BaseModel):
    platform_id: str
    peer: str
    protocol: str
    received_at: str


class HeadOut(BaseModel):
    platform_id: str
    tree_size: int
    root_hash: str
    timestamp: int
    signature: str


class EntryOut(BaseModel):
    seq: int
    kind: str
    fingerprint: str
    scenario: str
    recorded_at: str


class ClaimsOut(BaseModel):
    platform_id: str
    entries: list[EntryOut]
    tree_size: int


class StatementOut(BaseModel):
    statement: str
    payload: dict[str, Any]


class VerifyOut(BaseModel):
    valid: bool
    platform_id: str | None
    payload: dict[str, Any] | None
    reason: str | None


_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["statement"], "properties": {"statement": {"type": "string"}}}
            }
        },
    }
}


@router.get("/v1/interop/platform", response_model=PlatformOut)
async def platform(store: StoreDep) -> Any:
    """This platform's id, name and Ed25519 public key (404 `interop_not_initialised` before `tanhui interop init`)."""
    return await run_in_threadpool(interop.public_info, store)


@router.post("/v1/interop/ping", response_model=PingOut)
async def ping(peer: Peer, store: StoreDep) -> Any:
    """A configured peer checks the link (signed request; any body)."""
    return await run_in_threadpool(interop.ping, store, peer.peer, peer.nonce)


class ReceiptOut(BaseModel):
    receipt: dict[str, Any]
    signature: str


@router.post("/v1/interop/transfers", response_model=ReceiptOut)
async def offer_transfer(peer: Peer, store: StoreDep) -> Any:
    """A peer offers credits to an organisation here: the signed receipt (minted, or refused with a
    code), the same for every repetition of the offer (docs/interop.md "Credit transfer")."""
    body = parse_json(peer.body)
    return await run_in_threadpool(lambda: transfers.receive(store, peer.peer, peer.nonce, body))


@router.get("/v1/interop/transfers/{transfer_id}", response_model=ReceiptOut)
async def transfer_receipt(transfer_id: str, peer: Peer, store: StoreDep) -> Any:
    """The receipt this platform gave for the asking peer's transfer (404 `transfer_not_found`)."""
    return await run_in_threadpool(transfers.status, store, peer.peer, peer.nonce, transfer_id)


@router.get("/v1/interop/head", response_model=HeadOut)
async def head(peer: Peer, store: StoreDep) -> Any:
    """The newest signed tree head of this platform's claims log, after logging what waits (signed peer request)."""
    return await run_in_threadpool(interop_log.head_for_peer, store, peer.peer, peer.nonce)


@router.get("/v1/interop/claims", response_model=ClaimsOut)
async def claims(
    peer: Peer,
    store: StoreDep,
    after: str | None = Query(None, description="Entries after this seq (default 0)."),
    limit: str | None = Query(None, description="At most this many, 1..1000 (default 500)."),
) -> Any:
    """Entries of this platform's claims log in seq order (signed peer request); 400 `invalid_request` for a bad after/limit."""
    first, count = interop_log.parse_page_args(after, limit)
    return await run_in_threadpool(interop_log.entries_for_peer, store, peer.peer, peer.nonce, first, count)


@router.post("/v1/interop/statements/verify", response_model=VerifyOut, openapi_extra=_VERIFY_BODY)
async def verify_statement(request: Request, store: StoreDep) -> Any:
    """Check a statement of this platform or of a configured peer: valid, or invalid with a reason."""
    body = parse_json(await request.body())
    if not isinstance(body, dict) or not isinstance(body.get("statement"), str):
        raise InvalidInput("invalid_request", details={"statement": "required"})
    verdict = await run_in_threadpool(portable_statements.verify, store, body["statement"])
    return verdict.to_dict()
