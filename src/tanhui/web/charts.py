"""Charts as inline SVG, drawn on the server: no JavaScript, no CDN, readable by screen readers.

Pure functions from numbers to markup. Every chart has a <title>, an aria-label and axis labels;
values are escaped.

Text keeps one size at every width (issue 17, item 8). A chart used to be one viewBox scaled to its box,
so its 12 px labels were 7 px on a phone and 25 px on a wide screen. Now the chart's <svg> has no
viewBox: one unit is one CSS pixel, its height is fixed, and every text sits in it, placed in pixels
vertically and in percentages of the width horizontally, at the size app.css gives it. Only the data
(line, area, dots) are drawn in a nested <svg> whose viewBox stretches to the width
(preserveAspectRatio="none"); their strokes do not scale (vector-effect), so lines keep their weight
and dots, the round caps of zero-length lines, stay round.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#1f7a4d", "#2f6db5", "#c77d14", "#8a4fbf", "#c0392b", "#16808a", "#6b7d1f", "#b5487a", "#555f6b")


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above value (an axis' top)."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def whole_max(value: float) -> int:
    """An axis' top for counts and grams: whole, and a multiple of 4 so the four gridlines are whole too
    (a new person's empty chart read 0.2, 0.5, 0.8 people)."""
    step = nice_max(value / 4) if value > 0 else 1.0
    return 4 * max(1, math.ceil(step))


def compact(value: float) -> str:
    """Axis numbers: 1.2k, 3.4M; whole numbers below 1000 as they are."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")  # 0.25 reads 0.25, not 0.2


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    label: str,
    unit: str = "",
    width: int = 640,  # the box decides the width now; kept so callers need not change
    height: int = 220,
    color: str = PALETTE[0],
    area: bool = True,
    whole: bool = False,
) -> str:
    """A line over labelled x positions (dates): four gridlines labelled at their left end (the top one
    with the unit) and up to six x labels, always the first and the last. `whole`: the values are counts
    or grams, so every gridline is a whole number."""
    del width
    top, bottom = 18, 26
    plot_h = height - top - bottom
    values = [float(v) for _, v in points]
    top_value = (whole_max if whole else nice_max)(max(values, default=0.0))
    n = len(points)

    def x(i: int) -> float:  # in the plot's units: 0 to 1000 across the width
        return 1000 * i / (n - 1) if n > 1 else 500.0

    def y(v: float) -> float:  # pixels from the top of the chart
        return top + plot_h - plot_h * (v / top_value)

    parts = [_open(height, label)]
    for k in range(5):
        ty = y(top_value * k / 4)
        parts.append(f'<line x1="0" x2="100%" y1="{ty:.1f}" y2="{ty:.1f}" class="grid"/>')
    if n:
        coords = " ".join(f"{x(i):.1f},{y(v) - top:.1f}" for i, v in enumerate(values))
        parts.append(
            f'<svg x="0" y="{top}" width="100%" height="{plot_h}" viewBox="0 0 1000 {plot_h}" '
            'preserveAspectRatio="none" overflow="visible">'
        )
        if area and n > 1:
            parts.append(f'<polygon points="0,{plot_h} {coords} 1000,{plot_h}" fill="{color}" opacity="0.12"/>')
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round" '
            'vector-effect="non-scaling-stroke"/>'
        )
        if n <= 40:
            parts.extend(_dot(x(i), y(v) - top, color, f"{points[i][0]}: {compact(v)} {unit}") for i, v in enumerate(values))
        parts.append("</svg>")
    parts.append(f'<line x1="0" x2="100%" y1="{y(0):.1f}" y2="{y(0):.1f}" class="axis"/>')
    for k in range(5):  # over the data, each at the left end of its gridline
        tick = top_value * k / 4
        shown = f"{compact(tick)} {unit}".strip() if k == 4 else compact(tick)
        parts.append(f'<text x="0" y="{y(tick) - 4:.1f}" class="tick">{escape(shown)}</text>')
    for i in x_label_positions(n):
        anchor = "middle" if n == 1 else "start" if i == 0 else "end" if i == n - 1 else "middle"
        parts.append(
            f'<text x="{x(i) / 10:.2f}%" y="{height - 7}" text-anchor="{anchor}" class="tick">{escape(points[i][0])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _dot(cx: float, cy: float, color: str, title: str) -> str:
    """A point of a line chart that stays round however the plot is stretched, with its value as a tooltip."""
    return (
        f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{cx:.1f}" y2="{cy:.1f}" stroke="{color}" stroke-width="6" stroke-linecap="round" '
        f'vector-effect="non-scaling-stroke"><title>{escape(title)}</title></line>'
    )


def x_label_positions(n: int, most: int = 6) -> list[int]:
    """Evenly spaced indices for up to `most` x labels, always the first and the last (the period's
    ends are what a reader looks for); a label too close to the last gives way to it."""
    if n <= most:
        return list(range(n))
    step = -(-(n - 1) // (most - 1))  # rounded up
    chosen = list(range(0, n - 1, step))
    if n - 1 - chosen[-1] <= step / 2:
        chosen.pop()
    return [*chosen, n - 1]


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    label: str,
    unit: str = "",
    width: int = 640,  # the box decides the width now; kept so callers need not change
    bar_height: int = 14,
    value_text: Sequence[str] | None = None,
) -> str:
    """Horizontal bars, largest first as given: each with its name on the left and its value on the right
    of the line above it, so neither is squeezed on a phone, and the bar below across the width."""
    del width
    thickness = max(8, min(bar_height, 18))
    pitch = 20 + thickness + 12
    height = max(1, len(bars)) * pitch
    top_value = max((float(v) for _, v in bars), default=0.0) or 1.0
    parts = [_open(height, label)]
    for i, (name, value) in enumerate(bars):
        y0 = i * pitch
        share = max(0.5, 100 * float(value) / top_value) if value else 0.0
        shown = value_text[i] if value_text else f"{compact(float(value))} {unit}".strip()
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="0" y="{y0 + 14}" class="label">{escape(name)}</text>')
        parts.append(f'<text x="100%" y="{y0 + 14}" text-anchor="end" class="value">{escape(shown)}</text>')
        parts.append(f'<rect x="0" y="{y0 + 20}" width="100%" height="{thickness}" rx="3" class="track"/>')
        parts.append(
            f'<rect x="0" y="{y0 + 20}" width="{share:.2f}%" height="{thickness}" rx="3" fill="{color}">'
            f"<title>{escape(name)}: {escape(shown)}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float], *, label: str, width: int = 120, height: int = 28, color: str = PALETTE[1]) -> str:
    """A tiny line for a table cell (e.g. a partner's events per day)."""
    top_value = max(values, default=0) or 1
    n = len(values)
    coords = " ".join(
        f"{(width - 4) * i / max(1, n - 1) + 2:.1f},{height - 2 - (height - 4) * v / top_value:.1f}" for i, v in enumerate(values)
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
        f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5"/></svg>'
    )


def _open(height: int, label: str) -> str:
    """The chart's own pixels: no viewBox, the width of its box, a fixed height."""
    return (
        f'<svg class="chart" width="100%" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
    )
