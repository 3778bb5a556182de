from __future__ import annotations

import typer
from rich.table import Table

from tanhui.cli.output import console, print_json, say
from tanhui.domain.schemes import DEFAULT_TIMEZONE
from tanhui.services import schemes as scheme_service
from tanhui.store import open_store

app = typer.Typer(help="Schemes (方案): the tenants — a city's, a bank's or an employer's scheme.", no_args_is_help=True)


@app.command("create")
def create(
    scheme_id: str = typer.Argument(..., metavar="ID", help="Short id: a-z, 0-9, - and _ (e.g. luzhou)."),
    name: str = typer.Option(..., "--name", help="Display name, e.g. 绿芽积分."),
    timezone: str = typer.Option(DEFAULT_TIMEZONE, "--timezone", help="Defines a scheme's local day."),
    as_json: bool = typer.Option(False, "--json", help="Print the created scheme as JSON."),
) -> None:
    """Create a scheme with its system accounts and ledger chains."""
    scheme = scheme_service.create_scheme(open_store(), scheme_id, name, timezone)
    if as_json:
        print_json(scheme.to_dict())
    else:
        say(
            f"已创建方案 {scheme.id}（{scheme.name}，时区 {scheme.timezone}）",
            f"created scheme {scheme.id} ({scheme.name}, time zone {scheme.timezone})",
        )


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List every scheme."""
    schemes = scheme_service.list_schemes(open_store())
    if as_json:
        print_json([s.to_dict() for s in schemes])
        return
    if not schemes:
        say("还没有方案。用 tanhui scheme create 创建一个。", "no schemes yet: create one with `tanhui scheme create`")
        return
    table = Table("id", "name", "timezone", "created_at")
    for s in schemes:
        table.add_row(s.id, s.name, s.timezone, s.created_at.isoformat() if s.created_at else "")
    console.print(table)
