"""The JSON API's assembly: its routers, exception handlers and middleware (the routes are in the routers).

`create_api` builds the FastAPI app with every `/v1` router and the operations endpoints; `served`
wraps a finished app in the body-size limit and the request-id middleware. tanhui/app.py puts the
two together with the web's pages (the one composition root).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from tanhui import __version__
from tanhui.config import ready_check_seconds
from tanhui.http import admin, errors, interop, market, me, models, observability, operations, partner, registry
from tanhui.http.headers import SecurityHeaders
from tanhui.http.limits import BodySizeLimit
from tanhui.http.openapi import with_request_schemas
from tanhui.services.rates import RateRule
from tanhui.store import Store

ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": models.ErrorResponse} for code in (400, 401, 404, 409, 413, 422, 429)}
ROUTERS = (partner.router, me.router, market.router, operations.router, registry.router, admin.router, interop.router)
PARTNER_RATE_PER_MINUTE = 6000
DOCS_PATHS = ("/docs", "/redoc")  # FastAPIOffline's defaults (it keeps them off app.docs_url)


def create_api(store: Store, partner_rate_per_minute: int | None = None) -> FastAPI:
    """The app with the JSON API; `app.state` holds what the dependencies (http/deps.py) read."""
    rate = partner_rate_per_minute or int(os.environ.get("TANHUI_PARTNER_RATE_PER_MINUTE", str(PARTNER_RATE_PER_MINUTE)))
    app = FastAPIOffline(  # /docs served from the installed package: no CDN, works in an intranet
        title="Tanhui 碳惠 API",
        version=__version__,
        description="Carbon inclusion platform: partner ingestion, consent, personal carbon accounts. Contract: docs/api.md.",
        responses=ERRORS,
    )
    app.state.store = store
    app.state.partner_rate = RateRule.per_minute_with_default_burst(rate)
    app.state.structure_watch = operations.StructureWatch(store, ready_check_seconds())
    app.state.structure_watch.start()  # the quick structural check /readyz reports, from start-up on
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def served(app: FastAPI) -> Any:
    """The finished app as the server runs it: request ids outside the security headers, outside the
    size limit (so a 413 has both), outside the routes."""
    with_request_schemas(app)
    docs = (*DOCS_PATHS, app.swagger_ui_oauth2_redirect_url or "")
    return observability.outermost(SecurityHeaders(BodySizeLimit(app), docs), app)
