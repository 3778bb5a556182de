from __future__ import annotations

import typer
import uvicorn

from tanhui.cli.output import say
from tanhui.store import migrate, open_store


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (they share the database)."),
) -> None:
    """Serve the HTTP API and pages with uvicorn (uvloop + httptools)."""
    store = open_store()
    migrate.upgrade(store)
    store.dispose()
    say(f"服务地址 http://{host}:{port} （API 文档：/docs）", f"serving on http://{host}:{port} (API docs: /docs)")
    uvicorn.run(
        "tanhui.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # paths can carry one-time login tickets: keep them out of logs
        log_level="info",
    )
