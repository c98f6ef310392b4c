import pytest

from harness.checkers import Validity, latency, nearest_rank
from harness.checkers.latency import LatencySamples, gather_samples, judge
from harness.history import Op


def build(samples, faults=()):
    """samples: (time, f, latency_ms[, type]); faults: (start, heal_end)."""
    rows = []
    for k, (start, end) in enumerate(faults):
        rows += [
            (start, "nemesis", "invoke", "kill", {"fault_id": f"f{k}"}, {}),
            (start + 0.01, "nemesis", "ok", "kill", {"fault_id": f"f{k}"}, {}),
            (end - 0.01, "nemesis", "invoke", "heal", {"fault_id": f"f{k}"}, {}),
            (end, "nemesis", "ok", "heal", {"fault_id": f"f{k}"}, {}),
        ]
    for t, f, ms, *typ in samples:
        rows.append((t, "locust-1", typ[0] if typ else "ok", f, 200, {"latency_ms": ms}))
    rows.sort(key=lambda r: r[0])
    return [Op(i, t, p, typ, f, v, e) for i, (t, p, typ, f, v, e) in enumerate(rows)]


def test_nearest_rank_definition():
    v = list(range(1, 101))
    assert nearest_rank(v, 95) == 95 and nearest_rank(v, 99) == 99 and nearest_rank(v, 100) == 100
    assert nearest_rank([10, 20, 30, 40], 50) == 20  # ceil(0.5*4)=2 -> no interpolation
    assert nearest_rank([7], 1) == 7
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_per_phase_and_per_f_with_bounds():
    steady = [(0.01 * i, "get", 10.0) for i in range(1, 100)] + [(0.995, "get", 500.0)]  # 100 samples
    fault = [(2.0 + 0.01 * i, "login", 1000.0 + i) for i in range(50)]
    recovery = [(5.5 + 0.01 * i, "get", 20.0) for i in range(10)]
    ops = build(steady + fault + recovery, faults=[(1.5, 5.0)])
    bounds = {"steady": {"p95": 50, "p99": 100}, "fault": {"p99": 2000}, "recovery": {"p95": 30}}
    r = latency(ops, bounds, recovery_s=2.0)
    assert r.valid is Validity.VALID, r.message
    ph = r.counts["phases"]
    assert (ph["steady"]["n"], ph["fault"]["n"], ph["recovery"]["n"]) == (100, 50, 10)
    assert ph["steady"]["p95"] == 10.0 and ph["steady"]["p99"] == 10.0 and ph["steady"]["max"] == 500.0
    assert r.counts["per_phase_f"]["fault"]["login"]["p50"] == 1024.0
    r = latency(ops, {"steady": {"p99": 5}, "fault": {"p95": 1000}}, recovery_s=2.0)
    assert r.valid is Validity.INVALID
    assert {(v["phase"], v["percentile"]) for v in r.examples["violations"]} == {("steady", "p99"), ("fault", "p95")}
    assert "steady p99 = 10 ms > bound 5 ms" in r.message


def test_failed_requests_and_non_numeric_ignored_no_samples_unknown():
    ops = build([(1.0, "get", 9999.0, "fail"), (1.1, "get", "slow")])
    r = latency(ops, {"steady": {"p95": 1}})
    assert r.valid is Validity.UNKNOWN and r.counts["bad_samples"] == 1


def test_bound_for_phase_without_samples_is_reported_unchecked():
    r = latency(build([(1.0, "get", 5.0)]), {"steady": {"p95": 10}, "fault": {"p95": 10}})
    assert r.valid is Validity.VALID and r.counts["unchecked_bounds"] == ["fault.p95"]


def test_unknown_phase_in_bounds_is_unknown_with_message():
    r = latency(build([(1.0, "get", 5.0)]), {"stedy": {"p95": 10}})
    assert r.valid is Validity.UNKNOWN and "stedy" in r.message


def test_verdict_from_gathered_samples_alone():
    samples = LatencySamples({("steady", "get"): [5.0, 1.0, 3.0], ("fault", "get"): [900.0], ("fault", "post"): [100.0]})
    r = judge(samples, {"fault": {"p95": 500}, "recovery": {"p99": 10}})
    assert r.valid is Validity.INVALID
    assert r.counts["phases"]["steady"] == {"n": 3, "max": 5.0, "p50": 3.0, "p95": 5.0, "p99": 5.0}
    assert r.counts["per_phase_f"]["fault"]["post"]["max"] == 100.0
    assert r.counts["unchecked_bounds"] == ["recovery.p99"]
    assert r.message == "fault p95 = 900 ms > bound 500 ms (n=2)"


def test_pass_groups_by_phase_and_request_type_and_counts_non_numbers():
    ops = [Op(0, 1.0, "locust-1", "invoke", "get"), Op(1, 1.5, "locust-1", "ok", "get", None, {"latency_ms": 7}),
           Op(2, 2.0, "locust-1", "invoke", "get"), Op(3, 2.5, "locust-1", "ok", "get", None, {"latency_ms": "slow"}),
           Op(4, 3.0, "vip-probe", "invoke", "get"), Op(5, 3.5, "vip-probe", "ok", "get", None, {"latency_ms": 2.0})]
    samples = gather_samples(ops, lambda t: "fault" if t > 3 else "steady", prefix="locust-")
    assert samples.groups == {("steady", "get"): [7]} and samples.bad == 1 and samples.total == 1
