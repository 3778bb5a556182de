"""`tanhui methodology ...`: list, show, quantify, test the library and write its catalogue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import typer

from tanhui.cli.output import console, err_console, print_json, say
from tanhui.domain.methodology import Library, Methodology
from tanhui.domain.methodology.catalogue import render_catalogue
from tanhui.errors import InvalidInput
from tanhui.services import methodologies as service

app = typer.Typer(help="Methodologies (方法学): how each behaviour becomes grams of CO2e.", no_args_is_help=True)

DEFAULT_DOCS = Path("docs/methodologies.md")


def _library() -> Library:
    return service.default_library()


def _find(library: Library, ref: str) -> Methodology:
    if "@" in ref:
        return library.get_ref(ref)
    return library.resolve(ref, on=datetime.now(UTC).date())


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List every methodology version: id, version, scenario, title, sources."""
    library = _library()
    if as_json:
        print_json([m.summary() for m in library])
        return
    for m in library:
        default = "  (default)" if m.default else "  (pin)"
        console.print(
            f"{m.scenario:<20} {m.ref:<28}{default:<12} {m.title_zh} · {m.title_en}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for source in m.sources:
            console.print(f"    - {source}", highlight=False, markup=False, soft_wrap=True)


@app.command("show")
def show(
    ref: str = typer.Argument(
        ..., metavar="ID[@VERSION]", help="e.g. bus-ride-cn@1, bus-ride-cn (the version in force today) or bus_ride."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one methodology: inputs, factors with sources, formula, caps and test vectors."""
    m = _find(_library(), ref)
    if as_json:
        print_json(m.to_dict())
        return
    text = render_catalogue([m])
    console.print(text[text.index("<a id=") :], highlight=False, markup=False, soft_wrap=True)


@app.command("quantify")
def quantify(
    ref: str = typer.Argument(..., metavar="ID_OR_SCENARIO", help="A scenario (bus_ride), an id, or id@version."),
    data: str = typer.Option(..., "--data", help="The behaviour's data as JSON, e.g. '{\"distance_km\": 5}'."),
    scheme_id: str | None = typer.Option(None, "--scheme", help="Use this scheme's pins, time zone and region."),
    occurred_at: str | None = typer.Option(None, "--occurred-at", help="RFC 3339 time of the behaviour (default: now)."),
    region: str | None = typer.Option(None, "--region", help="Region for region-keyed factors (e.g. 四川)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Quantify one behaviour and explain the result."""
    try:
        parsed = json.loads(data, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise InvalidInput("invalid_json", details={"field": "--data"}, reason=str(error)) from None
    if not isinstance(parsed, dict):
        raise InvalidInput("invalid_data", details={"data": "invalid_type"}, fields="data: invalid_type")
    moment = _moment(occurred_at)
    scheme = None
    if scheme_id:
        from tanhui.store import open_store

        scheme = service.load_scheme(open_store(), scheme_id)
    q = service.quantify(_library(), ref, parsed, moment, scheme, region)
    result = {"carbon_g": q.carbon_g, "methodology": q.methodology, "explanation": q.explanation}
    if as_json:
        print_json(result)
        return
    say(
        f"{q.carbon_g} 克 CO2e（{q.methodology}，未取整 {q.explanation['unrounded']}）",
        f"{q.carbon_g} g CO2e ({q.methodology}, unrounded {q.explanation['unrounded']})",
    )
    for factor in q.explanation["factors"]:
        console.print(
            f"  {factor['name']} = {factor['value']} {factor['unit']} — {factor['source']} ({factor['confidence']})",
            highlight=False,
            markup=False,
        )
    console.print(f"  formula: {q.explanation['formula']}", highlight=False, markup=False)


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("invalid_data", details={"occurred_at": "invalid_type"}, fields="occurred_at: invalid_type") from None
    if moment.tzinfo is None:
        raise InvalidInput(
            "invalid_data", details={"occurred_at": "invalid_type"}, fields="occurred_at: needs a time zone offset"
        )
    return moment


@app.command("test")
def test(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Run every methodology file's test vectors; exit 1 if any fails."""
    from tanhui.domain.methodology import load_library

    library = load_library(check_vectors=False)
    results = library.run_vectors()
    failed = [r for r in results if not r.ok]
    if as_json:
        print_json(
            {
                "vectors": len(results),
                "failed": [{"methodology": r.methodology, "name": r.name, "problem": r.problem} for r in failed],
            }
        )
    else:
        for r in failed:
            err_console.print(f"FAIL {r.methodology}: {r.name}: {r.problem}", highlight=False, markup=False, soft_wrap=True)
        say(
            f"{len(library)} 个方法学，{len(results)} 个测试向量，{len(failed)} 个失败",
            f"{len(library)} methodologies, {len(results)} test vectors, {len(failed)} failed",
        )
    if failed:
        raise typer.Exit(1)


@app.command("docs")
def docs(
    output: Path = typer.Option(DEFAULT_DOCS, "--output", help="Where to write the catalogue."),
    check: bool = typer.Option(False, "--check", help="Do not write; exit 1 if the file is stale."),
) -> None:
    """Write the catalogue (docs/methodologies.md): every methodology, formula, factors and sources."""
    text = render_catalogue(_library())
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            say(f"{output} 已过期：运行 tanhui methodology docs", f"{output} is stale: run `tanhui methodology docs`")
            raise typer.Exit(1)
        say(f"{output} 是最新的", f"{output} is up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    say(f"已写入 {output}（{len(_library())} 个方法学）", f"wrote {output} ({len(_library())} methodologies)")
