"""Identity, peers, signed peer requests and statements through the services, on SQLite and PostgreSQL
(each test a database of its own: a deployment has one identity)."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from tanhui import secretbox
from tanhui.domain import platform_signing as ps
from tanhui.domain import portable_statement as stm
from tanhui.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorised
from tanhui.services import audit, interop, portable_statements, secret_keys
from tanhui.services.principal import Principal
from tanhui.store import Store
from tests.registry.helpers import NOW, VINTAGE, city, issue_day

PEER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PEER_PUBLIC = ps.public_key_text(PEER_KEY)


@pytest.fixture
def federation_key(tmp_path: Path) -> Path:
    path = tmp_path / "federation.key"
    secretbox.write_key_file(path, [secretbox.new_key_text()], replace=False)
    return path


def _init(store: Store, federation_key: Path, platform_id: str = "cn-a") -> dict[str, str]:
    return interop.init_platform(store, platform_id, "甲城碳惠", federation_key)


def test_init_makes_one_sealed_identity(store: Store, federation_key: Path) -> None:
    with pytest.raises(NotFound):
        interop.public_info(store)
    made = _init(store, federation_key)
    assert made["platform_id"] == "cn-a" and ps.public_key(made["public_key"]) is not None
    info = interop.public_info(store)
    assert info == {**made, "algorithm": "Ed25519", "protocol": "tanhui-interop/1", "protocol_version": 1}
    platform_id, key = interop.signing_key(store)
    assert platform_id == "cn-a" and ps.public_key_text(key) == made["public_key"]
    # nothing secret in the clear: the stored row holds neither the seed nor the federation key
    with store.engine.connect() as conn:
        row = " ".join(str(v) for v in conn.execute(text("SELECT * FROM interop_platform")).one())
    assert ps.seed_text(key) not in row and secretbox.key_file_words(federation_key)[0] not in row
    if store.url.startswith("sqlite:///"):  # nor the database's files (its log included), in any spelling
        database = Path(store.url.removeprefix("sqlite:///"))
        seed = base64.urlsafe_b64decode(ps.seed_text(key) + "=")
        federation = interop.federation_key(store)
        for path in database.parent.glob(database.name + "*"):
            if path.suffix != ".key":
                data = path.read_bytes()
                for secret in (
                    seed,
                    ps.seed_text(key).encode(),
                    federation,
                    secretbox.key_file_words(federation_key)[0].encode(),
                ):
                    assert secret not in data, path
    with pytest.raises(Conflict) as again:
        _init(store, federation_key, "cn-b")
    assert again.value.code == "platform_exists"
    assert interop.signing_key(store)[1].public_key().public_bytes_raw() == key.public_key().public_bytes_raw()


def test_the_federation_key_is_read_back_as_its_bytes(store: Store, federation_key: Path) -> None:
    _init(store, federation_key)
    word = secretbox.key_file_words(federation_key)[0]
    assert ps.b64url(interop.federation_key(store)) == word.rstrip("=").replace("+", "-").replace("/", "_")
    assert len(interop.federation_key(store)) == 32


def test_init_refuses_an_exposed_federation_key_and_bad_input(store: Store, federation_key: Path, tmp_path: Path) -> None:
    os.chmod(federation_key, 0o640)
    with pytest.raises(InvalidInput) as exposed:
        _init(store, federation_key)
    assert exposed.value.code == "secret_key_file_exposed"
    os.chmod(federation_key, 0o600)
    with pytest.raises(InvalidInput) as bad_id:
        _init(store, federation_key, "CN_A")
    assert bad_id.value.code == "invalid_platform_id"
    with pytest.raises(InvalidInput):
        interop.init_platform(store, "cn-a", "  ", federation_key)
    with pytest.raises(InvalidInput):
        interop.init_platform(store, "cn-a", "A", tmp_path / "missing.key")
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM interop_platform")).scalar_one() == 0


def test_peers_are_added_listed_removed_and_added_again(store: Store, federation_key: Path) -> None:
    _init(store, federation_key)
    peer = interop.add_peer(store, "cn-b", "https://b.example.org/", PEER_PUBLIC)
    assert (peer.platform_id, peer.url, peer.status) == ("cn-b", "https://b.example.org", "active")
    with pytest.raises(Conflict):
        interop.add_peer(store, "cn-b", "https://b.example.org", PEER_PUBLIC)
    for bad in [("cn-a", "https://a.example.org", PEER_PUBLIC), ("cn-c", "ftp://c", PEER_PUBLIC), ("cn-c", "https://c", "xyz")]:
        with pytest.raises(InvalidInput):
            interop.add_peer(store, *bad)
    assert [p.platform_id for p in interop.list_peers(store)] == ["cn-b"]
    interop.remove_peer(store, "cn-b")
    assert interop.list_peers(store) == []
    assert [p.status for p in interop.list_peers(store, include_removed=True)] == ["removed"]
    with pytest.raises(NotFound):
        interop.remove_peer(store, "cn-b")
    again = interop.add_peer(store, "cn-b", "https://b2.example.org", PEER_PUBLIC)
    assert (again.status, again.url, again.removed_at) == ("active", "https://b2.example.org", None)


def _request(timestamp: int, nonce: str = "nonce-0123456789abcdef", receiver: str = "cn-a", key: Ed25519PrivateKey = PEER_KEY):
    ts = str(timestamp)
    body = b'{"hello":1}'
    signature = ps.sign(key, "cn-b", receiver, ts, nonce, "POST", "/v1/interop/ping", body)
    return interop.SignedPeerRequest("cn-b", ts, nonce, signature, "POST", "/v1/interop/ping", body)


def test_a_peer_request_is_authenticated_once(store: Store, federation_key: Path) -> None:
    _init(store, federation_key)
    now = datetime.now(UTC)
    with pytest.raises(Unauthorised) as unknown:
        interop.authenticate(store, _request(int(now.timestamp())), now)
    assert unknown.value.code == "unknown_platform"
    interop.add_peer(store, "cn-b", "http://127.0.0.1:1", PEER_PUBLIC)
    good = _request(int(now.timestamp()))
    peer = interop.authenticate(store, good, now)
    assert interop.ping(store, peer, good.nonce or "", now)["peer"] == "cn-b"
    with pytest.raises(Unauthorised) as replay:
        interop.ping(store, interop.authenticate(store, good, now), good.nonce or "", now)
    assert replay.value.code == "replayed_request"
    refusals = {
        "stale_request": _request(int((now - timedelta(seconds=301)).timestamp()), "nonce-stale-0123456789"),
        "bad_signature": _request(int(now.timestamp()), "nonce-other-receiver-1", receiver="cn-c"),
    }
    for code, request in refusals.items():
        with pytest.raises(Unauthorised) as refused:
            interop.authenticate(store, request, now)
        assert refused.value.code == code
    forged = _request(int(now.timestamp()), "nonce-forged-012345678", key=Ed25519PrivateKey.generate())
    with pytest.raises(Unauthorised):
        interop.authenticate(store, forged, now)
    interop.remove_peer(store, "cn-b")
    with pytest.raises(Unauthorised) as removed:
        interop.authenticate(store, _request(int(now.timestamp()), "nonce-after-removal-1"), now)
    assert removed.value.code == "unknown_platform"


def test_rotating_the_secret_key_reseals_the_platform_keys(
    store: Store, federation_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_key = tmp_path / "secret.key"  # the rotation rewrites the key file: not the suite's shared one
    secretbox.write_key_file(own_key, [secretbox.new_key_text()], replace=False)
    monkeypatch.setenv("TANHUI_SECRET_KEY_FILE", str(own_key))
    made = _init(store, federation_key)
    new_key = tmp_path / "new.key"
    secretbox.write_key_file(new_key, [secretbox.new_key_text()], replace=False)
    done = secret_keys.rotate_key(store, new_key)
    assert done.resealed == 2
    assert secret_keys.check(store).by_key == {done.new_key: 2}
    assert ps.public_key_text(interop.signing_key(store)[1]) == made["public_key"]
    assert len(interop.federation_key(store)) == 32


# -- statements -------------------------------------------------------------------------------------


def _person(store: Store, scheme_id: str) -> int:
    c = city(store, scheme_id)
    c.tonnes(2)
    c.bus("u0", "T1")
    with store.unit_of_work(write=False) as uow:
        found = uow.consents.link(c.partner.pk, "u0")
    assert found is not None
    return int(found[0])


def test_a_statement_of_a_year_verifies_here_and_says_why_not(store: Store, federation_key: Path, scheme_id: str) -> None:
    from tanhui.services.registry import issuance

    account_id = _person(store, scheme_id)
    with pytest.raises(NotFound):
        portable_statements.issue(store, account_id, VINTAGE, now=NOW)
    _init(store, federation_key)
    issuance.issue(store, scheme_id, VINTAGE, as_of=issue_day(), now=NOW)
    made = portable_statements.issue(store, account_id, VINTAGE, now=NOW)
    payload = made["payload"]
    assert payload["iss"] == "cn-a" and payload["period"]["year"] == VINTAGE
    assert payload["carbon_g"] == sum(payload["carbon_g_by_scenario"].values()) > 0
    assert set(payload["carbon_g_by_scenario"]) == {"electricity_saving", "bus_ride"}
    assert payload["points"]["earned"] > 0 and payload["credits"]["carbon_g"] > 0
    assert payload["sub"] == stm.subject(stm.subject_key(interop.signing_key(store)[1]), scheme_id, account_id)
    verdict = portable_statements.verify(store, made["statement"], now=NOW + timedelta(days=1))
    assert verdict.valid and verdict.payload == payload
    assert portable_statements.verify(store, made["statement"], now=NOW + timedelta(days=91)).reason == "expired"
    header, body, signature = made["statement"].split(".")
    forged = {**payload, "carbon_g": payload["carbon_g"] * 10}
    tampered = f"{header}.{ps.b64url(stm.payload_bytes(forged))}.{signature}"
    assert portable_statements.verify(store, tampered, now=NOW).reason == "bad_signature"
    stranger = stm.sign(PEER_KEY, "cn-z", {**payload, "iss": "cn-z"})
    assert portable_statements.verify(store, stranger, now=NOW).reason == "unknown_platform"
    with pytest.raises(Forbidden):
        portable_statements.issue(store, Principal(account_id, partner_pk=1), VINTAGE, now=NOW)
    with pytest.raises(InvalidInput):
        portable_statements.issue(store, account_id, "20x5", now=NOW)


def test_a_peers_statement_verifies_only_while_it_is_a_peer_with_that_key(store: Store, federation_key: Path) -> None:
    _init(store, federation_key)
    payload = stm.build_payload(
        platform_id="cn-b",
        subject="sub_" + "0" * 32,
        year=2026,
        timezone="Asia/Shanghai",
        carbon_g_by_scenario={"bus_ride": 80},
        points_earned=8,
        points_balance=8,
        credits=[],
        issued_unix=int(NOW.timestamp()),
    )
    statement = stm.sign(PEER_KEY, "cn-b", payload)
    assert portable_statements.verify(store, statement, now=NOW).reason == "unknown_platform"
    interop.add_peer(store, "cn-b", "https://b.example.org", PEER_PUBLIC)
    assert portable_statements.verify(store, statement, now=NOW).valid
    interop.remove_peer(store, "cn-b")
    interop.add_peer(store, "cn-b", "https://b.example.org", ps.public_key_text(Ed25519PrivateKey.generate()))
    assert portable_statements.verify(store, statement, now=NOW).reason == "bad_signature"
    with pytest.raises(InvalidInput):
        portable_statements.verify(store, 42)


def test_identity_and_peer_changes_are_audited_without_secrets(store: Store, federation_key: Path) -> None:
    made = interop.init_platform(store, "cn-a", "甲城碳惠", federation_key, actor="cli:ops")
    interop.add_peer(store, "cn-b", "https://b.example.org", PEER_PUBLIC, actor="cli:ops")
    interop.remove_peer(store, "cn-b", actor="cli:ops")
    logged = [(r.actor, r.action, r.target, r.scheme_id) for r in reversed(audit.list_entries(store, None, limit=10))]
    assert logged == [
        ("cli:ops", "interop.init", "cn-a", None),
        ("cli:ops", "interop.peer_add", "cn-b", None),
        ("cli:ops", "interop.peer_remove", "cn-b", None),
    ]
    text_logged = json.dumps([r.to_dict() for r in audit.list_entries(store, None, limit=10)])
    assert made["public_key"] in text_logged and PEER_PUBLIC in text_logged
    assert ps.seed_text(interop.signing_key(store)[1]) not in text_logged
    assert secretbox.key_file_words(federation_key)[0] not in text_logged
