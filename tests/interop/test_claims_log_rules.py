"""The claims log's pure rules: RFC 9162 hashing (against the RFC's definition written out here and
Certificate Transparency's published roots), the frontier, entries and signed heads."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain import claims_log as cl

# The eight leaves of Certificate Transparency's reference tests (RFC 6962's reference implementation,
# merkle_tree_test), and the roots of their first n leaves it publishes.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _rfc_mth(data: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 written out again from the RFC, independently of the module."""
    n = len(data)
    if n == 0:
        return hashlib.sha256().digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _rfc_mth(data[:k]) + _rfc_mth(data[k:])).digest()


def _frontier_root(data: list[bytes]) -> bytes:
    frontier, size = cl.extend([], 0, (cl.leaf_hash(d) for d in data))
    assert size == len(data)
    return cl.root(frontier)


def test_certificate_transparency_roots() -> None:
    assert cl.mth([]).hex() == cl.EMPTY_ROOT == hashlib.sha256(b"").hexdigest()
    assert cl.root([]).hex() == cl.EMPTY_ROOT
    for n, expected in enumerate(CT_ROOTS, start=1):
        assert _rfc_mth(CT_LEAVES[:n]).hex() == expected, n
        assert cl.mth(CT_LEAVES[:n]).hex() == expected, n
        assert _frontier_root(CT_LEAVES[:n]).hex() == expected, n


leaves = st.lists(st.binary(max_size=24), max_size=70)


@settings(max_examples=150, deadline=None)
@given(leaves)
def test_frontier_root_is_the_recursive_mth(data: list[bytes]) -> None:
    assert _frontier_root(data) == cl.mth(data) == _rfc_mth(data)


@settings(max_examples=100, deadline=None)
@given(leaves.filter(bool), st.data())
def test_a_changed_leaf_changes_the_root(data: list[bytes], draw: st.DataObject) -> None:
    index = draw.draw(st.integers(0, len(data) - 1))
    other = draw.draw(st.binary(max_size=24).filter(lambda b: b != data[index]))
    changed = [*data[:index], other, *data[index + 1 :]]
    assert _frontier_root(changed) != _frontier_root(data)
    # and so does a dropped, added or swapped leaf
    assert _frontier_root(data[:-1]) != _frontier_root(data)
    assert _frontier_root([*data, b"x"]) != _frontier_root(data)


@settings(max_examples=60, deadline=None)
@given(leaves, leaves)
def test_extending_a_stored_frontier_is_appending_from_scratch(first: list[bytes], second: list[bytes]) -> None:
    frontier, size = cl.extend([], 0, (cl.leaf_hash(d) for d in first))
    stored = cl.frontier_from_text(cl.frontier_text(frontier), size)
    more, total = cl.extend(stored, size, (cl.leaf_hash(d) for d in second))
    assert total == len(first) + len(second)
    assert cl.root(more) == cl.mth(first + second)
    assert len(more) == bin(total).count("1")


def test_a_frontier_of_the_wrong_size_is_refused() -> None:
    frontier, size = cl.extend([], 0, [cl.leaf_hash(b"a"), cl.leaf_hash(b"b"), cl.leaf_hash(b"c")])
    assert len(frontier) == 2
    for bad_size in (1, 2, 4):
        try:
            cl.append(frontier, bad_size, cl.leaf_hash(b"d"))
        except ValueError:
            pass
        else:
            raise AssertionError(bad_size)
    for bad in ([], ["AB" * 32, "ab" * 32], "x", [1, 2]):
        try:
            cl.frontier_from_text(bad, 3)
        except ValueError:
            pass
        else:
            raise AssertionError(bad)


FP = "ab" * 32
WHEN = datetime(2026, 1, 1, 8, 30, 0, 120000, tzinfo=UTC)


def test_entry_leaf_data_is_canonical_json() -> None:
    e = cl.entry(3, "claim", FP, "bus_ride", WHEN)
    assert e.recorded_at == "2026-01-01T08:30:00.120000Z"
    assert e.leaf_data() == (
        b'{"fingerprint":"' + FP.encode() + b'","kind":"claim","recorded_at":"2026-01-01T08:30:00.120000Z",'
        b'"scenario":"bus_ride","seq":3}'
    )
    assert e.leaf_hash() == hashlib.sha256(b"\x00" + e.leaf_data()).digest()
    assert cl.parse_entry(e.to_dict()) == e


def test_malformed_entries_are_refused() -> None:
    good = cl.entry(1, "withdrawal", FP, "walking", WHEN).to_dict()
    assert cl.parse_entry(good) is not None
    bad_values = {
        "seq": [0, -1, True, "1", 1.0],
        "kind": ["Claim", "credit", None],
        "fingerprint": ["AB" * 32, "ab" * 31, 7],
        "scenario": ["", "Bus", "x" * 65, 3],
        "recorded_at": ["2026-01-01T08:30:00Z", "2026-01-01T08:30:00.120000+00:00", "2026-13-01T08:30:00.000000Z", 1],
    }
    for field, values in bad_values.items():
        for value in values:
            assert cl.parse_entry({**good, field: value}) is None, (field, value)
    assert cl.parse_entry({**good, "extra": 1}) is None
    assert cl.parse_entry({k: v for k, v in good.items() if k != "seq"}) is None
    assert cl.parse_entry([good]) is None


def test_pages_must_be_gapless_and_the_peers_own() -> None:
    entries = [cl.entry(s, "claim", f"{s:064x}", "bus_ride", WHEN).to_dict() for s in (5, 6, 7)]
    page = {"platform_id": "cn-a", "entries": entries, "tree_size": 7}
    assert [e.seq for e in cl.parse_page(page, "cn-a", 4) or []] == [5, 6, 7]
    assert cl.parse_page(page, "cn-b", 4) is None
    assert cl.parse_page(page, "cn-a", 3) is None  # starts at 5, 4 was asked for
    assert cl.parse_page({**page, "entries": [entries[0], entries[2]]}, "cn-a", 4) is None
    assert cl.parse_page({**page, "entries": "no"}, "cn-a", 4) is None
    assert cl.parse_page({**page, "tree_size": "7"}, "cn-a", 4) is None
    assert cl.parse_page({**page, "entries": []}, "cn-a", 7) == []


KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def test_signed_heads_verify_and_any_change_breaks_them() -> None:
    head = cl.sign_head(KEY, "cn-a", 5, 1767225600, "cd" * 32)
    assert cl.head_string("cn-a", 5, 1767225600, "cd" * 32) == ("tanhui-interop/1\ntree-head\ncn-a\n5\n1767225600\n" + "cd" * 32)
    assert cl.parse_head(head.to_dict()) == head
    assert cl.head_verifies(KEY.public_key(), head)
    assert not cl.head_verifies(Ed25519PrivateKey.generate().public_key(), head)
    for changed in (
        {"platform_id": "cn-b"},
        {"tree_size": 6},
        {"timestamp": 1767225601},
        {"root_hash": "ce" * 32},
        {"signature": head.signature[:-2] + ("AA" if head.signature[-2:] != "AA" else "BA")},
        {"signature": "not base64!"},
    ):
        forged = cl.parse_head({**head.to_dict(), **changed})
        assert forged is not None and not cl.head_verifies(KEY.public_key(), forged), changed
    for bad in ({"tree_size": -1}, {"tree_size": "5"}, {"root_hash": "CD" * 32}, {"platform_id": "A"}, {"extra": 1}):
        assert cl.parse_head({**head.to_dict(), **bad}) is None, bad
    assert cl.parse_head("head") is None
