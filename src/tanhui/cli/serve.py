from __future__ import annotations

import logging
import os
import shutil
import tempfile

import typer
import uvicorn

from tanhui import logging as tanhui_logging
from tanhui import metrics
from tanhui.lifecycle import end_with_parent_from_env
from tanhui.services import secret_keys
from tanhui.store import migrate, open_store

log = logging.getLogger("tanhui.serve")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (they share the database)."),
) -> None:
    """Serve the HTTP API and pages with uvicorn (uvloop + httptools); logs are JSON lines on stderr."""
    end_with_parent_from_env()  # started by `tanhui demo`: stop with it
    level = tanhui_logging.level_from_env()
    tanhui_logging.configure(level)
    store = open_store()
    migrate.upgrade(store)
    secret_keys.check(store)  # a key that does not open the stored secrets: one line now, not 503s later
    store.dispose()
    # Several workers: prometheus-client's multiprocess mode, so /metrics adds up every worker.
    own_metrics_dir = None
    chosen = metrics.multiprocess_dir()
    if chosen:  # the operator's directory: emptied of an earlier run's files
        os.makedirs(chosen, exist_ok=True)
        metrics.prepare_multiprocess_dir(chosen)
    elif workers > 1:
        own_metrics_dir = tempfile.mkdtemp(prefix="tanhui-metrics-")
        os.environ[metrics.MULTIPROC_ENV] = own_metrics_dir
    log.info("serving on http://%s:%s (API docs: /docs)", host, port, extra={"fields": {"workers": workers}})
    try:
        uvicorn.run(
            "tanhui.app:create_served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,  # paths carry user_refs and one-time login tickets: our own line has the template
            log_config=tanhui_logging.dict_config(level),
            log_level=level.lower(),
        )
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)
