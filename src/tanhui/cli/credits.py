"""`tanhui credits ...`: the carbon-inclusion credit registry (docs/registry.md)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from tanhui.cli.audit import actor
from tanhui.cli.output import console, print_json, say
from tanhui.errors import InvalidInput
from tanhui.messages import current_lang
from tanhui.services.registry import issuance, movements, transfers, views
from tanhui.services.registry import verify as registry_verify
from tanhui.store import open_store

app = typer.Typer(
    help="Credit registry (减排量登记簿): issue, transfer and retire credits; proofs; certificates.", no_args_is_help=True
)

EXIT_PROBLEMS = 1


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("invalid_request", details={"as_of": "YYYY-MM-DD"}) from None


def _write_pdf(cert: dict[str, Any], path: Path | None, base_url: str, quiet: bool = False) -> None:
    if path is None:
        return
    from zoneinfo import ZoneInfo

    from tanhui.certificates import certificate_pdf
    from tanhui.services.schemes import get_scheme

    zone = ZoneInfo(get_scheme(open_store(), cert["scheme_id"]).timezone)
    path.write_bytes(certificate_pdf(cert, base_url, current_lang(), zone))
    if not quiet:  # with --json, stdout carries only the JSON
        say(f"证书 PDF 已写入 {path}", f"certificate PDF written to {path}")


def _show_certificate(cert: dict[str, Any], as_json: bool, pdf: Path | None, base_url: str) -> None:
    if as_json:
        print_json(cert)
        _write_pdf(cert, pdf, base_url, quiet=True)
        return
    say(
        f"已注销 {cert['quantity']} t CO2e：证书 {cert['retirement_id']}（受益方 {cert['beneficiary']}；用途 {cert['purpose']}）",
        f"retired {cert['quantity']} t CO2e: certificate {cert['retirement_id']} (beneficiary {cert['beneficiary']}; purpose {cert['purpose']})",
    )
    table = Table("serials", "t", "batch", "merkle_root")
    for b in cert["blocks"]:
        table.add_row(f"{b['serial_first']} – {b['serial_last']}", str(b["quantity"]), b["batch_id"], b["merkle_root"])
    console.print(table)
    say(f"公开证书：{base_url}{cert['url']}", f"public certificate: {base_url}{cert['url']}")
    _write_pdf(cert, pdf, base_url)


@app.command("issue")
def issue(
    scheme: str = typer.Option(..., "--scheme"),
    vintage: int = typer.Option(..., "--vintage", help="Year of the behaviours (scheme-local)."),
    methodology: str | None = typer.Option(None, "--methodology", help="Only this methodology, e.g. bus-ride-cn@1."),
    as_of: str | None = typer.Option(None, "--as-of", help="Issue as of this date (YYYY-MM-DD; default today)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be issued; write nothing."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Pool eligible reductions and issue whole tonnes as serial-numbered credits."""
    result = issuance.issue(
        open_store(), scheme, vintage, methodology=methodology, as_of=_date(as_of), dry_run=dry_run, actor=actor()
    )
    if as_json:
        print_json(result.to_dict())
        return
    table = Table("methodology", "eligible events", "eligible g", "carried in g", "issued t", "remainder g")
    for p in result.pools:
        table.add_row(
            p["methodology"],
            str(p["eligible_events"]),
            str(p["eligible_g"]),
            str(p["carried_in_g"]),
            str(p["issued"]),
            str(p["pooled_remainder_g"]),
        )
    console.print(table)
    for b in result.batches:
        say(
            f"{'（试算）' if dry_run else ''}批次 {b['batch_id']}：{b['quantity']} t，{b['event_count']} 个行为，默克尔根 {b['merkle_root']}",
            f"{'(dry run) ' if dry_run else ''}batch {b['batch_id']}: {b['quantity']} t from {b['event_count']} events, "
            f"Merkle root {b['merkle_root']}",
        )
    if not result.batches:
        say("没有可签发的新减排量", "nothing new to issue")
    for s in result.shortfall:
        say(
            f"注意：批次 {s['batch_id']} 有 {s['reversed_events']} 个行为在签发后被冲正（{s['reversed_g']} g），需补足 {s['credits_to_cover']} t",
            f"warning: batch {s['batch_id']} has {s['reversed_events']} events reversed after issuance ({s['reversed_g']} g): "
            f"cover {s['credits_to_cover']} t",
        )


