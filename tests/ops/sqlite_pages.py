"""Damage a real SQLite file the way a failing disk or a stray write would: a flipped bit in one index cell,
or a page of garbage. Reads the file format itself (https://www.sqlite.org/fileformat2.html), so the
damage lands exactly where the test says; the file must have no -wal (checkpoint it first)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

LEAF_INDEX = 0x0A
LEAF_TABLE = 0x0D


def settle(path: Path) -> None:
    """Everything in the main file, no -wal beside it: what the tests edit is what the next reader reads."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _page_size(data: bytes | bytearray) -> int:
    size = int.from_bytes(data[16:18], "big")
    return 65536 if size == 1 else size


def _rootpage(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    assert row is not None, name
    return int(row[0])


def _varint(data: bytes | bytearray, at: int) -> tuple[int, int]:
    """(value, bytes used) of the SQLite varint at ``at``."""
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + 1
    raise AssertionError("unreachable")


def flip_index_key_bit(path: Path, index: str) -> str:
    """Flip the lowest bit of the first key column of one cell on the index's root page (a leaf: the index
    must be small), choosing a cell whose key is a stored integer. The table is untouched, so every row
    still reads, and the index no longer finds the row the cell pointed at."""
    settle(path)
    data = bytearray(path.read_bytes())
    size = _page_size(data)
    page = _rootpage(path, index)
    start = (page - 1) * size
    header = start + (100 if page == 1 else 0)
    assert data[header] == LEAF_INDEX, f"{index}: root page {page} is not a leaf index page (type {data[header]:#x})"
    cells = int.from_bytes(data[header + 3 : header + 5], "big")
    for n in range(cells - 1, -1, -1):  # the last cells: their keys are the largest, a flip keeps the order
        cell = start + int.from_bytes(data[header + 8 + 2 * n : header + 10 + 2 * n], "big")
        _payload, used = _varint(data, cell)
        record = cell + used
        header_size, used = _varint(data, record)
        serial, _ = _varint(data, record + used)
        widths = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}
        if serial in widths:
            last = record + header_size + widths[serial] - 1  # the key's last (least significant) byte
            data[last] ^= 0x01
            path.write_bytes(bytes(data))
            return f"page {page} cell {n}"
    raise AssertionError(f"{index}: no integer key on page {page}")


def garbage_page(path: Path, table: str, seed: int = 18, *, served: bool = False) -> int:
    """Overwrite the table's root page with random bytes, in place; returns its number. ``served``: a server
    has the file open, so the WAL is only checkpointed (its pages written into the file), not switched off."""
    if served:
        conn = sqlite3.connect(path, timeout=30)
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0, "a reader kept the WAL from being checkpointed"
        finally:
            conn.close()
    else:
        settle(path)
    page = _rootpage(path, table)
    assert page > 1
    with open(path, "r+b") as handle:
        size = _page_size(handle.read(100))
        rng = random.Random(seed)
        handle.seek((page - 1) * size)
        handle.write(bytes(rng.randrange(256) for _ in range(size)))
    return page
