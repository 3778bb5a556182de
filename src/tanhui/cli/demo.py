from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tanhui.cli.output import console, say
from tanhui.errors import InvalidInput
from tanhui.lifecycle import terminate_on_sigterm

if TYPE_CHECKING:  # the demo's modules load when it runs (the CLI imports only the command run)
    from tanhui.sim.demo import DemoResult
    from tanhui.store import Store


def demo(
    people: int = typer.Option(2000, "--people", min=10, help="People in the city."),
    days: int = typer.Option(30, "--days", min=1, max=60, help="Days of history to simulate."),
    seed: int = typer.Option(7, "--seed", help="The same seed builds the same city."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    database: Path = typer.Option(Path("var/demo.db"), "--database", help="The demo's own SQLite file (rebuilt)."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep serving the web app when the city is built."),
    second_city: bool = typer.Option(
        False,
        "--second-city",
        help="Build a second city that federates with a running demo city (defaults: var/demo-2.db, port 8001, 300 people, 7 days).",
    ),
    first_url: str = typer.Option("http://127.0.0.1:8000", "--first-url", help="--second-city: where the demo city answers."),
    first_database: Path = typer.Option(Path("var/demo.db"), "--first-database", help="--second-city: the demo city's database."),
) -> None:
    """Build the demo city (绿芽积分) on a fresh SQLite database, then serve it at http://HOST:PORT.

    With --second-city: a second deployment federated with the running demo city, which refuses the
    demo city's bus trip as a behaviour already credited there."""
    from tanhui.sim import demo as city
    from tanhui.sim import federation

    if second_city:
        database = Path("var/demo-2.db") if database == Path("var/demo.db") else database
        port = 8001 if port == 8000 else port
        people = 300 if people == 2000 else people
        days = 7 if days == 30 else days
        seed = 11 if seed == 7 else seed
        if not federation.first_city_up(first_url):
            raise InvalidInput("demo_first_city_not_running", url=first_url)
    database.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{database.resolve()}"
    from tanhui.store import Store, migrate

    store = Store(url)
    migrate.upgrade(store)
    key_file = federation.federation_key_file(first_database if second_city else database)
    if not second_city:
        federation.join(store, federation.FIRST_CITY, key_file)
    log = database.with_suffix(".server.log")
    terminate_on_sigterm()  # SIGTERM runs the same clean-up as Ctrl-C: the server stops with the demo
    server = city.start_server(url, host, port if serve else city.free_port(), log)
    base = f"http://{host}:{port}" if serve else _base(server)
    try:
        if second_city:
            federation.federate(first_url, f"sqlite:///{first_database.resolve()}", base, store, key_file)
        result = city.build(
            url,
            people_count=people,
            days=days,
            seed=seed,
            base_url=base,
            console=console,
            trip_prefix="YB" if second_city else "LZ",
        )
        told = _federation_demo(store, base, result, second_city)
    except BaseException:
        server.terminate()
        server.wait(timeout=30)
        raise
    finally:
        store.dispose()
    say(
        f"演示城市已建成（{result.seconds:.0f} 秒）：{result.people} 人，{result.days} 天，上报 {result.events_sent} 条，"
        f"入账 {result.summary['credited']} 条，拒绝 {result.summary['rejected']} 条，减排 {result.summary['carbon_g'] / 1_000_000:.2f} 吨，"
        f"签到 {result.checkins} 次，订单 {result.orders} 个，签发碳信用 {result.credits_issued} 吨",
        f"demo city built in {result.seconds:.0f} s: {result.people} people, {result.days} days, {result.events_sent} reports, "
        f"{result.summary['credited']} credited, {result.summary['rejected']} rejected, {result.summary['carbon_g'] / 1_000_000:.2f} t CO2e, "
        f"{result.checkins} check-ins, {result.orders} orders, {result.credits_issued} t of credits issued",
    )
    if result.rejected:
        say(
            "欺诈与重复规则拦截：" + "，".join(f"{k} {v}" for k, v in sorted(result.rejected.items())),
            "caught by the rules: " + ", ".join(f"{k} {v}" for k, v in sorted(result.rejected.items())),
        )
    if told is not None:
        say(*told)
    if not serve:
        server.terminate()
        server.wait(timeout=30)
        return
    say(f"打开 http://{host}:{port}", f"open http://{host}:{port}")
    say(
        f"以居民身份登录（一次性链接）：http://{host}:{port}{result.login_url}",
        f"sign in as a person (one-time link): http://{host}:{port}{result.login_url}",
    )
    import secrets as _secrets

    from tanhui.services import identity as _identity
    from tanhui.services import organisations as _organisations

    operator_password = _secrets.token_urlsafe(9)
    store = Store(url)
    _identity.create_operator(store, city.SCHEME_ID, "operator", operator_password, "operator")
    first_org = _organisations.list_(store, city.SCHEME_ID)[0]  # 泸州老窖股份有限公司 runs its own organisation
    _identity.create_org_admin(store, first_org.public_id, "org-admin", operator_password)
    store.dispose()
    say(
        f"运营方登录：http://{host}:{port}/admin/login（用户名 operator，密码 {operator_password}）",
        f"operator sign-in: http://{host}:{port}/admin/login (username operator, password {operator_password})",
    )
    say(
        f"机构管理员（{first_org.name}）：同一地址，用户名 org-admin，密码同上",
        f"organisation administrator ({first_org.name}): the same address, username org-admin, the same password",
    )
    if result.certificate_url:
        say(
            f"碳中和证书：http://{host}:{port}{result.certificate_url}",
            f"carbon-neutrality certificate: http://{host}:{port}{result.certificate_url}",
        )
    say(
        f"数据库：{database}（TANHUI_DATABASE_URL={url}）；按 Ctrl-C 停止",
        f"database: {database} (TANHUI_DATABASE_URL={url}); Ctrl-C stops",
    )
    try:
        server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)


def _base(server: object) -> str:
    args = getattr(server, "args", [])
    port = args[args.index("--port") + 1]
    host = args[args.index("--host") + 1]
    return f"http://{host}:{port}"


def _federation_demo(store: Store, base: str, result: DemoResult, second_city: bool) -> tuple[str, str] | None:
    """The demo city reports the federation's demo trip; the second city pulls its claims and is refused
    the same trip (docs/interop.md, "Claims")."""
    from tanhui.sim import federation

    partner = result.partners.get(federation.BUS)
    rider = result.bus_rider_ref
    if partner is None or rider is None:
        return None
    if not second_city:
        answer = federation.report_trip(base, partner, rider, "lz-fed-demo-0001")
        return (
            f"联邦演示：公交行程 {federation.DEMO_TRIP} 已在本城报告（{answer['status']}）。另开一个终端运行 "
            "./run demo --second-city：第二座城市与本城联邦，它的公交公司再报同一行程时将被拒绝（duplicate_behaviour，claimed_by cn-luzhou）",
            f"federation: bus trip {federation.DEMO_TRIP} reported here ({answer['status']}). In another terminal run "
            "./run demo --second-city: a second city federates with this one and refuses the same trip from its own bus company "
            "(duplicate_behaviour, claimed_by cn-luzhou)",
        )
    pulled, answer = federation.pull_and_report(store, base, partner, rider)
    claimed_by = (answer.get("details") or {}).get("claimed_by")
    entries = sum(p.new_entries for p in pulled)
    return (
        f"联邦演示：已从 cn-luzhou 拉取认领日志（{entries} 条）；本城公交公司报告同一行程 {federation.DEMO_TRIP}："
        f"{answer['status']} {answer.get('reason') or ''}（claimed_by {claimed_by}）",
        f"federation: pulled cn-luzhou's claims log ({entries} entries); this city's bus company reported the same trip {federation.DEMO_TRIP}: "
        f"{answer['status']} {answer.get('reason') or ''} (claimed_by {claimed_by})",
    )
