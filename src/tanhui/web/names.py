"""How a person's name may appear where others can see it: a first character and a mask, never whole."""

from __future__ import annotations


def mask_name(name: str | None) -> str | None:
    """ "张三丰" → "张**", "Li" → "L*"; None when there is no name to show."""
    name = (name or "").strip()
    if not name:
        return None
    return name[0] + "*" * min(2, max(1, len(name) - 1))
