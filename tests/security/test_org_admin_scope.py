"""Organisation administrators (issue 17) over real HTTP on both engines: the administrator of A reads and
manages A (figures, members, invite code, exports), every page and export of B — in the same scheme or
another — answers 404, so do all the scheme's operator pages, and a scheme operator does not get A's
administrator pages either. Changes are audited with the actor ``org_admin:<username>``. Also the
operator's password reset page: issued on the dashboard, shown once, used once by the person."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tanhui.errors import InvalidInput
from tanhui.services import audit, identity, organisations
from tanhui.store import Store
from tests.web.helpers import build_city, csrf_of, operator

PASSWORD = "correct-horse-9"


@pytest.fixture
def orgs(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Any, Any]]:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=4, days=2)
        other = build_city(store, tmp_path, "harbin", people=1, days=1, name="冰城碳惠")
        a, b = city.orgs
        identity.create_org_admin(store, a.public_id, "admin-a", PASSWORD)
        identity.create_org_admin(store, other.orgs[0].public_id, "admin-harbin", PASSWORD)
        operator(store, "luzhou", "ops-luzhou", password=PASSWORD)
        operator(store, "luzhou", "viewer-luzhou", role="viewer", password=PASSWORD)
        yield live, store, city, other
    finally:
        store.dispose()


def _signed_in(live: Any, username: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=live.base_url, timeout=30)
    csrf = csrf_of(client.get("/admin/login").text)
    done = client.post("/admin/login", data={"csrf": csrf, "username": username, "password": PASSWORD})
    assert done.status_code == 303, done.text
    return client, done


def test_an_organisation_administrator_sees_and_manages_only_its_own_organisation(orgs: Any) -> None:
    live, store, city, other = orgs
    a, b = city.orgs
    client, landing = _signed_in(live, "admin-a")
    with closing(client):
        assert landing.headers["location"] == f"/admin/orgs/{a.public_id}"
        page = client.get(f"/admin/orgs/{a.public_id}")
        members, carbon_g = (
            organisations.page(store, a.public_id, "luzhou")["members"],
            organisations.page(store, a.public_id, "luzhou")["carbon_g_total"],
        )
        assert page.status_code == 200 and a.name in page.text
        assert f'data-kpi="members">{members}<' in page.text and members == 2
        assert organisations.invite_code(store, a.public_id, "luzhou") in page.text
        assert carbon_g > 0
        listed = client.get(f"/admin/orgs/{a.public_id}/members")
        assert listed.status_code == 200 and listed.text.count("data-member=") == members
        exported = client.get(f"/admin/orgs/{a.public_id}/export/members.csv")
        assert exported.status_code == 200
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        own = {m.key for m in organisations.members_of(store, a.public_id, "luzhou")}
        assert {r["account_id"] for r in rows} == own and sum(int(r["carbon_g"]) for r in rows) == carbon_g
        assert client.get(f"/admin/orgs/{a.public_id}/export/members.xlsx").status_code == 200

        refused = [
            f"/admin/orgs/{b.public_id}",
            f"/admin/orgs/{b.public_id}/members",
            f"/admin/orgs/{b.public_id}/export/members.csv",
            f"/admin/orgs/{b.public_id}/export/members.xlsx",
            f"/admin/orgs/{other.orgs[0].public_id}",
            f"/admin/orgs/{other.orgs[0].public_id}/export/members.csv",
            f"/admin/orgs/{a.public_id}/export/orders.csv",
            "/admin/schemes/luzhou",
            "/admin/schemes/luzhou/organisations",
            f"/admin/schemes/luzhou/organisations/{b.public_id}",
            f"/admin/schemes/luzhou/organisations/{a.public_id}",
            "/admin/schemes/luzhou/export/orders.csv",
            "/admin/schemes/luzhou/export/organisations.csv",
            "/admin/schemes/luzhou/audit",
            "/admin/schemes/luzhou/review",
            "/admin/schemes/luzhou/password-reset",
            "/admin/schemes/harbin",
        ]
        answers = {path: client.get(path).status_code for path in refused}
        assert answers == dict.fromkeys(refused, 404)
        assert b.name not in client.get(f"/admin/orgs/{b.public_id}").text

        csrf = csrf_of(page.text)
        code_b = organisations.invite_code(store, b.public_id, "luzhou")
        member_b = int(organisations.members_of(store, b.public_id, "luzhou")[0].key)
        assert client.post(f"/admin/orgs/{b.public_id}/invite-code", data={"csrf": csrf}).status_code == 404
        assert client.post(f"/admin/orgs/{b.public_id}/members/{member_b}/remove", data={"csrf": csrf}).status_code == 404
        assert organisations.invite_code(store, b.public_id, "luzhou") == code_b
        assert str(member_b) in {m.key for m in organisations.members_of(store, b.public_id, "luzhou")}
        assert client.post(f"/admin/orgs/{a.public_id}/invite-code", data={"csrf": "forged"}).status_code == 403

        # its own organisation: a new invite code, and a member removed — both audited with the actor
        old_code = organisations.invite_code(store, a.public_id, "luzhou")
        renewed = client.post(f"/admin/orgs/{a.public_id}/invite-code", data={"csrf": csrf})
        assert renewed.status_code == 303
        new_code = organisations.invite_code(store, a.public_id, "luzhou")
        assert new_code != old_code and new_code in client.get(renewed.headers["location"]).text
        leaving = int(sorted(own)[0])
        gone = client.post(f"/admin/orgs/{a.public_id}/members/{leaving}/remove", data={"csrf": csrf})
        assert gone.status_code == 303
        assert str(leaving) not in {m.key for m in organisations.members_of(store, a.public_id, "luzhou")}
    with pytest.raises(InvalidInput):
        organisations.join(store, leaving, old_code)
    assert organisations.join(store, leaving, new_code).public_id == a.public_id
    entries = [(e.actor, e.action, e.target) for e in audit.list_entries(store, "luzhou") if e.actor.startswith("org_admin:")]
    assert sorted(entries) == [
        ("org_admin:admin-a", "org.new_invite_code", a.public_id),
        ("org_admin:admin-a", "org.remove_member", a.public_id),
    ]


def test_an_organisation_administrators_session_token_opens_no_operator_api(orgs: Any) -> None:
    """The dashboard's session token is also an operator bearer token for /v1/admin: not an administrator's."""
    live, store, _city, _other = orgs
    administrator, _scope = identity.operator_sign_in(store, "admin-a", PASSWORD)
    operator_token, _scope = identity.operator_sign_in(store, "ops-luzhou", PASSWORD)
    stats = f"{live.base_url}/v1/admin/schemes/luzhou/stats"
    assert httpx.get(stats, headers={"Authorization": f"Bearer {administrator}"}).status_code == 403
    assert httpx.get(stats, headers={"Authorization": f"Bearer {operator_token}"}).status_code == 200


def test_scheme_operators_do_not_get_an_organisations_administrator_pages(orgs: Any) -> None:
    live, _store, city, _other = orgs
    a = city.orgs[0]
    client, landing = _signed_in(live, "ops-luzhou")
    with closing(client):
        assert landing.headers["location"] == "/admin/schemes/luzhou"
        assert client.get(f"/admin/orgs/{a.public_id}").status_code == 404
        assert client.get(f"/admin/orgs/{a.public_id}/export/members.csv").status_code == 404
        assert client.get(f"/admin/schemes/luzhou/organisations/{a.public_id}").status_code == 200
    stranger = httpx.get(f"{live.base_url}/admin/orgs/{a.public_id}", follow_redirects=False)
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/admin/login")


def test_the_cli_grants_the_role_and_refuses_a_name_taken_by_an_operator(orgs: Any) -> None:
    live, store, city, _other = orgs
    a = city.orgs[0]
    made = live.tanhui("org", "grant-admin", "--org", a.public_id, "--username", "admin-cli", "--password", PASSWORD, "--json")
    assert json.loads(made.stdout)["role"] == "org_admin"
    client, landing = _signed_in(live, "admin-cli")
    with closing(client):
        assert landing.headers["location"] == f"/admin/orgs/{a.public_id}"
        assert client.get(f"/admin/orgs/{a.public_id}").status_code == 200
        revoked = live.tanhui("org", "revoke-admin", "--username", "admin-cli", "--json")
        assert json.loads(revoked.stdout) == {"username": "admin-cli", "organisation_id": a.public_id, "revoked": True}
        ended = client.get(f"/admin/orgs/{a.public_id}", follow_redirects=False)
        assert ended.status_code == 303 and ended.headers["location"].startswith("/admin/login")  # its session ended
    assert live.tanhui("org", "revoke-admin", "--username", "ops-luzhou", check=False).returncode != 0  # not an org admin
    assert [e.target for e in audit.list_entries(store, "luzhou", "org.revoke_admin")] == [a.public_id]
    taken = live.tanhui(
        "org", "grant-admin", "--org", a.public_id, "--username", "ops-luzhou", "--password", PASSWORD, check=False
    )
    assert taken.returncode != 0 and "username_taken" in taken.stderr
    with pytest.raises(Exception, match="username"):
        identity.create_operator(store, "luzhou", "admin-a", PASSWORD)  # an org admin never becomes a scheme operator
    grants = [(e.action, e.target) for e in audit.list_entries(store, "luzhou", "org.grant_admin")]
    assert ("org.grant_admin", a.public_id) in grants


def test_an_operator_issues_a_reset_link_shown_once_and_the_person_uses_it_once(orgs: Any) -> None:
    live, store, _city, _other = orgs
    account = identity.register(store, "luzhou", "forgetful", "old-password-1")
    person = httpx.Client(base_url=live.base_url, timeout=30)
    csrf = csrf_of(person.get("/login").text)
    assert person.post("/login", data={"csrf": csrf, "username": "forgetful", "password": "old-password-1"}).status_code == 303
    assert person.get("/me").status_code == 200

    viewer, _ = _signed_in(live, "viewer-luzhou")
    with closing(viewer):
        assert viewer.get("/admin/schemes/luzhou/password-reset").status_code == 403
    ops, _ = _signed_in(live, "ops-luzhou")
    with closing(ops):
        form = ops.get("/admin/schemes/luzhou/password-reset")
        assert form.status_code == 200
        unknown = ops.post(
            "/admin/schemes/luzhou/password-reset", data={"csrf": csrf_of(form.text), "username": "nobody", "hours": "24"}
        )
        assert unknown.status_code == 404 and "nobody" in unknown.text
        issued = ops.post(
            "/admin/schemes/luzhou/password-reset", data={"csrf": csrf_of(form.text), "username": "forgetful", "hours": "24"}
        )
        assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
        found = re.search(r'data-testid="link">([^<]+)<', issued.text)
        assert found and found.group(1).startswith(live.base_url + "/reset/")
        assert found.group(1) not in ops.get("/admin/schemes/luzhou/password-reset").text  # shown once
    path = found.group(1).removeprefix(live.base_url)
    with httpx.Client(base_url=live.base_url, timeout=30) as stranger:
        page = stranger.get(path)
        assert page.status_code == 200
        differ = stranger.post(path, data={"csrf": csrf_of(page.text), "password": "new-password-2", "confirm": "other-one-3"})
        assert differ.status_code == 422
        done = stranger.post(path, data={"csrf": csrf_of(page.text), "password": "new-password-2", "confirm": "new-password-2"})
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=done"
        assert stranger.get(path).status_code == 401
        again = stranger.post(path, data={"csrf": csrf_of(page.text), "password": "new-password-3", "confirm": "new-password-3"})
        assert again.status_code == 401
    assert person.get("/me", follow_redirects=False).status_code == 303  # the old session ended
    person.close()
    assert identity.authenticate(store, "forgetful", "new-password-2") == account
    [entry] = audit.list_entries(store, "luzhou", "person.password_reset")
    assert (entry.actor, entry.target) == ("operator:ops-luzhou", f"account:{account}")


def test_the_cli_issues_a_reset_link_that_ends_the_one_before_it(orgs: Any) -> None:
    live, store, _city, _other = orgs
    account = identity.register(store, "luzhou", "cli-forgetful", "old-password-1")
    first = json.loads(live.tanhui("admin", "reset-link", "--scheme", "luzhou", "--username", "cli-forgetful", "--json").stdout)
    second = live.tanhui(
        "admin", "reset-link", "--scheme", "luzhou", "--username", "cli-forgetful", "--hours", "2", "--base-url", live.base_url
    ).stdout.strip()
    assert first["account_id"] == str(account) and first["url"].startswith("/reset/")
    assert second.startswith(live.base_url + "/reset/")
    assert httpx.get(live.base_url + first["url"]).status_code == 401  # replaced by the second
    assert httpx.get(second).status_code == 200
    wrong = live.tanhui("admin", "reset-link", "--scheme", "harbin", "--username", "cli-forgetful", check=False)
    assert wrong.returncode != 0 and "person_not_found" in wrong.stderr
    assert [e.actor.startswith("cli") for e in audit.list_entries(store, "luzhou", "person.password_reset")] == [True, True]
