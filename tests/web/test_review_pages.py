"""The review queue's pages over HTTP on both engines (issue 17): 50 a page with "显示 1–50，共 N 条",
reasons in sentences, and the two decisions — confirm a rejection, accept an implausible report —
as forms only an operator may send, each leaving the reviewer in the audit log."""

from __future__ import annotations

import re
from typing import Any

from tanhui.services import audit, review
from tests.web.helpers import csrf_of, operator
from tests.web.reading import PageText
from tests.web.test_dashboard import busy, operator_client  # noqa: F401 (the fixture)

BASE = "/admin/schemes/luzhou/review"


def _event_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li class="card" data-event="(\d+)">', html)]


def _acceptable(store: Any) -> int:
    return next(
        i.id for i in review.queue(store, "luzhou", reason="implausible", limit=200).items if i.event_id == "lonely-huge-walk"
    )


def test_the_queue_pages_by_fifty_with_its_total(busy: Any) -> None:  # noqa: F811
    live, store, _b = busy
    total = review.queue(store, "luzhou").total
    assert total > 50
    with operator_client(live, "ops-dashboard") as ops:
        first = ops.get(BASE)
        second = ops.get(f"{BASE}?page=2")
        beyond = ops.get(f"{BASE}?page=99")
        bad = ops.get(f"{BASE}?page=two")
    with operator_client(live, "ops-dashboard", "en") as ops:
        english = ops.get(BASE)
    assert first.status_code == second.status_code == beyond.status_code == 200
    assert f"显示 1–50，共 {total:,} 条" in PageText(first.text).text
    assert f"显示 51–{total:,}，共 {total:,} 条" in PageText(second.text).text
    assert f"Showing 1–50 of {total:,}" in PageText(english.text).text
    ids = _event_ids(first.text) + _event_ids(second.text)
    assert len(ids) == total == len(set(ids)) and ids == sorted(ids, reverse=True)  # newest first, none twice
    assert 'rel="next"' in first.text and 'rel="prev"' in second.text and 'rel="next"' not in second.text
    assert f"共 {total:,} 条" in PageText(beyond.text).text and not _event_ids(beyond.text)
    assert bad.status_code == 422


def test_reasons_are_sentences(busy: Any) -> None:  # noqa: F811
    live, _store, _b = busy
    with operator_client(live, "ops-dashboard") as ops:
        text = PageText(ops.get(f"{BASE}?reason=implausible").text).text
    with operator_client(live, "ops-dashboard", "en") as ops:
        english = PageText(ops.get(f"{BASE}?reason=implausible").text).text
    assert "上报的数据超出了合理范围：一天不超过 100,000 步；上报：当天总步数 250,000。" in text
    assert (
        "The data reported is beyond what is plausible: at most 100,000 steps in a day; reported: the day's total steps 250,000."
        in english
    )
    assert "steps_per_day" not in text and "['steps']" not in text and "implausible" not in text


def test_an_operator_accepts_and_confirms_and_the_audit_log_names_them(busy: Any) -> None:  # noqa: F811
    live, store, _b = busy
    lonely = _acceptable(store)
    with operator_client(live, "ops-dashboard") as ops:
        page = ops.get(f"{BASE}?reason=implausible")
        csrf = csrf_of(page.text)
        accepted = ops.post(f"{BASE}/{lonely}/accept", data={"csrf": csrf, "back": f"{BASE}?reason=implausible"})
        assert accepted.status_code == 303 and accepted.headers["location"].startswith(f"{BASE}?reason=implausible&done=accepted")
        shown = ops.get(accepted.headers["location"]).text
        assert f"记录 {lonely} 已核实入账。" in shown and lonely not in _event_ids(shown)
        newest = _event_ids(shown)[0]
        confirmed = ops.post(f"{BASE}/{newest}/confirm", data={"csrf": csrf, "back": BASE})
        assert confirmed.status_code == 303
        assert newest not in _event_ids(ops.get(BASE).text)
        listed = ops.get(f"{BASE}?state=confirmed").text
        assert _event_ids(listed) == [newest] and "已由 运营方 ops-dashboard 确认拒绝" in PageText(listed).text
        # a walk on a day whose walk is credited already: refused in words, nothing written
        blocked = next(
            i.id
            for i in review.queue(store, "luzhou", reason="implausible", limit=200).items
            if i.event_id.startswith("luzhou-u0-walk-bad")
        )
        refused = ops.post(f"{BASE}/{blocked}/accept", data={"csrf": csrf, "back": BASE})
        assert refused.status_code == 422 and "同一行为已经入账" in refused.text and _event_ids(refused.text)
        assert blocked in [i.id for i in review.queue(store, "luzhou", limit=200).items]
        assert ops.post(f"{BASE}/{blocked}/accept", data={"back": BASE}).status_code == 403  # no CSRF value
    [accept] = audit.list_entries(store, "luzhou", "review.accept")
    [confirm] = audit.list_entries(store, "luzhou", "review.confirm")
    assert (accept.actor, accept.target) == ("operator:ops-dashboard", f"event:{lonely}")
    assert (confirm.actor, confirm.target) == ("operator:ops-dashboard", f"event:{newest}")


def test_a_viewer_sees_the_queue_but_may_not_decide(busy: Any) -> None:  # noqa: F811
    live, store, _b = busy
    operator(store, "luzhou", "viewer-review", role="viewer")
    lonely = _acceptable(store)
    with operator_client(live, "viewer-review") as viewer:
        page = viewer.get(BASE)
        assert page.status_code == 200 and _event_ids(page.text) and 'data-testid="accept"' not in page.text
        refused = viewer.post(f"{BASE}/{lonely}/accept", data={"csrf": csrf_of(page.text), "back": BASE})
    assert refused.status_code == 403
    assert not audit.list_entries(store, "luzhou", "review.accept")
    assert lonely in [i.id for i in review.queue(store, "luzhou", limit=200).items]
