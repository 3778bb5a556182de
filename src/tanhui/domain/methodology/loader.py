"""Reading methodology files: the one place in the domain that touches the file system.

Each ``*.toml`` file below a methodology directory is one methodology version, named
``<id>@<version>.toml``. The packaged directory ``tanhui/methodologies`` comes first; operators add
directories through ``TANHUI_METHODOLOGY_PATH`` (separated by ``os.pathsep``). Every field is
checked strictly (unknown keys too, which catches typos) and a refusal names the file and the field,
so an operator fixes a file without reading Python. By default each file's own test vectors must pass
before it is accepted: a methodology that disagrees with its worked examples credits nothing.
The format is described in docs/methodology-format.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from tanhui.domain.methodology.expression import BOOL, FUNCTIONS, NUM, ExpressionError, compile_expression
from tanhui.domain.methodology.factors import CONFIDENCE_LEVELS, Factor, FactorValue, Regions
from tanhui.domain.methodology.inputs import (
    EXPRESSION_TYPE,
    INPUT_TYPES,
    LOCAL_DATE,
    STRING_LEN_MAX,
    InputRefused,
    InputSpec,
    to_decimal,
)
from tanhui.domain.methodology.library import Library
from tanhui.domain.methodology.model import PERIODS, SCOPES, Cap, IdentityRule, Methodology, PlausibilityRule, TestVector
from tanhui.domain.methodology.vectors import check_vector
from tanhui.errors import InvalidInput

ENV_PATH = "TANHUI_METHODOLOGY_PATH"
ID_RE = re.compile(r"^[a-z][a-z0-9-]{1,63}$")
VERSION_RE = re.compile(r"^[1-9][0-9]{0,5}$")
SCENARIO_RE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
EXPECTED_ERRORS = ("invalid_data", "implausible")
TOP_LEVEL = {
    "id",
    "version",
    "scenario",
    "default",
    "title",
    "summary",
    "standard",
    "valid_from",
    "valid_to",
    "inputs",
    "factors",
    "formula",
    "monotonic",
    "plausibility",
    "identity",
    "caps",
    "regions",
    "tests",
}


def packaged_dir() -> Path:
    return Path(str(resources.files("tanhui") / "methodologies"))


def configured_dirs(environ: dict[str, str] | None = None) -> list[Path]:
    """The packaged directory, then every directory named in TANHUI_METHODOLOGY_PATH."""
    value = (os.environ if environ is None else environ).get(ENV_PATH, "")
    return [packaged_dir()] + [Path(p) for p in value.split(os.pathsep) if p.strip()]


def load_library(paths: Sequence[str | Path] | None = None, *, check_vectors: bool = True) -> Library:
    """Read every methodology file below ``paths`` (default: packaged + TANHUI_METHODOLOGY_PATH).

    Loading is done once per process and the result cached by the caller: quantifying never reads a file.
    """
    directories = configured_dirs() if paths is None else [Path(p) for p in paths]
    files: list[Path] = []
    for directory in directories:
        if not directory.is_dir():
            raise _refuse(str(directory), ENV_PATH, "not a directory")
        files.extend(sorted(directory.rglob("*.toml")))
    return Library(load_file(f, check_vectors=check_vectors) for f in files)


def load_file(path: str | Path, *, check_vectors: bool = True) -> Methodology:
    path = Path(path)
    raw = path.read_bytes()
    return parse_methodology(raw, str(path), check_vectors=check_vectors)


def parse_methodology(raw: bytes, filename: str, *, check_vectors: bool = True) -> Methodology:
    """Build a methodology from the bytes of one file; ``invalid_methodology`` names file and field."""
    try:
        doc = tomllib.loads(raw.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise _refuse(filename, "(file)", "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise _refuse(filename, "(syntax)", str(error)) from None
    methodology = _Reader(filename, doc, hashlib.sha256(raw).hexdigest()).build()
    if check_vectors:
        for i, vector in enumerate(methodology.tests):
            problem = check_vector(methodology, vector)
            if problem:
                raise _refuse(filename, f"tests[{i}]", f"{vector.name!r}: {problem}")
    return methodology


def _refuse(filename: str, field: str, reason: str) -> InvalidInput:
    return InvalidInput(
        "invalid_methodology",
        details={"file": filename, "field": field, "reason": reason},
        file=filename,
        field=field,
        reason=reason,
    )


class _Reader:
    """Walks one parsed file; every check reports the dotted path of the field it looked at."""

    def __init__(self, filename: str, doc: dict[str, Any], digest: str) -> None:
        self.filename = filename
        self.doc = doc
        self.digest = digest

    def fail(self, field: str, reason: str) -> InvalidInput:
        return _refuse(self.filename, field, reason)

    # -- small typed getters -------------------------------------------------------------------
    def table(self, parent: dict[str, Any], key: str, path: str, required: bool = True) -> dict[str, Any]:
        value = parent.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, "missing" if value is None else "must be a table")
        return value

    def text(self, parent: dict[str, Any], key: str, path: str, required: bool = True, default: str = "") -> str:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(path, "missing")
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a non-empty text")
        return value.strip()

    def integer(self, parent: dict[str, Any], key: str, path: str, low: int, high: int) -> int | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"must be a whole number from {low} to {high}")
        return value

    def boolean(self, parent: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = parent.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(path, "must be true or false")
        return value

    def decimal(self, value: Any, path: str) -> Decimal:
        try:
            return to_decimal(value)
        except InputRefused:
            raise self.fail(path, "must be a finite number") from None

    def a_date(self, parent: dict[str, Any], key: str, path: str, required: bool) -> date | None:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(path, "missing")
            return None
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(path, "must be a date (YYYY-MM-DD)")

    def bilingual(self, parent: dict[str, Any], key: str, path: str, required: bool = True) -> tuple[str, str]:
        value = parent.get(key)
        if value is None and not required:
            return "", ""
        if not isinstance(value, dict):
            raise self.fail(path, "must be a table with zh-CN and en texts")
        self.only(value, {"zh-CN", "en"}, path)
        return self.text(value, "zh-CN", f"{path}.zh-CN"), self.text(value, "en", f"{path}.en")

    def only(self, table: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"{path}.{key}" if path else key, f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def items(self, parent: dict[str, Any], key: str) -> list[Any]:
        value = parent.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "must be an array of tables ([[...]])")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "must be a table")
        return value

    # -- the file -------------------------------------------------------------------------------
    def build(self) -> Methodology:
        doc = self.doc
        self.only(doc, TOP_LEVEL, "")
        mid = self.text(doc, "id", "id")
        if not ID_RE.match(mid):
            raise self.fail("id", "use 2-64 of a-z, 0-9 and -, starting with a letter")
        version_raw = doc.get("version")
        version = str(version_raw) if isinstance(version_raw, int | str) and not isinstance(version_raw, bool) else ""
        if not VERSION_RE.match(version):
            raise self.fail("version", 'must be a positive whole number, e.g. "1"')
        stem = Path(self.filename).name.removesuffix(".toml")
        if stem != f"{mid}@{version}":
            raise self.fail("id", f"the file must be named {mid}@{version}.toml (it is {Path(self.filename).name})")
        scenario = self.text(doc, "scenario", "scenario")
        if not SCENARIO_RE.match(scenario):
            raise self.fail("scenario", "use 2-32 of a-z, 0-9 and _, starting with a letter")
        title_zh, title_en = self.bilingual(doc, "title", "title")
        summary_zh, summary_en = self.bilingual(doc, "summary", "summary")
        standard = self.text(doc, "standard", "standard")
        valid_from = self.a_date(doc, "valid_from", "valid_from", required=True)
        valid_to = self.a_date(doc, "valid_to", "valid_to", required=False)
        assert valid_from is not None
        if valid_to is not None and valid_to <= valid_from:
            raise self.fail("valid_to", "must be after valid_from")

        inputs = self.inputs()
        regions = self.regions()
        factors = self.factors(inputs)
        symbols = {s.name: EXPRESSION_TYPE[s.type] for s in inputs} | {f.name: NUM for f in factors}
        optional = frozenset(s.name for s in inputs if not s.required)
        formula = self.expression(self.text(doc, "formula", "formula"), symbols, optional, "formula", NUM)
        input_names = {s.name for s in inputs}
        monotonic = doc.get("monotonic", [])
        numeric = {s.name for s in inputs if s.type in ("decimal", "integer")}
        if not isinstance(monotonic, list) or any(name not in numeric for name in monotonic):
            raise self.fail("monotonic", "must list numeric inputs in which the result never decreases")
        plausibility = []
        for i, item in enumerate(self.items(doc, "plausibility")):
            path = f"plausibility[{i}]"
            self.only(item, {"name", "rule", "description"}, path)
            name = self.name(item, "name", f"{path}.name")
            rule = self.expression(self.text(item, "rule", f"{path}.rule"), symbols, optional, f"{path}.rule", BOOL)
            zh, en = self.bilingual(item, "description", f"{path}.description", required=False)
            plausibility.append(PlausibilityRule(name, rule, frozenset(rule.names & input_names), zh, en))
        identity = []
        for i, item in enumerate(self.items(doc, "identity")):
            path = f"identity[{i}]"
            self.only(item, {"kind", "fields", "scope"}, path)
            fields = item.get("fields")
            if not isinstance(fields, list) or not fields or any(f not in input_names for f in fields):
                raise self.fail(f"{path}.fields", "must be a non-empty list of input names")
            scope = item.get("scope")
            if scope not in SCOPES:
                raise self.fail(f"{path}.scope", f"must be one of {', '.join(SCOPES)}")
            identity.append(IdentityRule(self.name(item, "kind", f"{path}.kind"), tuple(fields), scope))
        caps = []
        for i, item in enumerate(self.items(doc, "caps")):
            path = f"caps[{i}]"
            self.only(item, {"period", "max_events", "max_carbon_g", "per", "note"}, path)
            if item.get("period") not in PERIODS:
                raise self.fail(f"{path}.period", f"must be one of {', '.join(PERIODS)}")
            max_events = self.integer(item, "max_events", f"{path}.max_events", 1, 1_000_000)
            max_carbon_g = self.integer(item, "max_carbon_g", f"{path}.max_carbon_g", 1, 10**12)
            if max_events is None and max_carbon_g is None:
                raise self.fail(path, "needs max_events or max_carbon_g")
            per = item.get("per")
            if per is not None and per not in input_names:
                raise self.fail(f"{path}.per", "must name an input")
            caps.append(
                Cap(item["period"], max_events, max_carbon_g, per, self.text(item, "note", f"{path}.note", required=False))
            )
        tests = self.tests(valid_from, input_names)
        return Methodology(
            id=mid,
            version=version,
            scenario=scenario,
            title_zh=title_zh,
            title_en=title_en,
            summary_zh=summary_zh,
            summary_en=summary_en,
            standard=standard,
            valid_from=valid_from,
            valid_to=valid_to,
            default=self.boolean(doc, "default", "default", False),
            inputs=tuple(inputs),
            factors=tuple(factors),
            formula=formula,
            plausibility=tuple(plausibility),
            identity_rules=tuple(identity),
            caps=tuple(caps),
            tests=tuple(tests),
            regions=regions,
            monotonic=tuple(monotonic),
            path=self.filename,
            digest=self.digest,
        )

    def name(self, parent: dict[str, Any], key: str, path: str) -> str:
        value = self.text(parent, key, path)
        if not NAME_RE.match(value):
            raise self.fail(path, "use a-z, 0-9 and _, starting with a letter")
        return value

    def expression(self, source: str, symbols: dict[str, str], optional: frozenset[str], path: str, want: str) -> Any:
        try:
            compiled = compile_expression(source, symbols, optional)
        except ExpressionError as error:
            raise self.fail(path, str(error)) from None
        if compiled.type != want:
            raise self.fail(path, f"must give a {want}, gives a {compiled.type}")
        return compiled

    def inputs(self) -> list[InputSpec]:
        table = self.table(self.doc, "inputs", "inputs", required=False)
        specs = []
        for name, item in table.items():
            path = f"inputs.{name}"
            if not NAME_RE.match(name) or name in FUNCTIONS:
                raise self.fail(path, "input names use a-z, 0-9 and _ and are not function names")
            if not isinstance(item, dict):
                raise self.fail(path, "must be a table")
            self.only(item, {"type", "unit", "required", "min", "max", "values", "max_length", "default", "description"}, path)
            kind = item.get("type")
            if kind not in INPUT_TYPES:
                raise self.fail(f"{path}.type", f"must be one of {', '.join(INPUT_TYPES)}")
            required = self.boolean(item, "required", f"{path}.required", False)
            minimum = maximum = None
            if kind in ("decimal", "integer"):
                if "min" not in item or "max" not in item:
                    raise self.fail(f"{path}.{'min' if 'min' not in item else 'max'}", "numeric inputs declare min and max")
                minimum = self.decimal(item["min"], f"{path}.min")
                maximum = self.decimal(item["max"], f"{path}.max")
                if minimum > maximum:
                    raise self.fail(f"{path}.max", "must not be below min")
            elif "min" in item or "max" in item:
                raise self.fail(f"{path}.min", "only decimal and integer inputs have bounds")
            values: tuple[str, ...] = ()
            if kind == "enum":
                raw_values = item.get("values")
                if (
                    not isinstance(raw_values, list)
                    or not raw_values
                    or any(not isinstance(v, str) or v != v.strip().lower() or not v for v in raw_values)
                    or len(set(raw_values)) != len(raw_values)
                ):
                    raise self.fail(f"{path}.values", "an enum lists distinct lower-case texts")
                values = tuple(raw_values)
            elif "values" in item:
                raise self.fail(f"{path}.values", "only enum inputs list values")
            max_length = self.integer(item, "max_length", f"{path}.max_length", 1, 1024) or STRING_LEN_MAX
            zh, en = self.bilingual(item, "description", f"{path}.description", required=False)
            spec = InputSpec(
                name,
                kind,
                required,
                self.text(item, "unit", f"{path}.unit", required=False),
                minimum,
                maximum,
                values,
                max_length,
                None,
                zh,
                en,
            )
            if "default" in item:
                if required:
                    raise self.fail(f"{path}.default", "a required input has no default")
                raw_default = item["default"]
                if kind == "date" and raw_default == LOCAL_DATE:
                    default: Any = LOCAL_DATE
                else:
                    try:
                        default = spec.normalise(raw_default)
                    except InputRefused as refused:
                        raise self.fail(f"{path}.default", f"not a valid value ({refused.reason})") from None
                spec = InputSpec(name, kind, required, spec.unit, minimum, maximum, values, max_length, default, zh, en)
            specs.append(spec)
        return specs

    def regions(self) -> Regions:
        table = self.table(self.doc, "regions", "regions", required=False)
        self.only(table, {"aliases", "parents"}, "regions")
        out = []
        for part in ("aliases", "parents"):
            mapping = self.table(table, part, f"regions.{part}", required=False)
            for key, value in mapping.items():
                if not isinstance(value, str) or not value.strip():
                    raise self.fail(f"regions.{part}.{key}", "must be a region name")
            out.append({(k.lower() if part == "aliases" else k): v for k, v in mapping.items()})
        return Regions(out[0], out[1])

    def factors(self, inputs: list[InputSpec]) -> list[Factor]:
        by_name = {s.name: s for s in inputs}
        table = self.table(self.doc, "factors", "factors")
        if not table:
            raise self.fail("factors", "at least one factor or parameter, with its source")
        factors = []
        entry_keys = {"value", "source", "year", "confidence", "note", "region", "key"}
        for name, item in table.items():
            path = f"factors.{name}"
            if not NAME_RE.match(name) or name in by_name or name in FUNCTIONS:
                raise self.fail(path, "factor names use a-z, 0-9 and _ and differ from inputs and functions")
            if not isinstance(item, dict):
                raise self.fail(path, "must be a table")
            self.only(item, {"unit", "description", "key_input", "region_input", "values"} | entry_keys, path)
            unit = self.text(item, "unit", f"{path}.unit")
            zh, en = self.bilingual(item, "description", f"{path}.description", required=False)
            key_input = item.get("key_input")
            region_input = item.get("region_input")
            if key_input is not None:
                spec = by_name.get(key_input)
                if spec is None or spec.type != "enum" or (not spec.required and spec.default is None):
                    raise self.fail(f"{path}.key_input", "must name an enum input that is required or has a default")
            if region_input is not None:
                spec = by_name.get(region_input)
                if spec is None or spec.type not in ("string", "enum") or spec.required:
                    raise self.fail(f"{path}.region_input", "must name an optional string input")
            if "values" in item:
                if entry_keys & item.keys():
                    raise self.fail(f"{path}.values", "give either one value or a values list, not both")
                raw_entries = item["values"]
                if not isinstance(raw_entries, list) or not raw_entries:
                    raise self.fail(f"{path}.values", "must be a non-empty list")
                entries = [self.factor_value(e, f"{path}.values[{i}]") for i, e in enumerate(raw_entries)]
            else:
                entries = [self.factor_value({k: v for k, v in item.items() if k in entry_keys}, path)]
            seen = set()
            for i, entry in enumerate(entries):
                where = f"{path}.values[{i}]" if "values" in item else path
                if entry.key is not None and key_input is None:
                    raise self.fail(f"{where}.key", "a keyed value needs the factor's key_input")
                if entry.region is not None and region_input is None:
                    raise self.fail(f"{where}.region", "a regional value needs the factor's region_input")
                if key_input is not None and entry.key is not None and entry.key not in by_name[key_input].values:
                    raise self.fail(f"{where}.key", f"{entry.key!r} is not a value of {key_input}")
                slot = (entry.key, entry.region, entry.year)
                if slot in seen:
                    raise self.fail(where, "two values for the same key, region and year")
                seen.add(slot)
            if region_input is not None and not any(e.region is None for e in entries):
                raise self.fail(f"{path}.values", "a regional factor needs a fallback value without region")
            if key_input is not None:
                keys = {e.key for e in entries}
                missing = [v for v in by_name[key_input].values if v not in keys]
                if missing and None not in keys:
                    raise self.fail(f"{path}.values", f"no value for {key_input} = {', '.join(missing)}")
            factors.append(Factor(name, unit, tuple(entries), key_input, region_input, zh, en))
        return factors

    def factor_value(self, entry: Any, path: str) -> FactorValue:
        if not isinstance(entry, dict):
            raise self.fail(path, "must be a table")
        self.only(entry, {"value", "source", "year", "confidence", "note", "region", "key"}, path)
        if "value" not in entry:
            raise self.fail(f"{path}.value", "missing")
        value = self.decimal(entry["value"], f"{path}.value")
        source = self.text(entry, "source", f"{path}.source")
        confidence = entry.get("confidence")
        if confidence not in CONFIDENCE_LEVELS:
            raise self.fail(f"{path}.confidence", f"must be one of {', '.join(CONFIDENCE_LEVELS)}")
        note = self.text(entry, "note", f"{path}.note", required=False)
        if confidence == "assumption" and not note:
            raise self.fail(f"{path}.note", "an assumption states its reasoning in note")
        year = self.integer(entry, "year", f"{path}.year", 1900, 2200)
        region = self.text(entry, "region", f"{path}.region", required=False) or None
        key = self.text(entry, "key", f"{path}.key", required=False) or None
        return FactorValue(value, source, confidence, year, region, key, note)

    def tests(self, valid_from: date, input_names: set[str]) -> list[TestVector]:
        vectors = []
        for i, item in enumerate(self.items(self.doc, "tests")):
            path = f"tests[{i}]"
            self.only(item, {"name", "data", "date", "region", "carbon_g", "unrounded", "error"}, path)
            name = self.text(item, "name", f"{path}.name")
            data = item.get("data", {})
            if not isinstance(data, dict):
                raise self.fail(f"{path}.data", "must be a table of input values")
            carbon_g = self.integer(item, "carbon_g", f"{path}.carbon_g", 0, 10**12)
            error = item.get("error")
            if (carbon_g is None) == (error is None):
                raise self.fail(path, "give carbon_g (expected grams) or error (expected code)")
            if error is not None and error not in EXPECTED_ERRORS:
                raise self.fail(f"{path}.error", f"must be one of {', '.join(EXPECTED_ERRORS)}")
            unrounded = self.decimal(item["unrounded"], f"{path}.unrounded") if "unrounded" in item else None
            local_date = self.a_date(item, "date", f"{path}.date", required=False) or valid_from
            region = self.text(item, "region", f"{path}.region", required=False) or None
            vectors.append(TestVector(name, dict(data), local_date, region, carbon_g, unrounded, error))
        if not vectors:
            raise self.fail("tests", "at least one test vector (inputs and expected grams)")
        return vectors
