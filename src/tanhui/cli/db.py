from __future__ import annotations

import typer

from tanhui.cli.output import say
from tanhui.store import migrate, open_store
from tanhui.store.engine import describe

app = typer.Typer(help="Database: create or upgrade the schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision (default: the newest).")) -> None:
    """Create the database if needed and apply every migration (safe to run again)."""
    store = open_store()
    migrate.upgrade(store, revision)
    say(
        f"数据库已是最新版本 {migrate.current(store)}：{describe(store.url)}",
        f"database at revision {migrate.current(store)}: {describe(store.url)}",
    )


@app.command("check")
def check() -> None:
    """Fail if the models and the migrations disagree (alembic check)."""
    store = open_store()
    migrate.check(store)
    say("模型与迁移一致", "models and migrations agree")
