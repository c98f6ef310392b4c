"""error_rate_percent: the client errors a failover should not have caused (harness.acceptance).

Requests that overlap a VIP outage are the outage's, already bounded by the failover budget;
those outside it are judged against ``max_error_rate_percent``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from harness.acceptance import error_rate_percent
from harness.history import Op


def _req(i: int, t_start: float, t_end: float, ok: bool) -> Op:
    return Op(i, t_end, "locust-1", "ok" if ok else "fail", "dashboard", None, {"t_start": t_start})


def _scenario(ops: list[Op]) -> Any:
    return SimpleNamespace(ops=lambda: ops, phases=[{"name": "observe", "start": 0.0, "end": 100.0}])


def test_a_request_in_flight_when_the_outage_began_is_the_outages_not_an_error_outside_it() -> None:
    outage = [(10.0, 13.0)]  # VIP probe: last success at 10.0, first success again at 13.0
    ops = [_req(i, t, t + 0.2, True) for i, t in enumerate((1.0, 2.0, 3.0, 14.0, 15.0, 16.0, 17.0))]
    ops.append(_req(20, 9.8, 11.5, False))   # through the director that crashed: in flight at 10.0
    ops.append(_req(21, 11.0, 11.2, False))  # started inside the outage
    assert error_rate_percent(_scenario(ops), outside_outages=outage) == 0.0
    # without the windows both count: 2 of 9
    assert error_rate_percent(_scenario(ops)) == 100.0 * 2 / 9


def test_an_error_after_the_outage_ended_still_counts() -> None:
    outage = [(10.0, 13.0)]
    ops = [_req(i, t, t + 0.2, True) for i, t in enumerate((1.0, 2.0, 14.0))]
    ops.append(_req(9, 13.5, 13.6, False))  # the failover left something broken behind
    ops.append(_req(10, 8.0, 9.0, False))   # before the outage, finished before it: counts too
    assert error_rate_percent(_scenario(ops), outside_outages=outage) == 100.0 * 2 / 5