@app.command("transfer")
def transfer(
    scheme: str = typer.Option(..., "--scheme"),
    from_: str = typer.Option("scheme", "--from", help='"scheme" or an organisation id (org_...).'),
    to: str = typer.Option(..., "--to", help='An organisation id (org_...) or "scheme".'),
    quantity: int | None = typer.Option(None, "--quantity", help="Credits (t); default the whole --block."),
    batch: str | None = typer.Option(None, "--batch", help="Only from this batch."),
    block: str | None = typer.Option(
        None, "--block", help="Move (part of) this block, e.g. TH-city-2026-bus-ride-cn@1-00000001-00000010."
    ),
    key: str = typer.Option(..., "--key", help="Idempotency key: a retry with the same key changes nothing."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Move credits to another holder (whole or partial blocks; serial ranges split as needed)."""
    moved = movements.transfer(
        open_store(),
        scheme,
        from_holder=from_,
        to_holder=to,
        quantity=quantity,
        batch=batch,
        block=block,
        idempotency_key=key,
        actor=actor(),
    )
    if as_json:
        print_json(moved)
        return
    say(
        f"{'（重放）' if moved['replayed'] else ''}已转让 {moved['quantity']} t：{moved['from']['name']} → {moved['to']['name']}",
        f"{'(replayed) ' if moved['replayed'] else ''}transferred {moved['quantity']} t: {moved['from']['name']} -> {moved['to']['name']}",
    )
    for b in moved["blocks"]:
        console.print(b["block_id"])


def _show_transfer(t: dict[str, Any]) -> None:
    where = t["destination_platform"] if t["direction"] == "out" else t["origin_platform"]
    say(
        f"转让 {t['transfer_id']}（{'转出至' if t['direction'] == 'out' else '转入自'} {where}）：{t['quantity']} t，状态 {t['state']}",
        f"transfer {t['transfer_id']} ({'to' if t['direction'] == 'out' else 'from'} {where}): {t['quantity']} t, {t['state']}",
    )
    if t.get("error"):
        code = t["error"]["code"]
        say(
            f"  暂未完成：{code}（稍后运行 tanhui credits transfers resume）",
            f"  not ended yet: {code} (run tanhui credits transfers resume later)",
        )


@app.command("transfer-out")
def transfer_out(
    scheme: str = typer.Option(..., "--scheme"),
    from_: str = typer.Option(..., "--from", help="The holding organisation (org_...)."),
    to_platform: str = typer.Option(..., "--to-platform", help="The destination peer platform's id."),
    to_org: str = typer.Option(..., "--to-org", help="The organisation's id on the destination platform."),
    quantity: int = typer.Option(..., "--quantity", help="Credits (t)."),
    batch: str | None = typer.Option(None, "--batch", help="Only from this batch."),
    key: str | None = typer.Option(None, "--key", help="Idempotency key: a retry with the same key changes nothing."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Move credits to the organisation's account on another registry (escrow, signed offer, receipt).

    Exit 0 when the transfer ended (completed or cancelled), 1 while it is pending."""
    moved = transfers.transfer_out(
        open_store(),
        scheme,
        from_org=from_,
        to_platform=to_platform,
        to_org=to_org,
        quantity=quantity,
        idempotency_key=key,
        batch=batch,
        actor=actor(),
    )
    if as_json:
        print_json(moved)
    else:
        _show_transfer(moved)
    if moved["state"] == "pending":
        sys.exit(EXIT_PROBLEMS)


transfers_app = typer.Typer(help="Transfers between registries (跨平台转让).", no_args_is_help=True)
app.add_typer(transfers_app, name="transfers")


@transfers_app.command("list")
def transfers_list(
    scheme: str | None = typer.Option(None, "--scheme"),
    direction: str | None = typer.Option(None, "--direction", help="out | in"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Transfers out of and into this registry, with their states."""
    found = transfers.list_transfers(open_store(), scheme, direction)
    if as_json:
        print_json(found)
        return
    for t in found:
        _show_transfer(t)


@transfers_app.command("resume")
def transfers_resume(as_json: bool = typer.Option(False, "--json")) -> None:
    """Send every pending transfer's offer again; exit 1 while any is still pending."""
    found = transfers.resume(open_store())
    if as_json:
        print_json(found)
    else:
        for t in found:
            _show_transfer(t)
        if not found:
            say("没有待完成的转让", "no pending transfer")
    if any(t["state"] == "pending" for t in found):
        sys.exit(EXIT_PROBLEMS)


@app.command("retire")
def retire(
    scheme: str = typer.Option(..., "--scheme"),
    holder: str = typer.Option(..., "--holder", help='The holding organisation (org_...) or "scheme".'),
    quantity: int | None = typer.Option(None, "--quantity", help="Credits (t) to retire; default the whole --block."),
    beneficiary: str = typer.Option(..., "--beneficiary"),
    purpose: str = typer.Option(..., "--purpose", help='e.g. "2026 城市马拉松碳中和".'),
    batch: str | None = typer.Option(None, "--batch"),
    block: str | None = typer.Option(None, "--block"),
    key: str | None = typer.Option(None, "--key", help="Idempotency key."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Also write the certificate PDF here."),
    base_url: str = typer.Option("", "--base-url", help="Public address of the registry, for the verification link."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Retire credits (they never move again) and produce the certificate."""
    cert = movements.retire(
        open_store(),
        scheme,
        holder=holder,
        quantity=quantity,
        beneficiary=beneficiary,
        purpose=purpose,
        batch=batch,
        block=block,
        idempotency_key=key,
        actor=actor(),
    )
    _show_certificate(cert, as_json, pdf, base_url)


@app.command("neutralise")
def neutralise(
    scheme: str = typer.Option(..., "--scheme"),
    holder: str = typer.Option(..., "--holder", help="The holding organisation (org_...)."),
    event: str = typer.Option(..., "--event", help='The event, e.g. "2026 城市马拉松".'),
    emission_t: str = typer.Option(..., "--emission-t", help="Its emission estimate in t CO2e (rounded up to whole credits)."),
    beneficiary: str | None = typer.Option(None, "--beneficiary", help="Default: the holder."),
    key: str | None = typer.Option(None, "--key"),
    pdf: Path | None = typer.Option(None, "--pdf"),
    base_url: str = typer.Option("", "--base-url"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Make an event carbon neutral: retire ceil(emission) credits with a certificate."""
    cert = movements.neutralise_event(
        open_store(),
        scheme,
        holder=holder,
        event_name=event,
        emission_t=emission_t,
        beneficiary=beneficiary,
        idempotency_key=key,
        actor=actor(),
    )
    _show_certificate(cert, as_json, pdf, base_url)


@app.command("certificate")
def certificate(
    retirement_id: str = typer.Argument(..., metavar="ID"),
    pdf: Path | None = typer.Option(None, "--pdf"),
    base_url: str = typer.Option("", "--base-url"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show a retirement certificate (and write its PDF)."""
    _show_certificate(views.certificate(open_store(), retirement_id), as_json, pdf, base_url)


@app.command("batches")
def batches(
    scheme: str | None = typer.Option(None, "--scheme"),
    vintage: int | None = typer.Option(None, "--vintage"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List issued batches."""
    found = views.list_batches(open_store(), scheme, vintage)
    if as_json:
        print_json(found)
        return
    table = Table("batch", "t", "events", "consumed g", "carried out g", "merkle_root")
    for b in found:
        table.add_row(
            b["batch_id"],
            str(b["quantity"]),
            str(b["event_count"]),
            str(b["consumed_g"]),
            str(b["carried_out_g"]),
            b["merkle_root"],
        )
    console.print(table)


@app.command("holdings")
def holdings(
    scheme: str | None = typer.Option(None, "--scheme"),
    holder: str | None = typer.Option(None, "--holder", help='An organisation (org_...) or "scheme".'),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Who holds which credits now, and what was retired."""
    found = views.holdings(open_store(), scheme, holder)
    if as_json:
        print_json(found)
        return
    table = Table("holder", "batch", "held t", "retired t")
    for h in found:
        table.add_row(f"{h['holder']['name']} ({h['holder']['id']})", h["batch_id"], str(h["held"]), str(h["retired"]))
    console.print(table)


@app.command("retirements")
def retirements(scheme: str | None = typer.Option(None, "--scheme"), as_json: bool = typer.Option(False, "--json")) -> None:
    """List retirements (certificates)."""
    found = views.list_retirements(open_store(), scheme)
    if as_json:
        print_json(found)
        return
    table = Table("certificate", "t", "beneficiary", "purpose")
    for r in found:
        table.add_row(r["retirement_id"], str(r["quantity"]), r["beneficiary"], r["purpose"])
    console.print(table)


@app.command("proof")
def proof(
    partner: str = typer.Option(..., "--partner", help="The partner's id (ptn_...)."),
    event: str = typer.Option(..., "--event", help="The partner's event id."),
    batch: str | None = typer.Option(None, "--batch"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Was this behaviour pooled into a batch? Prints the Merkle proof."""
    found = views.proof(open_store(), partner, event, batch)
    if as_json:
        print_json(found)
    elif found["included"]:
        say(
            f"该行为在批次 {found['batch_id']} 中（证明已核验：{found['verified']}）",
            f"in batch {found['batch_id']} (proof verified: {found['verified']})",
        )
        print_json({k: found[k] for k in ("record", "leaf", "index", "steps", "merkle_root")})
    else:
        say("该行为不在任何批次中", "this behaviour is in no batch")
    if not found["included"]:
        sys.exit(EXIT_PROBLEMS)


@app.command("shortfall")
def shortfall(scheme: str = typer.Option(..., "--scheme"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Batches with events reversed after issuance, and the credits the operator must cover."""
    found = views.shortfall(open_store(), scheme)
    if as_json:
        print_json(found)
        return
    if not found:
        say("没有缺口", "no shortfall")
        return
    table = Table("batch", "reversed events", "reversed g", "cover t")
    for s in found:
        table.add_row(s["batch_id"], str(s["reversed_events"]), str(s["reversed_g"]), str(s["credits_to_cover"]))
    console.print(table)


@app.command("verify")
def verify(
    scheme: str | None = typer.Option(None, "--scheme"),
    peers: bool = typer.Option(False, "--peers", help="Also compare every transfer with the peer's public registry."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute the registry (hash chain, Merkle roots, serials, grams, ledger, transfers); exit 1 on a problem."""
    report = registry_verify.verify(open_store(), scheme)
    crossed = transfers.cross_check(open_store()) if peers else None
    if crossed is not None:
        report.problems.extend(crossed["problems"])
    if as_json:
        print_json({**report.to_dict(), **({"peers": crossed} if crossed is not None else {})})
    elif report.ok:
        say(
            f"登记簿完好：{report.batches} 个批次，{report.movements} 条流转，{report.blocks} 个区块",
            f"registry ok: {report.batches} batches, {report.movements} movements, {report.blocks} blocks",
        )
    else:
        for problem in report.problems:
            console.print(problem)
    for note in (crossed or {}).get("notes", []) if not as_json else []:
        console.print(note)
    for s in report.shortfall if not as_json else []:
        say(
            f"缺口：批次 {s['batch_id']} 冲正 {s['reversed_g']} g",
            f"shortfall: batch {s['batch_id']} reversed {s['reversed_g']} g",
        )
    if not report.ok:
        sys.exit(EXIT_PROBLEMS)
