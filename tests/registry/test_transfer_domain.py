"""The pure rules of credit transfer between registries (domain/registry/transfer.py): the offer's and
the receipt's canonical forms and checks, their signatures, and the origin's state machine."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain.registry import transfer as tr

A_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
B_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


@st.composite
def block_lists(draw: Any) -> list[tr.OfferBlock]:
    """1..6 non-overlapping serial ranges in serial order, each of a vintage and methodology."""
    sizes = draw(st.lists(st.integers(1, 50), min_size=1, max_size=6))
    gaps = draw(st.lists(st.integers(0, 20), min_size=len(sizes), max_size=len(sizes)))
    first, blocks = 1, []
    for size, gap in zip(sizes, gaps, strict=True):
        first += gap
        vintage = draw(st.integers(2020, 2030))
        methodology = draw(st.sampled_from(["bus-ride-cn@1", "electricity-saving-cn@1", "walking@2"]))
        last = first + size - 1
        blocks.append(tr.OfferBlock(f"TH-city-{vintage}-{methodology}-{first:08d}-{last:08d}", vintage, methodology, first, last))
        first = last + 1
    return blocks


def _offer(blocks: list[tr.OfferBlock], transfer_id: str = "TRF-city-000001") -> dict[str, Any]:
    return tr.offer(
        transfer_id=transfer_id,
        origin_platform="cn-a",
        destination_platform="cn-b",
        origin_scheme="city",
        origin_org="org_a",
        destination_org="org_b",
        blocks=blocks,
        offered_at=1767225600,
    )


def _minted(offer: dict[str, Any], start: int = 100) -> list[tr.MintedBlock]:
    out, serial = [], start
    for b in offer["blocks"]:
        out.append(
            tr.MintedBlock(b["block_id"], f"TH-town-{b['vintage']}-{b['methodology']}-x", serial, serial + b["quantity"] - 1)
        )
        serial += b["quantity"]
    return out


@settings(max_examples=60, deadline=None)
@given(block_lists())
def test_an_offer_is_well_formed_and_its_receipt_verifies(blocks: list[tr.OfferBlock]) -> None:
    offer = _offer(blocks)
    assert tr.offer_problem(offer) is None
    assert offer["quantity"] == sum(b.quantity for b in blocks)
    signature = tr.sign(A_KEY, tr.OFFER_CONTEXT, offer)
    assert tr.signature_valid(A_KEY.public_key(), tr.OFFER_CONTEXT, offer, signature)
    # the signature of an offer is never one of a receipt, nor from another key
    assert not tr.signature_valid(A_KEY.public_key(), tr.RECEIPT_CONTEXT, offer, signature)
    assert not tr.signature_valid(B_KEY.public_key(), tr.OFFER_CONTEXT, offer, signature)
    receipt = tr.receipt(offer, outcome=tr.MINTED, code=None, destination_scheme="town", minted=_minted(offer), at=1)
    signed = tr.sign(B_KEY, tr.RECEIPT_CONTEXT, receipt)
    assert tr.receipt_valid(B_KEY.public_key(), offer, receipt, signed) == (True, None)
    assert tr.receipt_valid(A_KEY.public_key(), offer, receipt, signed) == (False, "bad_signature")


@settings(max_examples=60, deadline=None)
@given(block_lists(), st.sampled_from(["quantity", "transfer_id", "destination_org", "minted", "outcome", "offer_hash"]))
def test_any_change_to_a_receipt_is_found(blocks: list[tr.OfferBlock], field: str) -> None:
    offer = _offer(blocks)
    receipt = tr.receipt(offer, outcome=tr.MINTED, code=None, destination_scheme="town", minted=_minted(offer), at=1)
    signed = tr.sign(B_KEY, tr.RECEIPT_CONTEXT, receipt)
    changed = dict(receipt)
    changed[field] = {
        "quantity": receipt["quantity"] + 1,
        "transfer_id": "TRF-city-999999",
        "destination_org": "org_z",
        "minted": receipt["minted"][:-1] + [dict(receipt["minted"][-1], last=receipt["minted"][-1]["last"] + 1)],
        "outcome": tr.REFUSED,
        "offer_hash": "0" * 64,
    }[field]
    assert tr.receipt_valid(B_KEY.public_key(), offer, changed, signed)[0] is False


@settings(max_examples=40, deadline=None)
@given(block_lists(), block_lists())
def test_a_receipt_answers_only_its_own_offer(one: list[tr.OfferBlock], other: list[tr.OfferBlock]) -> None:
    first, second = _offer(one), _offer(other, transfer_id="TRF-city-000001")
    receipt = tr.receipt(first, outcome=tr.MINTED, code=None, destination_scheme="town", minted=_minted(first), at=1)
    signed = tr.sign(B_KEY, tr.RECEIPT_CONTEXT, receipt)
    assert tr.receipt_valid(B_KEY.public_key(), second, receipt, signed)[0] is (first == second)


def test_a_refusal_mints_nothing_and_carries_a_code() -> None:
    offer = _offer([tr.OfferBlock("TH-city-2025-m@1-00000001-00000002", 2025, "m@1", 1, 2)])
    refusal = tr.receipt(offer, outcome=tr.REFUSED, code="organisation_not_found", destination_scheme=None, minted=[], at=1)
    assert refusal["quantity"] == 0 and refusal["minted"] == [] and tr.receipt_problem(offer, refusal) is None
    with pytest.raises(ValueError):
        tr.receipt(offer, outcome=tr.REFUSED, code=None, destination_scheme=None, minted=[], at=1)
    with pytest.raises(ValueError):
        tr.receipt(offer, outcome=tr.MINTED, code="x", destination_scheme="t", minted=_minted(offer), at=1)
    assert tr.receipt_problem(offer, dict(refusal, minted=_minted(offer)[0].to_dict())) is not None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"ver": 2}, "ver"),
        ({"quantity": 99}, "quantity"),
        ({"transfer_id": "no spaces allowed"}, "transfer_id"),
        ({"origin_platform": "A"}, "origin_platform"),
        ({"blocks": []}, "blocks"),
        ({"extra": 1}, "fields"),
        ({"offered_at": -1}, "offered_at"),
    ],
)
def test_malformed_offers_are_named(change: dict[str, Any], why: str) -> None:
    offer = _offer([tr.OfferBlock("TH-city-2025-m@1-00000001-00000002", 2025, "m@1", 1, 2)])
    assert tr.offer_problem({**offer, **change}) is not None


def test_overlapping_or_unordered_blocks_are_refused() -> None:
    a = tr.OfferBlock("TH-c-2025-m@1-00000001-00000005", 2025, "m@1", 1, 5)
    b = tr.OfferBlock("TH-c-2025-m@1-00000005-00000006", 2025, "m@1", 5, 6)
    offer = _offer([a, b])
    assert tr.offer_problem(offer) == "blocks in serial order, not overlapping"
    flipped = dict(offer, blocks=list(reversed(_offer([a, tr.OfferBlock("x", 2025, "m@1", 6, 7)])["blocks"])))
    assert tr.offer_problem(flipped) == "blocks in serial order, not overlapping"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(tr.OUTCOMES), min_size=1, max_size=8))
def test_a_transfer_ends_once_by_its_first_receipt(outcomes: list[str]) -> None:
    """Receipts arriving in any order and number: the first decides; the same again changes nothing;
    the other outcome for an ended transfer is refused (the destination never gives two)."""
    state = tr.PENDING
    decided = None
    for outcome in outcomes:
        if decided is None or outcome == decided:
            state = tr.next_state(state, outcome)
            decided = decided or outcome
        else:
            with pytest.raises(ValueError):
                tr.next_state(state, outcome)
    assert state == (tr.COMPLETED if outcomes[0] == tr.MINTED else tr.CANCELLED)
