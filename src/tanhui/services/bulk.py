"""The bulk importer's processes: each stages (parses, quantifies) its batches in parallel with the
others and they take turns to write them, strictly in file order.

Staging is pure Python and a quarter of a batch's cost; the write transaction holds the store's
lock (SQLite's single writer; the partner's ledger chain on PostgreSQL) anyway. With two processes
one stages batch k+1 while the other writes batch k, on the machine's two cores. Results come back
in file order and every batch is decided exactly as a one-process import would decide it, so a
file imports to the same outcome whatever the number of processes (tests/cli).

A failed batch stops the import there: its successor never gets its turn, the parent raises, and
rerunning the file changes nothing for the batches already written.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tanhui.errors import TanhuiError

IN_FLIGHT_PER_WORKER = 2
POLL_SECONDS = 1.0


class ImportFailed(TanhuiError):
    """A worker's batch failed (the message is the worker's); nothing after it was written."""

    http_status = 500


def _worker(index: int, count: int, database_url: str, partner_id: str, turns: list[Any], inbox: Any, outbox: Any) -> None:
    from tanhui.lifecycle import end_with_parent
    from tanhui.services import ingest
    from tanhui.services.methodologies import default_library
    from tanhui.store import SQLITE_CACHE_MB, Store

    # A `kill -9` of the importer must not leave its workers running. Their parent is the fork server
    # (the importer's child), which ends only once every holder of its pipe has, the workers too: so
    # each watches the importer itself (its end of a pipe closes when it dies) and leaves at once.
    end_with_parent(os.getppid())
    importer = multiprocessing.parent_process()
    if importer is not None:
        threading.Thread(target=_end_with, args=(importer,), name="end-with-importer", daemon=True).start()
    # The importer's memory stays one cache's worth. SQLite's automatic checkpoint stays in the
    # writers' commits: a checkpointing thread in the parent was tried and let the log grow to
    # ~550 MB per 10^5 events (the other process's reads keep it from restarting), and was slower.
    store = Store(database_url, sqlite_cache_mb=max(32, SQLITE_CACHE_MB // count))
    library = default_library()
    # The cyclic collector, left automatic, ran inside the write turn (a sixth of it, py-spy): a
    # batch allocates ~10^5 objects, freed by reference counting. Modules and the library are
    # frozen out of every scan, and the collector runs between batches, outside the turn.
    gc.collect()
    gc.freeze()
    gc.disable()

    @contextmanager
    def my_turn() -> Iterator[None]:
        turns[index].acquire()
        yield
        turns[(index + 1) % count].release()  # only after a successful write: a failure stops the file

    try:
        partner = ingest.find_partner(store, partner_id)
        while True:
            job = inbox.get()
            if job is None:
                break
            number, events = job
            try:
                outcome = ingest.ingest_events(store, partner, events, library=library, turn=my_turn())
            except TanhuiError as error:
                outbox.put((number, None, f"{error.code}: {error.message('en')}"))
                break
            except Exception as error:  # noqa: BLE001 - reported to the parent, which stops the import
                outbox.put((number, None, f"{type(error).__name__}: {error}"))
                break
            outbox.put((number, outcome.results, None))
            gc.collect()
    finally:
        store.dispose()


def _end_with(importer: Any) -> None:
    importer.join()  # returns when the importer has ended, however it ended
    os._exit(1)  # an open transaction is rolled back by the store when the connection drops


# What each worker needs, imported once in the fork server and shared by the forked workers: spawned,
# each worker imported the application itself (~1 s of CPU each, docs/benchmarks.md).
PRELOAD = ["tanhui.services.ingest", "tanhui.services.methodologies", "tanhui.store"]


def _context() -> Any:
    """A fork server's context where there is one (a fresh process: no inherited connections or
    threads, like spawn), else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def import_batches(
    database_url: str, partner_id: str, batches: Iterable[list[Any]], workers: int = 2
) -> Iterator[list[dict[str, Any]]]:
    """Each batch's results, in order, from ``workers`` processes taking turns to write."""
    context = _context()
    turns = [context.Semaphore(1 if i == 0 else 0) for i in range(workers)]
    inboxes = [context.Queue(maxsize=IN_FLIGHT_PER_WORKER) for _ in range(workers)]
    outboxes = [context.Queue() for _ in range(workers)]
    processes = [
        context.Process(target=_worker, args=(i, workers, database_url, partner_id, turns, inboxes[i], outboxes[i]), daemon=True)
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    sent = received = 0
    source = iter(batches)
    exhausted = False
    try:
        while True:
            while not exhausted and sent - received < workers * IN_FLIGHT_PER_WORKER:
                batch = next(source, None)
                if batch is None:
                    exhausted = True
                    break
                inboxes[sent % workers].put((sent, batch))
                sent += 1
            if received == sent:
                break
            worker = received % workers
            while True:
                try:
                    number, results, problem = outboxes[worker].get(timeout=POLL_SECONDS)
                    break
                except queue.Empty:
                    if not processes[worker].is_alive():
                        raise ImportFailed(
                            "import_failed",
                            batch=received + 1,
                            problem=f"import process ended (exit code {processes[worker].exitcode})",
                        ) from None
            assert number == received
            if problem is not None:
                raise ImportFailed("import_failed", batch=number + 1, problem=problem)
            received += 1
            yield results
        for inbox in inboxes:
            inbox.put(None)
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
