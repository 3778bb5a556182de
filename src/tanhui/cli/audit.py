"""`tanhui audit ...`: read the operator audit log; `actor()` names whoever runs the command."""

from __future__ import annotations

import getpass

import typer
from rich.table import Table

from tanhui.cli.output import console, print_json, say
from tanhui.services import audit as audit_service
from tanhui.store import open_store

app = typer.Typer(help="Audit log (审计日志): who did what to a scheme, newest first.", no_args_is_help=True)


def actor() -> str:
    """The audit log's actor for this process: the OS user who typed the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in the environment or the password database (e.g. a bare container uid)
        return "cli"


@app.command("list")
def list_(
    scheme: str | None = typer.Option(None, "--scheme", help="Only this scheme's entries."),
    action: str | None = typer.Option(
        None, "--action", help=f"Only this action, e.g. market.ship ({len(audit_service.ACTIONS)} known)."
    ),
    limit: int = typer.Option(100, "--limit", min=1, max=audit_service.LIST_LIMIT_MAX),
    before: int | None = typer.Option(None, "--before", help="Only entries older than this id (the next page)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List audit entries, newest first."""
    found = audit_service.list_entries(open_store(), scheme, action, limit, before)
    if as_json:
        print_json([e.to_dict() for e in found])
        return
    if not found:
        say("没有审计记录", "no audit entries")
        return
    table = Table()
    for heading in ("id", "time (UTC)", "scheme", "actor", "action", "target", "details"):
        # ids are copied from here: fold them onto a second line, never cut them short
        table.add_column(heading, overflow="fold", no_wrap=heading in ("id", "action"))
    for e in found:
        table.add_row(
            str(e.id),
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.scheme_id or "—",
            e.actor,
            e.action,
            e.target or "—",
            audit_service.details_text(e.details),
        )
    console.print(table)
