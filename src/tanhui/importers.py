"""Streaming readers for bulk event files: JSON Lines and CSV, constant memory for any size.

Each yields (line number, event or None, problem) so one malformed line never stops a file.
CSV columns are the Event fields (event_id, user_ref, scenario, occurred_at) and `data.<field>`
for the scenario's data; empty cells are left out, other cells stay strings (the methodology
reads decimal and integer inputs from strings).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

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
            yield number, json.loads(text), None
        except ValueError as error:
            yield number, None, f"invalid_json: {error}"[:200]


def read_csv(stream: BinaryIO) -> Iterator[tuple[int, Any | None, str | None]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    for row in reader:
        number = reader.line_num
        if None in row:  # more cells than header columns
            yield number, None, "invalid_csv: more cells than columns"
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
