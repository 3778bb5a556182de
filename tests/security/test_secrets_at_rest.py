"""Secrets at rest (issue 18): a partner's HMAC secret is nowhere in the database, its write-ahead log
or a backup, in any spelling (raw, base64, hex, the random bytes behind it); signed requests still
verify; `tanhui secrets rotate-key` re-seals every secret in one audited transaction, after which the
old key opens nothing and a running server still verifies; a wrong, exposed or missing key is one
line and a non-zero exit (a 503 JSON body on the API), never a traceback; plaintext rows written
before revision 0010 are sealed by `tanhui db upgrade`.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, inspect, text

from tanhui import secretbox
from tanhui.errors import InvalidInput, ServiceUnavailable
from tanhui.secretbox import Key, Keyring, Sealed
from tanhui.services import partners, schemes, secret_keys
from tanhui.services.partners import SignedRequest
from tanhui.store import Store, migrate
from tanhui.store.schema import partner_secrets as secrets_table
from tanhui.store.schema import partners as partners_table
from tests.live import PYTHON, LiveServer, Partner, cli, free_port

KEY_VARS = (secretbox.ENV_KEY, secretbox.ENV_KEY_FILE)
NOW = datetime.now(UTC)


def spellings(secret: str) -> dict[str, bytes]:
    """Every form a secret could be stored in: as text, base64, hex, and the random bytes behind ``sk_``."""
    raw = secret.encode()
    inner = base64.urlsafe_b64decode(secret.removeprefix("sk_") + "=" * (-len(secret.removeprefix("sk_")) % 4))
    assert len(inner) == 32
    forms = {
        "raw": raw,
        "base64": base64.b64encode(raw),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "utf-16": secret.encode("utf-16-le"),
        "random bytes": inner,
        "random hex": inner.hex().encode(),
        "random base64": base64.b64encode(inner).rstrip(b"="),
    }
    # a prefix long enough to be the secret, short enough to survive a line break or a page boundary
    forms["raw, first 24 characters"] = raw[:24]
    return forms


def found_in(data: bytes, secret: str) -> list[str]:
    return [name for name, form in spellings(secret).items() if form in data]


def checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def files_of(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()}


def stored_rows(url: str) -> list[tuple[Any, ...]]:
    """(secret id, key id, stored text, partner id) of every stored secret."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT s.id, s.key_id, s.secret, p.id FROM partner_secrets s "
                        "JOIN partners p ON p.pk = s.partner_pk ORDER BY s.id"
                    )
                )
            ]
    finally:
        engine.dispose()


