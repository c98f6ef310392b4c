"""The HTML availability report, built from literal run directories (no cluster, no browser)."""

from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.checkers import CheckConfig, availability, run_all
from harness.errors import HistoryError
from harness.history import Op, load_history, write_history
from harness.report import ReportError, aggregate_file, aggregate_ops, build_report, load_run, render_report, scrub
from harness.report import _cli as report_cli
from harness.report._svg_timeline import timeline_chart

KEY_BLOCK = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"


def hist(rows):
    """rows: (time, process, type, f, invoke value, completion value, extra); invoke 1 ms before."""
    ops = []
    for t, proc, typ, f, inv, val, extra in sorted(rows, key=lambda r: r[0]):
        ops.append(Op(len(ops), round(t - 0.001, 6), proc, "invoke", f, inv))
        ops.append(Op(len(ops), round(t, 6), proc, typ, f, val, extra))
    return ops


def crash_history():
    """Steady, kill-director at 3.0, VIP dark from the last ok at 3.0 to the first ok at 5.5
    (2.50 s), heal at 6.0-6.2, recovery with slower probes; 12 ledger writes, db2 misses k5."""
    rows = []
    for k in range(100):
        t = round(k * 0.1, 6)
        if 3.1 <= t < 5.5:
            rows.append((t, "vip-probe-web", "fail", "get", {"vip": "web"}, None,
                         {"error": "502 from 198.18.0.100 Set-Cookie: MoodleSession=zzsecretcookie; path=/", "latency_ms": 9.0}))
        else:
            rows.append((t, "vip-probe-web", "ok", "get", {"vip": "web"}, 200, {"latency_ms": 40.0 if t >= 6.2 else 2.0, "node": "web1"}))
    for k in range(12):
        t = 0.05 + k * 0.7
        typ = "ok" if k < 10 else ("info" if k == 10 else "fail")
        rows.append((t, "ledger-0", typ, "write", f"k{k}", f"k{k}" if typ == "ok" else None, {"latency_ms": 5.0} if typ == "ok" else {"error": "timeout"}))
    rows.append((3.0, "nemesis", "ok", "kill-director", {"fault_id": "f1", "targets": ["dir1"]}, {"fault_id": "f1"}, {}))
    rows.append((6.2, "nemesis", "ok", "heal", {"fault_id": "f1", "fault": "kill-director"}, {"fault_id": "f1"}, {}))
    acked = [f"k{k}" for k in range(10)]
    rows.append((10.5, "ledger-read-db1", "ok", "read", {"node": "db1"}, acked + ["k10"], {"node": "db1"}))
    rows.append((10.6, "ledger-read-db2", "ok", "read", {"node": "db2"}, [k for k in acked if k != "k5"] + ["k10"], {"node": "db2"}))
    ops = hist(rows)
    # the heal invoke comes at 6.0, its completion at 6.2
    return [Op(o.index, 6.0, o.process, o.type, o.f, o.value, o.extra) if o.process == "nemesis" and o.type == "invoke" and o.f == "heal" else o for o in ops]


def steady_history():
    rows = [(round(k * 0.2, 6), "vip-probe-web", "ok", "get", {"vip": "web"}, 200, {"latency_ms": 3.0}) for k in range(50)]
    rows.append((2.0, "nemesis", "ok", "partition", {"fault_id": "p1", "targets": ["db3"]}, {"fault_id": "p1"}, {}))
    rows.append((5.0, "nemesis", "ok", "heal", {"fault_id": "p1", "fault": "partition"}, {"fault_id": "p1"}, {}))
    for k in range(5):
        rows.append((0.1 + k, "ledger-1", "ok", "write", f"s{k}", f"s{k}", {"latency_ms": 4.0}))
    rows.append((9.9, "ledger-read-db1", "ok", "read", {"node": "db1"}, [f"s{k}" for k in range(5)], {"node": "db1"}))
    return hist(rows)


