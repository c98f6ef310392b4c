"""Where the witness transactions ran: marks on the test's timeline chart (pure rendering)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.checkers import CheckConfig, run_all
from harness.checkers.list_append import check_list_append
from harness.history import Op, write_history
from harness.report import aggregate_ops, build_report
from harness.report._svg import MIN_MARK_PX, XScale
from harness.report._svg_timeline import MAX_TXN_ROWS, TxnMark, timeline_chart
from harness.report._txn import transactions_section, witness_marks

NS = ""  # the timeline's <svg> is inline HTML: no namespace


def probes(t0: float, t1: float) -> list[Op]:
    """A VIP probe every 0.5 s from t0 to t1, all ok (the chart needs a lane to be drawn)."""
    ops: list[Op] = []
    t = t0
    while t <= t1:
        ops.append(Op(0, t, "vip-probe-web", "invoke", "get", {"vip": "web"}))
        ops.append(Op(0, t + 0.01, "vip-probe-web", "ok", "get", 200, {"latency_ms": 10.0}))
        t += 0.5
    return ops


def write_skew() -> list[Op]:
    """T0 (txn-0, 2.0-4.0 s) and T1 (txn-1, 3.0-6.5 s) each read what the other appends to:
    G2-item. T2 (txn-2, 8.0-8.5 s) reads both afterwards."""
    return [
        Op(0, 2.0, "txn-0", "invoke", "txn", [["r", "x", None], ["append", "y", 1]]),
        Op(0, 3.0, "txn-1", "invoke", "txn", [["r", "y", None], ["append", "x", 1]]),
        Op(0, 4.0, "txn-0", "ok", "txn", [["r", "x", []], ["append", "y", 1]]),
        Op(0, 6.5, "txn-1", "ok", "txn", [["r", "y", []], ["append", "x", 1]]),
        Op(0, 8.0, "txn-2", "invoke", "txn", [["r", "x", None], ["r", "y", None]]),
        Op(0, 8.5, "txn-2", "ok", "txn", [["r", "x", [1]], ["r", "y", [1]]]),
    ]


def serial() -> list[Op]:
    return [
        Op(0, 2.0, "txn-0", "invoke", "txn", [["append", "x", 1]]),
        Op(0, 2.5, "txn-0", "ok", "txn", [["append", "x", 1]]),
        Op(0, 3.0, "txn-1", "invoke", "txn", [["r", "x", None], ["append", "x", 2], ["r", "x", None]]),
        Op(0, 3.5, "txn-1", "ok", "txn", [["r", "x", [1]], ["append", "x", 2], ["r", "x", [1, 2]]]),
    ]


def numbered(ops: list[Op]) -> list[Op]:
    ops = sorted(ops, key=lambda o: o.time)
    return [Op(i, o.time, o.process, o.type, o.f, o.value, o.extra) for i, o in enumerate(ops)]


def marks_in(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("data-txn", ""): g for g in root.iter(f"{NS}g") if g.get("class") == "txn-mark"}


def test_witness_marks_carry_each_txns_invoke_and_completion_time() -> None:
    marks = witness_marks([check_list_append(numbered(write_skew())).to_dict()])
    assert sorted(marks, key=lambda m: m.txn) == [
        TxnMark("T0", 2.0, 4.0, ("G2-item",), "txn-0", forbidden=True),
        TxnMark("T1", 3.0, 6.5, ("G2-item",), "txn-1", forbidden=True),
    ]


def test_an_allowed_anomaly_is_not_marked_forbidden() -> None:
    marks = witness_marks([check_list_append(numbered(write_skew()), model="snapshot-isolation").to_dict()])
    assert {m.txn for m in marks} == {"T0", "T1"} and not any(m.forbidden for m in marks)


def test_chart_draws_each_witness_at_its_times() -> None:
    ops = numbered(probes(0.0, 10.0) + write_skew())
    tl, _ = aggregate_ops(ops)
    marks = witness_marks([check_list_append(ops).to_dict()])
    svg = timeline_chart(tl, txn_marks=marks)
    x = XScale(tl.t0, tl.t1)
    found = marks_in(svg)
    assert set(found) == {"T0", "T1"}
    for name, start, end in (("T0", 2.0, 4.0), ("T1", 3.0, 6.5)):
        rect = found[name].find(f"{NS}rect")
        assert rect is not None
        assert abs(float(rect.get("x", "nan")) - x(start)) < 0.06
        assert abs(float(rect.get("width", "nan")) - (x(end) - x(start))) < 0.11
        assert found[name].get("data-anomaly") == "G2-item"
        title = found[name].find(f"{NS}title")
        assert title is not None and title.text is not None
        assert f"{name} (txn-{name[1]}): witness of G2-item; invoked {start:.3f} s, completed {end:.3f} s" in title.text
        label = [t.text for t in found[name].iter(f"{NS}text")]
        assert label == [name]
    # the two overlap in time: T1 sits in a row of its own, below T0
    y0 = float(found["T0"].find(f"{NS}rect").get("y", "nan"))  # type: ignore[union-attr]  # asserted above
    y1 = float(found["T1"].find(f"{NS}rect").get("y", "nan"))  # type: ignore[union-attr]  # asserted above
    assert y1 > y0
    # under the fault windows: the lane lies inside the chart, between the lanes and the outages
    assert re.search(r'class="txns".*class="outages"', svg, re.S)


def test_a_txn_that_never_completed_runs_to_the_end_dashed() -> None:
    ops = numbered(probes(0.0, 10.0))
    tl, _ = aggregate_ops(ops)
    svg = timeline_chart(tl, txn_marks=[TxnMark("T7", 5.0, None, ("G1c",), "txn-3")])
    rect = marks_in(svg)["T7"].find(f"{NS}rect")
    x = XScale(tl.t0, tl.t1)
    assert rect is not None and rect.get("stroke-dasharray")
    assert abs(float(rect.get("x", "nan")) + float(rect.get("width", "nan")) - x.right) < 0.11
    assert "never completed" in svg
    (label,) = marks_in(svg)["T7"].iter("text")
    assert float(label.get("x", "nan")) < float(rect.get("x", "nan"))  # no room on the right: left of the bar


def test_a_short_txn_still_has_a_visible_mark_and_crowds_share_rows() -> None:
    ops = numbered(probes(0.0, 100.0))
    tl, _ = aggregate_ops(ops)
    many = [TxnMark(f"T{i}", 50.0, 50.001, ("G-single",)) for i in range(MAX_TXN_ROWS + 3)]
    found = marks_in(timeline_chart(tl, txn_marks=many))
    assert len(found) == MAX_TXN_ROWS + 3
    widths = {float(g.find(f"{NS}rect").get("width", "nan")) for g in found.values()}  # type: ignore[union-attr]  # every mark has one
    assert widths == {MIN_MARK_PX}
    labelled = [n for n, g in found.items() if any(t.text == n for t in g.iter(f"{NS}text"))]
    assert len(labelled) == MAX_TXN_ROWS  # one label per row; the rest have only their tooltip


def test_a_history_without_anomalies_draws_no_marks() -> None:
    ops = numbered(probes(0.0, 10.0) + serial())
    tl, _ = aggregate_ops(ops)
    check = check_list_append(ops)
    assert check.counts["anomaly_types"] == []
    marks = witness_marks([check.to_dict()])
    assert marks == []
    svg = timeline_chart(tl, txn_marks=marks)
    assert "txn-mark" not in svg and 'class="txns"' not in svg
    assert svg == timeline_chart(tl)


def test_old_results_without_times_draw_no_marks() -> None:
    d = check_list_append(numbered(write_skew())).to_dict()
    for ws in d["examples"].values():
        for w in ws:
            for t in w["txns"]:
                del t["time"], t["end"]
    assert witness_marks([d]) == []
    assert witness_marks([{"checker": "ledger"}]) == []


def test_witness_figure_says_when_its_txns_ran() -> None:
    html = transactions_section([check_list_append(numbered(write_skew())).to_dict()])
    assert "ran: T0 2.000–4.000 s, T1 3.000–6.500 s" in html


def test_report_page_marks_the_witnesses_on_the_tests_chart(tmp_path: Path) -> None:
    ops = numbered(probes(0.0, 10.0) + write_skew())
    d = tmp_path / "reliability-test_transactions-test_skew"
    d.mkdir()
    write_history(ops, d / "history.jsonl")
    checks: list[dict[str, Any]] = [r.to_dict() for r in run_all(ops, CheckConfig())]
    (d / "result.json").write_text(json.dumps({"test": "t::skew", "slug": d.name, "title": "skew", "outcome": "failed",
                                               "checks": checks}), encoding="utf-8")
    (tmp_path / "run.json").write_text(json.dumps({"run_id": "r1", "tests": ["t::skew"]}), encoding="utf-8")
    page = build_report(tmp_path).read_text(encoding="utf-8")
    chart = next(s for s in re.findall(r'<svg class="chart".*?</svg>', page, re.S))
    assert set(marks_in(chart)) == {"T0", "T1"}