def one_line_error(result: Any, code: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error[{code}]:"), result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def serve_once(url: str) -> subprocess.CompletedProcess[str]:
    """`tanhui serve`, expected to refuse at start (a server that starts instead fails the test by timeout)."""
    return subprocess.run(
        [PYTHON, "-m", "tanhui.cli.main", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env={**os.environ, "TANHUI_DATABASE_URL": url, "TANHUI_LANG": "en"},
        timeout=60,
    )


@pytest.fixture
def no_key_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process and every process it starts use the default (the file beside the SQLite database)."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)


# -- the box itself ----------------------------------------------------------------------------


def test_a_sealed_value_opens_only_with_its_key_and_context() -> None:
    key, other = Key(os.urandom(32)), Key(os.urandom(32))
    sealed = key.seal("sk_example", "partner_secret:ptn_a")
    assert sealed.key_id == key.key_id != other.key_id and len(key.key_id) == 16
    assert "sk_example" not in sealed.text and key.seal("sk_example", "partner_secret:ptn_a").text != sealed.text  # fresh nonce
    assert Keyring([key]).open(sealed, "partner_secret:ptn_a") == "sk_example"
    with pytest.raises(ServiceUnavailable) as wrong_context:
        key.open(sealed, "partner_secret:ptn_b")  # A's secret copied into B's row does not open as B's
    assert wrong_context.value.code == "secret_damaged" and wrong_context.value.http_status == 503
    with pytest.raises(ServiceUnavailable) as unknown:
        Keyring([other]).open(sealed, "partner_secret:ptn_a")
    assert unknown.value.code == "secret_key_unknown"
    with pytest.raises(ServiceUnavailable, match="does not open"):
        other.open(Sealed(key.key_id, sealed.text), "partner_secret:ptn_a")  # the id forged: the tag still fails
    flipped = sealed.text[:20] + ("A" if sealed.text[20] != "A" else "B") + sealed.text[21:]
    with pytest.raises(ServiceUnavailable):
        key.open(Sealed(key.key_id, flipped), "partner_secret:ptn_a")


def test_keys_are_read_in_every_base64_spelling_and_bad_ones_are_named() -> None:
    raw = os.urandom(32)
    ids = {
        k[0].key_id
        for k in (
            secretbox.parse_keys(base64.b64encode(raw).decode(), "x"),
            secretbox.parse_keys(base64.urlsafe_b64encode(raw).decode().rstrip("="), "x"),
            secretbox.parse_keys(f"# comment\n\n{base64.b64encode(raw).decode()}  # the current key\n", "x"),
        )
    }
    assert ids == {Key(raw).key_id}
    two = secretbox.parse_keys(f"{secretbox.new_key_text()}, {secretbox.new_key_text()}", "TANHUI_SECRET_KEY")
    assert len(two) == 2 and two[0].key_id != two[1].key_id
    for bad in ("", "# only a comment", "not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(InvalidInput) as refused:
            secretbox.parse_keys(bad, "TANHUI_SECRET_KEY")
        assert refused.value.code == "secret_key_invalid" and "TANHUI_SECRET_KEY" in refused.value.message("en")


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k"
    secretbox.write_key_file(path, [secretbox.new_key_text()], replace=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secretbox.read_key_file(path)) == 1
    for mode in (0o640, 0o604, 0o660):
        path.chmod(mode)
        with pytest.raises(InvalidInput) as refused:
            secretbox.read_key_file(path)
        assert refused.value.code == "secret_key_file_exposed" and f"{mode:04o}" in refused.value.message("en")
    path.chmod(0o400)
    assert len(secretbox.read_key_file(path)) == 1
    with pytest.raises(FileExistsError):
        secretbox.write_key_file(path, [secretbox.new_key_text()], replace=False)


# -- nothing in the files ------------------------------------------------------------------------


def test_the_database_its_log_and_a_backup_hold_no_partner_secret(
    no_key_configured: None, live_server_factory: Any, tmp_path: Path
) -> None:
    """SQLite with no key configured: the default key file is made beside the database, 0600, and named
    (never printed); the secret is in none of the files, in any spelling, and requests still verify."""
    db = tmp_path / "tanhui.db"
    url = f"sqlite:///{db}"
    server: LiveServer = live_server_factory(url)
    server.tanhui("scheme", "create", "city", "--name", "城市")
    made = server.tanhui("partner", "create", "--scheme", "city", "--name", "公交", "--scenarios", "bus_ride", "--json")
    created = json.loads(made.stdout)
    secret, partner_id = created["secret"], created["partner_id"]
    key_file = Path(f"{db}.key")
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in made.stderr, made.stderr  # the path is told once, when it is made
    key_text = key_file.read_text().strip()
    assert key_text not in made.stdout + made.stderr
    rotated = json.loads(server.tanhui("partner", "rotate-secret", partner_id, "--json").stdout)["secret"]

    for one in (secret, rotated):
        partner = Partner(server.base_url, partner_id, one)
        try:
            assert partner.consent(f"u-{one[-4:]}").status_code == 201
        finally:
            partner.close()

    before_checkpoint = files_of(db)
    assert f"{db.name}-wal" in before_checkpoint  # the server wrote through the log
    checkpoint(db)
    backup = tmp_path / "backup.db"
    server.tanhui("db", "backup", str(backup))
    looked_at = {**{f"live {k}": v for k, v in before_checkpoint.items()}, **files_of(db), "backup": backup.read_bytes()}
    for name, data in looked_at.items():
        assert partner_id.encode() in data or name.endswith(("-wal", "-shm")), name  # the search does see rows
        for one in (secret, rotated):
            assert not found_in(data, one), (name, found_in(data, one))
        assert key_text.encode() not in data and base64.urlsafe_b64decode(key_text) not in data, name
    # and the key file is not part of the backup: it is the operator's to keep apart
    assert not Path(f"{backup}.key").exists()


@pytest.mark.postgres
def test_no_column_on_postgresql_holds_a_partner_secret(pg_databases: Any, scheme_id: str) -> None:
    url = pg_databases.create()
    store = Store(url)
    try:
        migrate.upgrade(store)
        schemes.create_scheme(store, scheme_id, "城市")
        created = partners.create_partner(store, scheme_id, "公交", ["bus_ride"])
        second = partners.rotate_secret(store, created.partner.id)
        engine = store.engine
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            assert "partner_secrets" in tables
            dumped = b"\n".join(
                str(row[0]).encode() for table in tables for row in conn.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t'))
            )
        assert created.partner.id.encode() in dumped  # the search reads every row of every table
        for one in (created.secret, second):
            assert not found_in(dumped, one), found_in(dumped, one)
        # and both secrets still verify a signature
        for one in (created.secret, second):
            assert partners.authenticate(store, signed(created.partner.id, one)).id == created.partner.id
    finally:
        store.dispose()
        pg_databases.drop(url)


def signed(partner_id: str, secret: str, body: bytes = b"{}") -> SignedRequest:
    import time

    from tanhui.domain import signing

    ts, nonce = str(int(time.time())), f"n-{time.time_ns()}"
    return SignedRequest(
        partner_id,
        ts,
        nonce,
        signing.sign(secret, ts, nonce, "POST", "/v1/partner/events", body),
        "POST",
        "/v1/partner/events",
        body,
    )


# -- rotation ----------------------------------------------------------------------------------


def test_rotate_key_reseals_everything_the_old_key_opens_nothing_and_a_running_server_verifies(
    no_key_configured: None, live_server_factory: Any, tmp_path: Path
) -> None:
    db = tmp_path / "tanhui.db"
    url = f"sqlite:///{db}"
    server: LiveServer = live_server_factory(url)
    server.tanhui("scheme", "create", "city", "--name", "城市")
    made = [
        json.loads(
            server.tanhui("partner", "create", "--scheme", "city", "--name", n, "--scenarios", "bus_ride", "--json").stdout
        )
        for n in ("甲", "乙")
    ]
    key_file = Path(f"{db}.key")
    old_key = secretbox.read_key_file(key_file)[0]
    assert {r[1] for r in stored_rows(url)} == {old_key.key_id}

    new_file = tmp_path / "new.key"
    out = server.tanhui("secrets", "new-key", str(new_file)).stdout
    assert stat.S_IMODE(new_file.stat().st_mode) == 0o600 and new_file.read_text().strip() not in out
    new_key = secretbox.read_key_file(new_file)[0]
    rotation = json.loads(server.tanhui("secrets", "rotate-key", "--new-key-file", str(new_file), "--json").stdout)
    assert rotation == {"new_key": new_key.key_id, "old_keys": [old_key.key_id], "resealed": 2, "installed_in": str(key_file)}

    rows = stored_rows(url)
    assert {r[1] for r in rows} == {new_key.key_id}
    assert [k.key_id for k in secretbox.read_key_file(key_file)] == [new_key.key_id]  # the configured file holds the new key
    assert {r[3] for r in rows} == {m["partner_id"] for m in made}
    for row_id, key_id, sealed, partner_id in rows:
        with pytest.raises(ServiceUnavailable) as unknown:
            Keyring([old_key]).open(Sealed(key_id, sealed), secret_keys.partner_context(partner_id))
        assert unknown.value.code == "secret_key_unknown", row_id
        with pytest.raises(ServiceUnavailable):  # even told it is its own, the old key does not open it
            old_key.open(Sealed(old_key.key_id, sealed), secret_keys.partner_context(partner_id))

    # the server that was running before the rotation verifies with the new key, without a restart
    for m in made:
        partner = Partner(server.base_url, m["partner_id"], m["secret"])
        try:
            assert partner.consent("u1").status_code == 201
        finally:
            partner.close()
    assert server.tanhui("secrets", "status").returncode == 0

    audit_rows = json.loads(server.tanhui("audit", "list", "--action", "secrets.rotate_key", "--json").stdout)
    assert len(audit_rows) == 1
    entry = audit_rows[0]
    assert entry["actor"].startswith("cli") and entry["target"] == f"key:{new_key.key_id}" and entry["scheme_id"] is None
    assert entry["details"] == {"from_keys": [old_key.key_id], "rows": 2}

    # the same key again is refused; an unreadable file is one line
    one_line_error(server.tanhui("secrets", "rotate-key", "--new-key-file", str(key_file), check=False), "secret_key_same")
    one_line_error(
        server.tanhui("secrets", "rotate-key", "--new-key-file", str(tmp_path / "nope.key"), check=False),
        "secret_key_file_unreadable",
    )


def test_a_rotation_that_fails_changes_no_row_and_leaves_the_key_file_as_it_was(no_key_configured: None, tmp_path: Path) -> None:
    db = tmp_path / "tanhui.db"
    url = f"sqlite:///{db}"
    store = Store(url)
    try:
        migrate.upgrade(store)
        schemes.create_scheme(store, "city", "城市")
        ids = [partners.create_partner(store, "city", n, ["bus_ride"]).partner.id for n in ("甲", "乙", "丙")]
        key_file = Path(f"{db}.key")
        key_before = key_file.read_bytes()
        last_id = stored_rows(url)[-1][0]
        with store.engine.begin() as conn:  # the last secret damaged: the rotation meets it after re-sealing two
            conn.execute(  # one character changed in the sealed text (whatever it was)
                text(
                    "UPDATE partner_secrets SET secret = substr(secret, 1, 20)"
                    " || CASE WHEN substr(secret, 21, 1) = 'A' THEN 'B' ELSE 'A' END || substr(secret, 22) WHERE id = :i"
                ),
                {"i": last_id},
            )
        rows_before = stored_rows(url)
        new_file = tmp_path / "new.key"
        secretbox.write_key_file(new_file, [secretbox.new_key_text()], replace=False)
        with pytest.raises(ServiceUnavailable) as damaged:
            secret_keys.rotate_key(store, new_file, actor="cli:test")
        assert damaged.value.code == "secret_damaged"
        assert stored_rows(url) == rows_before
        assert key_file.read_bytes() == key_before
        with store.unit_of_work(write=False) as uow:
            assert not uow.audit.list(None, "secrets.rotate_key", 10)
        assert len(ids) == 3
    finally:
        store.dispose()


# -- wrong, exposed and missing keys ---------------------------------------------------------------


def test_a_wrong_key_is_one_line_on_the_cli_and_a_503_body_on_the_api(
    live_server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'tanhui.db'}"
    key_a, key_b = secretbox.new_key_text(), secretbox.new_key_text()
    monkeypatch.delenv(secretbox.ENV_KEY_FILE, raising=False)
    monkeypatch.setenv(secretbox.ENV_KEY, key_a)
    server: LiveServer = live_server_factory(url)  # no partner yet: it starts with key A
    server.tanhui("scheme", "create", "city", "--name", "城市")
    with_b = {secretbox.ENV_KEY: key_b}
    created = json.loads(
        cli(
            url, "partner", "create", "--scheme", "city", "--name", "公交", "--scenarios", "bus_ride", "--json", env=with_b
        ).stdout
    )
    # the server holds key A; the secret was sealed with key B
    partner = Partner(server.base_url, created["partner_id"], created["secret"])
    try:
        answer = partner.consent("u1")
    finally:
        partner.close()
    assert answer.status_code == 503, answer.text
    body = answer.json()["error"]
    assert body["code"] == "secret_key_unknown" and key_b not in answer.text and key_a not in answer.text
    # the CLI and a server start say so in one line
    one_line_error(cli(url, "secrets", "status", check=False), "secret_key_unknown")
    one_line_error(serve_once(url), "secret_key_unknown")
    assert cli(url, "secrets", "status", env=with_b).returncode == 0
    # not base64, a file others can read, a missing file
    one_line_error(cli(url, "secrets", "status", check=False, env={secretbox.ENV_KEY: "not-a-key"}), "secret_key_invalid")
    exposed = tmp_path / "exposed.key"
    secretbox.write_key_file(exposed, [key_b], replace=False)
    exposed.chmod(0o644)
    monkeypatch.delenv(secretbox.ENV_KEY)
    one_line_error(
        cli(url, "secrets", "status", check=False, env={secretbox.ENV_KEY_FILE: str(exposed)}), "secret_key_file_exposed"
    )
    one_line_error(
        cli(url, "secrets", "status", check=False, env={secretbox.ENV_KEY_FILE: str(tmp_path / "missing.key")}),
        "secret_key_file_unreadable",
    )
    exposed.chmod(0o600)
    assert cli(url, "secrets", "status", env={secretbox.ENV_KEY_FILE: str(exposed)}).returncode == 0


def test_a_missing_default_key_file_is_an_error_not_a_new_key(no_key_configured: None, tmp_path: Path) -> None:
    db = tmp_path / "tanhui.db"
    url = f"sqlite:///{db}"
    store = Store(url)
    try:
        migrate.upgrade(store)
        schemes.create_scheme(store, "city", "城市")
        partners.create_partner(store, "city", "公交", ["bus_ride"])
    finally:
        store.dispose()
    key_file = Path(f"{db}.key")
    key_file.unlink()
    one_line_error(cli(url, "secrets", "status", check=False), "secret_key_file_unreadable")
    one_line_error(serve_once(url), "secret_key_file_unreadable")
    assert not key_file.exists()  # opening never makes a key: the secrets stored need the old one


@pytest.mark.postgres
def test_postgresql_without_a_key_is_refused_in_one_line(pg_databases: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_databases.create()
    try:
        for var in KEY_VARS:
            monkeypatch.delenv(var, raising=False)
        cli(url, "db", "upgrade")
        cli(url, "scheme", "create", "city", "--name", "城市")
        one_line_error(
            cli(url, "partner", "create", "--scheme", "city", "--name", "公交", "--scenarios", "bus_ride", check=False),
            "secret_key_missing",
        )
        assert stored_rows(url) == []
    finally:
        pg_databases.drop(url)


# -- secrets written before 0010 ------------------------------------------------------------------


def test_plaintext_secrets_from_before_0010_are_sealed_by_db_upgrade(fresh_store_url: str, tmp_path: Path) -> None:
    url = fresh_store_url
    store = Store(url)
    try:
        migrate.upgrade(store, "0009")
        secret, partner_id = "sk_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="), "ptn_0123456789abcdef"
        with store.engine.begin() as conn:  # what version 0009 wrote: a scheme's row, the secret as it is
            conn.execute(
                text(
                    "INSERT INTO schemes (id, name, timezone, settings, created_at) VALUES ('city', '城市', 'Asia/Shanghai', '{}', :t)"
                ),
                {"t": NOW},
            )
            pk = conn.execute(
                insert(partners_table)
                .values(id=partner_id, scheme_id="city", name="公交", scenarios=["bus_ride"], status="active", created_at=NOW)
                .returning(partners_table.c.pk)
            ).scalar_one()
            conn.execute(insert(secrets_table).values(partner_pk=pk, secret=secret, created_at=NOW))
    finally:
        store.dispose()
    upgraded = cli(url, "db", "upgrade")
    assert "sealed 1 partner secret" in upgraded.stdout, upgraded.stdout
    rows = stored_rows(url)
    assert len(rows) == 1 and rows[0][1] and secret not in rows[0][2]
    assert "sealed" not in cli(url, "db", "upgrade").stdout  # once
    store = Store(url)
    try:
        assert partners.authenticate(store, signed(partner_id, secret)).id == partner_id
    finally:
        store.dispose()
    if url.startswith("sqlite"):
        db = Path(url.removeprefix("sqlite:///"))
        checkpoint(db)
        assert not found_in(db.read_bytes(), secret)
