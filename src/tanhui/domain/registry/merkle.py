"""Merkle trees over the events pooled into a credit batch (docs/registry.md, "Merkle proofs").

* A leaf is ``sha256(0x00 || canonical_bytes(record))`` where ``record`` is an event's leaf record
  (``tanhui.domain.registry.issuance.leaf_record``); a node is ``sha256(0x01 || left || right)``
  over the two 32-byte child digests. The prefixes keep a leaf from ever passing for a node
  (domain separation, as in RFC 6962).
* Leaves are in the batch's consumption order. Each level pairs neighbours left to right; an odd
  node at the end of a level is carried up unchanged (never duplicated, so no two different leaf
  lists share a root). The root of an empty tree is ``sha256(b"")``.
* A proof is the list of sibling steps from the leaf up to the root: ``(side, hash)`` where side
  ``"L"`` means the sibling is on the left (``node = H(0x01 || sibling || node)``) and ``"R"`` that
  it is on the right. Levels where the node was carried up contribute no step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tanhui.domain.canonical import canonical_bytes

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
LEFT = "L"
RIGHT = "R"
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(record: dict[str, Any]) -> str:
    """The leaf of one event record (hex)."""
    return hashlib.sha256(LEAF_PREFIX + canonical_bytes(record)).hexdigest()


def node_hash(left_hex: str, right_hex: str) -> str:
    return hashlib.sha256(NODE_PREFIX + bytes.fromhex(left_hex) + bytes.fromhex(right_hex)).hexdigest()


def _next_level(level: Sequence[str]) -> list[str]:
    up = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        up.append(level[-1])
    return up


def merkle_root(leaves: Sequence[str]) -> str:
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


@dataclass(frozen=True, slots=True)
class Proof:
    leaf: str
    index: int
    steps: tuple[tuple[str, str], ...]
    root: str

    def to_dict(self) -> dict[str, Any]:
        return {"leaf": self.leaf, "index": self.index, "steps": [list(s) for s in self.steps], "root": self.root}


def merkle_proof(leaves: Sequence[str], index: int) -> Proof:
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} not in a tree of {len(leaves)}")
    steps: list[tuple[str, str]] = []
    level, position = list(leaves), index
    while len(level) > 1:
        if position % 2 == 1:
            steps.append((LEFT, level[position - 1]))
        elif position + 1 < len(level):
            steps.append((RIGHT, level[position + 1]))
        level, position = _next_level(level), position // 2
    return Proof(leaves[index], index, tuple(steps), level[0])


def verify_proof(leaf: str, steps: Sequence[Sequence[str]], root: str) -> bool:
    """True when folding the steps onto the leaf gives the root."""
    node = leaf
    try:
        for side, sibling in steps:
            if side == LEFT:
                node = node_hash(sibling, node)
            elif side == RIGHT:
                node = node_hash(node, sibling)
            else:
                return False
    except (ValueError, TypeError):
        return False
    return node == root
