"""Streaming readers for bulk event files: JSON Lines and CSV, constant memory for any size.

Each yields (line number, event or None, problem) so one malformed line never stops a file: JSON that is
invalid, not UTF-8 or nested deeper than jsontext.DEPTH_MAX, a CSV row that is not UTF-8 or has a cell
over the csv module's field limit, each is that line's problem and the lines after it are read.
CSV columns are the Event fields (event_id, user_ref, scenario, occurred_at) and `data.<field>`
for the scenario's data; empty cells are left out, other cells stay strings (the methodology
reads decimal and integer inputs from strings).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tanhui.domain import jsontext

FORMATS = ("jsonl", "csv")


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if suffix in ("csv", "tsv"):
        return "csv"
    raise ValueError(suffix)


def read_jsonl(stream: BinaryIO) -> Iterator[tuple[int, Any | None, str | None]]:
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            yield number, jsontext.loads(text), None
        except ValueError as error:
            yield number, None, f"invalid_json: {error}"[:200]


def read_csv(stream: BinaryIO) -> Iterator[tuple[int, Any | None, str | None]]:
    # bytes that are not UTF-8 come through as lone surrogates (surrogateescape): that row's problem
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except csv.Error as error:
        yield max(reader.line_num, 1), None, f"invalid_csv: header: {error}"[:200]
        return
    if header is not None and jsontext.bad_text(list(header), nul=False) is not None:
        yield 1, None, "invalid_csv: header is not UTF-8 text"
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # e.g. a cell over csv.field_size_limit(); the next line is read next
            yield reader.line_num, None, f"invalid_csv: {error}"[:200]
            continue
        number = reader.line_num
        if None in row:  # more cells than header columns
            yield number, None, "invalid_csv: more cells than columns"
            continue
        if jsontext.bad_text(list(row.values()), nul=False) is not None:
            yield number, None, "invalid_csv: not UTF-8 text"
            continue
        event: dict[str, Any] = {}
        data: dict[str, Any] = {}
        for column, value in row.items():
            if value is None or value == "":
                continue
            if column.startswith("data."):
                data[column[5:]] = value
            else:
                event[column] = value
        event["data"] = data
        yield number, event, None
