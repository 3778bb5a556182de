"""The carbon-inclusion credit registry, pure: Merkle trees, serial blocks, issuance rules.

See docs/registry.md. ``merkle`` (leaves, roots, proofs), ``serials`` (ranges, block ids, moving
and splitting blocks), ``issuance`` (eligibility settings, the remainder rule, the leaf record).
"""

from tanhui.domain.registry.issuance import (
    TONNE_G,
    Candidate,
    PoolPlan,
    RegistrySettings,
    credits_for_emission,
    leaf_record,
    plan_pool,
    vintage_days,
)
from tanhui.domain.registry.merkle import Proof, leaf_hash, merkle_proof, merkle_root, verify_proof
from tanhui.domain.registry.serials import (
    ESCROW,
    HELD,
    RETIRED,
    SCHEME_HOLDER,
    TRANSFERRED,
    Block,
    Move,
    SerialRange,
    block_id,
    covers_exactly,
    overlapping,
    parse_block_id,
    plan_move,
    serial_id,
)

__all__ = [
    "ESCROW",
    "HELD",
    "RETIRED",
    "SCHEME_HOLDER",
    "TONNE_G",
    "TRANSFERRED",
    "Block",
    "Candidate",
    "Move",
    "PoolPlan",
    "Proof",
    "RegistrySettings",
    "SerialRange",
    "block_id",
    "covers_exactly",
    "credits_for_emission",
    "leaf_hash",
    "leaf_record",
    "merkle_proof",
    "merkle_root",
    "overlapping",
    "parse_block_id",
    "plan_move",
    "plan_pool",
    "serial_id",
    "verify_proof",
    "vintage_days",
]
