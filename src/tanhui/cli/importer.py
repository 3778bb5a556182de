from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from tanhui.cli.output import console, print_json, say
from tanhui.errors import InvalidInput
from tanhui.importers import FORMATS, detect_format, read_csv, read_jsonl
from tanhui.services import bulk, ingest
from tanhui.store import open_store

app = typer.Typer(help="Bulk import (批量导入) of partner files.", no_args_is_help=True)


@app.command("events")
def import_events(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="A .jsonl or .csv file of events."),
    partner: str = typer.Option(..., "--partner", help="The partner id the file comes from."),
    results: Path | None = typer.Option(None, "--results", help="Write one result per event to this JSON Lines file."),
    file_format: str | None = typer.Option(None, "--format", help="jsonl or csv (default: from the file name)."),
    batch_size: int = typer.Option(1000, "--batch-size", min=1, max=10000, help="Events per transaction."),
    workers: int = typer.Option(
        2, "--workers", min=1, max=16, help="Processes staging batches in parallel; they write in turn, in file order."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run a file through the same pipeline as the API; running it again changes nothing."""
    fmt = file_format or _format(file)
    if fmt not in FORMATS:
        raise InvalidInput("invalid_request", details={"format": fmt})
    store = open_store()
    store.require_initialised()
    found = ingest.find_partner(store, partner)
    totals = {"credited": 0, "duplicate": 0, "rejected": 0, "carbon_g": 0, "points": 0}
    reasons: dict[str, int] = {}
    out = results.open("w", encoding="utf-8") if results else None
    size = file.stat().st_size
    try:
        with (
            file.open("rb") as stream,
            Progress(
                TextColumn("[bold green]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[events]} events"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                transient=as_json,
                disable=as_json,
            ) as progress,
        ):
            task = progress.add_task("导入 importing", total=size, events=0)
            reader = read_jsonl(stream) if fmt == "jsonl" else read_csv(stream)
            read: list[tuple[list[tuple[int, object | None, str | None]], int, int]] = []  # (lines, events so far, bytes so far)

            def chunks() -> Iterator[list[tuple[int, object | None, str | None]]]:
                pending: list[tuple[int, object | None, str | None]] = []
                count = 0
                for item in reader:
                    count += 1
                    pending.append(item)
                    if len(pending) >= batch_size:
                        read.append((pending, count, stream.tell()))
                        yield pending
                        pending = []
                if pending:
                    read.append((pending, count, size))
                    yield pending

            def settle(lines: list[tuple[int, object | None, str | None]], batch_results: Iterable[dict[str, Any]]) -> None:
                outcome = iter(batch_results)
                for line, _event, problem in lines:
                    item = next(outcome) if problem is None else _unreadable(problem)
                    _tally(item, totals, reasons)
                    if out is not None:
                        out.write(json.dumps({"line": line, **item}, ensure_ascii=False) + "\n")

            def readable(lines: list[tuple[int, object | None, str | None]]) -> list[object | None]:
                return [event for _, event, problem in lines if problem is None]

            source = chunks()
            first = list(itertools.islice(source, 2))
            if workers > 1 and len(first) > 1:  # a file of one batch gains nothing from a second process
                outcomes: Iterator[list[dict[str, Any]]] = bulk.import_batches(
                    store.url, found.id, (readable(lines) for lines in itertools.chain(first, source)), workers=workers
                )
            else:
                outcomes = (
                    ingest.ingest_events(store, found, events).results if events else []
                    for events in (readable(lines) for lines in itertools.chain(first, source))
                )
            for batch_results in outcomes:  # not `results`: that is the --results file, named at the end
                lines, count, position = read.pop(0)
                settle(lines, batch_results)
                progress.update(task, completed=position, events=count)
            progress.update(task, completed=size)
    finally:
        if out is not None:
            out.close()
    summary = {**totals, "events": sum(totals[k] for k in ("credited", "duplicate", "rejected")), "rejected_by_reason": reasons}
    if as_json:
        print_json(summary)
        return
    table = Table("", "count")
    for key in ("events", "credited", "duplicate", "rejected"):
        table.add_row(key, str(summary[key]))
    table.add_row("carbon_g", str(totals["carbon_g"]))
    table.add_row("points", str(totals["points"]))
    for reason, n in sorted(reasons.items()):
        table.add_row(f"  rejected: {reason}", str(n))
    console.print(table)
    if results:
        say(f"逐条结果已写入 {results}", f"results written to {results}")


def _unreadable(problem: str) -> dict[str, Any]:
    return {
        "event_id": None,
        "status": "rejected",
        "reason": "invalid_data",
        "carbon_g": 0,
        "points": 0,
        "methodology": None,
        "details": {"line": problem},
    }


def _format(file: Path) -> str:
    try:
        return detect_format(file)
    except ValueError:
        raise InvalidInput("invalid_request", details={"format": "use --format jsonl|csv"}) from None


def _tally(item: dict[str, Any], totals: dict[str, int], reasons: dict[str, int]) -> None:
    status = str(item["status"])
    totals[status] += 1
    if status == "credited":
        totals["carbon_g"] += int(item["carbon_g"])
        totals["points"] += int(item["points"])
    if status == "rejected":
        reason = str(item["reason"])
        reasons[reason] = reasons.get(reason, 0) + 1
