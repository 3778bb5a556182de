"""The operator dashboard's tables: the rows each page and each export shows, and the page that shows them."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from tanhui.errors import InvalidInput
from tanhui.services import audit, market, organisations, reports
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web.i18n import label, translator
from tanhui.web.labels import actor_name, audit_details, target_name
from tanhui.web.render import grams_as_kg, render, web_lang
from tanhui.web.times import LocalTimes, zone_of_scheme

EXPORT_TABLES = ("scenarios", "series", "partners", "review", "catalog", "orders", "organisations")
PERSONAL_TABLES = ("review", "orders")  # viewers may look, not download (docs/web.md, "Roles")


def table_page(
    request: Request,
    scope: OperatorScope,
    title: str,
    export: str | None,
    columns: list[str],
    rows: list[dict[str, Any]],
    *,
    total: int | None = None,
    **extra: Any,
) -> HTMLResponse:
    """A list of the dashboard, 50 rows a page with "显示 1–50，共 649 条". `rows` is the whole list
    (paged here), or, with `total`, the page the caller already read."""
    page_no = page_number(request)
    if total is None:
        total = len(rows)
        rows = rows[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
    params = tuple((k, v) for k, v in request.query_params.multi_items() if k != "page")
    paging = Paging(page_no, PAGE_SIZE, total, request.url.path, params)
    lang = web_lang(request)
    return render(
        request,
        "admin_table.html",
        admin=scope,
        title=title,
        columns=columns,
        rows=rows,
        paging=paging,
        shown=paging.shown(lang, len(rows)),
        export=f"/admin/schemes/{scope.scheme_id}/export/{export}" if export else None,
        can_export=scope.role == "operator" or export not in PERSONAL_TABLES,
        qs="",
        numeric=extra.pop("numeric", ()),
        nowrap=extra.pop("nowrap", ()),
        **extra,
    )


PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Paging:
    """Where a list's page sits in the whole: "显示 51–100，共 649 条" and the links either side."""

    page: int
    size: int
    total: int
    base: str  # the list's path with its filters; the page number is added
    params: tuple[tuple[str, str], ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    def href(self, page: int) -> str:
        query = [*self.params, *([("page", str(page))] if page > 1 else [])]
        return self.base + (f"?{urlencode(query)}" if query else "")

    def shown(self, lang: str, count: int) -> str:
        _ = translator(lang)
        if count == 0:
            return _("{total} in all").format(total=f"{self.total:,}")
        first = self.offset + 1
        return _("Showing {first}–{last} of {total}").format(
            first=f"{first:,}", last=f"{first + count - 1:,}", total=f"{self.total:,}"
        )

    def prev(self) -> str | None:
        return self.href(min(self.page - 1, self.pages)) if self.page > 1 else None

    def next(self) -> str | None:
        return self.href(self.page + 1) if self.page < self.pages else None


def page_number(request: Request) -> int:
    """The `page` parameter of a list (1 when absent); anything but a whole number from 1 is refused."""
    raw = request.query_params.get("page")
    if raw is None or raw == "":
        return 1
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise InvalidInput("invalid_request", details={"page": "a whole number from 1"})
    return int(raw)


def catalog_rows(store: Store, scheme_id: str, lang: str, codes: bool = False) -> list[dict[str, Any]]:
    """The catalog as shown (codes named in the language), or with the stored codes (the export)."""
    named = (lambda _group, code: code) if codes else label(lang)
    return [
        {
            "item": i.public_id,
            "title": i.title(lang),
            "category": named("category", i.category),
            "kind": named("item_kind", i.kind),
            "points": i.points_price,
            "stock": i.stock,
            "merchant": i.merchant,
            "status": named("item_status", i.status),
        }
        for i in market.list_items(store, scheme_id)
    ]


def organisation_rows(store: Store, scheme_id: str, scope: OperatorScope | None, lang: str | None = None) -> list[dict[str, Any]]:
    """The organisations with their kind named in `lang` (the page), or as stored (the export: lang None)."""
    board = {s.key: s for s in organisations.scheme_board(store, scheme_id)}
    rows = []
    with store.unit_of_work(write=False) as uow:
        for org in uow.organisations.list(scheme_id):
            s = board.get(org.public_id)
            rows.append(
                {
                    "organisation": org.public_id,
                    "name": org.name,
                    "kind": label(lang)("org_kind", org.kind) if lang else org.kind,
                    "members": s.members if s else 0,
                    "kg": grams_as_kg(s.carbon_g if s else 0),
                    "invite_code": uow.memberships.invite_code(org.id) if scope is None or scope.role == "operator" else "—",
                    "href": f"/admin/schemes/{scheme_id}/organisations/{org.public_id}",
                }
            )
    return rows


def audit_rows(
    store: Store, scheme_id: str, action: str | None, lang: str, base: str, when: LocalTimes, page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the entries, newest first, and how many there are; an action links to the entries
    of that action; partners, organisations and items by their names."""
    named = label(lang)
    entries, total = audit.page(store, scheme_id, action, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    names = scheme_names(store, scheme_id, lang)
    rows = [
        {
            "time": when(e.created_at, seconds=True),
            "actor": actor_name(e.actor, lang),
            "action": named("action", e.action),
            "href": f"{base}?{urlencode({'action': e.action})}",
            "target": names.get(e.target or "") or target_name(e.target, lang),
            "details": audit_details(e.action, e.details, lang, names),
        }
        for e in entries
    ]
    return rows, total


def scheme_names(store: Store, scheme_id: str, lang: str) -> dict[str, str]:
    """What a scheme's ids stand for: partners, organisations and items by name (for the audit log)."""
    with store.unit_of_work(write=False) as uow:
        found = {p.id: p.name for p in uow.partners.list(scheme_id)}
        found.update({o.public_id: o.name for o in uow.organisations.list(scheme_id)})
    found.update({i.public_id: i.title(lang) for i in market.list_items(store, scheme_id)})
    return found


Table = tuple[list[str], list[list[Any]]]
PARTNER_COLUMNS = [
    "partner_id", "name", "events", "credited", "rejected", "rejected_share", "events_per_day", "carbon_g", "points",
    "rejected_by_reason",
]  # fmt: skip
REVIEW_COLUMNS = ["id", "received_at", "partner_id", "event_id", "account_id", "scenario", "occurred_at", "reason", "details"]
ORDER_COLUMNS = ["order_id", "created_at", "account_id", "item_id", "item_title", "quantity", "points", "status", "coupon_codes",
                 "delivery_method", "recipient", "phone", "delivery_place"]  # fmt: skip
ORGANISATION_COLUMNS = ["organisation", "name", "kind", "members", "kg", "invite_code"]


def _scenarios(store: Store, scheme_id: str, day_from: str | None, day_to: str | None) -> Table:
    st = reports.stats(store, scheme_id, day_from, day_to)
    rows = [[k, v["events"], v["carbon_g"], v["points"]] for k, v in st["by_scenario"].items()]
    return ["scenario", "events", "carbon_g", "points"], rows


def _series(store: Store, scheme_id: str, day_from: str | None, day_to: str | None) -> Table:
    st = reports.stats(store, scheme_id, day_from, day_to)
    rows = [[d["date"], d["carbon_g"], d["events"], d["active_users"]] for d in st["series"]]
    return ["date", "carbon_g", "events", "active_users"], rows


def _partners(store: Store, scheme_id: str, day_from: str | None, day_to: str | None) -> Table:
    rows: list[list[Any]] = []
    for p in reports.partners_health(store, scheme_id, day_from, day_to)["partners"]:
        reasons = "; ".join(f"{k}={v}" for k, v in p["reasons"].items())
        rows.append(
            [p["partner_id"], p["name"], p["events"], p["credited"], p["rejected"], round(p["rejected_share"], 4),
             round(p["events_per_day"], 2), p["carbon_g"], p["points"], reasons]
        )  # fmt: skip
    return PARTNER_COLUMNS, rows


def _review(store: Store, scheme_id: str, day_from: str | None, day_to: str | None) -> Table:
    iso = LocalTimes(zone_of_scheme(store, scheme_id), "en").iso
    rows = [
        [r["id"], iso(r["received_at"]), r["partner_id"], r["event_id"], r["account_id"], r["scenario"], iso(r["occurred_at"]),
         r["reason"], str(r["details"] or "")]
        for r in reports.review(store, scheme_id, None, limit=100_000)
    ]  # fmt: skip
    return REVIEW_COLUMNS, rows


def _catalog(store: Store, scheme_id: str, day_from: str | None, day_to: str | None) -> Table:
    items = catalog_rows(store, scheme_id, "zh-CN", codes=True)
    return (list(items[0].keys()) if items else ["item"]), [list(r.values()) for r in items]


def _orders(store: Store, scheme_id: str, day_from: str | None, day_to: str | None) -> Table:
    iso = LocalTimes(zone_of_scheme(store, scheme_id), "en").iso
    orders = market.scheme_orders(store, scheme_id)
    to = market.deliveries(store, [o.public_id for o in orders if o.item_kind == "physical"])  # operators only: personal
    rows = [
        [o.public_id, iso(o.created_at), o.account_id, o.item_public_id, o.item_title, o.quantity, o.points,
         o.status, " ".join(o.coupon_codes or []),
         *[to.get(o.public_id, {}).get(k, "") for k in ("method", "recipient", "phone", "place")]]
        for o in orders
    ]  # fmt: skip
    return ORDER_COLUMNS, rows


def _organisations(store: Store, scheme_id: str, day_from: str | None, day_to: str | None) -> Table:
    rows = organisation_rows(store, scheme_id, None)
    return ORGANISATION_COLUMNS, [[r[k] for k in ORGANISATION_COLUMNS] for r in rows]


EXPORTS = {
    "scenarios": _scenarios, "series": _series, "partners": _partners, "review": _review, "catalog": _catalog,
    "orders": _orders, "organisations": _organisations,
}  # fmt: skip


def export_rows(store: Store, scheme_id: str, table: str, day_from: str | None, day_to: str | None) -> Table:
    """The header and rows of one operator export (an unknown name gives the organisations, as before)."""
    return EXPORTS.get(table, _organisations)(store, scheme_id, day_from, day_to)


def file_response(filename: str, header: list[str], rows: list[list[Any]], fmt: str) -> Response:
    from tanhui.services.export import write_table

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / filename
        write_table(path, header, rows, fmt)
        content = path.read_bytes()
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
