"""Input declarations and how a partner's raw ``data`` value becomes a typed, checked value.

Why here and not in the HTTP layer: the methodology file is the single place that says what a
scenario needs, so the same checks run for the API, bulk files and the CLI. JSON numbers may arrive
as ``int``, ``float`` (converted through ``str``, never used as a float) or numeric strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tanhui.domain.identifiers import behaviour_id
from tanhui.domain.methodology.expression import BOOL, DATE, DECIMAL_CONTEXT, NUM, STR

INPUT_TYPES = ("decimal", "integer", "string", "enum", "boolean", "date")
EXPRESSION_TYPE = {"decimal": NUM, "integer": NUM, "string": STR, "enum": STR, "boolean": BOOL, "date": DATE}
NUMBER_TEXT_LEN_MAX = 40  # "1e999999999" and friends are refused before Decimal sees them
STRING_LEN_MAX = 128
_ONE = Decimal(1)
LOCAL_DATE = "local_date"  # a date input's default: the event's local day in the scheme's time zone

# Reason codes put in InvalidInput("invalid_data").details, one per failing field.
MISSING = "missing"
INVALID_TYPE = "invalid_type"
OUT_OF_RANGE = "out_of_range"
NOT_ALLOWED = "not_allowed"
TOO_LONG = "too_long"


class InputRefused(ValueError):
    """One field's problem; carries the reason code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    type: str
    required: bool
    unit: str = ""
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    values: tuple[str, ...] = ()  # enum members
    max_length: int = STRING_LEN_MAX
    default: Any = None  # already normalised; LOCAL_DATE for date inputs that default to the event's day
    description_zh: str = ""
    description_en: str = ""

    def normalise(self, raw: Any) -> Any:
        """The typed value, or ``InputRefused(reason)``."""
        kind = self.type
        if kind == "decimal":
            value = to_decimal(raw)
        elif kind == "integer":
            value = to_integer(raw)
        elif kind == "string":
            # nothing visible (only spaces, zero-width or format characters) is no value: as an identity
            # it would make every such event one behaviour (identifiers.behaviour_id)
            if not isinstance(raw, str) or not behaviour_id(raw):
                raise InputRefused(INVALID_TYPE)
            text = raw.strip()
            if len(text) > self.max_length:
                raise InputRefused(TOO_LONG)
            return text
        elif kind == "enum":
            if not isinstance(raw, str):
                raise InputRefused(INVALID_TYPE)
            member = raw.strip().lower()
            if member not in self.values:
                raise InputRefused(NOT_ALLOWED)
            return member
        elif kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
                return raw.strip().lower() == "true"
            raise InputRefused(INVALID_TYPE)
        else:  # date
            return to_date(raw)
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            raise InputRefused(OUT_OF_RANGE)
        return value

    def shown(self, value: Any) -> Any:
        """JSON-safe form for the explanation: Decimals as strings, dates as ISO text."""
        if isinstance(value, Decimal):
            return int(value) if self.type == "integer" else decimal_text(value)
        if isinstance(value, date):
            return value.isoformat()
        return value


def to_decimal(raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise InputRefused(INVALID_TYPE)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float | str):
        text = str(raw).strip()  # str(float) is the shortest text that round-trips: 1.1 -> "1.1"
        if not text or len(text) > NUMBER_TEXT_LEN_MAX:
            raise InputRefused(INVALID_TYPE)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise InputRefused(INVALID_TYPE) from None
    else:
        raise InputRefused(INVALID_TYPE)
    if not value.is_finite() or abs(value.adjusted()) > 24:
        raise InputRefused(INVALID_TYPE if not value.is_finite() else OUT_OF_RANGE)
    return value


def to_integer(raw: Any) -> Decimal:
    """Integers compute as Decimal too; 10000, "10000" and 10000.0 are accepted, 10000.5 is not."""
    value = to_decimal(raw)
    if value != value.to_integral_value():
        raise InputRefused(INVALID_TYPE)
    return value.quantize(_ONE, context=DECIMAL_CONTEXT)


def to_date(raw: Any) -> date:
    if isinstance(raw, date) and not hasattr(raw, "hour"):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise InputRefused(INVALID_TYPE)


def decimal_text(value: Decimal) -> str:
    """One plain text per value: no exponent, no trailing zeros ("8.2", "1280", "0.0164")."""
    if value == value.to_integral_value():
        return str(value.quantize(_ONE, context=DECIMAL_CONTEXT))
    return format(value.normalize(), "f")
