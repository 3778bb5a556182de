"""Finding 5 of issue 18: `tanhui scheme apply FILE` applied settings that broke the scheme
(`acceptance_window_days = "seven"` or `100000000` with exit 0, after which every batch answered 500),
negative windows and holding periods, `ledger_chains = 100000`; GBK or binary files, wrong types,
`ledger_chains = 0` and deep nesting gave tracebacks; a file with a UTF-8 BOM was refused.

Now every setting is checked for its type and range before anything is written
(domain/scheme_settings.py, through `new_scheme`, so `tanhui scheme create` checks the same way):
each bad file gives one line naming the field, a non-zero exit, no traceback, and the scheme unchanged.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tanhui.domain import scheme_settings
from tanhui.errors import InvalidInput
from tanhui.services import consent, ingest, scheme_file, schemes
from tanhui.services.ingest import find_partner
from tanhui.store import Store
from tests.live import cli

HEAD = """[scheme]
id = "city"
name = "绿芽积分"
timezone = "Asia/Shanghai"

[settings]
acceptance_window_days = 7
default_region = "四川"
ledger_chains = 4

[[partners]]
name = "泸州公交"
scenarios = ["bus_ride"]
"""
SECTIONS = """
[settings.registry]
holding_days = 30

[settings.points_rules.bus_ride]
per_event = 10
daily_cap = 60
"""
GOOD = HEAD + SECTIONS

# (what the operator wrote, the field the one-line error must name)
BAD_SETTINGS = [
    ('acceptance_window_days = "seven"', "acceptance_window_days"),
    ("acceptance_window_days = 100000000", "acceptance_window_days"),
    ("acceptance_window_days = -3", "acceptance_window_days"),
    ("acceptance_window_days = 0", "acceptance_window_days"),
    ("acceptance_window_days = 7.5", "acceptance_window_days"),
    ("acceptance_window_days = true", "acceptance_window_days"),
    ("ledger_chains = 100000", "ledger_chains"),
    ("ledger_chains = 0", "ledger_chains"),
    ('ledger_chains = "4"', "ledger_chains"),
    ("registry = { holding_days = -1 }", "registry.holding_days"),
    ("registry = { holding_days = 100000 }", "registry.holding_days"),
    ('registry = { issuable = "bus_ride" }', "registry.issuable"),
    ("retention = { raw_payload_days = -1 }", "retention.raw_payload_days"),
    ('checkin = { points = "many" }', "checkin.points"),
    ("checkin = { streak_days = 0 }", "checkin.streak_days"),
    ("points_rules = { bus_ride = 5 }", "points_rules.bus_ride"),
    ("points_rules = { bus_ride = { per_event = 100000000 } }", "points_rules.bus_ride.per_event"),
    ('campaigns = [{ id = "x", starts = 2026-01-01, ends = 2026-01-02, multiplier = "lots" }]', "campaigns[0].multiplier"),
    ('campaigns = [{ id = "x", starts = 2026-01-02, ends = 2026-01-01 }]', "campaigns[0].ends"),
    ('points_expiry = { policy = "sometimes" }', "points_expiry.policy"),
    ("methodology_pins = { bus_ride = 5 }", "methodology_pins.bus_ride"),
    ("default_region = 5", "default_region"),
    ("unheard_of = 1", "unheard_of"),
]


def bad_text(line: str, head: str = HEAD) -> str:
    """The good file with one setting replaced by ``line``."""
    key = line.split(" =")[0]
    kept = "".join(f"{row}\n" for row in head.splitlines() if not row.startswith(f"{key} = "))
    text = kept.replace("[settings]\n", "[settings]\n" + line + "\n", 1)
    return text if key in ("registry", "points_rules") else text + SECTIONS


FILE_CASES = [  # (name, bytes, what the one line names)
    ("GBK", GOOD.encode("gbk"), "UTF-8"),
    ("binary", bytes(range(256)) * 8, "UTF-8"),
    ("NUL", GOOD.encode("utf-8").replace(b"[settings]", b"[settings]\x00"), "NUL"),
    ("deep arrays", (GOOD + "\n[extra]\na = " + "[" * 5000 + "]" * 5000 + "\n").encode(), "nested"),
    ("deep dotted keys", GOOD.replace("[settings]\n", "[settings]\n" + ".".join(["a"] * 3000) + " = 1\n").encode(), "nested"),
    ("deep settings", GOOD.replace("[settings]\n", "[settings]\ncampaigns = " + "[" * 40 + "]" * 40 + "\n").encode(), "nested"),
    ("id a number", GOOD.replace('id = "city"', "id = 5").encode(), "[scheme]"),
    ("scenarios a text", GOOD.replace('scenarios = ["bus_ride"]', 'scenarios = "bus_ride"').encode(), "partners[0]"),
    ("items not a list", ("items = 5\n" + GOOD).encode(), "items"),
]
# the cases, through the CLI (every case is checked through the service on both engines below)
CLI_CASES = [
    (line, bad_text(line).encode(), field)
    for line, field in BAD_SETTINGS[:4] + BAD_SETTINGS[6:8] + BAD_SETTINGS[9:10] + BAD_SETTINGS[13:14]
] + [case for case in FILE_CASES if case[0] in ("GBK", "binary", "deep arrays", "deep dotted keys")]


@pytest.mark.slow  # integration-heavy (real processes); runs in ./run test, not in --fast
def test_bad_scheme_files_are_refused_with_one_line_and_change_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tanhui.db'}"
    cli(url, "db", "upgrade")
    good = tmp_path / "city.toml"
    good.write_text(GOOD, encoding="utf-8")
    created = json.loads(cli(url, "scheme", "apply", str(good), "--json").stdout)
    partner_id = created["partners_created"][0]["partner_id"]
    before = json.loads(cli(url, "scheme", "list", "--json").stdout)

    for name, content, field in CLI_CASES:
        path = tmp_path / "bad.toml"
        path.write_bytes(content)
        result = cli(url, "scheme", "apply", str(path), check=False)
        assert result.returncode != 0, (name, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error[invalid_scheme_file]"), (name, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and field in lines[0], (name, lines[0])

    assert json.loads(cli(url, "scheme", "list", "--json").stdout) == before
    # a UTF-8 BOM (Windows editors) is accepted: the same file again changes nothing
    good.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    again = json.loads(cli(url, "scheme", "apply", str(good), "--json").stdout)
    assert again["settings_changed"] is False and again["partners_created"] == []
    # and the scheme still takes behaviours
    store = Store(url)
    try:
        _credit_a_ride(store, partner_id)
    finally:
        store.dispose()


def _credit_a_ride(store: Store, partner_id: str) -> None:
    partner = find_partner(store, partner_id)
    now = datetime.now(UTC)
    consent.grant(
        store,
        partner,
        uuid.uuid4().hex,
        {"user_ref": "u1", "scopes": ["behaviour:report"], "granted_at": (now - timedelta(days=1)).isoformat()},
    )
    outcome = ingest.ingest_events(
        store,
        partner,
        [
            {
                "event_id": "ride-1",
                "user_ref": "u1",
                "scenario": "bus_ride",
                "occurred_at": (now - timedelta(hours=1)).isoformat(),
                "data": {
                    "distance_km": "6.5",
                    "trip_id": f"t1-{uuid.uuid4().hex}",
                },  # the session database is shared: trips are global
            }
        ],
    )
    assert [r["status"] for r in outcome.results] == ["credited"], outcome.results


def test_the_services_refuse_bad_settings_on_both_engines(store: Store, scheme_id: str, tmp_path: Path) -> None:
    """`scheme apply` and `scheme create` (services) check the same way, and write nothing."""
    path = tmp_path / "s.toml"
    path.write_text(GOOD.replace('id = "city"', f'id = "{scheme_id}"'), encoding="utf-8")
    report = scheme_file.apply(store, path)
    before = schemes.get_scheme(store, scheme_id)
    cases = [(line, bad_text(line).encode(), field) for line, field in BAD_SETTINGS] + FILE_CASES
    for name, content, field in cases:
        bad = tmp_path / "bad.toml"
        bad.write_bytes(content.replace(b'id = "city"', f'id = "{scheme_id}"'.encode()))
        with pytest.raises(InvalidInput) as refused:
            scheme_file.apply(store, bad)
        message = refused.value.message("en")
        assert refused.value.code == "invalid_scheme_file" and field in message and "\n" not in message, (name, message)
        assert schemes.get_scheme(store, scheme_id) == before
    for settings in (
        {"acceptance_window_days": "seven"},
        {"ledger_chains": 0},
        {"registry": {"holding_days": -1}},
        {"nope": 1},
        [1],
    ):
        with pytest.raises(InvalidInput) as refused:
            schemes.create_scheme(store, scheme_id + "n", "新方案", settings=settings)  # type: ignore[arg-type]
        assert refused.value.code == "invalid_setting"
    assert [s.id for s in schemes.list_schemes(store) if s.id.startswith(scheme_id)] == [scheme_id]
    _credit_a_ride(store, report.partners_created[0]["partner_id"])


def test_settings_bounds_are_inclusive() -> None:
    ok = {
        "acceptance_window_days": 366,
        "ledger_chains": 64,
        "registry": {"holding_days": 3650},
        "retention": {"raw_payload_days": 0},
    }
    assert scheme_settings.validate_settings(ok) == ok
    assert scheme_settings.validate_settings({"acceptance_window_days": 1, "ledger_chains": 1})
    for bad in ({"acceptance_window_days": 367}, {"ledger_chains": 65}, {"registry": {"holding_days": 3651}}):
        with pytest.raises(InvalidInput):
            scheme_settings.validate_settings(bad)
