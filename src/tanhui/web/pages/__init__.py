"""The web application's pages (docs/web.md), one router per area, on the same app as the JSON API.

Pages are rendered on the server with Jinja2 (web/templates/, web/render.py), charts are inline SVG
(web/charts.py), texts come from web/i18n.py, and what handlers need (the store, who is asking, the
checked form) is declared once in web/deps.py. Every page that shows a person's data loads it by the
signed-in account only; every operator page checks the scheme in the URL against the operator's scope.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tanhui.store import Store
from tanhui.web import errors
from tanhui.web.deps import PageExit, page_exit
from tanhui.web.pages import (
    account,
    admin,
    auth,
    badges,
    checkins,
    dashboard,
    fulfilment,
    market,
    org_admin,
    organisations,
    password_reset,
    points,
    registry,
    report,
    review,
    sources,
)
from tanhui.web.render import HERE

ROUTERS = (
    registry.router,
    auth.router,
    account.router,
    sources.router,
    checkins.router,
    badges.router,
    points.router,
    report.router,
    market.router,
    organisations.router,
    org_admin.router,
    password_reset.router,
    admin.router,
    dashboard.router,
    review.router,
    fulfilment.router,
)


def include_pages(app: FastAPI, store: Store) -> None:
    """Mount the static files and include every page router (called once by create_app)."""
    app.state.store = store
    app.add_exception_handler(PageExit, page_exit)
    errors.install(app)  # a browser's error is a page (web/errors.py); the API keeps its JSON
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
