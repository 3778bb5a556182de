"""Screenshots of the main pages, phone and desktop, into docs/screenshots/ (run when asked).

    python -m tanhui.web.screenshots [--out docs/screenshots] [--people 300] [--days 30]

Builds the demo city (the same code as `tanhui demo`) on a throw-away SQLite database, serves it, and
drives Debian's Chromium through Playwright (never `playwright install`: docs/web.md, "Browser tests").
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("TANHUI_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


def shoot(
    base_url: str, login_urls: dict[str, str], operator: tuple[str, str], out: Path, certificate_url: str | None = None
) -> list[Path]:
    """login_urls: one fresh one-time link per viewport; certificate_url: the demo's retirement certificate."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as p:
        browser = launch(p)
        for name, size in VIEWPORTS.items():
            context = browser.new_context(viewport=size, device_scale_factor=1, locale="zh-CN")
            page = context.new_page()

            # this viewport's page and name bound now, not looked up when called
            def snap(label: str, full: bool = True, page: Any = page, viewport: str = name) -> None:
                path = out / f"{viewport}-{label}.png"
                page.screenshot(path=str(path), full_page=full)
                written.append(path)

            page.goto(base_url + login_urls[name])
            snap("account")
            first = page.locator("a[href^='/me/events/']").first
            first.click()
            snap("calculation")
            page.goto(base_url + "/market")
            snap("market", full=False)
            page.goto(base_url + "/market?category=food")
            page.locator("a.item").first.click()
            snap("item")
            page.locator("[data-testid=redeem]").click()
            page.locator("[data-testid=confirm]").click()
            page.locator("[data-testid=coupon]").first.wait_for()
            snap_engagement(page, base_url, snap)
            page.goto(base_url + "/me/orders")
            snap("orders", full=False)
            snap_residents(page, base_url, snap, out / "report-poster.png")
            page.goto(base_url + "/orgs")
            snap("organisations", full=False)
            page.goto(base_url + "/lang/en?next=/me")
            snap("account-en", full=False)
            page.goto(base_url + "/lang/zh-CN?next=/me")
            page.goto(base_url + "/registry")
            snap("registry")
            if certificate_url:
                page.goto(base_url + certificate_url)
                snap("certificate")
                page.goto(base_url + f"/lang/en?next={certificate_url}")
                snap("certificate-en", full=False)
                page.goto(base_url + "/lang/zh-CN?next=/me")
            sign_in(page, base_url, operator, r".*/admin/schemes/.*")
            snap_operators(page, page.url, snap)
            context.clear_cookies()
            snap_org_admin(page, base_url, ("org-admin", operator[1]), snap)
            context.close()
        browser.close()
    if certificate_url:
        written.append(_pdf_page(base_url + certificate_url + ".pdf", out / "certificate-pdf.png"))
    return written


def snap_operators(page: Any, dashboard_url: str, snap: Any) -> None:
    """The dashboard, and issue 17's operator pages: the review queue (implausible reports) and the orders
    awaiting shipment."""
    snap("dashboard")
    page.goto(dashboard_url + "/review?reason=implausible")
    snap("review", full=False)
    page.goto(dashboard_url + "/orders?status=pending")
    snap("admin-orders", full=False)


def sign_in(page: Any, base_url: str, user: tuple[str, str], landing: str) -> None:
    """The dashboard's sign-in form, as an operator or an organisation's administrator types it."""
    page.goto(base_url + "/admin/login")
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(landing))


def snap_org_admin(page: Any, base_url: str, admin: tuple[str, str], snap: Any) -> None:
    """An organisation's own administrator: its figures and board, and its members."""
    sign_in(page, base_url, admin, r".*/admin/orgs/.*")
    home = page.url
    snap("org-admin")
    page.goto(home + "/members")
    snap("org-admin-members", full=False)


def snap_engagement(page: Any, base_url: str, snap: Any) -> None:
    """Issue 17's second part, from the coupon's order page: the coupon with its QR code, my data sources,
    the badge wall and the first organisation's members' board."""
    snap("coupon", full=False)
    page.goto(base_url + "/me/sources")
    snap("sources", full=False)
    page.goto(base_url + "/me/badges")
    snap("badges", full=False)
    page.goto(base_url + "/orgs")
    first = page.locator("a[href^='/orgs/org_']").first
    if first.count():
        first.click()
        snap("board", full=False)


def snap_residents(page: Any, base_url: str, snap: Any, poster: Path) -> None:
    """Issue 17's residents' pages: the points statement, the check-in calendar, the annual report and its poster."""
    page.goto(base_url + "/me/points")
    snap("points", full=False)
    page.goto(base_url + "/me/checkins")
    snap("checkins", full=False)
    page.goto(base_url + "/me/report")
    page.wait_for_timeout(1500)  # the server counts the year's ranking on its first request
    page.reload()
    snap("report")
    year = re.search(r"\d{4}", page.locator("h1").inner_text())
    if year is not None:
        poster.write_bytes(page.request.get(f"{base_url}/me/report/{year.group(0)}.png").body())


def _pdf_page(url: str, path: Path) -> Path:
    """The PDF certificate's first page as a PNG (rendered by PDFium, as Chrome's viewer would)."""
    import httpx
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(httpx.get(url, timeout=60).content)
    try:
        document[0].render(scale=1.5).to_pil().save(path)
    finally:
        document.close()
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    from datetime import timedelta

    from rich.console import Console

    from tanhui.services import identity
    from tanhui.sim import demo
    from tanhui.store import Store, migrate

    folder = Path(tempfile.mkdtemp(prefix="tanhui-shots-"))
    url = f"sqlite:///{folder / 'demo.db'}"
    store = Store(url)
    migrate.upgrade(store)
    port = demo.free_port()
    server = demo.start_server(url, "127.0.0.1", port, folder / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        result = demo.build(url, people_count=args.people, days=args.days, base_url=base, console=Console(stderr=True))
        password = secrets.token_urlsafe(12)
        identity.create_operator(store, demo.SCHEME_ID, "operator", password, "operator")
        from tanhui.services import organisations

        first_org = organisations.list_(store, demo.SCHEME_ID)[0]
        identity.create_org_admin(store, first_org.public_id, "org-admin", password)
        assert result.login_url is not None
        who = identity.use_login_ticket(store, result.login_url.rsplit("/", 1)[1])
        assert who is not None
        links = {name: identity.login_link(store, who.account_id, ttl=timedelta(hours=1)) for name in VIEWPORTS}
        for path in shoot(base, links, ("operator", password), args.out, result.certificate_url):
            sys.stdout.write(f"{path}\n")
    finally:
        server.terminate()
        server.wait(timeout=30)
        store.dispose()


if __name__ == "__main__":
    main()
