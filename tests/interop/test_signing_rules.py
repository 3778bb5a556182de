"""Platform request signing and portable statements as pure functions (domain/platform_signing.py,
domain/portable_statement.py): the canonical form, and that any change to a signed request or
statement fails its check."""

from __future__ import annotations

import base64
import json
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tanhui.domain import platform_signing as ps
from tanhui.domain import portable_statement as stm
from tanhui.domain import signing

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUBLIC = KEY.public_key()
REQUEST = ("cn-a", "cn-b", "1767225600", "n-0123456789abcdef", "POST", "/v1/interop/ping", b"{}")


def test_the_canonical_string_is_the_partner_one_behind_protocol_sender_and_receiver() -> None:
    text = ps.canonical_string(*REQUEST)
    lines = text.split("\n")
    assert lines[:3] == ["tanhui-interop/1", "cn-a", "cn-b"]
    assert "\n".join(lines[3:]) == signing.canonical_string("1767225600", "n-0123456789abcdef", "POST", "/v1/interop/ping", b"{}")
    assert lines[-1] == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"  # sha256 of "{}"


def test_a_signature_verifies_and_is_deterministic() -> None:
    signature = ps.sign(KEY, *REQUEST)
    assert signature.startswith("ed25519=") and "=" not in signature[len("ed25519=") :]
    assert signature == ps.sign(KEY, *REQUEST)  # Ed25519 is deterministic: test vectors are stable
    assert ps.signature_matches(PUBLIC, signature, *REQUEST)
    assert not ps.signature_matches(OTHER.public_key(), signature, *REQUEST)


def test_a_request_signed_for_one_receiver_does_not_verify_at_another() -> None:
    signature = ps.sign(KEY, *REQUEST)
    sender, _receiver, *rest = REQUEST
    assert not ps.signature_matches(PUBLIC, signature, sender, "cn-c", *rest)


def test_malformed_signatures_are_refused_not_raised() -> None:
    good = ps.sign(KEY, *REQUEST)
    for bad in [
        "",
        "v1=" + good[8:],
        good + "=",
        good[:-2],
        "ed25519=" + "A" * 86,
        "ed25519=***",
        good.replace("ed25519=", "ED25519="),
    ]:
        assert not ps.signature_matches(PUBLIC, bad, *REQUEST), bad


def test_keys_round_trip_through_their_text() -> None:
    seed = ps.seed_text(KEY)
    assert ps.public_key_text(ps.private_key(seed)) == ps.public_key_text(KEY)
    public = ps.public_key(ps.public_key_text(KEY))
    assert public is not None and ps.public_key_text(public) == ps.public_key_text(KEY)
    for bad in ["", "abc", ps.public_key_text(KEY) + "=", ps.public_key_text(KEY)[:-1], "+" * 43]:
        assert ps.public_key(bad) is None


def test_platform_ids() -> None:
    for good in ["cn-a", "cn-luzhou", "org.example.tanhui", "a12"]:
        assert ps.valid_platform_id(good), good
    for bad in ["", "ab", "A-city", "cn_a", "-cn", "cn-", "1cn", "c" * 65, "cn a", "城市"]:
        assert not ps.valid_platform_id(bad), bad


@st.composite
def tampered(draw: st.DrawFn) -> tuple[tuple[str, str, str, str, str, str, bytes], tuple[str, str, str, str, str, str, bytes]]:
    """A request and a copy with one field changed."""
    text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-/?=&", min_size=1, max_size=30)
    original = (
        draw(text),
        draw(text),
        str(draw(st.integers(0, 10**10))),
        draw(text),
        draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"])),
        "/" + draw(text),
        draw(st.binary(max_size=200)),
    )
    field = draw(st.integers(0, 6))
    changed = list(original)
    if field == 6:
        body = original[6]
        changed[6] = draw(st.binary(max_size=200).filter(lambda b: b != body))
    elif field == 4:
        changed[4] = draw(st.sampled_from([m for m in ["GET", "POST", "PUT", "DELETE"] if m != original[4]]))
    else:
        value = str(original[field])
        changed[field] = draw(text.filter(lambda t: t != value))
    return original, tuple(changed)  # type: ignore[return-value]


