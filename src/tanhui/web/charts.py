"""Charts as inline SVG, drawn on the server: no JavaScript, no CDN, readable by screen readers.

Pure functions from numbers to markup. Every chart has a <title>, an aria-label and axis labels;
values are escaped. Sizes are in viewBox units, so a chart scales to its container (phone or desktop).
"""

from __future__ import annotations

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


def compact(value: float) -> str:
    """Axis numbers: 1.2k, 3.4M; whole numbers below 1000 as they are."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    label: str,
    unit: str = "",
    width: int = 640,
    height: int = 220,
    color: str = PALETTE[0],
    area: bool = True,
) -> str:
    """A line over labelled x positions (dates), with a y axis of 4 ticks and up to 6 x labels."""
    left, right, top, bottom = 48, 12, 14, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [float(v) for _, v in points]
    top_value = nice_max(max(values, default=0.0))
    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * (v / top_value)

    parts = [_open(width, height, label)]
    for k in range(5):
        tick = top_value * k / 4
        ty = y(tick)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" class="tick">{escape(compact(tick))}</text>')
    if unit:
        parts.append(f'<text x="4" y="{top - 2}" class="unit">{escape(unit)}</text>')
    if n:
        step = max(1, (n - 1) // 5 or 1)
        for i in range(0, n, step):
            parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle" class="tick">{escape(points[i][0])}</text>')
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        if area and n > 1:
            parts.append(
                f'<polygon points="{x(0):.1f},{y(0):.1f} {coords} {x(n - 1):.1f},{y(0):.1f}" fill="{color}" opacity="0.12"/>'
            )
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"/>')
        if n <= 40:
            for i, v in enumerate(values):
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}">'
                    f"<title>{escape(points[i][0])}: {escape(compact(v))} {escape(unit)}</title></circle>"
                )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" class="axis"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    label: str,
    unit: str = "",
    width: int = 640,
    bar_height: int = 26,
    value_text: Sequence[str] | None = None,
) -> str:
    """Horizontal bars, largest first as given, each labelled with its name and its value."""
    label_w, gap = 150 if width >= 560 else 110, 8
    right = 150 if width >= 560 else 120
    height = max(1, len(bars)) * (bar_height + gap) + gap
    top_value = max((float(v) for _, v in bars), default=0.0) or 1.0
    plot_w = width - label_w - right
    parts = [_open(width, height, label)]
    for i, (name, value) in enumerate(bars):
        y0 = gap + i * (bar_height + gap)
        w = max(1.0, plot_w * float(value) / top_value) if value else 0.0
        shown = value_text[i] if value_text else f"{compact(float(value))} {unit}".strip()
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + bar_height * 0.68:.1f}" text-anchor="end" class="label">{escape(name)}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y0}" width="{w:.1f}" height="{bar_height}" rx="3" fill="{color}">'
            f"<title>{escape(name)}: {escape(shown)}</title></rect>"
        )
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y0 + bar_height * 0.68:.1f}" class="value">{escape(shown)}</text>')
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


def _open(width: int, height: int, label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
    )
