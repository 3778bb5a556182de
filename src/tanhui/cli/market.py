from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from tanhui.cli.audit import actor
from tanhui.cli.output import console, print_json, say
from tanhui.domain.market import KINDS
from tanhui.errors import InvalidInput
from tanhui.services import market as market_service
from tanhui.services.export import write_table
from tanhui.store import open_store

app = typer.Typer(help="The marketplace (积分商城): catalog, coupon codes, orders.", no_args_is_help=True)


def _when(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("invalid_item", details={field: "RFC 3339 time with an offset"}, fields=field) from None
    if moment.tzinfo is None:
        raise InvalidInput("invalid_item", details={field: "RFC 3339 time with an offset"}, fields=field)
    return moment


@app.command("add")
def add(
    scheme: str = typer.Option(..., "--scheme"),
    title: str = typer.Option(..., "--title", help="Title in Chinese (shown by default)."),
    points: int = typer.Option(..., "--points", help="Price in points."),
    stock: int = typer.Option(0, "--stock"),
    kind: str = typer.Option("coupon", "--kind", help=f"One of {', '.join(KINDS)}."),
    title_en: str = typer.Option("", "--title-en"),
    description: str = typer.Option("", "--description"),
    description_en: str = typer.Option("", "--description-en"),
    category: str = typer.Option("other", "--category"),
    limit: int | None = typer.Option(None, "--limit", help="Most a person may order in total."),
    starts: str | None = typer.Option(None, "--starts", help="Sale window start (RFC 3339)."),
    ends: str | None = typer.Option(None, "--ends", help="Sale window end (RFC 3339)."),
    merchant: str = typer.Option("", "--merchant"),
    key: str | None = typer.Option(None, "--key", help="Your own name for the item (unique in the scheme)."),
    as_json: bool = typer.Option(False, "--json", help="Print the item (with its id) as JSON."),
) -> None:
    """Add an item to a scheme's catalog."""
    item = market_service.add_item(
        open_store(),
        scheme,
        {
            "key": key,
            "kind": kind,
            "category": category,
            "title_zh": title,
            "title_en": title_en,
            "description_zh": description,
            "description_en": description_en,
            "points_price": points,
            "stock": stock,
            "per_person_limit": limit,
            "sale_starts_at": _when(starts, "starts"),
            "sale_ends_at": _when(ends, "ends"),
            "merchant": merchant,
        },
        actor=actor(),
    )
    if as_json:
        print_json(item.to_dict())
    else:
        say(
            f"已添加商品 {item.public_id}：{item.title_zh}（{item.points_price} 积分，库存 {item.stock}）",
            f"added item {item.public_id}: {item.title_zh} ({item.points_price} points, stock {item.stock})",
        )


@app.command("update")
def update(
    item_id: str = typer.Argument(..., metavar="ITEM"),
    points: int | None = typer.Option(None, "--points"),
    stock: int | None = typer.Option(None, "--stock"),
    title: str | None = typer.Option(None, "--title"),
    status: str | None = typer.Option(None, "--status", help="active or hidden"),
    limit: int | None = typer.Option(None, "--limit"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Change an item's price, stock, title, visibility or limit."""
    changes = {
        k: v
        for k, v in {
            "points_price": points,
            "stock": stock,
            "title_zh": title,
            "status": status,
            "per_person_limit": limit,
        }.items()
        if v is not None
    }
    item = market_service.update_item(open_store(), item_id, changes, actor=actor())
    if as_json:
        print_json(item.to_dict())
    else:
        say(f"已更新商品 {item.public_id}", f"updated item {item.public_id}")


@app.command("list")
def list_(scheme: str = typer.Option(..., "--scheme"), as_json: bool = typer.Option(False, "--json")) -> None:
    """The catalog of a scheme."""
    items = market_service.list_items(open_store(), scheme)
    if as_json:
        print_json([i.to_dict() for i in items])
        return
    table = Table("id", "category", "kind", "title", "points", "stock", "status")
    for i in items:
        table.add_row(i.public_id, i.category, i.kind, i.title_zh, str(i.points_price), str(i.stock), i.status)
    console.print(table)


@app.command("import-codes")
def import_codes(
    item_id: str = typer.Argument(..., metavar="ITEM"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="One code per line (a CSV's first column)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add a merchant's coupon codes to an item's pool (codes already there are skipped)."""
    codes = [line.split(",")[0] for line in file.read_text(encoding="utf-8-sig").splitlines()]
    result = market_service.import_codes(open_store(), item_id, codes, actor=actor())
    if as_json:
        print_json(result)
    else:
        say(
            f"新增 {result['added']} 个券码，跳过 {result['skipped']} 个重复；可用 {result['unused']}",
            f"added {result['added']} codes, skipped {result['skipped']} duplicates; {result['unused']} unused",
        )


@app.command("orders")
def orders(
    scheme: str = typer.Option(..., "--scheme"),
    status: str | None = typer.Option(None, "--status"),
    export: Path | None = typer.Option(None, "--export", help="Write the orders to a .csv or .xlsx file."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A scheme's orders; --export writes them for merchants."""
    found = market_service.scheme_orders(open_store(), scheme, status)
    if export is not None:
        header = [
            "order_id",
            "status",
            "item_id",
            "item",
            "kind",
            "quantity",
            "points",
            "coupon_codes",
            "account_id",
            "created_at",
            "updated_at",
        ]
        rows = (
            [
                o.public_id,
                o.status,
                o.item_public_id,
                o.item_title,
                o.item_kind,
                o.quantity,
                o.points,
                " ".join(o.coupon_codes or []),
                o.account_id,
                o.created_at.isoformat(),
                o.updated_at.isoformat(),
            ]
            for o in found
        )
        count = write_table(export, header, rows)
        say(f"已导出 {count} 个订单到 {export}", f"exported {count} orders to {export}")
        return
    if as_json:
        print_json([o.to_dict() for o in found])
        return
    table = Table("order", "status", "item", "qty", "points", "created")
    for o in found:
        table.add_row(o.public_id, o.status, o.item_title, str(o.quantity), str(o.points), o.created_at.isoformat())
    console.print(table)


@app.command("ship")
def ship(
    order_id: str = typer.Argument(..., metavar="ORDER"),
    carrier: str | None = typer.Option(None, "--carrier", help="The carrier (e.g. 顺丰速运); with --tracking."),
    tracking: str | None = typer.Option(None, "--tracking", help="The tracking number the person follows the parcel with."),
) -> None:
    """A physical order left the warehouse."""
    order = market_service.ship_order(open_store(), order_id, actor=actor(), carrier=carrier, tracking=tracking)
    say(f"订单 {order['order_id']} 已发货", f"order {order['order_id']} shipped")


@app.command("deliver")
def deliver(order_id: str = typer.Argument(..., metavar="ORDER")) -> None:
    """A physical order arrived: its held points are posted."""
    order = market_service.deliver_order(open_store(), order_id, actor=actor())
    say(f"订单 {order['order_id']} 已签收", f"order {order['order_id']} delivered")


@app.command("cancel")
def cancel(order_id: str = typer.Argument(..., metavar="ORDER")) -> None:
    """Cancel an order before it ships: points and stock return."""
    order = market_service.cancel_order(open_store(), order_id, by="operator", actor=actor())
    say(f"订单 {order['order_id']} 已取消", f"order {order['order_id']} cancelled")
