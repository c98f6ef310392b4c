"""warm_up_end: when every simulated user is past its first login (harness.checkers.latency)."""

from __future__ import annotations

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
