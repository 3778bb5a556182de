"""Pure parts of the web app: charts, words, equivalents, redirects, number formats."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from tanhui.web import charts, i18n, security
from tanhui.web.equivalents import EQUIVALENTS, equivalents
from tanhui.web.render import grams_as_kg, grams_as_tonnes

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "tanhui" / "web" / "templates"
PAGES = sorted(TEMPLATES.parent.rglob("*.py"))  # web/pages/*.py, render.py, tables.py, ...


def test_charts_are_well_formed_svg_with_labels() -> None:
    line = charts.line_chart([("11-01", 1.5), ("11-02", 3), ("11-03", 0)], label="减排 <kg>", unit="kg")
    bars = charts.bar_chart([("公交出行", 12.0), ("步行", 3.0)], label="by scenario", unit="kg")
    spark = charts.sparkline([1, 5, 2], label="events")
    for svg in (line, bars, spark):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg") and root.get("role") == "img" and root.get("aria-label")
    assert "减排 &lt;kg&gt;" in line and "11-02" in line and "公交出行" in bars
    assert charts.line_chart([], label="empty").startswith("<svg")  # no data still draws axes


def test_axis_tops_and_compact_numbers() -> None:
    assert [charts.nice_max(v) for v in (0, 0.7, 7, 123, 2600)] == [1.0, 1.0, 10.0, 200.0, 5000.0]
    assert charts.compact(1_234_567) == "1.2M" and charts.compact(999) == "999" and charts.compact(2500) == "2.5k"


def test_every_message_id_used_has_a_chinese_text() -> None:
    used: set[str] = set()
    for path in [*TEMPLATES.glob("*.html"), *PAGES]:
        used.update(re.findall(r"""_\(["']([^"']+)["']\)""", path.read_text(encoding="utf-8")))
    missing = sorted(m for m in used if m not in i18n.ZH)
    assert not missing, f"add zh-CN texts to web/i18n.py: {missing}"
    assert i18n.translator("en")("Market") == "Market" and i18n.translator("zh-CN")("Market") == "积分商城"
    assert i18n.scenario_name("zh-CN")("bus_ride") == "公交出行" and i18n.scenario_name("en")("unknown_x") == "unknown_x"


def test_equivalents_name_their_sources_and_flag_assumptions() -> None:
    shown = equivalents(272_000, "zh-CN")
    assert shown[0]["text"] == "少开车 1,000.0 公里"
    assert all(e["source"] for e in shown)
    assert [e.key for e in EQUIVALENTS if e.assumption] == ["tree_year"]
    assert "assumption" in EQUIVALENTS[-1].source


def test_redirect_targets_stay_on_this_site() -> None:
    assert security.safe_next("/me?x=1") == "/me?x=1"
    for bad in ("https://evil.example/", "//evil.example", "/\\evil", None, ""):
        assert security.safe_next(bad) == "/"


def test_signed_values_refuse_tampering() -> None:
    signed = security.sign("ws_token", "tanhui_session")
    assert security.unsign(signed, "tanhui_session") == "ws_token"
    assert security.unsign(signed + "x", "tanhui_session") is None
    assert security.unsign(signed, "tanhui_admin") is None  # a person's cookie is no operator's


def test_number_formats() -> None:
    assert grams_as_kg(80) == "0.080" and grams_as_kg(1_234_567) == "1,234.567"
    assert grams_as_tonnes(5_912_345) == "5.912"


def test_chart_text_is_never_scaled_with_the_chart() -> None:
    """Text sits in the chart's own pixels (no viewBox on the root); only the data sit in a stretched viewBox,
    with strokes that do not scale (issue 17, item 8; the browser measures it in test_browser_charts.py)."""
    points = [(f"11-{d:02d}", float(d % 7)) for d in range(1, 31)]
    for svg in (
        charts.line_chart(points, label="line", unit="kg"),
        charts.bar_chart([("公交出行", 12.0), ("步行", 3.0)], label="bars", value_text=["12 kg", "3 kg"]),
    ):
        root = ET.fromstring(svg)
        assert root.get("viewBox") is None and root.get("width") == "100%" and int(root.get("height", "0")) > 50
        texts = [t for t in root.iter() if t.tag.endswith("text")]
        assert texts and all(t in list(root) for t in texts), "a text inside a nested, scaled svg"
        for inner in (e for e in root.iter() if e.tag.endswith("svg") and e is not root):
            assert inner.get("preserveAspectRatio") == "none"
            strokes = [e for e in inner if e.tag.endswith(("polyline", "line"))]
            assert strokes and all(e.get("vector-effect") == "non-scaling-stroke" for e in strokes)
    labels = [t.text for t in ET.fromstring(charts.line_chart(points, label="line")).iter() if t.get("text-anchor")]
    assert labels[0] == "11-01" and labels[-1] == "11-30" and len(labels) <= 6  # the period's ends, never cut
