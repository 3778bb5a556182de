from __future__ import annotations

import typer

from tanhui.cli.output import err_console, print_json, say
from tanhui.messages import current_lang
from tanhui.services import database_check
from tanhui.services import ledger as ledger_service
from tanhui.store import open_store


def verify(
    scheme: str | None = typer.Option(None, "--scheme", help="Check one scheme's ledger only (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the database file and its schema, then recompute the hash chain and every balance from the
    journal; exit 1 at the first break.

    First the engine's structural check (SQLite: PRAGMA integrity_check; PostgreSQL: amcheck when it can
    be used) and the schema objects against what the migrations create; a damaged file stops there.
    """
    store = open_store()
    store.require_initialised()
    database = database_check.check(store)
    report = None if database.damaged else ledger_service.verify(store, scheme)
    problems = [*(report.problems if report is not None else []), *database.problems()]
    if as_json:
        print_json(
            {
                "ok": not problems,
                "chains": report.chains if report else 0,
                "entries": report.entries if report else 0,
                "postings": report.postings if report else 0,
                "accounts": report.accounts if report else 0,
                "problems": problems,
                "database": {
                    "structure": database.structure.checked,
                    "structure_skipped": database.structure.skipped,
                    "revision": database.revision,
                    "schema_skipped": database.schema_skipped,
                },
            }
        )
    elif database.damaged:  # one line: the rest is in --json (PRAGMA integrity_check may list a hundred)
        more = len(database.structure.problems) - 1
        if current_lang() == "en":
            line = f"BROKEN: the database file is damaged: {problems[0]}" + (f" (and {more} more; see --json)" if more else "")
        else:
            line = f"BROKEN: 数据库文件已损坏：{problems[0]}" + (f"（另有 {more} 处，见 --json）" if more else "")
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)
    elif problems:
        err_console.print(f"BROKEN: {problems[0]}", highlight=False, markup=False, soft_wrap=True)
        for problem in problems[1:20]:
            err_console.print(f"  also: {problem}", highlight=False, markup=False, soft_wrap=True)
    else:
        assert report is not None
        say(
            f"OK：{report.chains} 条链，{report.entries} 条记录，{report.postings} 笔分录，{report.accounts} 个账本账户，全部一致；"
            f"{_checked(database, 'zh-CN')}",
            f"OK: {report.chains} chains, {report.entries} entries, {report.postings} postings, "
            f"{report.accounts} ledger accounts; all consistent; {_checked(database, 'en')}",
        )
    if problems:
        raise typer.Exit(1)


def _checked(database: database_check.DatabaseReport, lang: str) -> str:
    """What the database checks did, and what they could not do (and why)."""
    structure = database.structure
    if lang == "en":
        done = f"{structure.checked} skipped ({structure.skipped})" if structure.skipped else f"{structure.checked} clean"
        schema = (
            f"schema check skipped ({database.schema_skipped})" if database.schema_skipped else "schema as the migrations make it"
        )
        return f"{done}; {schema}"
    done = f"{structure.checked} 未执行（{structure.skipped}）" if structure.skipped else f"{structure.checked} 无误"
    schema = f"未比对数据库结构（{database.schema_skipped}）" if database.schema_skipped else "数据库结构与迁移一致"
    return f"{done}；{schema}"
