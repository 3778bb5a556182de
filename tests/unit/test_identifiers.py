"""Issue 18, finding 10: identifiers in one canonical form (domain/identifiers.py, domain/events.fingerprint).

Properties: both rules are idempotent; the trivial variants of an id (zero-width and format characters,
case, full-width forms, surrounding white space) give the id's canonical form and so one fingerprint; ids
that were already canonical keep their form, and behaviours stored before the rule are still found.
"""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from tanhui.domain import events as ev
from tanhui.domain import identifiers

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/#"
plain_ids = st.text(alphabet=ID_CHARS, min_size=1, max_size=24)
INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202c",
    "\u2066",
    "\u00ad",
    "\ufe0f",
]
SPACES = [" ", "\t", "\u3000", "\u00a0", "\u2003", "\n"]


def full_width(text: str) -> str:
    """The full-width form of every printable ASCII character (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def legacy_fingerprint(scenario: str, scope: str, parts: tuple[str, ...], account_id: int | None) -> str:
    """The fingerprint as main computed it before finding 10 (parts as sent): what older rows hold."""
    owner = "" if scope == "global" else str(account_id)
    return hashlib.sha256("\x1f".join((scenario, scope, owner, *parts)).encode("utf-8")).hexdigest()[:32]


@st.composite
def variants(draw: st.DrawFn) -> tuple[str, str]:
    """(an id, a variant of it a careless or dishonest partner might send)."""
    plain = draw(plain_ids)
    chars = list(plain)
    for i, c in enumerate(chars):
        choice = draw(st.sampled_from(["same", "swap_case", "full_width"]))
        chars[i] = c.swapcase() if choice == "swap_case" else full_width(c) if choice == "full_width" else c
    for _ in range(draw(st.integers(0, 4))):
        chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from(INVISIBLE)))
    before = "".join(draw(st.lists(st.sampled_from(SPACES), max_size=3)))
    after = "".join(draw(st.lists(st.sampled_from(SPACES), max_size=3)))
    return plain, before + "".join(chars) + after


@given(st.text(max_size=40))
def test_behaviour_id_is_idempotent(text: str) -> None:
    once = identifiers.behaviour_id(text)
    assert identifiers.behaviour_id(once) == once


@given(st.text(max_size=40))
def test_user_ref_is_idempotent_and_holds_nothing_invisible(text: str) -> None:
    once = identifiers.user_ref(text)
    if once is not None:
        assert identifiers.user_ref(once) == once
        assert once == once.strip() and not any(identifiers.invisible(c) for c in once)


@given(variants())
def test_variants_of_a_behaviour_id_collide(pair: tuple[str, str]) -> None:
    plain, variant = pair
    assert identifiers.behaviour_id(variant) == identifiers.behaviour_id(plain) == plain.lower()
    assert ev.fingerprint("bus_ride", "global", ("trip", variant), 1) == ev.fingerprint("bus_ride", "global", ("trip", plain), 2)


@given(plain_ids)
def test_ids_already_canonical_keep_their_form_and_their_fingerprint(plain: str) -> None:
    lower = plain.lower()
    assert identifiers.behaviour_id(lower) == lower
    parts = ("trip", lower)
    assert ev.fingerprint("bus_ride", "global", parts, None) == legacy_fingerprint("bus_ride", "global", parts, None)
    # the one earlier form of a canonical id: the same id in capitals (none for an id without letters)
    assert ev.earlier_fingerprints("bus_ride", "global", parts, None) == (
        () if lower.upper() == lower else (legacy_fingerprint("bus_ride", "global", ("trip", lower.upper()), None),)
    )
    for day in (("day", "2026-11-25"), ("meal", "2026-11-25", "lunch"), ("period", "2026-10")):  # account identities
        assert ev.fingerprint("walking", "account", day, 7) == legacy_fingerprint("walking", "account", day, 7)
    assert identifiers.user_ref(plain) == plain  # a user_ref keeps its case


@given(variants())
def test_a_behaviour_stored_before_the_rule_is_still_found(pair: tuple[str, str]) -> None:
    """A row written before finding 10 holds the legacy fingerprint of the id as it was sent: the same id
    sent again is found exactly, and variants are found when the stored id was in capitals or lower case."""
    plain, variant = pair
    for stored in (plain, plain.upper(), plain.lower()):
        old = legacy_fingerprint("bus_ride", "global", ("trip", stored), None)
        again = {
            ev.fingerprint("bus_ride", "global", ("trip", stored), None),
            *ev.earlier_fingerprints("bus_ride", "global", ("trip", stored), None),
        }
        assert old in again  # the exact resend
        if stored != plain:  # all capitals or all lower case: every variant too
            sent = ("trip", variant.strip())
            found = {ev.fingerprint("bus_ride", "global", sent, None), *ev.earlier_fingerprints("bus_ride", "global", sent, None)}
            assert old in found, (stored, variant)


@given(st.text(alphabet="0123456789abcXYZ_-", min_size=1, max_size=20), st.sampled_from(SPACES))
def test_user_ref_variants_are_one_user_ref(plain: str, space: str) -> None:
    assert identifiers.user_ref(plain + space) == plain
    assert identifiers.user_ref(space + full_width(plain)) == plain
    assert identifiers.user_ref(plain.upper()) == plain.upper() != plain or plain.upper() == plain  # never case-folded


@given(
    st.text(alphabet=ID_CHARS, min_size=2, max_size=24),
    st.sampled_from([*INVISIBLE, "\x00", "\x07", "\x1b", "\u0085", "\t"]),
    st.data(),
)
def test_a_user_ref_with_a_control_or_format_character_is_refused(plain: str, char: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(1, len(plain) - 1))  # inside it: white space around a user_ref is trimmed
    assert identifiers.user_ref(plain[:at] + char + plain[at:]) is None
    assert ev.parse_event({"event_id": "e", "user_ref": plain[:at] + char + plain[at:]}).problems.get("user_ref") == "invalid"
    if char not in SPACES and not char.isspace():
        assert identifiers.user_ref(char + plain) is None  # at either end too, unless it is white space


def test_examples_from_the_finding() -> None:
    trip = ev.fingerprint("bus_ride", "global", ("trip", "T-20261130-0001"), 1)
    for variant in ("t-20261130-0001", "T\u200b-20261130-0001", "Ｔ－２０２６１１３０－０００１", " T-20261130-0001\ufeff"):
        assert ev.fingerprint("bus_ride", "global", ("trip", variant), 2) == trip, variant
    assert identifiers.user_ref("10086 ") == identifiers.user_ref("１００８６") == "10086"
    assert ev.parse_event({"user_ref": "１００８６ "}).user_ref == "10086"
    assert ev.parse_event({"user_ref": "１００８６ "}).user_ref_sent == "１００８６ "
    assert ev.parse_event({"user_ref": "10086"}).user_ref_sent is None
    # only invisible characters: no value (else every such id would be one behaviour)
    assert identifiers.behaviour_id("\u200b\u3000\ufeff") == ""
    assert identifiers.user_ref(" \u3000") is None
    # the kind stays as the methodology file names it; only the values vary in the earlier forms
    assert ev.earlier_fingerprints("bus_ride", "global", ("trip", "ABC"), None) == (
        legacy_fingerprint("bus_ride", "global", ("trip", "ABC"), None),
    )
