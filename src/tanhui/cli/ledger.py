from __future__ import annotations

import typer

from tanhui.cli.output import err_console, print_json, say
from tanhui.messages import current_lang
from tanhui.services import database_check
from tanhui.services import ledger as ledger_service
from tanhui.store import Store, open_store
from tanhui.store.integrity import StructureCheck


def verify(
    scheme: str | None = typer.Option(None, "--scheme", help="Check one scheme's ledger only (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    incremental: bool = typer.Option(
        False,
        "--incremental",
        help="Check only what was recorded since the last checkpoint, then record a new one (a daily check; "
        "the first run per scheme is a full one).",
    ),
) -> None:
    """Check the database file and its schema, then recompute the hash chain and every balance from the
    journal; exit 1 at the first break.

    First the engine's structural check (SQLite: PRAGMA integrity_check; PostgreSQL: amcheck when it can
    be used) and the schema objects against what the migrations create; a damaged file stops there.
    With --incremental the cost follows the day, not the ledger's life: the entries since each scheme's
    last checkpoint, the checkpoint chain and the checkpointed heads, and the schema; the file's structure
    and the entries before the checkpoint are the full verify's (run it weekly).
    """
    store = open_store()
    store.require_initialised()
    if incremental:
        _verify_incremental(store, scheme, as_json)
        return
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
                "parts": report.parts if report else 0,
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


def _verify_incremental(store: Store, scheme: str | None, as_json: bool) -> None:
    skipped = "incremental: the structure is checked by the full `tanhui verify`"
    database = database_check.check_schema(store, StructureCheck("structure", skipped=skipped))
    results = ledger_service.verify_incremental(store, scheme)
    problems = [*(f"{r.scheme_id}: {p}" for r in results for p in r.report.problems), *database.problems()]
    if as_json:
        print_json(
            {
                "ok": not problems,
                "incremental": True,
                "schemes": [
                    {
                        "scheme": r.scheme_id,
                        "since_checkpoint": r.since,
                        "recorded_checkpoint": r.recorded,
                        "entries": r.report.entries,
                        "postings": r.report.postings,
                        "total_entries": r.total_entries,
                        "problems": r.report.problems,
                    }
                    for r in results
                ],
                "problems": problems,
                "database": {"revision": database.revision, "schema_skipped": database.schema_skipped},
            }
        )
    elif problems:
        err_console.print(f"BROKEN: {problems[0]}", highlight=False, markup=False, soft_wrap=True)
        for problem in problems[1:20]:
            err_console.print(f"  also: {problem}", highlight=False, markup=False, soft_wrap=True)
    else:
        for r in results:
            since_zh = f"自检查点 {r.since} 起" if r.since is not None else "首次（全量）"
            since_en = f"since checkpoint {r.since}" if r.since is not None else "first run (full)"
            say(
                f"OK：{r.scheme_id} {since_zh}核对 {r.report.entries} 条记录（累计 {r.total_entries} 条），已记录检查点 {r.recorded}",
                f"OK: {r.scheme_id} {since_en}: {r.report.entries} entries checked ({r.total_entries} in all), "
                f"checkpoint {r.recorded} recorded",
            )
    if problems:
        raise typer.Exit(1)
