"""Tables out to files for merchants and operators: CSV (UTF-8 with BOM, opens in Excel) or XLSX."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tanhui.errors import InvalidInput

FORMATS = ("csv", "xlsx")


def write_table(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str | None = None) -> int:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InvalidInput("invalid_request", details={"format": "csv or xlsx"})
    count = 0
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow(row)
                count += 1
        return count
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("export")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
        count += 1
    book.save(path)
    return count
