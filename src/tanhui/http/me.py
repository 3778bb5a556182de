"""A person's own paths (`/v1/me...`, `/v1/auth/token`): a bearer token names the account and, for a
partner's session, the partner whose part alone it sees (deps.bearer_principal, services/principal.py).

The account, its history and consents, binding codes, the daily check-in, the batches one's reductions
went into, and the person's rights: an export of everything held, and erasure (docs/privacy.md).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tanhui import sign_in
from tanhui.errors import InvalidInput
from tanhui.http import models
from tanhui.http.deps import Me, Person, StoreDep, parse_json
from tanhui.http.interop import StatementOut
from tanhui.http.registry import ContributionsOut
from tanhui.services import accounts, consent, engagement, identity, portable_statements, privacy
from tanhui.services.registry import views

router = APIRouter(tags=["user"])

# what a partner's session may not do (services/principal.py): 403 partner_session_forbidden
_OWN_SIGN_IN_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"model": models.ErrorResponse, "description": "a partner's session may not do this"}
}
_TOKEN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                }
            }
        },
    }
}


@router.get("/v1/me", response_model=models.MeOut)
async def me(account_id: Person, store: StoreDep) -> Any:
    return await run_in_threadpool(accounts.summary, store, account_id)


@router.get("/v1/me/events", response_model=models.MyEventsOut)
async def my_events(who: Me, store: StoreDep, cursor: str | None = None, limit: int = 20) -> Any:
    return await run_in_threadpool(accounts.history, store, who, cursor, limit)


@router.get("/v1/me/consents", response_model=models.MyConsentsOut)
async def my_consents(who: Me, store: StoreDep) -> Any:
    return {"consents": await run_in_threadpool(consent.consents_of, store, who)}


@router.post("/v1/me/consents/{consent_id}/revoke", response_model=models.MyConsent, responses=_OWN_SIGN_IN_ONLY)
async def revoke_my_consent(consent_id: str, who: Me, store: StoreDep) -> Any:
    return await run_in_threadpool(consent.revoke_by_person, store, who, consent_id)


@router.post("/v1/me/binding-codes", status_code=201, response_model=models.BindingCodeOut)
async def binding_code(who: Me, store: StoreDep) -> Any:
    return await run_in_threadpool(consent.new_binding_code, store, who)


@router.post(
    "/v1/me/checkins",
    status_code=201,
    response_model=models.CheckinOut,
    responses={200: {"model": models.CheckinOut, "description": "already checked in today"}},
)
async def check_in(account_id: Person, store: StoreDep) -> Any:
    created, view = await run_in_threadpool(engagement.checkin, store, account_id)
    return JSONResponse(view, status_code=201 if created else 200)


@router.get("/v1/me/credits", response_model=ContributionsOut)
async def my_credits(account_id: Person, store: StoreDep) -> Any:
    return {"contributions": await run_in_threadpool(views.contributions, store, account_id)}


@router.get("/v1/me/statement", response_model=StatementOut, responses=_OWN_SIGN_IN_ONLY)
async def my_statement(who: Me, store: StoreDep, year: str | None = None) -> Any:
    """My signed statement of a year (default this one): a compact JWS anyone can check at
    POST /v1/interop/statements/verify, and its payload (docs/interop.md)."""
    return await run_in_threadpool(portable_statements.issue, store, who, year)


# -- sign-in, the right of access, erasure --------------------------------------------------------


@router.post("/v1/auth/token", openapi_extra=_TOKEN_BODY)
async def auth_token(request: Request, store: StoreDep) -> Any:
    """A bearer token for /v1/me* from a web registration's username and password. Throttled per client
    and per username (429 `too_many_attempts` with Retry-After), a few password checks at a time."""
    body = parse_json(await request.body())
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
        raise InvalidInput("invalid_request", details={"username": "required", "password": "required"})
    username, password = body["username"], body["password"]
    client = request.client.host if request.client else None
    return await sign_in.guarded(sign_in.PEOPLE, client, username, partial(identity.issue_api_token, store, username, password))


@router.get("/v1/me/export")
async def my_export(who: Me, store: StoreDep) -> Any:
    """Everything held about me (the right of access); a partner's session: only that partner's part."""
    return await run_in_threadpool(privacy.export_person, store, who)


@router.delete("/v1/me", responses=_OWN_SIGN_IN_ONLY)
async def erase_me(who: Me, store: StoreDep) -> Any:
    """Erase me: personal data deleted, consents and sessions revoked; the ledger keeps pseudonymous entries.
    The person's own sign-in only (a partner's session: 403 partner_session_forbidden)."""
    return await run_in_threadpool(privacy.erase_person, store, who)
