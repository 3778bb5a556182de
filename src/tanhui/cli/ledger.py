from __future__ import annotations

import typer

from tanhui.cli.output import err_console, print_json, say
from tanhui.services import ledger as ledger_service
from tanhui.store import open_store


def verify(
    scheme: str | None = typer.Option(None, "--scheme", help="Check one scheme only (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Recompute the hash chain and every balance from the journal; exit 1 at the first break."""
    report = ledger_service.verify(open_store(), scheme)
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "chains": report.chains,
                "entries": report.entries,
                "postings": report.postings,
                "accounts": report.accounts,
                "problems": report.problems,
            }
        )
    elif report.ok:
        say(
            f"OK：{report.chains} 条链，{report.entries} 条记录，{report.postings} 笔分录，{report.accounts} 个账本账户，全部一致",
            f"OK: {report.chains} chains, {report.entries} entries, {report.postings} postings, "
            f"{report.accounts} ledger accounts; all consistent",
        )
    else:
        err_console.print(f"BROKEN: {report.problems[0]}", highlight=False, soft_wrap=True)
        for problem in report.problems[1:20]:
            err_console.print(f"  also: {problem}", highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)
