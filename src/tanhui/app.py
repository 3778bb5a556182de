"""The application as served: the JSON API (tanhui.http) and the pages (tanhui.web) over one store.

The one place that knows both adapters; neither imports the other (what they share, such as the
request's language, lives in neutral modules like tanhui.lang).
"""

from __future__ import annotations

import gc
from typing import Any

from tanhui.http.app import create_api, served
from tanhui.store import Store, open_store
from tanhui.web.pages import include_pages

GC_THRESHOLD = 50_000


def create_app(store: Store | None = None, partner_rate_per_minute: int | None = None) -> Any:
    """The ASGI app: the API's routers, then the pages, inside the size limit and the request-id middleware.
    `.routed` on the result is the FastAPI app (its routes, `openapi()`)."""
    store = store or open_store()
    app = create_api(store, partner_rate_per_minute)
    include_pages(app, store)  # the web application and the registry's pages (docs/web.md, docs/registry.md)
    return served(app)


def create_served_app() -> Any:
    """The app as `tanhui serve` runs it, in each server process. Everything built at start-up is
    frozen out of the cyclic collector's scans, and a collection waits for more new objects: an
    events batch allocates ~10^5 of them (freed by reference counting), and automatic collections
    were a sixth of the batch's write time in the importer (py-spy)."""
    app = create_app()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)
    return app
