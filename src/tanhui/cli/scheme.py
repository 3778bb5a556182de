from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tanhui.cli.audit import actor
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
    scheme = scheme_service.create_scheme(open_store(), scheme_id, name, timezone, actor=actor())
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


@app.command("apply")
def apply(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A scheme file (TOML): settings, partners, catalog."),
    as_json: bool = typer.Option(False, "--json", help="Print the report (with new partners' secrets) as JSON."),
) -> None:
    """Create or update a scheme from a file; applying the same file again changes nothing."""
    from tanhui.services import scheme_file

    report = scheme_file.apply(open_store(), file, actor=actor())
    if as_json:
        print_json(report.to_dict())
        return
    state_zh = "已创建" if report.scheme_created else ("设置已更新" if report.settings_changed else "设置未变")
    state_en = "created" if report.scheme_created else ("settings updated" if report.settings_changed else "settings unchanged")
    say(
        f"方案 {report.scheme_id}：{state_zh}；"
        f"商品 新增 {report.items_created}、更新 {report.items_updated}、未变 {report.items_unchanged}",
        f"scheme {report.scheme_id}: {state_en}; "
        f"items created {report.items_created}, updated {report.items_updated}, unchanged {report.items_unchanged}",
    )
    for p in report.partners_created:
        say(
            f"新合作方 {p['partner_id']}（{p['name']}）密钥（只显示这一次）：{p['secret']}",
            f"new partner {p['partner_id']} ({p['name']}) secret (shown once): {p['secret']}",
        )
