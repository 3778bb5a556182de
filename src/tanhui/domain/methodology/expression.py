"""A restricted arithmetic language for methodology formulas, evaluated in ``Decimal``.

Why not ``eval``: methodology files are data written by operators, so a formula must not be able to
run code. The text is parsed once with :mod:`ast` when the file is loaded; every node is checked
against a short allow-list and turned into a tree of closures, so evaluating it per event costs a few
function calls and never re-parses.

Allowed: numbers (taken from their source text, never through float), ``"strings"`` (only to compare
with an enum input), names of inputs and factors, ``+ - * /``, unary ``-``/``+``, parentheses,
comparisons (``< <= > >= == !=``), ``and``/``or``/``not``, ``A if CONDITION else B``, and the functions
``min(a, b, ...)``, ``max(a, b, ...)``, ``floor(x)``, ``ceil(x)`` and ``has(input)`` (true when an
optional input was given). Types (number, text, boolean) are checked at load time, so a formula that
would add a text to a number is refused before any event meets it.

Arithmetic uses one explicit context (34 significant digits, half-even) so the result never depends on
the thread's decimal context. Rounding to whole grams happens once, outside this module.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any

NUM = "number"
STR = "text"
BOOL = "boolean"
DATE = "date"

DECIMAL_CONTEXT = Context(
    prec=34, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999, traps=[InvalidOperation, DivisionByZero, Overflow]
)
EXPRESSION_LEN_MAX = 2000
DEPTH_MAX = 40
FUNCTIONS = ("min", "max", "floor", "ceil", "has")

Evaluator = Callable[[Mapping[str, Any]], Any]


class ExpressionError(ValueError):
    """A formula the language refuses; the loader turns it into ``invalid_methodology``."""


@dataclass(frozen=True, slots=True)
class Compiled:
    """A checked expression: its source, its result type, the names whose values it reads (``has(x)``
    only tests presence, so it does not count), and the closure."""

    source: str
    type: str
    names: frozenset[str]
    evaluate: Evaluator

    def __call__(self, env: Mapping[str, Any]) -> Any:
        return self.evaluate(env)


def compile_expression(source: str, symbols: Mapping[str, str], optional: frozenset[str] = frozenset()) -> Compiled:
    """Parse and type-check ``source`` against ``symbols`` ({name: type}); ``optional`` may use has()."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("empty expression")
    if len(source) > EXPRESSION_LEN_MAX:
        raise ExpressionError(f"longer than {EXPRESSION_LEN_MAX} characters")
    text = " ".join(source.split())  # formulas may span lines in the file; one line here
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"syntax error: {error.msg}") from None
    compiler = _Compiler(text, symbols, optional)
    type_, evaluate = compiler.visit(tree.body, 0)
    return Compiled(source=text, type=type_, names=frozenset(compiler.names), evaluate=evaluate)


