"""The restricted formula language: what it computes, and what it refuses to run."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tanhui.domain.methodology import ExpressionError, compile_expression
from tanhui.domain.methodology.expression import BOOL, NUM, STR

SYMBOLS = {"a": NUM, "b": NUM, "kind": STR, "flag": BOOL, "day": "date"}
OPTIONAL = frozenset({"b", "day"})


def run(source: str, **env: object) -> object:
    return compile_expression(source, SYMBOLS, OPTIONAL)(env)


@pytest.mark.parametrize(
    ("source", "env", "expected"),
    [
        ("0.1 + 0.2", {}, Decimal("0.3")),  # literals from their text, never via float
        ("a * 8.2 / 500", {"a": Decimal(500)}, Decimal("8.2")),
        ("-a + 1", {"a": Decimal(3)}, Decimal(-2)),
        ("(a + 1) * 2", {"a": Decimal(1)}, Decimal(4)),
        ("max(0, a - 10)", {"a": Decimal(3)}, Decimal(0)),
        ("min(a, 5, 7)", {"a": Decimal(9)}, Decimal(5)),
        ("floor(a / 500)", {"a": Decimal(999)}, Decimal(1)),
        ("ceil(a / 500)", {"a": Decimal(501)}, Decimal(2)),
        ("a * 2 if has(b) else 80", {"a": Decimal(5)}, Decimal(80)),
        ("a * 2 if has(b) else 80", {"a": Decimal(5), "b": Decimal(1)}, Decimal(10)),
        ("1 if kind == 'x' and not flag else 2", {"kind": "x", "flag": False}, Decimal(1)),
        ("0 < a <= 10", {"a": Decimal(10)}, True),
        ("a > 10 or flag", {"a": Decimal(1), "flag": True}, True),
        ("1_000 * a", {"a": Decimal(2)}, Decimal(2000)),
    ],
)
def test_computes_in_decimal(source: str, env: dict[str, object], expected: object) -> None:
    assert run(source, **env) == expected


def test_division_is_exact_to_34_digits_regardless_of_the_thread_context() -> None:
    import decimal

    with decimal.localcontext() as local:
        local.prec = 3
        assert run("a / 3", a=Decimal(1)) == Decimal("0.3333333333333333333333333333333333")


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",
        "a.__class__",
        "open('x')",
        "[a for a in b]",
        "a ** 2",
        "a // 2",
        "a % 2",
        "lambda: 1",
        "c + 1",  # unknown name
        "round(a)",
        "min(a)",
        "max(a, key=b)",
        "has(a)",  # a is required, not optional
        "has(1)",
        "a + kind",  # text + number
        "kind < 'x'",
        "a if a else 1",  # condition must be boolean
        "a if flag else kind",
        "day + 1",  # dates are only for has()
        "1j",
        "0x10",
        "'a' 'b' + 1",
        "",
        "a +",
        "f'{a}'",
        "a[0]",
        "(a := 1)",
    ],
)
def test_refuses_anything_outside_the_language(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source, SYMBOLS, OPTIONAL)


def test_refuses_deep_nesting_and_long_text() -> None:
    with pytest.raises(ExpressionError):
        compile_expression("(" * 60 + "a" + ")" * 60 + " + -" * 60 + "1", SYMBOLS, OPTIONAL)
    with pytest.raises(ExpressionError):
        compile_expression("a + " * 600 + "1", SYMBOLS, OPTIONAL)


def test_reports_type_and_names_read() -> None:
    compiled = compile_expression("a * 2 if has(b) else 80", SYMBOLS, OPTIONAL)
    assert compiled.type == NUM
    assert compiled.names == frozenset({"a"})  # has(b) tests presence only
