"""The load's warm-up: when every simulated user is past its first login, and the latency
checker leaving it out of the steady phase (harness.checkers.latency)."""

from __future__ import annotations

from harness.checkers import Validity, latency
from harness.checkers.latency import warm_up_end
from harness.history import Op


def _op(i: int, t: float, proc: str, f: str, typ: str = "ok") -> Op:
    return Op(i, t, proc, typ, f, None, {"latency_ms": 10.0})


def test_the_warm_up_ends_when_the_slowest_user_has_done_something_besides_logging_in() -> None:
    ops = [_op(0, 3.8, "locust-a", "login"), _op(1, 3.9, "locust-b", "login"),
           _op(2, 4.0, "locust-a", "dashboard"), _op(3, 4.3, "locust-b", "login"),
           _op(4, 4.4, "locust-b", "courses", "fail"),  # a failure is not past the warm-up
           _op(5, 4.6, "locust-b", "courses"), _op(6, 9.0, "locust-a", "login"),
           _op(7, 1.0, "vip-probe-web", "get")]
    assert warm_up_end(ops) == 4.6


def test_no_warm_up_end_while_a_user_never_got_past_its_login() -> None:
    ops = [_op(0, 3.8, "locust-a", "login"), _op(1, 4.0, "locust-a", "dashboard"), _op(2, 3.9, "locust-b", "login")]
    assert warm_up_end(ops) is None
    assert warm_up_end([_op(0, 1.0, "vip-probe-web", "get")]) is None


def _timed(i: int, start: float, end: float, proc: str, f: str, ms: float) -> Op:
    return Op(i, end, proc, "ok", f, None, {"latency_ms": ms, "t_start": start})


def _nemesis(start: float, heal: float) -> list[Op]:
    meta = {"fault_id": "f0"}
    return [Op(90, start, "nemesis", "invoke", "kill", meta), Op(91, start + 0.01, "nemesis", "ok", "kill", meta),
            Op(92, heal - 0.01, "nemesis", "invoke", "heal", meta), Op(93, heal, "nemesis", "ok", "heal", meta)]


def test_the_latency_checker_leaves_the_warm_up_out_of_the_steady_phase_only() -> None:
    # two users log in at once (slow, side by side), then browse; a fault later on
    ops = [_timed(0, 0.0, 0.6, "locust-a", "login", 600.0), _timed(1, 0.0, 0.7, "locust-b", "login", 700.0),
           _timed(2, 0.7, 0.8, "locust-a", "dashboard", 30.0),  # begun before b is past its login
           _timed(3, 0.8, 0.9, "locust-b", "dashboard", 25.0),  # the warm-up ends here (0.9), with it
           _timed(4, 1.0, 1.02, "locust-a", "login", 20.0), _timed(5, 1.1, 1.13, "locust-b", "courses", 30.0),
           *_nemesis(5.0, 8.0), _timed(6, 6.0, 6.9, "locust-a", "courses", 900.0)]
    ops.sort(key=lambda o: o.time)
    r = latency(ops, {"steady": {"p95": 500}, "fault": {"p95": 1000}}, recovery_s=1.0)
    assert r.valid is Validity.VALID, r.message
    assert r.counts["warm_up"] == {"end": 0.9, "left_out": 4}
    assert r.counts["phases"]["steady"]["n"] == 2 and r.counts["phases"]["steady"]["max"] == 30.0
    assert r.counts["phases"]["fault"]["n"] == 1  # a fault's samples are never the warm-up's
    # the same history judged with everything in: the warm-up's 700 ms logins break the bound
    everything = latency(ops, {"steady": {"p95": 500}}, recovery_s=1.0, warm_up_prefix=None)
    assert everything.valid is Validity.INVALID and "warm_up" not in everything.counts


def test_no_warm_up_is_left_out_while_a_user_never_got_past_its_login() -> None:
    ops = [_timed(0, 0.0, 0.6, "locust-a", "login", 600.0), _timed(1, 0.7, 0.8, "locust-a", "dashboard", 30.0),
           _timed(2, 0.0, 0.9, "locust-b", "login", 900.0)]
    r = latency(ops, {"steady": {"p95": 500}}, recovery_s=1.0)
    assert r.valid is Validity.INVALID and "warm_up" not in r.counts and r.counts["samples"] == 3
