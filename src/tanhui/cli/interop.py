"""`tanhui interop ...`: this deployment's identity among Tanhui platforms, its peers, and statement checks
(docs/interop.md has the operator's guide)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from tanhui.cli.audit import actor
from tanhui.cli.output import console, print_json, say
from tanhui.errors import InvalidInput
from tanhui.services import interop, interop_client, interop_log, interop_sync, portable_statements
from tanhui.store import open_store

app = typer.Typer(
    help="Interconnection (平台互联): this platform's identity and key, its peer platforms, statement checks.",
    no_args_is_help=True,
)
peer_app = typer.Typer(help="Peer platforms (互联平台) this one trusts: id, URL, public key.", no_args_is_help=True)
app.add_typer(peer_app, name="peer")


@app.command("init")
def init(
    platform_id: str = typer.Option(..., "--platform-id", help="This platform's id, e.g. cn-luzhou (3-64 of a-z 0-9 - .)."),
    name: str = typer.Option(..., "--name", help="Display name, e.g. 泸州碳惠."),
    federation_key_file: Path = typer.Option(
        ..., "--federation-key-file", help="The federation's shared key (mode 0600; `tanhui secrets new-key` makes one)."
    ),
    as_json: bool = typer.Option(False, "--json", help='Print {"platform_id", "name", "public_key"}.'),
) -> None:
    """Make this platform's Ed25519 key pair (once); the private key is sealed and never shown."""
    made = interop.init_platform(open_store(), platform_id, name, federation_key_file, actor=actor())
    if as_json:
        print_json(made)
        return
    say(
        f"已初始化平台 {made['platform_id']}（{made['name']}）；公钥：{made['public_key']}",
        f"initialised platform {made['platform_id']} ({made['name']}); public key: {made['public_key']}",
    )
    say("把平台编号、网址和公钥交给互联平台的运营方", "give the platform id, URL and public key to your peers' operators")


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json")) -> None:
    """This platform's id, name and public key (what GET /v1/interop/platform serves)."""
    info = interop.public_info(open_store())
    if as_json:
        print_json(info)
        return
    say(
        f"平台 {info['platform_id']}（{info['name']}），公钥 {info['public_key']}，协议 {info['protocol']}",
        f"platform {info['platform_id']} ({info['name']}), public key {info['public_key']}, protocol {info['protocol']}",
    )


