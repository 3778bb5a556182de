"""`tanhui events ...`: housekeeping of stored behaviour events."""

from __future__ import annotations

from datetime import date

import typer

from tanhui.cli.audit import actor
from tanhui.cli.output import print_json, say
from tanhui.errors import InvalidInput
from tanhui.services import retention
from tanhui.store import open_store

app = typer.Typer(help="Behaviour events (行为记录): retention of raw partner payloads.", no_args_is_help=True)


@app.command("purge-payloads")
def purge_payloads(
    scheme: str = typer.Option(..., "--scheme"),
    as_of: str | None = typer.Option(
        None, "--as-of", help="The date (YYYY-MM-DD) to count the retention window back from; default today."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Remove raw partner payloads older than the scheme's `retention.raw_payload_days` (default 180);
    outcomes, explanations and the ledger stay. Running it again purges nothing more."""
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise InvalidInput("invalid_request", details={"as_of": "YYYY-MM-DD"}) from None
    report = retention.purge_payloads(open_store(), scheme, day, actor=actor())
    if as_json:
        print_json(report.to_dict())
        return
    say(
        f"已清除 {report.purged} 条原始数据（{report.before.date()} 之前收到，保留 {report.days} 天）",
        f"purged {report.purged} raw payloads (received before {report.before.date()}, kept {report.days} days)",
    )
