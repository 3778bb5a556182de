from __future__ import annotations

import sys
from datetime import timedelta

import typer

from tanhui.cli.audit import actor
from tanhui.cli.output import print_json, say
from tanhui.services import identity, password_reset
from tanhui.store import open_store

app = typer.Typer(help="Operators (运营方): dashboard users and API tokens, scoped to one scheme.", no_args_is_help=True)


@app.command("create-user")
def create_user(
    scheme: str = typer.Option(..., "--scheme", help="The scheme this operator may see."),
    username: str = typer.Option(..., "--username"),
    role: str = typer.Option(
        "operator", "--role", help="operator (may act and export) or viewer (reads; no personal-data exports)."
    ),
    password: str | None = typer.Option(
        None, "--password", help="The password (prefer --password-stdin; prompted when neither is given)."
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create an operator user for the dashboard (/admin/login); again for the same name: new password and role."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    operator_id = identity.create_operator(open_store(), scheme, username, password, role, actor=actor())
    if as_json:
        print_json({"operator_id": str(operator_id), "username": username, "scheme_id": scheme, "role": role})
        return
    say(
        f"运营方用户 {username}（方案 {scheme}，角色 {role}）已就绪：/admin/login",
        f"operator {username} (scheme {scheme}, role {role}) is ready: /admin/login",
    )


@app.command("token")
def token(
    scheme: str = typer.Option(..., "--scheme"),
    role: str = typer.Option("operator", "--role", help="operator or viewer."),
    ttl_days: int | None = typer.Option(None, "--ttl-days", min=1, help="Expire after this many days (default: never)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue a bearer token for /v1/admin/schemes/SCHEME/* (shown once; only its hash is kept)."""
    issued = identity.issue_operator_token(
        open_store(), scheme, role, timedelta(days=ttl_days) if ttl_days else None, actor=actor()
    )
    if as_json:
        print_json({"token": issued})
        return
    sys.stdout.write(issued + "\n")


@app.command("reset-link")
def reset_link(
    scheme: str = typer.Option(..., "--scheme"),
    username: str = typer.Option(..., "--username", help="The person's username (a person who registered directly)."),
    hours: int = typer.Option(24, "--hours", min=1, max=168, help="How long the link works (default 24 hours)."),
    base_url: str = typer.Option(
        "", "--base-url", help="The site's address, e.g. https://tanhui.example.cn, put before the path."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A one-time password reset link for a person (shown once; only its hash is kept; audited).
    Give it to the person yourself: it ends after one use, after --hours, or when a newer one is issued."""
    link = password_reset.issue(open_store(), scheme, username, actor=actor(), ttl=timedelta(hours=hours))
    url = base_url.rstrip("/") + link.path
    if as_json:
        print_json({"url": url, "account_id": str(link.account_id), "expires_at": link.expires_at.isoformat()})
        return
    sys.stdout.write(url + "\n")
