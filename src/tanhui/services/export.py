"""Tables out to files for merchants and operators: CSV (UTF-8 with BOM, opens in Excel) or XLSX.

Every export goes through `write_table`, which neutralises spreadsheet formulas in text cells
(OWASP "CSV injection"): a partner chooses its event ids, organisations and merchants choose their
names, and a cell such as ``=HYPERLINK(...)`` must reach the operator's spreadsheet as text. In CSV a
text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a
leading ``'``; in XLSX every text cell is written as a string cell (never a formula), unchanged.
Numbers stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tanhui.errors import InvalidInput

FORMATS = ("csv", "xlsx")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula, quoted with a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_table(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str | None = None) -> int:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InvalidInput("invalid_request", details={"format": "csv or xlsx"})
    count = 0
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow([csv_safe(v) for v in header])
            for row in rows:
                writer.writerow([csv_safe(v) for v in row])
                count += 1
        return count
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("export")

    def cells(values: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value)
                cell.data_type = "s"  # text, even when it starts with "=": never a formula
                out.append(cell)
            else:
                out.append(value)
        return out

    sheet.append(cells(list(header)))
    for row in rows:
        sheet.append(cells(list(row)))
        count += 1
    book.save(path)
    return count
