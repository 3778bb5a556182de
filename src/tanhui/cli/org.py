from __future__ import annotations

import sys

import typer
from rich.table import Table

from tanhui.cli.audit import actor
from tanhui.cli.output import console, print_json, say
from tanhui.services import identity
from tanhui.services import organisations as org_service
from tanhui.store import open_store

app = typer.Typer(help="Organisations (机构): enterprises, schools, communities — e.g. buyers of credits.", no_args_is_help=True)


@app.command("create")
def create(
    scheme: str = typer.Option(..., "--scheme", help="The scheme the organisation belongs to."),
    name: str = typer.Option(..., "--name", help="Display name, e.g. 城市马拉松组委会."),
    kind: str = typer.Option("company", "--kind", help="company, school, community, government or group."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an organisation and print its id (org_...)."""
    org = org_service.create(open_store(), scheme, name, kind, actor=actor())
    if as_json:
        print_json(org.to_dict())
        return
    say(
        f"已创建机构 {org.public_id}（{org.name}，方案 {org.scheme_id}）",
        f"created organisation {org.public_id} ({org.name}, scheme {org.scheme_id})",
    )


@app.command("list")
def list_(
    scheme: str | None = typer.Option(None, "--scheme", help="Only this scheme's organisations."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List organisations."""
    found = org_service.list_(open_store(), scheme)
    if as_json:
        print_json([o.to_dict() for o in found])
        return
    table = Table("organisation_id", "scheme", "name", "kind")
    for o in found:
        table.add_row(o.public_id, o.scheme_id, o.name, o.kind)
    console.print(table)


@app.command("grant-admin")
def grant_admin(
    org: str = typer.Option(..., "--org", help="The organisation (org_...) the administrator manages."),
    username: str = typer.Option(..., "--username", help="The administrator's sign-in name at /admin/login."),
    password: str | None = typer.Option(
        None, "--password", help="The password (prefer --password-stdin; prompted when neither is given)."
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make an organisation administrator: its invite code, members, figures and exports, nothing else
    (again for the same name: a new password). Audited as org.grant_admin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    operator_id = identity.create_org_admin(open_store(), org, username, password, actor=actor())
    if as_json:
        print_json({"operator_id": str(operator_id), "username": username, "organisation_id": org, "role": identity.ORG_ADMIN})
        return
    say(
        f"机构管理员 {username}（机构 {org}）已就绪：/admin/login",
        f"organisation administrator {username} (organisation {org}) is ready: /admin/login",
    )


@app.command("revoke-admin")
def revoke_admin(
    username: str = typer.Option(..., "--username", help="The organisation administrator to remove."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Take the role away: the administrator's user and sessions end at once (audited as org.revoke_admin)."""
    org = identity.revoke_org_admin(open_store(), username, actor=actor())
    if as_json:
        print_json({"username": username, "organisation_id": org, "revoked": True})
        return
    say(f"已撤销机构 {org} 的管理员 {username}", f"removed {username} as administrator of organisation {org}")
