from __future__ import annotations

import sys
from pathlib import Path

import typer

from tanhui.cli.output import print_json, say
from tanhui.store import describe, migrate, open_store

app = typer.Typer(help="Database: create or upgrade the schema; back it up and restore it.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision (default: the newest).")) -> None:
    """Create the database if needed and apply every migration (safe to run again)."""
    from tanhui.services import secret_keys

    store = open_store()
    distributed = migrate.upgrade(store, revision)
    if distributed:
        say(
            f"Citus：按分布计划放置了 {sum(a.startswith(('reference', 'distributed')) for a in distributed)} 张表（tanhui db distribution 查看）",
            f"Citus: {sum(a.startswith(('reference', 'distributed')) for a in distributed)} tables placed by the distribution plan"
            " (see tanhui db distribution)",
        )
    say(
        f"数据库已是最新版本 {migrate.current(store)}：{describe(store.url)}",
        f"database at revision {migrate.current(store)}: {describe(store.url)}",
    )
    if revision == "head" or revision == migrate.head():
        sealed = secret_keys.seal_plaintext(store)  # rows from before 0010: a migration cannot read the key
        if sealed:
            say(f"已加密 {sealed} 个以明文存储的合作方密钥", f"sealed {sealed} partner secret(s) stored in plaintext")


@app.command("distribution")
def distribution(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """The distribution plan of every table and, on a Citus coordinator, its shards and rows per node."""
    from tanhui.store.citus import describe as placements

    report = placements(open_store())
    if as_json:
        print_json(report)
        return
    if not report["citus"]:
        say("不是 Citus 协调节点：分布计划不改变任何表。", "not a Citus coordinator: the plan changes no table.")
    for t in report["tables"]:
        nodes = ", ".join(f"{node} {rows:,}" for node, rows in sorted(t["rows_by_node"].items()))
        actual = (
            f" — {t['actual'] or 'plain table'}, {t['shards']} shards{'; rows ' + nodes if nodes else ''}"
            if report["citus"]
            else ""
        )
        say(f"{t['table']}: {t['plan']}{actual}", f"{t['table']}: {t['plan']}{actual}")


@app.command("check")
def check() -> None:
    """Fail if the models and the migrations disagree (alembic check)."""
    store = open_store()
    migrate.check(store)
    say("模型与迁移一致", "models and migrations agree")


@app.command("rebuild-reports")
def rebuild_reports() -> None:
    """Rewrite the operator reports' counters from the events, check-ins, postings and accounts."""
    from tanhui.services import reports

    written = reports.rebuild(open_store())
    shown = ", ".join(f"{table} {count}" for table, count in written.items())
    say(f"报表计数已重建：{shown}", f"report counters rebuilt: {shown}")


@app.command("backup")
def backup(
    out: Path = typer.Argument(..., metavar="OUT.db", help="The backup file to write."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT.db if it exists."),
) -> None:
    """Copy the SQLite database with SQLite's online backup API (safe while the server writes)."""
    from tanhui.config import Settings
    from tanhui.errors import TanhuiError
    from tanhui.services import backup as backup_service

    url = Settings.from_env().database_url
    if backup_service.sqlite_path(url) is None:
        sys.stdout.write(backup_service.pg_dump_command(url, str(out)) + "\n")
        raise TanhuiError("backup_needs_sqlite")
    summary = backup_service.backup(url, out, force=force)
    say(
        f"已备份到 {summary.path}：{summary.size_bytes} 字节，{summary.tables} 张表，账本记录 {summary.journal_entries} 条，"
        f"事件 {summary.events} 条，数据库版本 {summary.revision}",
        f"backed up to {summary.path}: {summary.size_bytes} bytes, {summary.tables} tables, "
        f"{summary.journal_entries} ledger entries, {summary.events} events, schema revision {summary.revision}",
    )


@app.command("restore")
def restore(
    source: Path = typer.Argument(..., metavar="IN.db", help="A backup made by `tanhui db backup`."),
    force: bool = typer.Option(False, "--force", help="Replace the configured database file if it exists."),
) -> None:
    """Check a backup (schema, integrity, ledger verify) and only then swap it in atomically.

    Stop the server first: the database file is replaced underneath it otherwise.
    """
    from tanhui.config import Settings
    from tanhui.services import backup as backup_service

    url = Settings.from_env().database_url
    if backup_service.sqlite_path(url) is None:
        sys.stdout.write(backup_service.pg_restore_command(url, str(source)) + "\n")
    report = backup_service.restore(url, source, force=force)
    summary = report.summary
    upgraded = f"（已从 {report.upgraded_from} 升级）" if report.upgraded_from else ""
    upgraded_en = f" (upgraded from {report.upgraded_from})" if report.upgraded_from else ""
    say(
        f"已恢复到 {summary.path}{upgraded}：{summary.tables} 张表，账本记录 {report.entries} 条，分录 {report.postings} 笔，"
        f"事件 {summary.events} 条；校验一致",
        f"restored to {summary.path}{upgraded_en}: {summary.tables} tables, {report.entries} ledger entries, "
        f"{report.postings} postings, {summary.events} events; verified consistent",
    )
