"""Checkers fail closed on thin evidence: probe-schedule gaps and orphan completions (issue 10)."""

import pytest

from harness.checkers import CheckConfig, Validity, availability, latency, ledger, recovery, run_all, split_brain
from harness.cli import main as harness_main
from harness.history import Op, write_history


class H:
    """A literal history, built op by op with consecutive indexes."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def add(self, t, proc, typ, f, value=None, **extra):
        self.ops.append(Op(len(self.ops), t, proc, typ, f, value, extra))
        return self

    def probe(self, t, typ="ok", proc="vip-probe", latency_s=0.002):
        self.add(t, proc, "invoke", "get", {"vip": "web"})
        return self.add(t + latency_s, proc, typ, "get", 200 if typ == "ok" else None, latency_ms=latency_s * 1000)

    def probes(self, start, end, step=0.01, proc="vip-probe", typ="ok"):
        n = round((end - start) / step)
        for k in range(n):
            self.probe(start + k * step, typ, proc)
        return self


# --------------------------------------------------------------------------- probe gaps


def test_a_ten_second_hole_in_the_probe_stream_is_unobserved_not_served():
    h = H().probes(0.0, 5.0).probes(15.0, 20.0)  # the prober stalled 5 s -> 15 s, nothing recorded
    r = availability(h.ops, max_outage_s=1.0, min_availability_percent=99.0)
    assert r.valid is Validity.UNKNOWN
    assert r.counts["availability_percent"] == 100.0  # what it used to call VALID
    assert r.counts["unobserved_windows"] == 1
    (gap,) = r.examples["unobserved"]
    assert gap["process"] == "vip-probe"
    assert gap["start"] == pytest.approx(4.992) and gap["end"] == pytest.approx(15.0)
    assert gap["duration_s"] == pytest.approx(10.008)
    assert r.counts["unobserved_s"] == pytest.approx(10.008)
    assert r.counts["observed_s"] == pytest.approx((19.992 - 0.002) - 10.008)  # completions, less the hole
    assert "unobserved" in r.message and "max_probe_gap_s" in r.message


def test_a_gap_does_not_hide_an_invalid_verdict():
    h = H().probes(0.0, 2.0).probes(2.0, 6.0, typ="fail").probes(6.0, 7.0).probes(17.0, 18.0)
    r = availability(h.ops, max_outage_s=1.0)
    assert r.valid is Validity.INVALID  # a 4 s outage, seen: INVALID stays INVALID
    assert r.counts["unobserved_windows"] == 1 and "unobserved" in r.message


def test_the_bound_is_beyond_the_probe_spacing_inferred_from_the_invokes():
    # a 1 Hz probe idles ~1 s between attempts: that is its schedule, not a stall
    slow = H().probes(0.0, 30.0, step=1.0)
    r = availability(slow.ops, max_probe_gap_s=0.5)
    assert r.valid is Validity.VALID and r.counts["unobserved_windows"] == 0
    assert r.counts["probe_interval_s"] == pytest.approx(1.0, rel=0.03)
    # ... but one idle span of 2.6 s at that rate is 1.6 s beyond the spacing: over 0.5
    paused = H().probes(0.0, 10.0, step=1.0).probes(11.6, 30.6, step=1.0)
    r = availability(paused.ops, max_probe_gap_s=0.5)
    assert r.valid is Validity.UNKNOWN and r.counts["unobserved_windows"] == 1
    # and at the default bound (1 s) the same 1.6 s is over too, while 1.8 s of slack is not
    assert availability(paused.ops).valid is Validity.UNKNOWN
    assert availability(paused.ops, max_probe_gap_s=1.8).valid is Validity.VALID


def test_gaps_are_per_probe_process():
    # the db probe keeps going while the web probe stalls: the web probe's hole still counts
    h = H()
    h.probes(0.0, 3.0, proc="vip-probe-web").probes(8.0, 10.0, proc="vip-probe-web")
    db = H().probes(0.005, 10.0, step=0.1, proc="vip-probe-db")
    ops = sorted(h.ops + db.ops, key=lambda o: o.time)
    ops = [Op(i, o.time, o.process, o.type, o.f, o.value, o.extra) for i, o in enumerate(ops)]
    r = availability(ops)
    assert r.valid is Validity.UNKNOWN
    assert r.counts["per_process"]["vip-probe-web"]["unobserved_windows"] == 1
    assert r.counts["per_process"]["vip-probe-db"]["unobserved_windows"] == 0
    assert r.counts["per_process"]["vip-probe-db"]["probe_interval_s"] == pytest.approx(0.1, rel=0.03)


def test_a_slow_attempt_is_observed_time_not_a_gap():
    # an attempt hanging in a 1 s timeout is observed (its outcome covers it): no gap
    h = H().probes(0.0, 2.0)
    h.probe(2.0, "info", latency_s=1.0)
    h.probes(3.0, 4.0)
    r = availability(h.ops)
    assert r.counts["unobserved_windows"] == 0 and r.valid is Validity.VALID


def test_an_attempt_never_completed_starts_the_idle_span_at_its_invoke():
    h = H().probes(0.0, 1.0)
    h.add(1.0, "vip-probe", "invoke", "get", {"vip": "web"})  # never completed
    h.probes(4.0, 5.0)
    r = availability(h.ops)
    (gap,) = r.examples["unobserved"]
    assert gap["start"] == pytest.approx(1.0) and gap["end"] == pytest.approx(4.0)


def test_max_probe_gap_is_a_validated_check_config_bound_used_by_run_all():
    for bad in (float("nan"), float("inf"), -1.0, True, "1"):
        with pytest.raises(ValueError, match="CheckConfig.max_probe_gap_s"):
            CheckConfig(max_probe_gap_s=bad)
    h = H().probes(0.0, 1.0).probes(3.0, 4.0)  # 2 s hole
    by = {r.checker: r for r in run_all(h.ops, CheckConfig())}
    assert by["availability"].valid is Validity.UNKNOWN
    by = {r.checker: r for r in run_all(h.ops, CheckConfig(max_probe_gap_s=5.0))}
    assert by["availability"].valid is Validity.VALID


def test_harness_check_takes_max_probe_gap(tmp_path, capsys):
    path = tmp_path / "history.jsonl"
    write_history(H().probes(0.0, 1.0).probes(3.0, 4.0).ops, path)
    assert harness_main(["check", str(path)]) == 3
    out = capsys.readouterr().out
    assert "unobserved_windows=1" in out  # in the figures column, not only the message
    assert harness_main(["check", str(path), "--max-probe-gap", "5"]) == 0
    with pytest.raises(SystemExit) as exc:
        harness_main(["check", str(path), "--max-probe-gap", "nan"])
    assert exc.value.code == 2


# --------------------------------------------------------------------------- orphans


def test_orphan_probe_completions_make_availability_unknown():
    h = H().probes(0.0, 1.0)
    h.add(1.0, "vip-probe", "ok", "get", 200)  # no invoke before it
    h.add(1.01, "vip-probe", "ok", "get", 200)
    r = availability(h.ops)
    assert r.valid is Validity.UNKNOWN
    assert r.counts["orphan_completions"] == 2
    assert [e["index"] for e in r.examples["orphan_completions"]] == [200, 201]
    assert "without an invocation" in r.message


def write(h, t, key, typ="ok", proc="ledger-1", invoke=True):
    if invoke:
        h.add(t, proc, "invoke", "write", key)
    return h.add(t + 0.01, proc, typ, "write", key)


def final_reads(h, t, keys_by_node):
    for node, keys in keys_by_node.items():
        h.add(t, f"ledger-read-{node}", "invoke", "read", {"node": node})
        h.add(t + 0.01, f"ledger-read-{node}", "ok", "read", keys, node=node)
    return h


def test_an_orphan_acknowledged_write_missing_from_a_node_is_lost():
    h = H()
    write(h, 0.0, "k1")
    write(h, 1.0, "k2", invoke=False)  # acknowledged, its invocation missing
    final_reads(h, 5.0, {"db1": ["k1"], "db2": ["k1"]})
    r = ledger(h.ops)
    assert r.valid is Validity.INVALID
    assert r.counts["lost"] == 1 and r.counts["orphan_completions"] == 1
    assert {"node": "db1", "key": "k2"} in r.examples["lost"]


def test_an_orphan_acknowledged_write_present_everywhere_is_unknown():
    h = H()
    write(h, 0.0, "k1")
    write(h, 1.0, "k2", invoke=False)
    final_reads(h, 5.0, {"db1": ["k1", "k2"], "db2": ["k1", "k2"]})
    r = ledger(h.ops)
    assert r.valid is Validity.UNKNOWN
    assert r.counts["acknowledged"] == 2 and r.counts["lost"] == 0
    assert r.examples["orphan_completions"][0]["process"] == "ledger-1"
    assert "history damaged" in r.message


def test_an_orphan_post_keeps_its_key_field():
    h = H()
    h.add(0.0, "locust-1", "invoke", "post", {"user": "u"})
    h.add(0.1, "locust-1", "ok", "post", 200, key="p1")
    h.add(0.2, "locust-1", "ok", "post", 200, key="p2")  # orphan
    h.add(5.0, "posts-read-db1", "invoke", "read", {"node": "db1"})
    h.add(5.1, "posts-read-db1", "ok", "read", ["p1"], node="db1")
    r = ledger(h.ops, write_prefix="locust-", write_f="post", key_field="key", read_prefix="posts-read-", name="posts")
    assert r.valid is Validity.INVALID and r.examples["lost"] == [{"node": "db1", "key": "p2"}]


def nemesis_fault(h, t0, t1, fid="f1", orphan_heal=False):
    h.add(t0, "nemesis", "invoke", "partition", {"fault_id": fid})
    h.add(t0 + 0.1, "nemesis", "ok", "partition", {"fault_id": fid})
    if not orphan_heal:
        h.add(t1, "nemesis", "invoke", "heal", {"fault_id": fid, "fault": "partition"})
    return h.add(t1 + 0.1, "nemesis", "ok", "heal", {"fault_id": fid})


STEADY = {"vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP"}}, "vip_holders": {"web": ["dir1"]}}


def test_an_orphan_heal_makes_the_fault_window_checkers_unknown():
    h = H().probes(0.0, 2.0)
    nemesis_fault(h, 2.0, 4.0, orphan_heal=True)
    h.probes(4.0, 10.0)
    for t in (1.0, 9.0):
        h.add(t, "state", "invoke", "sample").add(t + 0.01, "state", "ok", "sample", STEADY)
    for r in (latency(h.ops, {"steady": {"p95": 1000}}), split_brain(h.ops), recovery(h.ops, 5.0)):
        assert r.valid is Validity.UNKNOWN, r
        assert r.counts["orphan_completions"] == 1
        assert r.examples["orphan_completions"][0]["f"] == "heal"
        assert "without an invocation" in r.message


def test_fault_window_orphans_do_not_hide_invalid():
    h = H().probes(0.0, 2.0)
    nemesis_fault(h, 2.0, 4.0)
    h.add(6.0, "nemesis", "ok", "heal", {"fault_id": "f1"})  # orphan
    split = {"vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "MASTER"}}}
    h.add(20.0, "state", "invoke", "sample").add(20.01, "state", "ok", "sample", split)
    r = split_brain(h.ops)
    assert r.valid is Validity.INVALID and r.counts["orphan_completions"] == 1
    r = latency(h.ops, {"steady": {"p95": 1.0}})  # every probe 2 ms > 1 ms
    assert r.valid is Validity.INVALID and r.counts["orphan_completions"] == 1
