"""Credit serials: one credit = 1 t CO2e = one serial number; a block is a contiguous serial range.

Serial numbers are allocated per scheme, increasing, never reused. A block's id names its scheme,
vintage, methodology and range: ``TH-{scheme}-{vintage}-{methodology}-{first:08d}-{last:08d}``;
one credit's serial is ``TH-{scheme}-{vintage}-{methodology}-{n:08d}``.

Blocks are immutable (a UTXO model): moving credits *spends* whole blocks and creates new ones —
the part that moves and, when a block is split, the change that stays with the holder. A retired
block is never spent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from tanhui.errors import BusinessRuleViolation, InvalidInput

HELD = "held"
RETIRED = "retired"
ESCROW = "escrow"  # offered to another registry, awaiting its receipt: spent only by settle or cancel
TRANSFERRED = "transferred"  # moved to another registry: never spent again (like retired)
STATUSES = (HELD, RETIRED, ESCROW, TRANSFERRED)
SCHEME_HOLDER = "scheme"  # how the scheme itself is named as a holder (holder_org_id NULL)


@dataclass(frozen=True, slots=True, order=True)
class SerialRange:
    first: int
    last: int

    def __post_init__(self) -> None:
        if type(self.first) is not int or type(self.last) is not int or self.first < 1 or self.last < self.first:
            raise InvalidInput("invalid_serial_range", first=self.first, last=self.last)

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1

    def split(self, quantity: int) -> tuple[SerialRange, SerialRange | None]:
        """The first ``quantity`` serials, and the rest (None when nothing is left)."""
        if not 1 <= quantity <= self.quantity:
            raise InvalidInput("invalid_quantity", quantity=quantity)
        head = SerialRange(self.first, self.first + quantity - 1)
        tail = SerialRange(head.last + 1, self.last) if quantity < self.quantity else None
        return head, tail

    def overlaps(self, other: SerialRange) -> bool:
        return self.first <= other.last and other.first <= self.last

    def __contains__(self, serial: object) -> bool:
        return isinstance(serial, int) and self.first <= serial <= self.last

    def text(self) -> str:
        return f"{self.first:08d}-{self.last:08d}"


def block_id(scheme_id: str, vintage: int, methodology: str, serials: SerialRange) -> str:
    return f"TH-{scheme_id}-{vintage}-{methodology}-{serials.first:08d}-{serials.last:08d}"


def serial_id(scheme_id: str, vintage: int, methodology: str, serial: int) -> str:
    return f"TH-{scheme_id}-{vintage}-{methodology}-{serial:08d}"


def parse_block_id(text: str) -> tuple[str, SerialRange]:
    """(the ``TH-{scheme}-{vintage}-{methodology}`` prefix, the range) of a block id."""
    try:
        prefix, first, last = text.rsplit("-", 2)
        if not prefix.startswith("TH-") or len(first) < 8 or len(last) < 8:
            raise ValueError(text)
        return prefix, SerialRange(int(first), int(last))
    except (ValueError, InvalidInput):
        raise InvalidInput("invalid_block_id", block_id=text) from None


def overlapping(ranges: Iterable[SerialRange]) -> list[tuple[SerialRange, SerialRange]]:
    """Every pair of neighbours (in serial order) that share a serial."""
    ordered = sorted(ranges)
    return [(a, b) for a, b in pairwise(ordered) if a.overlaps(b)]


def covers_exactly(whole: SerialRange, parts: Iterable[SerialRange]) -> bool:
    """True when the parts tile ``whole`` with no gap and no overlap."""
    expected = whole.first
    for part in sorted(parts):
        if part.first != expected:
            return False
        expected = part.last + 1
    return expected == whole.last + 1


@dataclass(frozen=True, slots=True)
class Block:
    """A live block as the domain sees it: which batch, which serials, who holds it, its state."""

    id: int
    batch_id: int
    serials: SerialRange
    holder: int | None  # organisation id; None = the scheme
    status: str = HELD


@dataclass(frozen=True, slots=True)
class Move:
    """What moving ``quantity`` credits out of a holder's blocks does."""

    spent: tuple[Block, ...]
    moved: tuple[tuple[int, SerialRange], ...]  # (batch_id, serials) for the receiver
    change: tuple[tuple[int, SerialRange], ...]  # (batch_id, serials) that stay with the sender

    @property
    def quantity(self) -> int:
        return sum(r.quantity for _, r in self.moved)


def plan_move(blocks: Sequence[Block], quantity: int) -> Move:
    """Take ``quantity`` credits from held blocks in the order given (callers pass oldest first).

    Whole blocks are taken while they fit; the last one is split, its head moving and its tail
    staying as change. Retired blocks are never taken.
    """
    if type(quantity) is not int or quantity < 1:
        raise InvalidInput("invalid_quantity", quantity=quantity)
    held = [b for b in blocks if b.status == HELD]
    available = sum(b.serials.quantity for b in held)
    if available < quantity:
        raise BusinessRuleViolation("insufficient_credits", available=available, quantity=quantity)
    spent: list[Block] = []
    moved: list[tuple[int, SerialRange]] = []
    change: list[tuple[int, SerialRange]] = []
    left = quantity
    for block in held:
        if left == 0:
            break
        take = min(left, block.serials.quantity)
        head, tail = block.serials.split(take)
        spent.append(block)
        moved.append((block.batch_id, head))
        if tail is not None:
            change.append((block.batch_id, tail))
        left -= take
    return Move(tuple(spent), tuple(moved), tuple(change))