class _Compiler:
    def __init__(self, text: str, symbols: Mapping[str, str], optional: frozenset[str]) -> None:
        self.text = text
        self.symbols = symbols
        self.optional = optional
        self.names: set[str] = set()

    def visit(self, node: ast.AST, depth: int) -> tuple[str, Evaluator]:
        if depth > DEPTH_MAX:
            raise ExpressionError(f"nested deeper than {DEPTH_MAX}")
        # one handler per allowed node class, named after it; any other class has none and is refused
        method: Callable[[Any, int], tuple[str, Evaluator]] | None = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ExpressionError(f"not allowed: {type(node).__name__} ({ast.get_source_segment(self.text, node)!r})")
        return method(node, depth + 1)

    def _Constant(self, node: ast.Constant, depth: int) -> tuple[str, Evaluator]:
        value = node.value
        if isinstance(value, bool):
            return BOOL, (lambda env, v=value: v)
        if isinstance(value, str):
            return STR, (lambda env, v=value: v)
        if isinstance(value, int | float):
            literal = ast.get_source_segment(self.text, node) or ""
            try:
                number = Decimal(literal.replace("_", ""))
            except InvalidOperation:
                raise ExpressionError(f"not a decimal number: {literal!r}") from None
            if not number.is_finite():
                raise ExpressionError(f"not a finite number: {literal!r}")
            return NUM, (lambda env, v=number: v)
        raise ExpressionError(f"not allowed: constant {value!r}")

    def _Name(self, node: ast.Name, depth: int) -> tuple[str, Evaluator]:
        name = node.id
        if name in ("True", "False"):
            return BOOL, (lambda env, v=(name == "True"): v)
        type_ = self.symbols.get(name)
        if type_ is None:
            raise ExpressionError(f"unknown name {name!r} (not an input or factor)")
        if type_ == DATE:
            raise ExpressionError(f"{name!r} is a date: only has({name}) may use it")
        self.names.add(name)
        return type_, (lambda env, n=name: env[n])

    def _BinOp(self, node: ast.BinOp, depth: int) -> tuple[str, Evaluator]:
        op = {
            ast.Add: DECIMAL_CONTEXT.add,
            ast.Sub: DECIMAL_CONTEXT.subtract,
            ast.Mult: DECIMAL_CONTEXT.multiply,
            ast.Div: DECIMAL_CONTEXT.divide,
        }.get(type(node.op))
        if op is None:
            raise ExpressionError(f"operator not allowed: {type(node.op).__name__}")
        left = self._number(node.left, depth)
        right = self._number(node.right, depth)
        return NUM, (lambda env: op(left(env), right(env)))

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> tuple[str, Evaluator]:
        if isinstance(node.op, ast.Not):
            operand = self._boolean(node.operand, depth)
            return BOOL, (lambda env: not operand(env))
        operand = self._number(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return NUM, (lambda env: DECIMAL_CONTEXT.minus(operand(env)))
        if isinstance(node.op, ast.UAdd):
            return NUM, operand
        raise ExpressionError(f"operator not allowed: {type(node.op).__name__}")

    def _BoolOp(self, node: ast.BoolOp, depth: int) -> tuple[str, Evaluator]:
        parts = tuple(self._boolean(value, depth) for value in node.values)
        if isinstance(node.op, ast.And):
            return BOOL, (lambda env: all(p(env) for p in parts))
        return BOOL, (lambda env: any(p(env) for p in parts))

    def _Compare(self, node: ast.Compare, depth: int) -> tuple[str, Evaluator]:
        ops = {
            ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b,
            ast.Gt: lambda a, b: a > b,
            ast.GtE: lambda a, b: a >= b,
            ast.Eq: lambda a, b: a == b,
            ast.NotEq: lambda a, b: a != b,
        }
        operands = [self.visit(node.left, depth)] + [self.visit(c, depth) for c in node.comparators]
        steps = []
        for i, op_node in enumerate(node.ops):
            fn = ops.get(type(op_node))
            if fn is None:
                raise ExpressionError(f"comparison not allowed: {type(op_node).__name__}")
            (ta, _), (tb, _) = operands[i], operands[i + 1]
            if ta != tb or ta == BOOL:
                raise ExpressionError(f"cannot compare {ta} with {tb}")
            if ta == STR and not isinstance(op_node, ast.Eq | ast.NotEq):
                raise ExpressionError("texts can only be compared with == or !=")
            steps.append((fn, operands[i][1], operands[i + 1][1]))
        if len(steps) == 1:
            fn, a, b = steps[0]
            return BOOL, (lambda env: fn(a(env), b(env)))
        frozen = tuple(steps)
        return BOOL, (lambda env: all(fn(a(env), b(env)) for fn, a, b in frozen))

    def _IfExp(self, node: ast.IfExp, depth: int) -> tuple[str, Evaluator]:
        test = self._boolean(node.test, depth)
        t_body, body = self.visit(node.body, depth)
        t_else, orelse = self.visit(node.orelse, depth)
        if t_body != t_else:
            raise ExpressionError(f"both branches of 'if' must have one type ({t_body} vs {t_else})")
        return t_body, (lambda env: body(env) if test(env) else orelse(env))

    def _Call(self, node: ast.Call, depth: int) -> tuple[str, Evaluator]:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExpressionError(f"function not allowed (use one of {', '.join(FUNCTIONS)})")
        if node.keywords:
            raise ExpressionError("keyword arguments are not allowed")
        name, args = node.func.id, node.args
        if name == "has":
            if len(args) != 1 or not isinstance(args[0], ast.Name):
                raise ExpressionError("has() takes one input name")
            target = args[0].id
            if target not in self.optional:
                raise ExpressionError(f"has({target}): {target!r} is not an optional input")
            return BOOL, (lambda env, n=target: n in env)
        if name in ("floor", "ceil"):
            if len(args) != 1:
                raise ExpressionError(f"{name}() takes one argument")
            arg = self._number(args[0], depth)
            rounding = ROUND_FLOOR if name == "floor" else ROUND_CEILING
            return NUM, (lambda env: arg(env).to_integral_value(rounding=rounding))
        if len(args) < 2:
            raise ExpressionError(f"{name}() takes two or more arguments")
        parts = tuple(self._number(a, depth) for a in args)
        pick = min if name == "min" else max
        if len(parts) == 2:
            a, b = parts
            return NUM, (lambda env: pick(a(env), b(env)))
        return NUM, (lambda env: pick(p(env) for p in parts))

    def _number(self, node: ast.AST, depth: int) -> Evaluator:
        type_, evaluate = self.visit(node, depth)
        if type_ != NUM:
            raise ExpressionError(f"expected a number, got {type_}: {ast.get_source_segment(self.text, node)!r}")
        return evaluate

    def _boolean(self, node: ast.AST, depth: int) -> Evaluator:
        type_, evaluate = self.visit(node, depth)
        if type_ != BOOL:
            raise ExpressionError(f"expected a condition, got {type_}: {ast.get_source_segment(self.text, node)!r}")
        return evaluate
