"""Probe outage against the notify-log takeover (harness.lab._ground_truth.compare), on literal
outages shaped like the LVS lab's (figures from a run: docs/lab-measurements.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checkers import Validity
from harness.checkers.availability import Outage, follow_probes
from harness.history import Op
from harness.lab import Lab
from harness.lab._ground_truth import compare
from harness.lab._notify_log import ClockOffset, notify_log_path


def out(start: float, end: float, *, open_: bool = False, error: str = "connect timed out after 0.5s") -> Outage:
    return Outage("vip-probe", start, end, error, 3, open_, False)


# a destroyed MASTER guest: fault invoked at 1.00, done at 1.64; dir2's VI_WEB MASTER line at 4.56
DESTROY = {"fault_invoke": 1.0, "fault_ok": 1.64, "window_end": 6.0, "takeover": 4.56, "interval_s": 0.5,
           "clock_uncertainty_s": 0.01}


def test_a_destroy_outage_from_the_fault_to_the_takeover_agrees() -> None:
    c = compare("domain-destroy", "outage", outages=[out(1.37, 4.41)], ok_latency_s={4.41: 0.008}, **DESTROY)
    assert c.validity is Validity.VALID, c.reasons
    assert c.probe_outage_s == pytest.approx(3.04)
    assert c.takeover_s == pytest.approx(2.92)
    assert c.difference_s == pytest.approx(0.12)
    assert (c.start_gap_s, c.end_gap_s) == (pytest.approx(-0.27), pytest.approx(-0.15))
    assert c.tolerance_s == 1.0 and "VALID" in c.line() and "2.920s" in c.line()


def test_an_outage_ending_later_than_two_intervals_after_the_takeover_disagrees() -> None:
    # 2 intervals (1.0 s) + the answering request's 8 ms + the clock's 10 ms: 5.578 is the last agreeing end
    assert compare("d", "outage", outages=[out(1.37, 5.57)], ok_latency_s={5.57: 0.008},
                   **DESTROY).validity is Validity.VALID
    c = compare("d", "outage", outages=[out(1.37, 5.59)], ok_latency_s={5.59: 0.008}, **DESTROY)
    assert c.validity is Validity.INVALID
    assert c.reasons == ["outage end +1.030s from the takeover, outside [-1.010, +1.018]"]
    # ... and one that ended well before the backup said it was MASTER: the log would be wrong
    early = compare("d", "outage", outages=[out(1.37, 3.5)], **DESTROY)
    assert early.validity is Validity.INVALID and "outage end -1.060s" in early.reasons[0]


def test_an_outage_that_began_long_before_the_fault_is_not_the_faults() -> None:
    c = compare("d", "outage", outages=[out(-0.2, 4.41)], **DESTROY)
    assert c.validity is Validity.INVALID
    assert c.reasons == ["outage start -1.200s from the fault's invoke, outside [-1.000, +0.640]"]


def test_the_longest_outage_is_the_failover_and_a_later_blip_is_only_noted() -> None:
    blip = out(4.9, 5.05, error="timed out after sending (0.5s)")
    c = compare("d", "outage", outages=[out(0.2, 0.3), out(1.37, 4.41), blip], **DESTROY)
    assert c.validity is Validity.VALID
    assert c.probe_outage_s == pytest.approx(3.04)
    assert c.reasons == ["1 other outage(s) in the fault window (longest 0.150s)"]  # 0.2-0.3 ends before the fault


def test_no_outage_or_no_takeover() -> None:
    none = compare("d", "outage", outages=[], **DESTROY)
    assert none.validity is Validity.INVALID and none.reasons == ["the probe saw no outage across the fault"]
    assert none.probe_outage_s == 0.0 and none.difference_s == pytest.approx(-2.92)
    unknown = compare("d", "outage", outages=[out(1.37, 4.41)], **{**DESTROY, "takeover": None})
    assert unknown.validity is Validity.UNKNOWN and unknown.takeover_s is None
    still_open = compare("d", "outage", outages=[out(1.37, 4.6, open_=True)], **DESTROY)
    assert still_open.validity is Validity.INVALID and "still open" in still_open.reasons[0]


# keepalived killed on an LVS MASTER: the kernel keeps forwarding, the VIP moves at the takeover
KILL = {**DESTROY, "fault_ok": 2.06, "takeover": 6.04, "window_end": 7.0}


def test_a_crashed_lvs_keepalived_keeps_serving_until_the_switch() -> None:
    quiet = compare("director-failure", "switch", outages=[], **KILL)
    assert quiet.validity is Validity.VALID and quiet.probe_outage_s == 0.0
    assert quiet.takeover_s == pytest.approx(3.98) and quiet.difference_s == pytest.approx(-3.98)
    at_switch = compare("director-failure", "switch", outages=[out(6.0, 6.2)], **KILL)
    assert at_switch.validity is Validity.VALID and at_switch.end_gap_s == pytest.approx(0.16)


def test_a_failure_between_the_crash_and_the_takeover_is_a_disagreement() -> None:
    c = compare("director-failure", "switch", outages=[out(3.3, 3.45, error="timed out after sending (0.5s)")], **KILL)
    assert c.validity is Validity.INVALID
    assert c.reasons == ["1 outage(s) between the fault and the takeover, the first at +1.240s from the fault "
                         "(0.150s, timed out after sending (0.5s)): the crashed director stopped forwarding"]
    # a whole outage from the crash to the takeover is what "outage" expects, not "switch"
    full = [out(2.0, 6.3)]
    assert compare("director-failure", "switch", outages=full, **KILL).validity is Validity.INVALID
    assert compare("director-failure", "outage", outages=full, **KILL).validity is Validity.VALID


def test_outages_come_from_the_availability_checkers_own_pass() -> None:
    # the probe ops of a destroy, through follow_probes: start = last success, end = first success after
    ops = [Op(0, 1.30, "vip-probe", "invoke", "get", None, {}), Op(1, 1.37, "vip-probe", "ok", "get", 200, {}),
           Op(2, 1.40, "vip-probe", "invoke", "get", None, {}),
           Op(3, 1.90, "vip-probe", "fail", "get", None, {"error": "connect timed out after 0.5s"}),
           Op(4, 4.40, "vip-probe", "invoke", "get", None, {}),
           Op(5, 4.41, "vip-probe", "ok", "get", 200, {"latency_ms": 8.0})]
    outages = follow_probes(ops).outages
    c = compare("domain-destroy", "outage", outages=outages, ok_latency_s={4.41: 0.008}, **DESTROY)
    assert c.validity is Validity.VALID and c.probe_outage_s == pytest.approx(3.04)


def test_clock_offset_maps_a_notify_time_onto_the_history() -> None:
    # guest real time = host monotonic + offset; history time = monotonic - started_at
    off = ClockOffset("dir2", offset_s=1796222790.5728, uncertainty_s=0.008, samples=15)
    assert off.history_time(1796222790.5728 + 1000.25, started_at=996.0) == pytest.approx(4.25)


def test_where_each_director_kind_writes_its_notify_lines(tmp_path: Path) -> None:
    lvs = Lab("t", "198.18.9.0/24", state_dir=tmp_path / "l", directors="lvs")
    ha = Lab("t", "198.18.9.0/24", state_dir=tmp_path / "h", directors="haproxy")
    assert notify_log_path(lvs, "dir2") == tmp_path / "l" / "guests" / "dir2" / "console.log"
    assert notify_log_path(ha, "dir2") == ha.paths.log("dir2") / "keepalived-notify.log"
