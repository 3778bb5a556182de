from __future__ import annotations

import typer
from rich.table import Table

from tanhui.cli.audit import actor
from tanhui.cli.output import console, print_json, say
from tanhui.services import partners as partner_service
from tanhui.store import open_store

app = typer.Typer(help="Partners (合作方): platforms that report behaviours, each with a signing secret.", no_args_is_help=True)


def _scenarios(value: str) -> list[str]:
    return [s for s in (part.strip() for part in value.split(",")) if s]


@app.command("create")
def create(
    scheme: str = typer.Option(..., "--scheme", help="The scheme the partner reports into."),
    name: str = typer.Option(..., "--name", help="Display name, e.g. 泸州公交."),
    scenarios: str = typer.Option(..., "--scenarios", help="Comma-separated scenario keys, e.g. bus_ride,metro_ride."),
    as_json: bool = typer.Option(False, "--json", help='Print {"partner_id", "secret", "scheme_id", "scenarios"}.'),
) -> None:
    """Create a partner and print its id and secret (the secret is shown this once)."""
    created = partner_service.create_partner(open_store(), scheme, name, _scenarios(scenarios), actor=actor())
    if as_json:
        print_json(created.to_dict())
        return
    say(
        f"已创建合作方 {created.partner.id}（{created.partner.name}，方案 {created.partner.scheme_id}）",
        f"created partner {created.partner.id} ({created.partner.name}, scheme {created.partner.scheme_id})",
    )
    say(f"密钥（只显示这一次，请妥善保存）：{created.secret}", f"secret (shown only this once; keep it safe): {created.secret}")


@app.command("rotate-secret")
def rotate_secret(
    partner_id: str = typer.Argument(..., metavar="ID"),
    retire_old: bool = typer.Option(False, "--retire-old", help="Finish a rotation: only the newest secret stays valid."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue a new secret (old and new both valid), or finish the rotation with --retire-old."""
    store = open_store()
    if retire_old:
        retired = partner_service.retire_old_secrets(store, partner_id, actor=actor())
        if as_json:
            print_json({"partner_id": partner_id, "retired": retired})
        else:
            say(f"已停用 {retired} 个旧密钥", f"retired {retired} old secret(s)")
        return
    secret = partner_service.rotate_secret(store, partner_id, actor=actor())
    if as_json:
        print_json({"partner_id": partner_id, "secret": secret})
    else:
        say(
            f"新密钥（旧密钥在 --retire-old 之前仍然有效）：{secret}",
            f"new secret (the old one stays valid until --retire-old): {secret}",
        )


@app.command("list")
def list_(
    scheme: str | None = typer.Option(None, "--scheme", help="Only this scheme's partners."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List partners (never their secrets)."""
    found = partner_service.list_partners(open_store(), scheme)
    if as_json:
        print_json([p.to_dict() for p in found])
        return
    table = Table("partner_id", "scheme", "name", "scenarios", "status")
    for p in found:
        table.add_row(p.id, p.scheme_id, p.name, ",".join(p.scenarios), p.status)
    console.print(table)


@app.command("disable")
def disable(partner_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Refuse every further request of the partner (401 unknown_partner)."""
    partner_service.set_status(open_store(), partner_id, "disabled", actor=actor())
    say(f"已停用合作方 {partner_id}", f"disabled partner {partner_id}")


@app.command("enable")
def enable(partner_id: str = typer.Argument(..., metavar="ID")) -> None:
    """Accept the partner's requests again."""
    partner_service.set_status(open_store(), partner_id, "active", actor=actor())
    say(f"已启用合作方 {partner_id}", f"enabled partner {partner_id}")
