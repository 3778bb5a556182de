"""Identifiers partners send, in one canonical form, so that text that looks the same *is* the same.

Issue 18, finding 10: a zero-width space, a lower-case copy or the full-width form of a trip id made a
second behaviour (two credits for one trip), and a user_ref with a trailing space or full-width digits
made a second account. Two rules, one per kind of identifier:

``behaviour_id`` (the values that feed behaviour fingerprints: trip, order, bill, invoice and session
ids, billing periods; domain/events.fingerprint applies it to every identity part):
  NFKC (full-width and other compatibility forms become their plain letters and digits), drop format
  and other default-ignorable characters (U+200B, U+FEFF, bidi marks, variation selectors, ...) and
  controls, trim white space, and case-fold. Case-folded because these ids are compared across
  partners who copy them from one upstream system (a transit card's trip, a platform's order number):
  ``ABC123`` and ``abc123`` name the same trip far more often than two different ones, and counting a
  behaviour twice is the failure a carbon registry must not have. The cost, a genuine id that differs
  from another only in case being refused as ``duplicate_behaviour``, is visible to the partner and
  rare (random base-62 ids of 10 characters still have 36^10 case-insensitive values).

``user_ref`` (a partner's own key for a person): NFKC and trimmed, but never case-folded (partner ids
such as WeChat openids are case-sensitive: two people), and a user_ref holding a control or format
character is refused (``invalid``), not silently changed: such a character is a bug or an attack on
the partner's side, and answering with an id the partner never sent would hide it.

Both are idempotent and leave ids that are already plain (ASCII letters, digits and punctuation
without surrounding spaces) as they are, except that ``behaviour_id`` lower-cases ASCII capitals;
domain/events.fingerprint keeps recognising behaviours credited before this rule (see there).
"""

from __future__ import annotations

import unicodedata

__all__ = ["behaviour_id", "invisible", "user_ref"]

# Default_Ignorable_Code_Point (Unicode 14 DerivedCoreProperties.txt): characters that render as
# nothing. Most are category Cf (checked separately); these ranges add the rest (U+034F combining
# grapheme joiner, Hangul fillers, Mongolian variation selectors, variation selectors, unassigned
# ignorables, tag characters).
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
_IGNORABLE = frozenset(point for low, high in _IGNORABLE_RANGES for point in range(low, high + 1))
_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf"))
_PASSES_MAX = 4  # NFKC, case folding and removal settle in two passes; the bound only guards the loop


def invisible(char: str) -> bool:
    """A control, format or default-ignorable character: one that shows nothing where it stands."""
    return ord(char) in _IGNORABLE or unicodedata.category(char) in _HIDDEN_CATEGORIES


def _plain(text: str) -> bool:
    """Printable ASCII (space included): nothing for NFKC to change and nothing invisible."""
    return text.isascii() and text.isprintable()


def behaviour_id(text: str) -> str:
    """The canonical form of one part of a behaviour's identity ('' when nothing visible is left)."""
    if _plain(text):
        return text.strip().lower()
    current = text
    for _ in range(_PASSES_MAX):
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", current).casefold())
        if any(map(invisible, folded)):
            folded = "".join(c for c in folded if not invisible(c))
        step = folded.strip()
        if step == current:
            break
        current = step
    return current


def user_ref(text: str) -> str | None:
    """The canonical form of a partner's user_ref; None when it holds a control or format character
    or nothing is left of it."""
    text = text.strip()  # white space around it first: a trailing tab or newline is trimmed, not refused
    if _plain(text):
        return text or None
    if any(invisible(c) for c in text):
        return None
    canonical = unicodedata.normalize("NFKC", text).strip()
    if any(invisible(c) for c in canonical):  # a compatibility form of an ignorable (none in Unicode 14)
        return None
    return canonical or None
