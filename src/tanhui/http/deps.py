"""Who is asking, declared once for every router: the store, the signed partner, the person, the operator.

Each dependency reads what create_app put on `app.state` (the store, the partner's rate rule), so
the handlers are module-level functions with no closure over the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from tanhui.domain import jsontext
from tanhui.errors import Forbidden, InvalidInput, TanhuiError, Unauthorised
from tanhui.http import observability
from tanhui.http.errors import RateLimited
from tanhui.services import identity, interop, rates
from tanhui.services.identity import OperatorScope, Principal
from tanhui.services.interop import SignedPeerRequest
from tanhui.services.partners import PartnerRow, SignedRequest, authenticate
from tanhui.store import Store
from tanhui.store.rows import PeerRow


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_partner_rate(request: Request) -> rates.RateRule:
    rule: rates.RateRule = request.app.state.partner_rate
    return rule


StoreDep = Annotated[Store, Depends(get_store)]


# -- partners: a signed request -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthedPartner:
    partner: PartnerRow
    nonce: str
    body: bytes


def raw_target(request: Request) -> str:
    """The path with its query string exactly as the client sent it (what the partner signed)."""
    path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    target = path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


async def signed_partner(request: Request, store: StoreDep) -> AuthedPartner:
    """The partner whose signature verifies over this request (401 otherwise), within its rate (429)."""
    body = await request.body()
    headers = request.headers
    signed = SignedRequest(
        partner_id=headers.get("tanhui-partner"),
        timestamp=headers.get("tanhui-timestamp"),
        nonce=headers.get("tanhui-nonce"),
        signature=headers.get("tanhui-signature"),
        method=request.method,
        path=raw_target(request),
        body=body,
    )
    partner = await run_in_threadpool(authenticate, store, signed)
    observability.note_partner(request, partner.id)
    wait = await run_in_threadpool(rates.take, store, f"partner:{partner.id}", get_partner_rate(request))
    if wait > 0:
        raise RateLimited(max(1, int(wait + 0.999)))
    assert signed.nonce is not None
    return AuthedPartner(partner, signed.nonce, body)


Partner = Annotated[AuthedPartner, Depends(signed_partner)]


# -- peer platforms: an Ed25519-signed request (docs/interop.md) ----------------------------------


@dataclass(frozen=True, slots=True)
class AuthedPeer:
    peer: PeerRow
    nonce: str
    body: bytes


async def signed_peer(request: Request, store: StoreDep) -> AuthedPeer:
    """The configured peer whose signature verifies over this request, addressed to this platform (401
    otherwise), within the partners' rate (429). The handler spends the nonce in its own transaction."""
    body = await request.body()
    headers = request.headers
    signed = SignedPeerRequest(
        platform_id=headers.get("tanhui-platform"),
        timestamp=headers.get("tanhui-timestamp"),
        nonce=headers.get("tanhui-nonce"),
        signature=headers.get("tanhui-signature"),
        method=request.method,
        path=raw_target(request),
        body=body,
    )
    peer = await run_in_threadpool(interop.authenticate, store, signed)
    wait = await run_in_threadpool(rates.take, store, f"peer:{peer.platform_id}", get_partner_rate(request))
    if wait > 0:
        raise RateLimited(max(1, int(wait + 0.999)))
    assert signed.nonce is not None
    return AuthedPeer(peer, signed.nonce, body)


Peer = Annotated[AuthedPeer, Depends(signed_peer)]


# -- people: a bearer token -------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    scheme_, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme_.lower() == "bearer" and token else None


async def bearer_principal(request: Request, store: StoreDep) -> Principal:
    """Who a person's bearer token speaks for (POST /v1/auth/token: the person; a partner session: the
    person as seen by that partner, while its consent is active), else 401."""
    token = _bearer(request)
    if token is None:
        raise Unauthorised("unauthorised")
    principal = await run_in_threadpool(identity.principal_for_token, store, token)
    if principal is None:
        raise Unauthorised("unauthorised")
    return principal


async def bearer_account(principal: Principal = Depends(bearer_principal)) -> int:
    """The account alone, for paths a partner's session may use like the person (summary, check-ins, market)."""
    return principal.account_id


Me = Annotated[Principal, Depends(bearer_principal)]
Person = Annotated[int, Depends(bearer_account)]


# -- operators: a bearer token with a scheme scope -------------------------------------------


async def bearer_operator(request: Request, store: StoreDep) -> OperatorScope:
    """An operator's scope from an API token (`tanhui admin token`) or a dashboard session, else 401."""
    token = _bearer(request)
    if token is None:
        raise Unauthorised("unauthorised")

    def lookup() -> OperatorScope | None:
        return identity.operator_scope(store, token, "api") or identity.operator_scope(store, token, "web")

    scope = await run_in_threadpool(lookup)
    if scope is None:
        raise Unauthorised("unauthorised")
    if scope.role not in identity.ROLES or scope.organisation_id is not None:
        raise Forbidden("forbidden")  # an organisation's administrator: its own pages only, never the scheme's API
    return scope


Operator = Annotated[OperatorScope, Depends(bearer_operator)]


# -- bodies -----------------------------------------------------------------------------------


def parse_json(body: bytes, *, per_event: bool = False) -> Any:
    """A body the route parses itself: JSON, or None when empty; invalid_json (400) otherwise, nesting
    included (jsontext.DEPTH_MAX). A string a store cannot hold (a lone surrogate, NUL) is invalid_request
    (422), except in an events batch (``per_event``), where it is that event's invalid_data."""
    try:
        value = jsontext.loads(body) if body else None
    except (ValueError, UnicodeDecodeError) as error:
        raise TanhuiError("invalid_json", reason=str(error)[:120]) from None
    where = None if per_event else jsontext.bad_text(value)
    if where is not None:
        raise InvalidInput("invalid_request", details={where: "unstorable_text"})
    return value
