from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from tanhui.cli.audit import actor
from tanhui.cli.output import console, print_json, say
from tanhui.errors import InvalidInput
from tanhui.services import engagement
from tanhui.services.export import write_table
from tanhui.store import open_store

app = typer.Typer(help="Points (积分): expiry and notices.", no_args_is_help=True)


@app.command("expire")
def expire(
    scheme: str = typer.Option(..., "--scheme"),
    as_of: str = typer.Option(..., "--as-of", help="The date (YYYY-MM-DD) to expire as of."),
    notices: Path | None = typer.Option(None, "--notices", help="Write who loses how much to a .csv or .xlsx file."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Expire points under the scheme's policy as ledger postings; running it again changes nothing."""
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise InvalidInput("invalid_request", details={"as_of": "YYYY-MM-DD"}) from None
    found = engagement.expire_points(open_store(), scheme, day, actor=actor())
    fresh = [n for n in found if not n.replayed]
    if notices is not None:
        write_table(notices, ["account_id", "points_expired"], ([n.account_id, n.amount] for n in fresh))
    if as_json:
        print_json(
            {
                "as_of": day.isoformat(),
                "accounts": len(fresh),
                "points": sum(n.amount for n in fresh),
                "notices": [{"account_id": n.account_id, "points": n.amount} for n in fresh],
            }
        )
        return
    say(
        f"{len(fresh)} 个账户共 {sum(n.amount for n in fresh)} 积分到期",
        f"{sum(n.amount for n in fresh)} points expired in {len(fresh)} accounts",
    )
    if fresh:
        table = Table("account_id", "points expired")
        for n in fresh[:50]:
            table.add_row(str(n.account_id), str(n.amount))
        console.print(table)