@peer_app.command("add")
def peer_add(
    platform_id: str = typer.Option(..., "--platform-id", help="The peer's platform id."),
    url: str = typer.Option(..., "--url", help="Its base URL, e.g. https://tanhui.example.org."),
    public_key: str = typer.Option(..., "--public-key", help="Its public key (its GET /v1/interop/platform)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Trust a peer platform: counts at once in running servers."""
    peer = interop.add_peer(open_store(), platform_id, url, public_key, actor=actor())
    if as_json:
        print_json(peer.to_dict())
        return
    say(f"已添加互联平台 {peer.platform_id}（{peer.url}）", f"added peer platform {peer.platform_id} ({peer.url})")


@peer_app.command("list")
def peer_list(
    include_removed: bool = typer.Option(False, "--all", help="Also peers removed earlier."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The peer platforms this one trusts, with their claims logs' state (trust, size, last sync)."""
    statuses = interop_sync.peer_statuses(open_store(), include_removed=include_removed)
    if as_json:
        print_json({"peers": [s.to_dict() for s in statuses]})
        return
    table = Table("platform_id", "url", "status", "trust", "tree_size", "synced_at", "last_error", "public_key")
    for s in statuses:
        row = s.to_dict()
        trust = row["trust"] if row["trust"] == "trusted" else f"untrusted: {row['untrusted_reason']}"
        synced = (row["synced_at"] or "-")[:19]
        table.add_row(
            s.peer.platform_id,
            s.peer.url,
            s.peer.status,
            trust,
            str(row["tree_size"]),
            synced,
            row["last_error"] or "",
            s.peer.public_key,
        )
    console.print(table)


@peer_app.command("remove")
def peer_remove(platform_id: str = typer.Argument(..., metavar="ID"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Stop trusting a peer: its requests and statements are refused at once."""
    peer = interop.remove_peer(open_store(), platform_id, actor=actor())
    if as_json:
        print_json(peer.to_dict())
        return
    say(f"已移除互联平台 {peer.platform_id}", f"removed peer platform {peer.platform_id}")


@peer_app.command("ping")
def peer_ping(platform_id: str = typer.Argument(..., metavar="ID"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Send the peer a signed request: it answers only if both sides have each other's keys (exit 1 if not)."""
    result = interop_client.ping(open_store(), platform_id)
    if as_json:
        print_json(result)
    elif result["ok"]:
        say(f"{platform_id} 已确认本平台的签名", f"{platform_id} accepted this platform's signature")
    else:
        error = result["answer"].get("error", {})
        say(f"{platform_id} 拒绝：{error.get('code')}", f"{platform_id} refused: {error.get('code')} ({error.get('message')})")
    if not result["ok"]:
        raise typer.Exit(1)


@app.command("sync")
def sync(
    peer: str | None = typer.Option(None, "--peer", help="Only this peer (default: every active peer)."),
    as_json: bool = typer.Option(
        False, "--json", help='Print {"peers": [{"platform_id", "new_entries", "tree_size", "trust", ...}]}.'
    ),
) -> None:
    """Log this platform's new claims, then pull and verify each peer's claims log (exit 1 if a peer is
    untrusted or did not answer)."""
    results = interop_sync.sync(open_store(), peer)
    if as_json:
        print_json({"peers": [r.to_dict() for r in results]})
    if not results and not as_json:
        say("没有互联平台（tanhui interop peer add）", "no peer platforms (tanhui interop peer add)")
    for r in [] if as_json else results:
        if r.trust != "trusted":
            say(
                f"{r.platform_id}：不再信任（{r.untrusted_reason}）：{r.error}",
                f"{r.platform_id}: untrusted ({r.untrusted_reason}): {r.error}",
            )
        elif r.error:
            say(f"{r.platform_id}：未能同步：{r.error}", f"{r.platform_id}: not synced: {r.error}")
        else:
            say(
                f"{r.platform_id}：新增 {r.new_entries} 条，日志共 {r.tree_size} 条",
                f"{r.platform_id}: {r.new_entries} new, log size {r.tree_size}",
            )
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command("log")
def claims_log(as_json: bool = typer.Option(False, "--json", help="Print the signed head.")) -> None:
    """This platform's claims log: its newest signed head (after logging what waits)."""
    head = interop_log.own_head(open_store())
    if as_json:
        print_json(head)
        return
    say(
        f"认领日志：{head['tree_size']} 条，根 {head['root_hash']}，签于 {head['timestamp']}",
        f"claims log: size {head['tree_size']}, root {head['root_hash']}, signed at {head['timestamp']}",
    )


@app.command("verify-statement")
def verify_statement(
    file: Path = typer.Argument(..., metavar="FILE", help="A statement: the JWS text, or the JSON GET /v1/me/statement gave."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check a statement of this platform or of a peer (exit 1 when it is not valid)."""
    statement = _statement_text(file)
    verdict = portable_statements.verify(open_store(), statement)
    if as_json:
        print_json(verdict.to_dict())
    elif verdict.valid:
        payload = verdict.payload or {}
        say(
            f"有效：平台 {verdict.platform_id}，{payload.get('period', {}).get('year')} 年，减排 {payload.get('carbon_g')} 克",
            f"valid: platform {verdict.platform_id}, year {payload.get('period', {}).get('year')}, {payload.get('carbon_g')} g",
        )
    else:
        say(f"无效（{verdict.reason}）", f"not valid ({verdict.reason})")
    if not verdict.valid:
        raise typer.Exit(1)


def _statement_text(file: Path) -> str:
    try:
        text = file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput("invalid_request", details={"file": type(error).__name__}) from None
    if text.startswith("{"):
        try:
            found = json.loads(text).get("statement")
        except (ValueError, AttributeError):
            found = None
        if not isinstance(found, str):
            raise InvalidInput("invalid_request", details={"file": 'JSON without a "statement"'})
        return found
    return text
