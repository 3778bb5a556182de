"""Entry point: `tanhui ...`. Every error becomes one line on stderr and a non-zero exit."""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys

import typer
from sqlalchemy.exc import DatabaseError

from tanhui.domain import jsontext
from tanhui.errors import InvalidInput, TanhuiError
from tanhui.messages import current_lang

# Each command group's module, imported only when its group runs: importing all of them cost ~1.4 s of
# CPU per start (alembic, the web stack, rich tables), a fifth of a 20,000-event `tanhui import` on
# this machine's two cores (docs/benchmarks.md). Help and unknown commands build the whole tree.
GROUPS = {
    "db": "db",
    "scheme": "scheme",
    "methodology": "methodology",
    "partner": "partner",
    "market": "market",
    "points": "points",
    "import": "importer",
    "org": "org",
    "credits": "credits",
    "events": "events",
    "admin": "admin",
    "audit": "audit",
    "secrets": "secrets",
    "interop": "interop",
}
COMMANDS = {"serve": ("serve", "serve"), "verify": ("ledger", "verify"), "demo": ("demo", "demo")}


def build_app(only: str | None = None) -> typer.Typer:
    """The command tree; with ``only`` (a group or command name) just that branch of it."""
    tree = typer.Typer(
        name="tanhui",
        help="Tanhui 碳惠 — carbon inclusion platform with personal carbon accounts.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    if only is not None:
        # a tree of one command would run it as the root, taking its name for an argument
        tree.callback()(_group)
    for name, module in GROUPS.items():
        if only is None or only == name:
            tree.add_typer(importlib.import_module(f"tanhui.cli.{module}").app, name=name)
    for name, (module, function) in COMMANDS.items():
        if only is None or only == name:
            tree.command(name)(getattr(importlib.import_module(f"tanhui.cli.{module}"), function))
    return tree


def _group() -> None:
    """Tanhui 碳惠 — carbon inclusion platform with personal carbon accounts."""


def __getattr__(name: str) -> typer.Typer:
    """``app``: the whole tree, built on first use (tests drive it with typer's runner)."""
    if name == "app":
        whole = build_app()
        globals()["app"] = whole
        return whole
    raise AttributeError(name)


def _app_for(arguments: list[str]) -> typer.Typer:
    first = arguments[0] if arguments else None
    if first in GROUPS or first in COMMANDS:
        return build_app(first)
    return build_app()


EXIT_ERROR = 2


def main() -> None:
    try:
        _text_arguments(sys.argv[1:])
        _app_for(sys.argv[1:])()
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
