"""JSON text from outside (a request body, an import line): nesting bounded, text the store can hold.

``loads`` refuses nesting deeper than ``DEPTH_MAX`` with a ValueError (the standard parser would
otherwise recurse until RecursionError, and orjson's writer stops at 255 levels). ``bad_text`` finds
the first string (or key) a store cannot hold: a lone surrogate (``"\\ud800"`` is valid JSON but not
UTF-8) or, where asked, NUL (PostgreSQL's text refuses it). ``without_surrogates`` makes a copy that can
be hashed and stored, lone surrogates replaced by U+FFFD.
"""

from __future__ import annotations

import json
from typing import Any

DEPTH_MAX = 64


class TooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(f"nested deeper than {DEPTH_MAX} levels")


def loads(text: str | bytes) -> Any:
    """json.loads with nesting bounded: TooDeep (a ValueError) beyond DEPTH_MAX levels."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep() from None
    if depth(value) > DEPTH_MAX:
        raise TooDeep()
    return value


def depth(value: Any) -> int:
    """How many arrays and objects deep ``value`` goes (iterative: any depth is safe to measure)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def unstorable(text: str, nul: bool = True) -> bool:
    """True when ``text`` has a lone surrogate (or, with ``nul``, a NUL character)."""
    if nul and "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def bad_text(value: Any, nul: bool = True) -> str | None:
    """The path (``a.b.0``) of the first string or key in ``value`` that is unstorable, else None."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if unstorable(item, nul):
                return path or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                if unstorable(key, nul):
                    return f"{path}.{_printable(key)}".lstrip(".")
                stack.append((child, f"{path}.{key}".lstrip(".")))
        elif isinstance(item, list):
            stack.extend((child, f"{path}.{index}".lstrip(".")) for index, child in enumerate(item))
    return None


def without_surrogates(value: Any) -> Any:
    """A copy of ``value`` with every lone surrogate (in strings and keys) replaced by U+FFFD."""
    if isinstance(value, str):
        return _printable(value)
    if isinstance(value, dict):
        return {_printable(k) if isinstance(k, str) else k: without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_surrogates(v) for v in value]
    return value


def _printable(text: str) -> str:
    if unstorable(text, nul=False):
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text
