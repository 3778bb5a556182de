"""The public registry's pages (docs/registry.md): batches, holdings, retirement certificates (HTML and PDF),
inclusion proofs and the ledger's daily heads. No sign-in: all of it is public.

They are pages of the site (templates/registry_*.html on base.html): its header, its language switch (the
`lang` cookie, else Accept-Language) and its stylesheet, so a certificate opened from a QR code on a phone
reads like the rest of Tanhui. Times are the scheme's local time in `<time datetime>`. The certificate's
words come from tanhui.certificates, shared with the PDF, so page and paper say the same thing.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup

from tanhui import certificates
from tanhui.domain.schemes import DEFAULT_TIMEZONE
from tanhui.services import ledger_heads, schemes
from tanhui.services.registry import transfers
from tanhui.services.registry import views as credits_views
from tanhui.store import Store
from tanhui.web import security, times
from tanhui.web.deps import store_of
from tanhui.web.render import html_errors, render, web_lang

router = APIRouter(include_in_schema=False)


class SchemeTimes:
    """The registry spans schemes: each instant in its own scheme's zone (the one time rule, web/times.py)."""

    def __init__(self, zones: dict[str, ZoneInfo], lang: str) -> None:
        self.zones, self.lang = zones, lang

    def __call__(self, moment: str, scheme_id: str) -> Markup:
        return times.LocalTimes(self.zones.get(scheme_id) or ZoneInfo(DEFAULT_TIMEZONE), self.lang)(moment)

    def day(self, day: str) -> str:
        return times.day_text(date.fromisoformat(day), self.lang)


def _zone(store: Store, scheme_id: str) -> ZoneInfo:
    return ZoneInfo(schemes.get_scheme(store, scheme_id).timezone)


def _page(request: Request, name: str, store: Store, **context: Any) -> Response:
    lang = web_lang(request)
    every = schemes.list_schemes(store)
    return render(
        request,
        name,
        signed_in=security.session_token(request) is not None,  # the header shows the person's menu
        at=SchemeTimes({s.id: ZoneInfo(s.timezone) for s in every}, lang),
        purpose=lambda cert: certificates.purpose_text(cert, lang),
        schemes=every,
        **context,
    )


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/registry")
@html_errors
def index_page(request: Request, scheme: str | None = None, store: Store = Depends(store_of)) -> Response:
    batches = credits_views.list_batches(store, scheme)
    retirements = credits_views.list_retirements(store, scheme)
    return _page(
        request,
        "registry_index.html",
        store,
        batches=batches,
        holdings=credits_views.holdings(store, scheme),
        retirements=sorted(retirements, key=lambda r: r["retired_at"], reverse=True),
        transfers=transfers.list_transfers(store, scheme),
        issued=sum(b["quantity"] for b in batches),
        retired=sum(r["quantity"] for r in retirements),
        scheme=scheme,
    )


@router.get("/registry/ledger-heads")
@html_errors
def heads_page(
    request: Request, scheme: str, until: date | None = None, days: int = 7, store: Store = Depends(store_of)
) -> Response:
    found = ledger_heads.daily_heads(store, scheme, until=until, days=days)
    return _page(request, "registry_heads.html", store, h=found)


@router.get("/registry/proof")
@html_errors
def proof_page(
    request: Request, partner: str, event: str, batch: str | None = None, store: Store = Depends(store_of)
) -> Response:
    from tanhui.domain.canonical import canonical_json

    found = credits_views.proof(store, partner, event, batch)
    record = canonical_json(found["record"]) if found.get("record") else ""
    return _page(request, "registry_proof.html", store, p=found, record_json=record)


@router.get("/registry/batches/{batch_id}")
@html_errors
def batch_page(request: Request, batch_id: str, store: Store = Depends(store_of)) -> Response:
    return _page(request, "registry_batch.html", store, b=credits_views.batch_detail(store, batch_id))


@router.get("/registry/retirements/{retirement_id}.pdf")
@html_errors
def certificate_pdf(request: Request, retirement_id: str, store: Store = Depends(store_of)) -> Response:
    found = credits_views.certificate(store, retirement_id)
    zone = _zone(store, found["scheme_id"])
    body = certificates.certificate_pdf(found, _base_url(request), web_lang(request), zone)
    return Response(
        body, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{retirement_id}.pdf"'}
    )


@router.get("/registry/retirements/{retirement_id}")
@html_errors
def certificate_page(request: Request, retirement_id: str, store: Store = Depends(store_of)) -> Response:
    found = credits_views.certificate(store, retirement_id)
    zone = _zone(store, found["scheme_id"])
    shown = certificates.view(found, web_lang(request), zone, _base_url(request))
    return _page(request, "registry_certificate.html", store, c=found, v=shown, qr=Markup(shown.qr_svg()))