def make_run(root: Path) -> Path:
    crash = crash_history()
    d1 = root / "availability-test_directors-test_master_director_crash"
    d1.mkdir(parents=True)
    write_history(crash, d1 / "history.jsonl")
    checks = [r.to_dict() for r in run_all(crash, CheckConfig(max_outage_s=4.7))]
    (d1 / "result.json").write_text(json.dumps({
        "test": "tests/availability/test_directors.py::test_master_director_crash",
        "slug": d1.name, "title": "MASTER director crash", "outcome": "failed", "tier": "director",
        "fault_kind": "director-failure", "started": 0.0, "duration_s": 10.6,
        "phases": [{"name": "steady", "start": 0.0, "end": 3.0}, {"name": "observe", "start": 3.0, "end": 6.0},
                   {"name": "heal", "start": 6.0, "end": 6.2}, {"name": "recover", "start": 6.2, "end": 10.0}],
        "checks": checks,
        "slo": [{"name": "longest VIP outage", "measured": 2.5, "bound": 4.7, "unit": "s", "verdict": "valid"},
                {"name": "lost writes", "measured": 1, "bound": 0, "unit": "rows", "verdict": "invalid"}],
        "error": f"AssertionError: 1 lost write; login as admin password=hunter2 cookie MoodleSession=abc123xyz\n{KEY_BLOCK}",
    }), encoding="utf-8")
    d2 = root / "reliability-test_database-test_partition"
    d2.mkdir()
    write_history(steady_history(), d2 / "history.jsonl")  # no checks in result.json: ledger recomputed
    (d2 / "result.json").write_text(json.dumps({"test": "tests/reliability/test_database.py::test_partition", "slug": d2.name,
                                                "title": "DB partition", "outcome": "passed", "checks": [], "slo": []}), encoding="utf-8")
    (root / "run.json").write_text(json.dumps({
        "run_id": "20261125T031500Z-4f2a", "started": "2026-11-25T03:15:00Z", "seed": 1234, "harness_version": "0.1.0",
        "cluster": {"name": "lab", "hosts": {"dir1": {"address": "198.18.0.11", "roles": ["director"]},
                                             "web1": {"address": "198.18.0.21", "roles": ["web"]}},
                    "vips": {"web": "198.18.0.100:80"}},
        "tests": ["tests/availability/test_directors.py::test_master_director_crash", "tests/reliability/test_database.py::test_partition"],
    }), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def page(run_dir) -> str:
    return build_report(run_dir).read_text(encoding="utf-8")


def section(page: str, slug: str) -> str:
    m = re.search(rf'<section class="test [^"]*" id="{re.escape(slug)}">.*?</section>', page, re.S)
    assert m, f"no section for {slug}"
    return m.group(0)


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def test_outage_duration_is_shown_in_chart_and_table(page):
    s = section(page, "availability-test_directors-test_master_director_crash")
    chart = svgs(s)[0]
    labels = ["".join(t.itertext()) for t in chart.iter("text") if t.get("class") == "odur"]
    assert any(lab.startswith("2.50 s") for lab in labels), labels
    assert re.search(r"<td class='num'>3\.00 s</td><td class='num'>5\.50 s</td><td class='num'><b>2\.50 s</b>", s)
    marks = [r for r in chart.iter("rect") if r.get("class") == "outage-mark"]
    assert len(marks) == 1 and float(marks[0].get("width")) >= 2


def test_fault_window_is_shaded_and_labelled(page):
    s = section(page, "availability-test_directors-test_master_director_crash")
    chart = svgs(s)[0]
    faults = [r for r in chart.iter("rect") if r.get("class") == "fault"]
    assert [r.get("data-fault") for r in faults] == ["kill-director"]
    assert float(faults[0].get("fill-opacity")) < 0.5 and float(faults[0].get("width")) > 10
    labels = ["".join(t.itertext()) for t in chart.iter("text") if t.get("class") == "flt"]
    assert any(lab.startswith("kill-director dir1") for lab in labels)
    # fault table row: injected 3.00 s (the invoke), healed 6.20 s (the heal's completion)
    assert re.search(r"kill-director</span></td><td class='mono'>f1</td><td>dir1</td><td class='num'>3\.00 s</td><td class='num'>6\.20 s</td>", s)


def test_slo_table_rows(page):
    s = section(page, "availability-test_directors-test_master_director_crash")
    table = re.search(r"<table class='slo'>.*?</table>", s, re.S).group(0)
    rows = re.findall(r"<tr class='[^']*'><td>([^<]*)</td><td class='num slo-measured'>([^<]*)</td><td class='num slo-bound'>([^<]*)</td><td><span class=\"badge (\w+)\">", table)
    assert rows == [("longest VIP outage", "2.5 s", "4.7 s", "valid"), ("lost writes", "1 rows", "0 rows", "invalid")]


def test_ledger_numbers(page):
    s = section(page, "availability-test_directors-test_master_director_crash")
    got = dict(re.findall(r'data-ledger="(\w+)"><div class="k">[^<]*</div><div class="v">([^<]*)</div>', s))
    assert got["attempted"] == "12" and got["acknowledged"] == "10" and got["lost"] == "1" and got["recovered"] == "1"
    assert got["failed"] == "1" and got["indeterminate"] == "1"
    assert "db2 1" in s  # lost per node


def test_ledger_recomputed_when_result_has_no_checks(page):
    s = section(page, "reliability-test_database-test_partition")
    got = dict(re.findall(r'data-ledger="(\w+)"><div class="k">[^<]*</div><div class="v">([^<]*)</div>', s))
    assert got["acknowledged"] == "5" and got["lost"] == "0"
    assert "recomputed from the history" in s
    assert "No failed probe" in s


def test_run_summary(page):
    head = page.split('<section class="test', 1)[0]
    assert "20261125T031500Z-4f2a" in head and "1234" in head and "0.1.0" in head
    # 150 probes, 24 failed -> 84.00%
    assert "84.00%" in head
    assert re.search(r"Longest outage.*?2\.50 s", head, re.S)
    assert "kill-director" in head  # longest outage per fault kind
    assert "198.18.0.11" in head and "198.18.0.100:80" in head  # topology


def cards(html: str) -> dict[str, tuple[str, str]]:
    """The summary cards: title -> (value, subtext)."""
    found = re.findall(r'<div class="k">([^<]*)</div><div class="v">([^<]*)</div><div class="s">(.*?)</div></div>', html)
    return {k: (v, re.sub(r"<[^>]+>", "", s)) for k, v, s in found}


def test_negative_proofs_stay_out_of_the_headline_figures(tmp_path):
    # a negative proof breaks the cluster on purpose (here: a 6.1 s outage and 5 lost writes that
    # a checker caught): the cards and the per-fault-kind bars describe the other tests only
    root = make_run(tmp_path)
    rows = [(round(k * 0.1, 6), "vip-probe-web", "fail" if 20 <= k < 80 else "ok", "get", {"vip": "web"}, None, {"error": "refused"})
            for k in range(100)]
    rows.append((2.0, "nemesis", "ok", "domain-destroy", {"fault_id": "n1", "targets": ["dir1"]}, {"fault_id": "n1"}, {}))
    neg = root / "reliability-test_negative_proof-test_no_standby"
    neg.mkdir()
    write_history(hist(rows), neg / "history.jsonl")
    (neg / "result.json").write_text(json.dumps({
        "test": "tests/reliability/test_negative_proof.py::test_no_standby", "slug": neg.name, "title": "Negative proof: no standby",
        "outcome": "passed", "tier": "director", "fault_kind": "domain-destroy", "negative_proof": True,
        "checks": [{"checker": "ledger", "valid": "invalid", "counts": {"acknowledged": 50, "lost": 5}}], "slo": []}), encoding="utf-8")
    run = json.loads((root / "run.json").read_text())
    run["tests"].append("tests/reliability/test_negative_proof.py::test_no_standby")
    (root / "run.json").write_text(json.dumps(run), encoding="utf-8")

    page = build_report(root).read_text(encoding="utf-8")
    head = page.split('<section class="test', 1)[0]
    c = cards(head)
    assert c["Longest outage"][0] == "2.50 s"  # the crash test's, not the proof's 6.10 s
    assert c["Lost writes"] == ("1", "of 15 acknowledged")  # 10 + 5 of the two tests; not the proof's 50
    assert c["VIP availability"] == ("84.00%", "150 probes, 2 tests, negative proofs apart")
    assert c["Faults injected"][0] == "2"
    assert c["Negative proofs"] == ("1 / 1 caught", "cluster broken on purpose; figures kept apart")
    by_fault = head.split("Longest outage per fault kind", 1)[1]
    assert "kill-director" in by_fault and "domain-destroy" not in by_fault
    assert head.count("negative proof</span>") == 1  # the tests table tags its row
    s = section(page, neg.name)
    assert "negative proof</span>" in s and "6.10 s" in s  # its own section keeps its figures


def test_longest_outage_card_is_red_only_for_a_broken_promise(tmp_path):
    root = make_run(tmp_path)
    result = root / "availability-test_directors-test_master_director_crash" / "result.json"
    r = json.loads(result.read_text())

    def card() -> tuple[str, str]:
        head = build_report(root).read_text(encoding="utf-8").split('<section class="test', 1)[0]
        m = re.search(r'<div class="card( bad)?"><div class="k">Longest outage</div><div class="v">([^<]*)</div><div class="s">(.*?)</div></div>', head)
        assert m, "no longest outage card"
        return ("red" if m.group(1) else "plain"), re.sub(r"<[^>]+>", "", m.group(3))

    assert card()[0] == "red"  # make_run's crash test failed (a lost write)
    r.update(outcome="passed", slo=[s for s in r["slo"] if s["name"] == "longest VIP outage"])  # 2.5 s, bound 4.7 s
    result.write_text(json.dumps(r))
    assert card() == ("plain", "kill-director · bound 4.70 s · MASTER director crash")
    r["slo"][0].update(bound=2.0, verdict="invalid")
    result.write_text(json.dumps(r))
    assert card() == ("red", "kill-director · bound 2.00 s · MASTER director crash")


def test_no_network_resources(page):
    assert not re.search(r"""(?:src|href|xlink:href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "url(" not in page and "@import" not in page and "<script src" not in page
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<img" not in page


def test_secrets_are_scrubbed(page):
    for secret in ("hunter2", "abc123xyz", "zzsecretcookie", "b3BlbnNzaC1rZXktdjEAAAAA", "BEGIN OPENSSH"):
        assert secret not in page, secret
    assert "password=***" in page and "[redacted key]" in page


def test_svg_fragments_are_well_formed(page):
    trees = svgs(page)
    assert len(trees) >= 4  # two charts, fault-kind bars, topology
    for tree in trees:
        assert tree.tag == "svg" and tree.get("viewBox")


def test_render_is_pure_and_deterministic(run_dir):
    model = load_run(run_dir)
    assert render_report(model) == render_report(model)


def test_model_outages_equal_the_checker_on_the_whole_history(run_dir):
    ops = crash_history()
    tl, _ = aggregate_ops(ops)
    full = availability(ops, max_examples=100).examples["outages"]
    assert [(o.start, o.end, o.failed) for o in tl.outages] == [(o["start"], o["end"], o["failed"]) for o in full]
    assert tl.outages[0].fault == "kill-director"
    assert tl.probe_attempts == 100 and tl.probe_ok == 76


def test_fast_path_matches_load_history(tmp_path):
    ops = crash_history()
    path = tmp_path / "history.jsonl"
    write_history(ops, path)
    with open(path, "a", encoding="utf-8") as fh:  # a line in another key order and compact form: parsed with json
        fh.write(json.dumps({"time": 10.7, "index": len(ops), "type": "invoke", "process": "vip-probe-web", "f": "get"}, separators=(",", ":")) + "\n")
        fh.write(json.dumps({"f": "get", "type": "fail", "process": "vip-probe-web", "index": len(ops) + 1, "time": 10.8, "error": "x"}) + "\n")
    slow, slow_ledger = aggregate_ops(load_history(path))
    fast, fast_ledger = aggregate_file(path)
    assert fast.outages == slow.outages and fast.outages[-1].open
    assert [(lane.name, lane.ok, lane.fail, lane.info) for lane in fast.lanes] == [(lane.name, lane.ok, lane.fail, lane.info) for lane in slow.lanes]
    assert [(s.n, s.p50, s.p95, s.max) for s in fast.latency] == [(s.n, s.p50, s.p95, s.max) for s in slow.latency]
    assert fast.faults == slow.faults
    assert len(fast_ledger) == len(slow_ledger)
    assert (fast.probe_attempts, fast.probe_ok) == (slow.probe_attempts, slow.probe_ok) == (101, 76)


def two_probe_history():
    """crash_history plus a DB-VIP probe with outages of its own: one at the very start (no
    success before it), one overlapping the web outage, one still open at the end."""
    rows = []
    for k in range(60):
        t = round(0.05 + k * 0.17, 6)
        bad = k < 2 or 20 <= k < 26 or k >= 57
        rows.append((t, "vip-probe-db", "fail" if bad else "ok", "connect", {"vip": "db"}, None if bad else "ok",
                     {"error": "refused"} if bad else {"latency_ms": 1.5}))
    ops = crash_history()
    ops += [Op(o.index + len(ops), o.time, o.process, o.type, o.f, o.value, o.extra) for o in hist(rows)]
    return sorted(ops, key=lambda o: (o.time, o.index))


def line_starts(path: Path) -> list[int]:
    data = path.read_bytes()
    return [i + 1 for i, c in enumerate(data) if c == 0x0A][:-1]


def scan_in_ranges(path: Path, cuts: list[int]):
    """The timeline as aggregate_file builds it from the byte ranges between ``cuts``."""
    from harness.report._scan import _merge, _scan_range, _time_range

    t0, t1 = _time_range(path)
    bounds = [0, *cuts, path.stat().st_size]
    chunks = [_scan_range(path, a, b, t0, t1, "vip-probe", True) for a, b in zip(bounds, bounds[1:], strict=False)]
    return _merge(chunks, t0, t1, "vip-probe", True).finish("vip-probe")


def test_any_cut_of_the_history_gives_the_same_timeline(tmp_path):
    # a parallel scan cuts the file into byte ranges; an outage may straddle a cut, begin right
    # after one or end right before one: every cut must still give the one-scan timeline
    path = tmp_path / "history.jsonl"
    write_history(two_probe_history(), path)
    whole, whole_ledger = aggregate_file(path, workers=1)
    assert len(whole.outages) == 4 and whole.outages[0].start == 0.05 and whole.outages[-1].open
    starts = line_starts(path)
    for cut in starts:
        tl, ledger_ops = scan_in_ranges(path, [cut])
        assert tl == whole, f"cut at byte {cut}"
        assert ledger_ops == whole_ledger
    for a in starts[::41]:
        for b in starts[::37]:
            if a < b:
                assert scan_in_ranges(path, [a, b]) == (whole, whole_ledger), f"cuts at {a}, {b}"


def test_parallel_scan_in_worker_processes_matches_one_scan(tmp_path):
    path = tmp_path / "history.jsonl"
    write_history(two_probe_history(), path)
    one = aggregate_file(path, workers=1)
    three = aggregate_file(path, workers=3)
    assert three == one
    assert aggregate_ops(load_history(path))[0] == one[0]


def test_parallel_scan_names_the_exact_bad_line(tmp_path):
    path = tmp_path / "history.jsonl"
    ops = two_probe_history()
    write_history(ops, path)
    lines = path.read_text().splitlines()
    lines[len(lines) * 3 // 4] = '{"index": 1, "time": 2.5, "process": "vip-probe-web", "type": "oops", "f": "get"}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryError, match=rf"history.jsonl:{len(lines) * 3 // 4 + 1}: field 'type'"):
        aggregate_file(path, workers=2)


def test_sub_pixel_outage_still_has_a_visible_mark():
    # one hour at 1 probe/s, a single failed probe: 2 s of a 3600 s axis is under a pixel
    rows = [(float(k), "vip-probe", "fail" if k == 1800 else "ok", "get", None, 200 if k != 1800 else None, {"latency_ms": 1.0}) for k in range(3600)]
    tl, _ = aggregate_ops(hist(rows))
    assert len(tl.outages) == 1 and tl.outages[0].duration_s == pytest.approx(2.0)
    chart = ET.fromstring(timeline_chart(tl))
    marks = [r for r in chart.iter("rect") if r.get("class") == "outage-mark"]
    assert len(marks) == 1 and float(marks[0].get("width")) >= 2.0
    # and the failing bin shows red even though 99.9% of its probes were ok
    lane = [g for g in chart.iter("g") if g.get("class") == "lane"][0]
    assert any(r.get("fill") == "#d7263d" and float(r.get("height")) >= 3 for r in lane.iter("rect"))


def test_latency_percentiles_per_bin_are_close_to_exact():
    import math
    import random

    rng = random.Random(3)
    rows = [(k * 0.01, "vip-probe", "ok", "get", None, 200, {"latency_ms": round(rng.lognormvariate(2, 0.8), 3)}) for k in range(10000)]
    tl, _ = aggregate_ops(hist(rows))
    (s,) = tl.latency
    assert sum(s.n) == 10000
    for b, n in enumerate(s.n):
        lo, hi = tl.t0 + b * s.bin_s, tl.t0 + (b + 1) * s.bin_s
        values = sorted(r[6]["latency_ms"] for r in rows if lo <= r[0] < hi)
        assert len(values) == n
        if n < 10:
            continue
        exact50, exact95 = values[math.ceil(0.5 * n) - 1], values[math.ceil(0.95 * n) - 1]
        assert s.max[b] == values[-1]
        assert abs(s.p50[b] - exact50) <= 0.1 * exact50 and abs(s.p95[b] - exact95) <= 0.1 * exact95


@pytest.mark.parametrize(
    "raw, secret",
    [
        ("login failed: password=hunter2 user=admin", "hunter2"),
        ("Cookie: MoodleSession=abcdef0123; MOODLEID1_=x", "abcdef0123"),
        ("redirect ?sesskey=Zx9kQ2 failed", "Zx9kQ2"),
        ('{"db_password": "p4ss"}', "p4ss"),
        ("mysql -uharness -pS3cret -h db1", "S3cret"),
        ("mysql://harness:S3cret@db1/harness", "S3cret"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc", "eyJhbGci"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n", "MIIEpAIBAAKCAQEA"),
    ],
)
def test_scrub(raw, secret):
    assert secret not in scrub(raw)


def test_scrub_keeps_ordinary_text():
    text = "connect timeout to 198.18.0.100:80 after 500 ms (ssh -p 22, key k12)"
    assert scrub(text) == text


def test_cli_writes_report_and_prints_path(run_dir, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    report_cli.register(sub)
    args = parser.parse_args(["report", str(run_dir)])
    assert args.func(args) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(run_dir / "availability.html") and Path(out).stat().st_size > 10_000


def test_not_a_run_dir_is_one_clear_error(tmp_path):
    with pytest.raises(ReportError, match="no run.json and no test directory"):
        load_run(tmp_path)
    (tmp_path / "run.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match=r"run\.json:1: not JSON"):
        load_run(tmp_path)


# --------------------------------------------------------------------------- allure helpers


def test_allure_strip_tracking_removes_analytics_only():
    from harness.report.allure import strip_tracking

    page = (
        '<div id="content"></div><script src="data:text/javascript;base64,AAAA"></script>\n'
        '    <script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n'
        "    <script>\n        window.dataLayer = window.dataLayer || [];\n        gtag('config', 'G-X');\n    </script>\n</body>"
    )
    out = strip_tracking(page)
    assert "googletagmanager" not in out and "dataLayer" not in out
    assert '<script src="data:text/javascript;base64,AAAA"></script>' in out and out.endswith("</body>")


def test_allure_build_needs_results_and_a_cli(tmp_path, monkeypatch):
    from harness.report.allure import build_allure_html

    with pytest.raises(ReportError, match="no allure results"):
        build_allure_html(tmp_path)
    (tmp_path / "allure-results").mkdir()
    monkeypatch.setenv("ALLURE_BIN", str(tmp_path / "missing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ReportError, match="allure command line not found"):
        build_allure_html(tmp_path)


def test_allure_helpers_record_labels_steps_and_scrubbed_attachments(pytester):
    pytest.importorskip("allure")
    pytester.makepyfile(
        """
        from harness.report.allure import allure_step, attach_json, label_test

        def test_it():
            label_test(tier="director", fault_kind="director-failure", title="crash")
            with allure_step("inject kill-director"):
                attach_json("check", {"error": "password=hunter2", "lost": 0})
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--alluredir", "out")
    result.assert_outcomes(passed=1)
    out = pytester.path / "out"
    (res,) = [json.loads(p.read_text()) for p in out.glob("*-result.json")]
    labels = {(lab["name"], lab["value"]) for lab in res["labels"]}
    assert {("feature", "director"), ("story", "director-failure"), ("tag", "fault:director-failure"), ("tier", "director")} <= labels
    assert res["steps"][0]["name"] == "inject kill-director"
    (att,) = list(out.glob("*-attachment.json"))
    body = att.read_text()
    assert "hunter2" not in body and '"lost": 0' in body


def test_allure_helpers_are_no_ops_without_a_listener():
    from harness.report.allure import allure_step, attach_file, attach_json, label_test

    with allure_step("nothing recorded"):
        attach_json("x", {"a": 1})
        attach_file("/nonexistent/file.txt")
        label_test(tier="web")


def test_the_report_scrubs_with_the_one_scrubber_the_writers_use():
    from harness import _secrets
    from harness.report import scrub_data

    assert scrub is _secrets.scrub and scrub_data is _secrets.scrub_data
    assert scrub("mysqladmin -h db1 -p S3cret-r1 status") == "mysqladmin -h db1 -p *** status"


def test_the_storage_probe_has_its_own_lane_after_the_others(tmp_path):
    rows = [(1.0 + i * 0.5, "vip-probe-web", "ok", "get", {"vip": "web"}, 200, {"latency_ms": 5.0}) for i in range(8)]
    rows += [(1.2 + i * 0.5, f"storage-probe-web{1 + i % 2}", "fail" if i == 3 else "ok", "write",
              {"path": f"p{i}", "sha256": "s"}, {"path": f"p{i}", "sha256": "s"}, {"took_ms": 300.0}) for i in range(8)]
    ops = hist(rows)
    slow, _ = aggregate_ops(ops)
    names = [lane.name for lane in slow.lanes]
    assert names == ["vip-probe-web", "file writes/reads"]  # both web nodes' writes in one lane
    storage = slow.lanes[1]
    assert sum(storage.ok) == 7 and sum(storage.fail) == 1
    path = tmp_path / "history.jsonl"
    write_history(ops, path)
    fast, _ = aggregate_file(path)  # the fast scanner agrees
    assert [(lane.name, lane.ok, lane.fail) for lane in fast.lanes] == [(lane.name, lane.ok, lane.fail) for lane in slow.lanes]
    assert not [s for s in slow.latency if s.name == "file writes/reads"]  # took_ms: out of the latency figures


def test_ldap_binds_and_directory_writes_have_lanes_of_their_own(tmp_path):
    rows = [(1.0 + i * 0.5, "vip-probe-web", "ok", "get", {"vip": "web"}, 200, {"latency_ms": 5.0}) for i in range(6)]
    rows += [(1.1 + i * 0.5, "ldap-probe-ldap", "fail" if i == 2 else "ok", "bind", {"vip": "ldap"}, None,
              {"latency_ms": 3.0}) for i in range(6)]
    rows += [(1.3 + i * 0.5, "ldap-writer", "ok", "write", {"dn": "cn=t", "value": f"t-{i}"},
              {"dn": "cn=t", "value": f"t-{i}"}, {"latency_ms": 4.0}) for i in range(4)]
    ops = hist(rows)
    slow, _ = aggregate_ops(ops)
    assert [lane.name for lane in slow.lanes] == ["vip-probe-web", "LDAP logins", "directory writes"]
    assert sum(slow.lanes[1].fail) == 1 and sum(slow.lanes[2].ok) == 4
    path = tmp_path / "history.jsonl"
    write_history(ops, path)
    fast, _ = aggregate_file(path)  # the fast scanner agrees
    assert [(lane.name, lane.ok, lane.fail) for lane in fast.lanes] == [(lane.name, lane.ok, lane.fail) for lane in slow.lanes]


def test_the_audit_section_lists_findings_worst_first_with_evidence(tmp_path):
    root = make_run(tmp_path / "run")
    assert "Configuration audit" not in build_report(root).read_text(encoding="utf-8")  # not run: no section
    (root / "audit.json").write_text(json.dumps({"exit_status": 1, "findings": [
        {"rule": "lvs-no-health-check", "severity": "critical", "message": "dir2: real server <web2> has no check",
         "evidence": [{"host": "dir2", "path": "/etc/keepalived/keepalived.conf", "line": 41, "text": "real_server"}],
         "confirm": "tests/availability/test_web_nodes.py::test_apache_killed"},
        {"rule": "vrrp-no-garp-refresh", "severity": "info", "message": "dir1: gratuitous ARP once", "evidence": "junk"},
    ]}), encoding="utf-8")
    html = build_report(root).read_text(encoding="utf-8")
    audit = re.search(r'<section class="audit">.*?</section>', html, re.S).group(0)
    assert "<span class='badge invalid'>critical</span>" in audit and "lvs-no-health-check" in audit
    assert "dir2:/etc/keepalived/keepalived.conf:41 real_server" in audit
    assert "&lt;web2&gt;" in audit and "<web2>" not in audit  # text, never markup
    assert audit.index("lvs-no-health-check") < audit.index("vrrp-no-garp-refresh")
    (root / "audit.json").write_text(json.dumps({"exit_status": 0, "findings": []}), encoding="utf-8")
    assert "<h2>Configuration audit</h2><p>No findings.</p>" in build_report(root).read_text(encoding="utf-8")


def test_the_topology_has_rows_for_the_file_and_directory_tiers():
    from harness.report._svg_charts import topology

    svg = topology({"fs1": {"address": "198.18.0.41", "roles": ["fileserver"]},
                    "ldap1": {"address": "198.18.0.51", "roles": ["ldap"]},
                    "web1": {"address": "198.18.0.21", "roles": ["web"]}}, {})
    assert "file servers" in svg and "directory" in svg and ">other<" not in svg
