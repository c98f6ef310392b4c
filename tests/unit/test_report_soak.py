"""The report's soak section and soak trend, rendered from literal data (no cluster)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.report import RunModel, build_report, load_run, render_report
from harness.report._load import load_soak_trend
from harness.report._model import TestModel as _Test
from harness.report._model import TrendPoint
from harness.report._soak import failover_by_kind, nines_text, soak_section, soak_trend_section


def _step(i, kind, status="ran", failover=None, budget=None, audit_ok=True, problems=(), target="web1", resolved=None, error=None):
    return {
        "index": i, "kind": kind, "fault": kind, "tier": "web", "target": target, "resolved_target": resolved or (target if status != "not run" else None),
        "status": status, "failover_s": failover, "budget_s": budget, "took_effect": status == "ran", "effect_s": 1.2 if status == "ran" else None,
        "error": error,
        "audit": None if status == "not run" else {"ok": audit_ok, "problems": list(problems), "recovery_s": 2.5},
    }


SOAK = {
    "seed": 42, "availability_percent": 99.95, "probes": 20000, "outages": 4, "longest_outage_s": 3.61,
    "stopped_by_deadline": True, "steps_run": 5, "audits_failed": 1,
    "steps": [
        _step(1, "director-failure", failover=3.41, budget=4.3, target="role director, the web VIP holder", resolved="dir1"),
        _step(2, "kill-apache", failover=0.12, budget=3.0),
        _step(3, "director-failure", failover=4.9, budget=4.3, target="role director, the web VIP holder", resolved="dir2"),
        _step(4, "db-node-failure", failover=2.2, budget=4.1, target="db3", audit_ok=False,
              problems=["db db3: wsrep_local_state_comment=Joining", "VRRP VI_WEB: 2 MASTER(s) ['dir1', 'dir2']"]),
        _step(5, "kill-apache", failover=0.31, budget=3.0, target="web2"),
        _step(6, "freeze-apache", status="not run", target="web3"),
    ],
    "audits": [
        {"step": 0, "fault": "baseline", "target": "whole cluster", "ok": True, "problems": [], "recovery_s": 1.3},
        *({"step": i, "fault": "x", "target": "y", "ok": i != 4, "problems": [] if i != 4 else ["db db3: wsrep_local_state_comment=Joining"]}
          for i in range(1, 6)),
    ],
}


def _model(soak=SOAK, trend=()):
    t = _Test(slug="soak-test_soak", test="tests/soak/test_soak.py::test_soak", title="Soak", outcome="failed",
                  tier="soak", fault_kind="soak", soak=soak)
    return RunModel(run_id="20261125T031500Z-4f2a", seed=42, tests=[t], soak_trend=list(trend))


def test_nines_text():
    assert nines_text(99.95) == "3.3 nines"
    assert nines_text(99.0) == "2.0 nines"
    assert nines_text(100.0, 20000) == "no failed probe: > 4.3 nines"
    assert nines_text(None) == "–"


def test_failover_by_kind_groups_ran_steps_in_first_seen_order():
    rows = failover_by_kind(SOAK["steps"])
    assert [r[0] for r in rows] == ["director-failure", "kill-apache", "db-node-failure"]
    assert rows[0] == ("director-failure", [3.41, 4.9], 4.3)
    assert rows[1] == ("kill-apache", [0.12, 0.31], 3.0)
    assert all(kind != "freeze-apache" for kind, _, _ in rows), "a step not run has no failover"


def test_soak_section_shows_availability_failovers_and_audits():
    html = soak_section(_model().tests[0])
    assert "99.95%" in html and "3.3 nines" in html
    # strip plot: one dot per fault that ran, the one over budget in red, one budget mark per kind
    svg = re.search(r'<svg class="strip".*?</svg>', html).group(0)
    assert svg.count("<circle") == 5
    assert svg.count('fill="#d7263d"') == 1 and "over budget" in svg
    assert svg.count('stroke-dasharray="3 2"') == 3
    # failover table: min / median / max per kind, verdict over for director-failure
    table = re.search(r"<table class='failovers'>.*?</table>", html).group(0)
    row = re.search(r"director-failure.*?</tr>", table).group(0)
    assert "3.41 s" in row and "4.16 s" in row and "4.90 s" in row and "over" in row
    # audits: baseline, failed audit with its problems, step not run
    audits = re.search(r"<table class='audits'>.*?</table>", html).group(0)
    assert audits.count("<tr") == 1 + 1 + 6  # header, baseline, six steps
    assert "wsrep_local_state_comment=Joining" in audits and "2 MASTER(s)" in audits
    assert "not run (the deadline came first)" in audits
    assert "dir2 (role director, the web VIP holder)" in audits


def test_soak_cards_count_audits_and_steps():
    html = soak_section(_model().tests[0])
    card = re.search(r'data-soak="audits passed".*?</div></div>', html).group(0)
    assert "5 / 6" in card  # baseline + 5 after faults, one failed
    steps = re.search(r'data-soak="steps run".*?</div></div>', html).group(0)
    assert "5 / 6" in steps and "stopped at the deadline" in steps
    over = re.search(r'data-soak="failovers over budget".*?</div></div>', html).group(0)
    assert ">1<" in over


def test_no_soak_no_section():
    assert soak_section(_Test(slug="a", test="a", title="a", outcome="passed")) == ""
    assert soak_trend_section(_model(trend=())) == ""


def test_trend_section_draws_both_charts_and_marks_this_run():
    pts = [
        TrendPoint("20261123T020000Z-aaaa", None, 1, 99.9, 3.5, 10, 0),
        TrendPoint("20261124T020000Z-bbbb", None, 2, None, 7.25, 11, 1),  # availability unknown: a gap
        TrendPoint("20261125T020000Z-cccc", None, 3, 99.99, 2.0, 12, 0, current=True),
    ]
    html = soak_trend_section(_model(trend=pts))
    charts = re.findall(r'<svg class="trend".*?</svg>', html)
    assert len(charts) == 2
    assert charts[0].count("<circle") == 2 and charts[1].count("<circle") == 3
    assert "this run" in charts[1] and 'r="5.5"' in charts[1]
    assert "7.25" in charts[1]
    assert "(this run)" in html and "3 runs" in html


def _write_run(root: Path, run_id: str, soak: dict | None, *, broken: bool = False) -> None:
    d = root / run_id / "soak-test_soak"
    d.mkdir(parents=True)
    (root / run_id / "run.json").write_text(json.dumps({"run_id": run_id, "seed": 5, "tests": []}))
    if broken:
        (d / "result.json").write_text("{not json")
        return
    res = {"test": "tests/soak/test_soak.py::test_soak", "slug": "soak-test_soak", "title": "Soak", "outcome": "passed"}
    if soak is not None:
        res["soak"] = soak
    (d / "result.json").write_text(json.dumps(res))


def test_trend_reads_earlier_runs_and_skips_the_unreadable(tmp_path):
    _write_run(tmp_path, "20261120T020000Z-0001", {"availability_percent": 99.5, "longest_outage_s": 4.0, "steps_run": 3})
    _write_run(tmp_path, "20261121T020000Z-0002", None)  # a failover run: no soak
    _write_run(tmp_path, "20261122T020000Z-0003", None, broken=True)  # unreadable
    _write_run(tmp_path, "20261123T020000Z-0004", {"steps": []})  # died before its figures
    (tmp_path / "stray-file.txt").write_text("x")
    _write_run(tmp_path, "20261124T020000Z-0005", {"availability_percent": 99.99, "longest_outage_s": 1.5, "audits_failed": 0})
    pts = load_soak_trend(tmp_path, current="20261124T020000Z-0005")
    assert [p.run_id for p in pts] == ["20261120T020000Z-0001", "20261124T020000Z-0005"]
    assert pts[0].availability_percent == 99.5 and pts[0].longest_outage_s == 4.0 and not pts[0].current
    assert pts[1].current and pts[1].audits_failed == 0
    assert [p.run_id for p in load_soak_trend(tmp_path, limit=1)] == ["20261124T020000Z-0005"]
    assert load_soak_trend(tmp_path / "missing") == []


def test_load_run_and_build_report_include_soak_and_trend(tmp_path):
    _write_run(tmp_path, "20261120T020000Z-0001", {"availability_percent": 99.5, "longest_outage_s": 4.0})
    _write_run(tmp_path, "20261124T020000Z-0005", SOAK)
    run_dir = tmp_path / "20261124T020000Z-0005"
    model = load_run(run_dir)
    assert model.tests[0].soak == SOAK
    assert [p.run_id for p in model.soak_trend] == ["20261120T020000Z-0001", "20261124T020000Z-0005"]
    page = build_report(run_dir).read_text()
    assert "Soak trend (2 runs" in page and "Audits after every fault" in page
    assert page == render_report(model, generated=re.search(r"generated ([0-9TZ:-]+)", page).group(1))
    # still self-contained: no external resource
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_trend_labels_are_short_dates_and_stay_inside_the_chart():
    pts = [TrendPoint("20261123T020000Z-aaaa", None, 1, 99.9, 3.5), TrendPoint("20261125T023053Z-7a0b", None, 2, 99.99, 2.0, current=True)]
    html = soak_trend_section(_model(trend=pts))
    assert "11-23 02:00" in html and "11-25 02:30" in html
    assert 'text-anchor="end">11-25 02:30' in html and 'text-anchor="start">11-23 02:00' in html
