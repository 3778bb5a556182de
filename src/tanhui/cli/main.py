"""Entry point: `tanhui ...`. Every error becomes one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import sqlite3
import sys

import typer
from sqlalchemy.exc import DatabaseError

from tanhui.cli import admin as admin_cli
from tanhui.cli import audit as audit_cli
from tanhui.cli import credits as credits_cli
from tanhui.cli import db as db_cli
from tanhui.cli import demo as demo_cli
from tanhui.cli import events as events_cli
from tanhui.cli import importer as importer_cli
from tanhui.cli import interop as interop_cli
from tanhui.cli import ledger as ledger_cli
from tanhui.cli import market as market_cli
from tanhui.cli import methodology as methodology_cli
from tanhui.cli import org as org_cli
from tanhui.cli import partner as partner_cli
from tanhui.cli import points as points_cli
from tanhui.cli import scheme as scheme_cli
from tanhui.cli import secrets as secrets_cli
from tanhui.cli import serve as serve_cli
from tanhui.domain import jsontext
from tanhui.errors import InvalidInput, TanhuiError
from tanhui.messages import current_lang

app = typer.Typer(
    name="tanhui",
    help="Tanhui 碳惠 — carbon inclusion platform with personal carbon accounts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_cli.app, name="db")
app.add_typer(scheme_cli.app, name="scheme")
app.add_typer(methodology_cli.app, name="methodology")
app.add_typer(partner_cli.app, name="partner")
app.add_typer(market_cli.app, name="market")
app.add_typer(points_cli.app, name="points")
app.add_typer(importer_cli.app, name="import")
app.add_typer(org_cli.app, name="org")
app.add_typer(credits_cli.app, name="credits")
app.add_typer(events_cli.app, name="events")
app.add_typer(admin_cli.app, name="admin")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(secrets_cli.app, name="secrets")
app.add_typer(interop_cli.app, name="interop")
app.command("serve")(serve_cli.serve)
app.command("verify")(ledger_cli.verify)
app.command("demo")(demo_cli.demo)

EXIT_ERROR = 2


def main() -> None:
    try:
        _text_arguments(sys.argv[1:])
        app()
    except TanhuiError as error:
        sys.stderr.write(f"error[{error.code}]: {error.message(current_lang())}\n")
        sys.exit(EXIT_ERROR)
    except DatabaseError as error:  # the engine refused (damage is already a TanhuiError: database_damaged)
        first_line = str(error.orig).strip().splitlines()[0] if error.orig else str(error).splitlines()[0]
        sys.stderr.write(f"error[database]: {first_line}\n")
        sys.exit(EXIT_ERROR)
    except sqlite3.DatabaseError as error:  # a file opened by the backup commands directly
        sys.stderr.write(
            f"error[database]: {str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__}\n"
        )
        sys.exit(EXIT_ERROR)


def _text_arguments(arguments: list[str]) -> None:
    """Bytes in an argument that are not UTF-8 reach Python as lone surrogates (a name no store can hold):
    refused with one line, unless the argument names an existing file (a file name may be any bytes)."""
    for position, argument in enumerate(arguments, start=1):
        if jsontext.unstorable(argument, nul=False) and not os.path.exists(argument):
            raise InvalidInput("argument_not_utf8", details={"argument": position}, position=position)


if __name__ == "__main__":
    main()
