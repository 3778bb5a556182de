"""`transfers_signed` (domain/registry/verify.py) on hand-built values, without a database: signed
offers and receipts, the log's settlement with that receipt, mints that match their receipts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tanhui.domain import platform_signing as ps
from tanhui.domain.registry import log
from tanhui.domain.registry import transfer as tr
from tanhui.domain.registry.records import MovementRow, TransferRow
from tanhui.domain.registry.verify import RegistryState, transfers_signed

A = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
B = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KEYS = {"own_key": ps.public_key_text(A), "peer_keys": {"cn-b": ps.public_key_text(B)}}
AT = datetime(2026, 1, 1, tzinfo=UTC)
OFFER = tr.offer(
    transfer_id="TRF-city-000001",
    origin_platform="cn-a",
    destination_platform="cn-b",
    origin_scheme="city",
    origin_org="org_a",
    destination_org="org_b",
    blocks=[tr.OfferBlock("TH-city-2025-m@1-00000001-00000003", 2025, "m@1", 1, 3)],
    offered_at=1,
)
RECEIPT = tr.receipt(
    OFFER,
    outcome=tr.MINTED,
    code=None,
    destination_scheme="town",
    minted=[tr.MintedBlock(OFFER["blocks"][0]["block_id"], "TH-t", 7, 9)],
    at=2,
)


def _movement(seq: int, kind: str, memo: dict[str, Any], quantity: int = 3) -> MovementRow:
    return MovementRow(seq, "city", seq, kind, None, "", None, None, quantity, memo, AT, "", "")


def _out(receipt: dict[str, Any] | None = RECEIPT, signer: Ed25519PrivateKey = B, state: str = "completed") -> TransferRow:
    return TransferRow(
        1, "TRF-city-000001", "out", "cn-a", "cn-b", "city", 1, 3, "k", "", OFFER, tr.sign(A, tr.OFFER_CONTEXT, OFFER), 1, AT,
        state if receipt is not None else "pending", receipt, tr.sign(signer, tr.RECEIPT_CONTEXT, receipt) if receipt else None,
    )  # fmt: skip


def _state(transfers: tuple[TransferRow, ...], movements: tuple[MovementRow, ...], **keys: Any) -> RegistryState:
    return RegistryState("city", None, movements=movements, transfers=transfers, **{**KEYS, **keys})


SETTLE = _movement(2, log.TRANSFER_SETTLE, {"transfer_id": "TRF-city-000001", "receipt_hash": tr.body_hash(RECEIPT)})


def test_a_settled_transfer_out_is_clean() -> None:
    assert transfers_signed(_state((_out(),), (SETTLE,))) == []
    assert transfers_signed(_state((_out(None),), ())) == []  # pending: nothing to check but the offer


def test_a_changed_or_foreign_receipt_is_reported() -> None:
    changed = dict(RECEIPT, at=3)
    problems = transfers_signed(_state((_out(changed, signer=A),), (SETTLE,)))
    assert len(problems) == 2 and "receipt does not verify (bad_signature)" in problems[0]
    assert "not the one the log settled" in problems[1]
    assert any("not the one the log settled" in p for p in transfers_signed(_state((_out(),), ())))
    assert any("does not follow its receipt" in p for p in transfers_signed(_state((_out(state="cancelled"),), (SETTLE,))))
    assert any("offer's signature" in p for p in transfers_signed(_state((_out(),), (SETTLE,), own_key=ps.public_key_text(B))))


def test_mints_stand_on_an_offer_and_match_the_receipt() -> None:
    incoming = TransferRow(
        2, "TRF-city-000001", "in", "cn-a", "cn-a", "town", 1, 3, None, "", OFFER, tr.sign(A, tr.OFFER_CONTEXT, OFFER), None, AT,
        "completed", RECEIPT, tr.sign(B, tr.RECEIPT_CONTEXT, RECEIPT),
    )  # fmt: skip
    keys = {"own_key": ps.public_key_text(B), "peer_keys": {"cn-a": ps.public_key_text(A)}}
    mint = {"origin_platform": "cn-a", "transfer_id": "TRF-city-000001"}
    assert transfers_signed(_state((incoming,), (_movement(1, log.TRANSFER_IN, mint),), **keys)) == []
    twice = (_movement(1, log.TRANSFER_IN, mint), _movement(2, log.TRANSFER_IN, mint))
    assert any("minted 6 credits, the receipt says 3" in p for p in transfers_signed(_state((incoming,), twice, **keys)))
    stray = _movement(3, log.TRANSFER_IN, {"origin_platform": "cn-a", "transfer_id": "TRF-other"})
    assert any("without a recorded offer" in p for p in transfers_signed(_state((incoming,), (stray,), **keys)))


def test_escrow_is_spent_only_by_its_settlement_and_transferred_never() -> None:
    from tanhui.domain.registry.records import BlockRow
    from tanhui.domain.registry.serials import SerialRange
    from tanhui.domain.registry.verify import retired_never_spent

    escrow = BlockRow(1, 1, SerialRange(1, 3), 1, "escrow", 1, None)
    gone = BlockRow(2, 1, SerialRange(1, 3), 1, "transferred", 2, None)
    out = _movement(1, log.TRANSFER_OUT, {})
    settle = _movement(2, log.TRANSFER_SETTLE, {})
    sale = _movement(3, log.TRANSFER, {})
    fine = RegistryState("city", None, movements=(out, settle), blocks=(escrow, gone), spends=((1, 2),))
    assert retired_never_spent(fine) == []
    sold = RegistryState("city", None, movements=(out, settle, sale), blocks=(escrow, gone), spends=((1, 3), (2, 3)))
    assert retired_never_spent(sold) == [
        "scheme city: transferred block 2 was spent",
        "scheme city: escrow block 1 was spent by a transfer movement",
    ]


def test_a_transfer_compared_with_the_peers_record() -> None:
    """`tanhui credits verify --peers` (services/registry/transfers._compare): same end and receipt on both
    sides, else a problem; one side still pending, or the peer silent, is a note."""
    from tanhui.services.registry.transfers import _compare

    done = _out()
    same = {"state": "completed", "receipt": RECEIPT}
    assert _compare(done, 200, same) == (None, None)
    problem, _ = _compare(done, 200, {"state": "completed", "receipt": dict(RECEIPT, at=9)})
    assert problem is not None and "another receipt" in problem
    problem, _ = _compare(done, 200, {"state": "cancelled", "receipt": RECEIPT})
    assert problem is not None
    problem, _ = _compare(done, 404, None)
    assert problem is not None and "no record" in problem
    assert _compare(_out(None), 404, None)[0] is None  # pending here, never reached the peer: resume
    assert _compare(_out(None), 200, same)[0] is None  # minted there, settles here on resume
    assert _compare(done, None, None)[0] is None  # unreachable: a note
