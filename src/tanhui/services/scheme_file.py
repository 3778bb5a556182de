"""`tanhui scheme apply FILE`: a scheme declared in one TOML file — settings (points rules,
campaigns, check-ins, expiry, methodology pins), partners and the catalog — applied idempotently.

Applying the same file twice changes nothing. Partners are matched by name, items by `key`; an
existing item keeps its stock (orders have moved it since), everything else follows the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tanhui.domain.engagement import campaigns_from_settings, checkin_policy
from tanhui.domain.market import validate_item_fields
from tanhui.domain.points import rules_for_scheme
from tanhui.domain.scheme_settings import NESTING_MAX, SETTINGS_KEYS, nesting_depth
from tanhui.domain.schemes import DEFAULT_SETTINGS, DEFAULT_TIMEZONE, new_scheme
from tanhui.errors import InvalidInput, TanhuiError
from tanhui.services import audit, market, secret_keys
from tanhui.services.clock import utcnow
from tanhui.services.methodologies import default_library
from tanhui.services.partners import new_partner_id, new_secret
from tanhui.store import Store

FILE_SIZE_MAX = 8 * 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class ApplyReport:
    scheme_id: str
    scheme_created: bool = False
    settings_changed: bool = False
    partners_created: list[dict[str, Any]] = field(default_factory=list)  # with their secrets, shown once
    partners_updated: int = 0
    items_created: int = 0
    items_updated: int = 0
    items_unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _refuse(file: Path, reason: str) -> InvalidInput:
    reason = " ".join(reason.splitlines())  # one line, whatever the parser said
    return InvalidInput("invalid_scheme_file", details={"file": str(file), "reason": reason}, file=str(file), reason=reason)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    return value


def load(file: Path) -> dict[str, Any]:
    """The file's TOML: UTF-8 (a leading BOM, as Windows editors write it, is accepted); anything
    else — another encoding, a binary file, nesting deep enough to exhaust the parser — is refused
    with one line."""
    try:
        with file.open("rb") as handle:
            raw = handle.read(FILE_SIZE_MAX + 1)
    except OSError as error:
        raise _refuse(file, error.strerror or str(error)) from None
    if len(raw) > FILE_SIZE_MAX:
        raise _refuse(file, f"larger than {FILE_SIZE_MAX // (1024 * 1024)} MiB")
    raw = raw.removeprefix(UTF8_BOM)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _refuse(file, f"not UTF-8 text (byte {error.start:,} is {raw[error.start]:#04x}); save it as UTF-8") from None
    if "\x00" in text:
        raise _refuse(file, "not a text file (it holds NUL bytes)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _refuse(file, f"TOML: {error}") from None
    except RecursionError:
        raise _refuse(file, "TOML: arrays or tables nested too deeply") from None


def validate(file: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """Every part of the file checked before anything is written; errors name the field."""
    if nesting_depth(doc) > NESTING_MAX + 2:
        raise _refuse(file, f"tables and arrays nested more than {NESTING_MAX + 2} deep")
    head = doc.get("scheme")
    if not isinstance(head, dict) or not isinstance(head.get("id"), str) or not isinstance(head.get("name"), str):
        raise _refuse(file, "[scheme] needs id and name (texts)")
    if not isinstance(head.get("timezone", DEFAULT_TIMEZONE), str):
        raise _refuse(file, "[scheme] timezone: a time zone name, e.g. Asia/Shanghai")
    settings = _jsonable(doc.get("settings", {}))
    unknown = set(settings) - set(SETTINGS_KEYS) if isinstance(settings, dict) else set()
    if unknown:
        raise _refuse(file, f"unknown settings: {', '.join(sorted(unknown))} (known: {', '.join(SETTINGS_KEYS)})")
    try:
        # every setting's type and range (domain/scheme_settings.py), then what each reader checks
        scheme = new_scheme(head["id"], head["name"], head.get("timezone", DEFAULT_TIMEZONE), settings)
        rules_for_scheme(settings)
        checkin_policy(settings)
        campaigns_from_settings(settings)
        default_library().check_pins(settings.get("methodology_pins") or {})
    except TanhuiError as error:
        raise _refuse(file, f"{error.code}: {error.message('en')}") from None
    scenarios = set(default_library().scenarios)
    for part in ("partners", "items"):
        if not isinstance(doc.get(part, []), list):
            raise _refuse(file, f"{part}: an array of tables ([[{part}]])")
    for index, partner in enumerate(doc.get("partners") or []):
        if (
            not isinstance(partner, dict)
            or not isinstance(partner.get("name"), str)
            or not partner["name"].strip()
            or not isinstance(partner.get("scenarios"), list)
            or not partner["scenarios"]
            or not all(isinstance(x, str) for x in partner["scenarios"])
        ):
            raise _refuse(file, f"partners[{index}] needs name (a text) and scenarios (a list of texts)")
        unknown_scenarios = set(partner["scenarios"]) - scenarios
        if unknown_scenarios:
            raise _refuse(file, f"partners[{index}]: unknown scenarios {', '.join(sorted(unknown_scenarios))}")
    keys: set[str] = set()
    items = []
    tz = ZoneInfo(scheme.timezone)
    for index, raw in enumerate(doc.get("items") or []):
        try:
            fields = _item_fields(raw, tz)
            validate_item_fields(fields)
        except TanhuiError as error:
            key = raw.get("key", "?") if isinstance(raw, dict) else "?"
            raise _refuse(file, f"items[{index}] ({key}): {error.message('en')} {error.details}") from None
        except KeyError as error:
            raise _refuse(file, f"items[{index}]: {error.args[0]} is missing") from None
        except (TypeError, ValueError, AttributeError, ArithmeticError) as error:
            raise _refuse(file, f"items[{index}]: {error}") from None
        if fields["key"] in keys:
            raise _refuse(file, f"items[{index}]: key {fields['key']} appears twice")
        keys.add(fields["key"])
        items.append(fields)
    return {"scheme": scheme, "settings": settings, "partners": doc.get("partners") or [], "items": items}


def _moment(value: Any, tz: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz)
    raise ValueError(f"not a date or time: {value!r}")


def _item_fields(raw: Any, tz: ZoneInfo) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("an item is a table ([[items]])")
    title = raw.get("title") or {}
    description = raw.get("description") or {}
    if isinstance(title, str):
        title = {"zh-CN": title}
    if isinstance(description, str):
        description = {"zh-CN": description}
    if not isinstance(title, dict) or not isinstance(description, dict):
        raise ValueError("title and description: a text or {zh-CN = ..., en = ...}")
    return {
        "key": str(raw["key"]),
        "kind": raw.get("kind", "coupon"),
        "category": str(raw.get("category", "other")),
        "title_zh": title.get("zh-CN", ""),
        "title_en": title.get("en", ""),
        "description_zh": description.get("zh-CN", ""),
        "description_en": description.get("en", ""),
        "points_price": raw["points"],
        "stock": raw.get("stock", 0),
        "per_person_limit": raw.get("limit"),
        "sale_starts_at": _moment(raw.get("starts"), tz),
        "sale_ends_at": _moment(raw.get("ends"), tz),
        "merchant": str(raw.get("merchant", "")),
        "status": raw.get("status", "active"),
    }


def apply(store: Store, file: Path, now: datetime | None = None, *, actor: str = "system") -> ApplyReport:
    """Validate the whole file, then apply it in one transaction."""
    now = now or utcnow()
    store.require_initialised()
    plan = validate(file, load(file))
    scheme = plan["scheme"]
    report = ApplyReport(scheme.id)
    with store.unit_of_work() as uow:
        existing = uow.schemes.get(scheme.id)
        if existing is None:
            uow.schemes.add(scheme, now)
            uow.ledger.create_system_accounts(scheme.id)
            report.scheme_created = True
        else:
            if existing.timezone != scheme.timezone:
                raise _refuse(file, f"timezone is {existing.timezone}; a scheme's time zone cannot change")
            settings = {**DEFAULT_SETTINGS, **plan["settings"]}
            if settings.get("ledger_chains") != existing.settings.get("ledger_chains", DEFAULT_SETTINGS["ledger_chains"]):
                raise _refuse(file, "ledger_chains cannot change after the scheme was created")
            if existing.settings != settings or existing.name != scheme.name:
                uow.schemes.update(scheme.id, scheme.name, settings)
                report.settings_changed = True
        known = {p.name: p for p in uow.partners.list(scheme.id)}
        for raw in plan["partners"]:
            scenarios = sorted(set(raw["scenarios"]))
            found = known.get(raw["name"])
            if found is None:
                secret, partner_id = new_secret(), new_partner_id()
                sealed = secret_keys.seal_partner_secret(store, partner_id, secret)
                created = uow.partners.add(partner_id, scheme.id, raw["name"], scenarios, sealed.key_id, sealed.text, now)
                report.partners_created.append(
                    {"partner_id": created.id, "name": created.name, "secret": secret, "scenarios": scenarios}
                )
            elif sorted(found.scenarios) != scenarios:
                uow.partners.set_scenarios(found.pk, scenarios)
                report.partners_updated += 1
        for fields in plan["items"]:
            item = uow.market.item_by_key(scheme.id, fields["key"])
            if item is None:
                market._add_item_in(uow, scheme.id, fields, now)  # noqa: SLF001 - same transaction
                report.items_created += 1
                continue
            changes = {k: v for k, v in fields.items() if k not in ("key", "stock") and getattr(item, k) != v}
            if changes:
                market._update_item_in(uow, item, changes, now)  # noqa: SLF001
                report.items_updated += 1
            else:
                report.items_unchanged += 1
        audit.record(
            uow,
            actor,
            "scheme.apply",
            scheme.id,
            {
                "file": file.name,
                "scheme_created": report.scheme_created,
                "settings_changed": report.settings_changed,
                "partners_created": [p["partner_id"] for p in report.partners_created],
                "partners_updated": report.partners_updated,
                "items_created": report.items_created,
                "items_updated": report.items_updated,
            },
            scheme.id,
            now=now,
        )
    return report


__all__ = ["ApplyReport", "apply", "load", "validate"]
