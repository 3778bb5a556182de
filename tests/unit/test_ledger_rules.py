"""Posting rules and the hash chain, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tanhui.domain.ledger import (
    GENESIS_HASH,
    LedgerAccount,
    LedgerVerifier,
    Posting,
    StoredPosting,
    TransferGroup,
    apply_postings,
    chain_entry,
    reversing_postings,
    validate_group,
)
from tanhui.errors import BusinessRuleViolation, InvalidInput

AT = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
ISSUANCE = LedgerAccount(1, "city", "POINTS", "issuance", non_negative=False, tracked=False)
ALICE = LedgerAccount(2, "city", "POINTS", "holdings", non_negative=True, tracked=True, owner_account_id=10)
BOB = LedgerAccount(3, "city", "POINTS", "holdings", non_negative=True, tracked=True, owner_account_id=11)
CARBON = LedgerAccount(4, "city", "CO2E", "holdings", non_negative=True, tracked=True, owner_account_id=10)
OTHER_SCHEME = LedgerAccount(5, "bank", "POINTS", "holdings", non_negative=True, tracked=True, owner_account_id=12)
ACCOUNTS = {a.id: a for a in (ISSUANCE, ALICE, BOB, CARBON, OTHER_SCHEME)}


def group(*postings: Posting, key: str | None = "k1", scheme: str = "city") -> TransferGroup:
    return TransferGroup(scheme_id=scheme, kind="test", postings=postings, idempotency_key=key)


@pytest.mark.parametrize(
    ("postings", "reason"),
    [
        ((), "at least one posting"),
        ((Posting(1, 2, 0),), "positive integer"),
        ((Posting(1, 2, -5),), "positive integer"),
        ((Posting(1, 2, True),), "positive integer"),  # bool is not an amount
        ((Posting(2, 2, 5),), "to itself"),
        ((Posting(1, 99, 5),), "unknown ledger account 99"),
        ((Posting(1, 4, 5),), "assets differ"),
        ((Posting(5, 2, 5),), "group's scheme"),
    ],
)
def test_malformed_groups_are_refused(postings: tuple[Posting, ...], reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_group(group(*postings), ACCOUNTS)
    assert caught.value.code == "invalid_posting"
    assert reason in caught.value.message("en")


def test_float_amount_is_refused() -> None:
    with pytest.raises(InvalidInput):
        validate_group(group(Posting(1, 2, 1.0)), ACCOUNTS)  # type: ignore[arg-type]


def test_issuance_may_go_negative_and_keeps_no_balance() -> None:
    changed, after = apply_postings([Posting(1, 2, 100)], ACCOUNTS, {2: 0})
    assert changed == {2: 100}
    assert after == [(None, 100)]


def test_user_balance_never_goes_negative() -> None:
    with pytest.raises(BusinessRuleViolation) as caught:
        apply_postings([Posting(2, 3, 11)], ACCOUNTS, {2: 10, 3: 0})
    assert caught.value.code == "insufficient_balance"
    assert caught.value.params == {"ledger_account_id": 2, "balance": 10, "amount": 11}


def test_a_group_is_judged_posting_by_posting_in_order() -> None:
    # Receiving first then spending works; spending first fails even though the net is fine.
    ok, _ = apply_postings([Posting(1, 2, 5), Posting(2, 3, 15)], ACCOUNTS, {2: 10, 3: 0})
    assert ok == {2: 0, 3: 15}
    with pytest.raises(BusinessRuleViolation):
        apply_postings([Posting(2, 3, 15), Posting(1, 2, 5)], ACCOUNTS, {2: 10, 3: 0})


def test_apply_does_not_mutate_its_inputs() -> None:
    balances = {2: 10, 3: 0}
    apply_postings([Posting(2, 3, 4)], ACCOUNTS, balances)
    assert balances == {2: 10, 3: 0}


def test_reversal_moves_every_amount_back() -> None:
    original = (Posting(1, 2, 5), Posting(2, 3, 3))
    assert reversing_postings(original) == (Posting(3, 2, 3), Posting(2, 1, 5))
    changed, _ = apply_postings(original + reversing_postings(original), ACCOUNTS, {2: 0, 3: 0})
    assert changed == {2: 0, 3: 0}


def test_content_hash_depends_on_content_only() -> None:
    a = group(Posting(1, 2, 5))
    assert a.content_hash() == group(Posting(1, 2, 5)).content_hash()
    assert a.content_hash() != group(Posting(1, 2, 6)).content_hash()
    assert a.content_hash() != replace(a, memo={"why": "x"}).content_hash()
    # the key is not content: the same request under another key hashes the same
    assert a.content_hash() == replace(a, idempotency_key="other").content_hash()


def test_chain_links_and_hash_changes_with_any_field() -> None:
    first = chain_entry(group(Posting(1, 2, 5)), chain_id="city/0", seq=1, prev_hash=GENESIS_HASH, created_at=AT)
    second = chain_entry(group(Posting(1, 2, 7), key="k2"), chain_id="city/0", seq=2, prev_hash=first.entry_hash, created_at=AT)
    assert second.prev_hash == first.entry_hash
    again = chain_entry(group(Posting(1, 2, 5)), chain_id="city/0", seq=1, prev_hash=GENESIS_HASH, created_at=AT)
    assert again.entry_hash == first.entry_hash  # deterministic
    variants = [
        chain_entry(group(Posting(1, 2, 6)), chain_id="city/0", seq=1, prev_hash=GENESIS_HASH, created_at=AT),
        chain_entry(group(Posting(1, 2, 5)), chain_id="city/1", seq=1, prev_hash=GENESIS_HASH, created_at=AT),
        chain_entry(group(Posting(1, 2, 5)), chain_id="city/0", seq=2, prev_hash=GENESIS_HASH, created_at=AT),
        chain_entry(group(Posting(1, 2, 5)), chain_id="city/0", seq=1, prev_hash="1" * 64, created_at=AT),
        chain_entry(group(Posting(1, 2, 5), key="k9"), chain_id="city/0", seq=1, prev_hash=GENESIS_HASH, created_at=AT),
        chain_entry(
            group(Posting(1, 2, 5)),
            chain_id="city/0",
            seq=1,
            prev_hash=GENESIS_HASH,
            created_at=AT.replace(microsecond=1),
        ),
    ]
    assert len({v.entry_hash for v in variants} | {first.entry_hash}) == len(variants) + 1


def _verify(entries, stored_postings, balances, heads):  # type: ignore[no-untyped-def]
    verifier = LedgerVerifier(ACCOUNTS)
    for entry, stored in zip(entries, stored_postings, strict=True):
        verifier.feed(entry, stored, entry.entry_hash)
    return verifier.finish(balances, heads)


def _chain_of_two():  # type: ignore[no-untyped-def]
    e1 = replace(chain_entry(group(Posting(1, 2, 50)), chain_id="city/0", seq=1, prev_hash=GENESIS_HASH, created_at=AT), id=1)
    e2 = replace(
        chain_entry(group(Posting(2, 3, 20), key="k2"), chain_id="city/0", seq=2, prev_hash=e1.entry_hash, created_at=AT),
        id=2,
    )
    s1 = [StoredPosting(Posting(1, 2, 50), None, 50)]
    s2 = [StoredPosting(Posting(2, 3, 20), 30, 20)]
    return [e1, e2], [s1, s2], {1: None, 2: 30, 3: 20, 4: 0, 5: 0}, {"city/0": (2, e2.entry_hash)}


def test_verifier_accepts_a_sound_chain() -> None:
    report = _verify(*_chain_of_two())
    assert report.ok, report.problems
    assert (report.chains, report.entries, report.postings) == (1, 2, 2)


def test_verifier_names_the_entry_whose_amount_changed() -> None:
    entries, stored, balances, heads = _chain_of_two()
    stored[1] = [StoredPosting(Posting(2, 3, 21), 29, 21)]
    report = _verify(entries, stored, balances, heads)
    assert not report.ok
    assert report.problems[0].startswith("entry 2 (chain city/0 seq 2): hash mismatch")


def test_verifier_finds_a_stale_projection_and_a_truncated_tail() -> None:
    entries, stored, balances, heads = _chain_of_two()
    report = _verify(entries, stored, {**balances, 3: 25}, heads)
    assert any("account 3: stored balance 25, journal gives 20" in p for p in report.problems)
    report = _verify(entries[:1], stored[:1], {1: None, 2: 50, 3: 0, 4: 0, 5: 0}, heads)
    assert any("recorded head is seq 2, the journal ends at seq 1" in p for p in report.problems)


def test_verifier_finds_a_broken_link() -> None:
    entries, stored, balances, heads = _chain_of_two()
    entries[1] = replace(entries[1], prev_hash="f" * 64)
    report = _verify(entries, stored, balances, heads)
    assert "prev_hash does not match" in report.problems[0]


def test_canonical_json_equals_the_standard_library_form() -> None:
    import json
    from decimal import Decimal

    from tanhui.domain.canonical import canonical_json

    samples = [
        {"b": 1, "a": [1, 2, {"z": None, "y": True}], "中文": "碳普惠 ✓", "n": -5},
        {"quote": 'he said "hi"\n', "tab": "\t", "ctl": "\u0001", "big": 2**62},
        {"decimal": "8.2", "empty": {}, "list": []},
    ]
    for sample in samples:
        assert canonical_json(sample) == json.dumps(sample, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json({"d": Decimal("1.50"), "t": AT}) == '{"d":"1.50","t":"2026-11-25T08:30:00.000000Z"}'
