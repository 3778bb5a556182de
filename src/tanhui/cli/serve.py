from __future__ import annotations

import logging
import os
import shutil
import ssl
import tempfile
import threading
from pathlib import Path

import typer
import uvicorn

from tanhui import logging as tanhui_logging
from tanhui import metrics
from tanhui.config import SignInLimits, interop_sync_seconds, ready_check_seconds
from tanhui.errors import InvalidInput
from tanhui.lifecycle import end_with_parent_from_env
from tanhui.services import interop, interop_sync, secret_keys
from tanhui.store import Store, migrate, open_store

log = logging.getLogger("tanhui.serve")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes (they share the database)."),
    certfile: Path | None = typer.Option(None, "--certfile", help="Serve HTTPS with this certificate chain (PEM)."),
    keyfile: Path | None = typer.Option(None, "--keyfile", help="The certificate's private key (PEM)."),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        help="Proxies trusted for X-Forwarded-For/-Proto (comma-separated addresses or networks); default 127.0.0.1,::1.",
    ),
) -> None:
    """Serve the HTTP API and pages with uvicorn (uvloop + httptools); logs are JSON lines on stderr."""
    end_with_parent_from_env()  # started by `tanhui demo`: stop with it
    check_tls(certfile, keyfile)
    SignInLimits.from_env()  # a bad TANHUI_SIGN_IN_* / TANHUI_PASSWORD_HASH_* value: one line now, not in every worker
    ready_check_seconds()  # and TANHUI_READY_CHECK_SECONDS
    sync_every = interop_sync_seconds()  # and TANHUI_INTEROP_SYNC_SECONDS
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
    scheme = "https" if certfile else "http"
    log.info("serving on %s://%s:%s (API docs: /docs)", scheme, host, port, extra={"fields": {"workers": workers}})
    syncing = InteropSyncLoop(sync_every) if sync_every else None
    if syncing is not None:
        syncing.start()
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
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
        )
    finally:
        if syncing is not None:
            syncing.stop()
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


class InteropSyncLoop(threading.Thread):
    """Pulls the peers' claims logs every ``seconds`` while the server runs, in the serving command's own
    process (one loop however many workers), once this platform has its interop identity. A failed round
    is logged and the next one comes; it never stops the server."""

    def __init__(self, seconds: int) -> None:
        super().__init__(name="interop-sync", daemon=True)
        self.seconds = seconds
        self.stopping = threading.Event()

    def run(self) -> None:
        store = open_store()
        try:
            while not self.stopping.wait(self.seconds):
                self.round(store)
        finally:
            store.dispose()

    def round(self, store: Store) -> None:
        try:
            if interop.is_initialised(store):
                for result in interop_sync.sync(store):
                    if not result.ok:
                        log.warning("interop sync: %s", result.to_dict())
        except Exception:  # noqa: BLE001 - a round that fails is logged; the next one is tried
            log.exception("interop sync round failed")

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)


def check_tls(certfile: Path | None, keyfile: Path | None) -> None:
    """Both files or neither, each readable, and a certificate that matches its key: checked before
    anything starts, so a typo is one line and exit 2 rather than a traceback from every worker."""
    if certfile is None and keyfile is None:
        return
    if certfile is None or keyfile is None:
        raise InvalidInput("tls_pair_incomplete", details={"certfile": str(certfile), "keyfile": str(keyfile)})
    contents = {}
    for path in (certfile, keyfile):
        try:
            contents[path] = path.read_bytes()
        except OSError as error:
            raise InvalidInput("tls_file_unusable", path=str(path), reason=error.strerror or type(error).__name__) from None
    if b"-----BEGIN CERTIFICATE-----" not in contents[certfile]:
        raise InvalidInput("tls_file_unusable", path=str(certfile), reason="not a PEM certificate")
    if b"PRIVATE KEY-----" not in contents[keyfile]:
        raise InvalidInput("tls_file_unusable", path=str(keyfile), reason="not a PEM private key")
    if b"ENCRYPTED" in contents[keyfile]:
        raise InvalidInput("tls_file_unusable", path=str(keyfile), reason="the key is encrypted: give an unencrypted key file")
    try:
        # a callback answering no password: an encrypted key is refused, never prompted for on the terminal
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile, password=lambda: b"")
    except (ssl.SSLError, ValueError) as error:
        reason = getattr(error, "reason", None) or str(error).splitlines()[0]
        if reason == "KEY_VALUES_MISMATCH":
            reason = "the key does not belong to the certificate"
        raise InvalidInput("tls_file_unusable", path=f"{certfile} + {keyfile}", reason=reason) from None