@settings(max_examples=200, deadline=None)
@given(tampered())
def test_any_change_to_a_signed_request_fails_verification(pair: tuple[tuple, tuple]) -> None:
    original, changed = pair
    signature = ps.sign(KEY, *original)
    assert ps.signature_matches(PUBLIC, signature, *original)
    assert not ps.signature_matches(PUBLIC, signature, *changed)


# -- statements -------------------------------------------------------------------------------------

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


def _payload(issued: int = NOW) -> dict:
    return stm.build_payload(
        platform_id="cn-a",
        subject=stm.subject(stm.subject_key(KEY), "city", 42),
        year=2025,
        timezone="Asia/Shanghai",
        carbon_g_by_scenario={"bus_ride": 160, "walking": 30},
        points_earned=19,
        points_balance=7,
        credits=[{"batch_id": "BATCH-city-2025-0001", "events": 2, "carbon_g": 160}],
        issued_unix=issued,
    )


def test_a_statement_verifies_with_its_platforms_key() -> None:
    token = stm.sign(KEY, "cn-a", _payload())
    verdict = stm.verify(token, PUBLIC, NOW + 60)
    assert verdict.valid and verdict.reason is None and verdict.platform_id == "cn-a"
    assert verdict.payload == _payload() and verdict.payload["carbon_g"] == 190
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "Ed25519", "kid": "cn-a", "typ": "tanhui-statement+jws"}


def test_statement_reasons() -> None:
    token = stm.sign(KEY, "cn-a", _payload())
    assert stm.verify(token, OTHER.public_key(), NOW).reason == "bad_signature"
    assert stm.verify(token, None, NOW).reason == "unknown_platform"
    assert stm.verify(token, PUBLIC, NOW + stm.VALID_S).reason == "expired"
    assert stm.verify(token, PUBLIC, NOW - stm.CLOCK_SKEW_S - 1).reason == "not_yet_valid"
    assert stm.verify("a.b", PUBLIC, NOW).reason == "malformed"
    assert stm.verify("not a statement", PUBLIC, NOW).reason == "malformed"
    # signed by cn-a's key but claiming cn-b as issuer inside
    lying = stm.sign(KEY, "cn-a", {**_payload(), "iss": "cn-b"})
    assert stm.verify(lying, PUBLIC, NOW).reason == "issuer_mismatch"
    # the older algorithm name, or "none", is not accepted
    header = ps.b64url(json.dumps({"alg": "none", "kid": "cn-a", "typ": stm.TYPE}).encode())
    assert stm.verify(f"{header}.{token.split('.')[1]}.x", PUBLIC, NOW).reason == "unsupported_algorithm"


def test_the_subject_is_stable_per_person_and_says_nothing_without_the_key() -> None:
    key = stm.subject_key(KEY)
    assert stm.subject(key, "city", 42) == stm.subject(key, "city", 42)
    assert stm.subject(key, "city", 42) != stm.subject(key, "city", 43)
    assert stm.subject(key, "city", 42) != stm.subject(stm.subject_key(OTHER), "city", 42)
    assert re.fullmatch(r"sub_[0-9a-f]{32}", stm.subject(key, "city", 42))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_change_to_a_statement_fails_verification(data: st.DataObject) -> None:
    token = stm.sign(KEY, "cn-a", _payload())
    position = data.draw(st.integers(0, len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[position]))
    changed = token[:position] + replacement + token[position + 1 :]
    verdict = stm.verify(changed, PUBLIC, NOW)
    # a change in the last character's spare bits can decode to the same bytes: then it is the same statement
    same = changed.split(".")[:2] == token.split(".")[:2] and _sig(changed) == _sig(token)
    assert same or not verdict.valid


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["bus_ride", "walking", "metro_ride"]), st.integers(0, 10**9)), st.integers(0, 10**6))
def test_a_changed_payload_under_the_old_signature_fails(by_scenario: dict[str, int], extra: int) -> None:
    token = stm.sign(KEY, "cn-a", _payload())
    header, _payload_text, signature = token.split(".")
    forged = {**_payload(), "carbon_g_by_scenario": by_scenario, "carbon_g": sum(by_scenario.values()) + extra + 1}
    assert not stm.verify(f"{header}.{ps.b64url(stm.payload_bytes(forged))}.{signature}", PUBLIC, NOW).valid


def _sig(token: str) -> bytes | None:
    parts = token.split(".")
    return ps.unb64url(parts[2]) if len(parts) == 3 else None
