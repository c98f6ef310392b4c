"""Ground truth for a director failover: the probe-measured outage beside keepalived's own log.

The availability checker measures an outage from the VIP probe's completions; the directors'
notify script logs when the backup became MASTER (harness.lab._notify_log). This module puts
the two on the history's clock and says whether they agree (:func:`compare`, pure), and runs
one failover in the lab to get them (:func:`measure_failover`: probe, fault through the
nemesis, notify logs, clock offsets).

"Agree", with ``i`` the probe's interval during an outage (``max(1 / rate, timeout)``: an attempt
that times out holds the slot), ``u`` the clock offset's uncertainty and ``lat`` the latency of
the request that ended the outage:

- ``expect="outage"`` (the MASTER stops forwarding at the fault: a destroyed guest, a crashed
  HAProxy): the outage starts at the fault (its last success lies within ``[invoke - 2i, ok]``
  of the fault's history op: the old MASTER logs nothing when it dies, so the fault's own time
  is the start) and ends at the takeover (``-2i - u <= end - takeover <= 2i + lat + u``);
- ``expect="switch"`` (an LVS director whose keepalived was killed keeps forwarding: the kernel's
  IPVS table outlives it): nothing fails between the fault and the takeover, and any outage in
  the fault window lies at the takeover (start and end within the same bounds of it).

Either way the figures are the probe outage, the notify-log takeover (takeover minus the
fault's ``ok``) and their difference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from ..checkers._result import Validity
from ..checkers.availability import Outage, follow_probes
from ..cluster import Cluster
from ..errors import LabError
from ..faults._journal import Journal
from ..faults.nemesis import Nemesis
from ..history import NEMESIS, HistoryRecorder, Op
from ..inventory import load_inventory
from ..parsers.keepalived_notify import first_transition
from ..probes.vip import VipProbe
from ._notify_log import ClockOffset, clock_offset, read_transitions

if TYPE_CHECKING:
    from ._lab import Lab

Expect = Literal["outage", "switch"]
PROBE = "vip-probe"
T = TypeVar("T")


@dataclass(frozen=True)
class Comparison:
    """The figures of one failover and whether probe and notify log agree."""

    fault: str
    expect: Expect
    validity: Validity
    probe_outage_s: float  # the failover outage's span (0.0: the probe saw none)
    takeover_s: float | None  # notify log: new MASTER's transition minus the fault's ok
    difference_s: float | None  # probe outage minus takeover
    start_gap_s: float | None  # outage start minus the fault's ok
    end_gap_s: float | None  # outage end minus the new MASTER's transition
    tolerance_s: float  # 2 probe intervals
    reasons: list[str] = field(default_factory=list)

    def line(self) -> str:
        def f(v: float | None) -> str:
            return "-" if v is None else f"{v:+.3f}"
        return (f"{self.fault:<18} probe outage {self.probe_outage_s:6.3f}s  notify takeover "
                f"{'-' if self.takeover_s is None else f'{self.takeover_s:6.3f}s'}  difference {f(self.difference_s)}s  "
                f"start-fault {f(self.start_gap_s)}s  end-takeover {f(self.end_gap_s)}s  "
                f"(2 intervals {self.tolerance_s:.3f}s) {self.validity.name}"
                + (f": {'; '.join(self.reasons)}" if self.reasons else ""))


def compare(fault: str, expect: Expect, *, outages: Sequence[Outage], fault_invoke: float, fault_ok: float,
            window_end: float, takeover: float | None, interval_s: float, clock_uncertainty_s: float,
            ok_latency_s: Mapping[float, float] | None = None) -> Comparison:
    """Pure: the failover outage among ``outages`` (history clock) against the takeover.

    Only outages overlapping ``[fault_invoke, window_end]`` count. ``expect="outage"``: the
    failover outage is the longest one that began before ``takeover + 2 intervals``;
    ``"switch"``: the longest one starting within the bounds of the takeover, and any outage
    starting between the fault and those bounds is a disagreement. Other outages in the window
    are noted, not judged. ``ok_latency_s``: a probe success's completion time -> its latency
    (the time the VIP needed to answer the request that ended the outage).
    """
    tol = 2 * interval_s
    if takeover is None:
        return Comparison(fault, expect, Validity.UNKNOWN, 0.0, None, None, None, None, tol,
                          ["no MASTER transition of the backup in its notify log after the fault"])
    latency = ok_latency_s or {}
    lo = -tol - clock_uncertainty_s

    def hi(o: Outage) -> float:
        return tol + latency.get(o.end, 0.0) + clock_uncertainty_s

    window = sorted((o for o in outages if o.end >= fault_invoke and o.start <= window_end), key=lambda o: o.start)
    problems: list[str] = []
    if expect == "outage":
        cands = [o for o in window if o.start <= takeover + tol]
    else:
        early = [o for o in window if o.start < takeover + lo]
        if early:
            problems.append(f"{len(early)} outage(s) between the fault and the takeover, the first at "
                            f"{early[0].start - fault_ok:+.3f}s from the fault ({early[0].duration_s:.3f}s, "
                            f"{early[0].first_error}): the crashed director stopped forwarding")
        cands = [o for o in window if takeover + lo <= o.start <= takeover + tol + clock_uncertainty_s]
    chosen = max(cands, key=lambda o: o.duration_s, default=None)
    others = [o for o in window if o is not chosen and not (expect == "switch" and o.start < takeover + lo)]
    notes = ([f"{len(others)} other outage(s) in the fault window (longest {max(o.duration_s for o in others):.3f}s)"]
             if others else [])
    takeover_s = takeover - fault_ok
    if chosen is None:
        if expect == "outage":
            problems.append("the probe saw no outage across the fault")
        return Comparison(fault, expect, Validity.INVALID if problems else Validity.VALID, 0.0, takeover_s,
                          -takeover_s, None, None, tol, problems + notes)
    start_gap, end_gap = chosen.start - fault_ok, chosen.end - takeover
    if chosen.open:
        problems.append("the outage was still open when the probe stopped")
    if not lo <= end_gap <= hi(chosen):
        problems.append(f"outage end {end_gap:+.3f}s from the takeover, outside [{lo:+.3f}, {hi(chosen):+.3f}]")
    if expect == "outage" and not fault_invoke - tol <= chosen.start <= fault_ok:
        problems.append(f"outage start {chosen.start - fault_invoke:+.3f}s from the fault's invoke, outside "
                        f"[{-tol:+.3f}, {fault_ok - fault_invoke:+.3f}]")
    probe_s = chosen.duration_s
    return Comparison(fault, expect, Validity.INVALID if problems else Validity.VALID, probe_s, takeover_s,
                      probe_s - takeover_s, start_gap, end_gap, tol, problems + notes)


@dataclass
class Failover:
    """One measured failover: the comparison and what it was computed from."""

    comparison: Comparison
    old: str
    new: str
    fault_invoke: float
    fault_ok: float
    takeover: float | None
    offsets: dict[str, ClockOffset]
    history: list[Op]
    notify_lines: dict[str, list[str]]


def _fault_times(ops: Sequence[Op], name: str) -> tuple[float, float]:
    inv = next(o for o in ops if o.process == NEMESIS and o.type == "invoke" and o.f == name)
    done = next(o for o in ops if o.process == NEMESIS and o.type != "invoke" and o.index > inv.index)
    if done.type != "ok":
        raise LabError(f"{name}: the fault did not inject: {done.extra.get('error')}")
    return inv.time, done.time


def measure_failover(lab: Lab, fault: str, run_dir: Path, *, expect: Expect, rate_hz: float = 20.0,
                     timeout_s: float = 0.1, settle_oks: int = 20, wait_s: float = 20.0,
                     instance: str = "VI_WEB", path: str = "/login/index.php", **fault_params: object) -> Failover:
    """Probe the web VIP, inject ``fault`` on the MASTER through the nemesis, wait for the
    backup's MASTER line and ``settle_oks`` probe successes after it, stop the probe, heal.

    Does not wait for the old MASTER to take the VIP back after the heal: the caller does.
    """
    holders = lab.status().vip_holders.get("web", [])
    if len(holders) != 1:
        raise LabError(f"web VIP held by {holders or 'nobody'}: need exactly one MASTER to fail")
    old = holders[0]
    new = next(h.name for h in lab.topo.with_role("director") if h.name != old)
    offsets = {h: clock_offset(lab, h) for h in (old, new)}
    history = HistoryRecorder(run_dir / "history.jsonl")
    probe = VipProbe(history, lab.topo.vips["web"], 80, path=path, rate_hz=rate_hz, timeout_s=timeout_s,
                     max_count=int(rate_hz * 120), max_duration_s=120, guard=lab.guard)
    cluster = Cluster(load_inventory(lab.inventory_path))
    nemesis = Nemesis(cluster, history, Journal(run_dir))
    notify: dict[str, list[str]] = {}
    takeover: float | None = None
    try:
        with nemesis.running():
            probe.start()
            _wait(lambda: probe.counts["ok"] >= settle_oks, wait_s, "the probe served before the fault")
            t_before = history.now()
            with nemesis.fault(fault, host=old, **fault_params):

                def took_over() -> float | None:
                    t = first_transition(read_transitions(lab, new), instance=instance, state="MASTER",
                                         after=t_before + history.started_at + offsets[new].offset_s
                                         - offsets[new].uncertainty_s)
                    return None if t is None else offsets[new].history_time(t.time, history.started_at)

                takeover = _wait(took_over, wait_s, f"{new} logged {instance} MASTER")
                n0 = probe.counts["ok"]
                _wait(lambda: probe.counts["ok"] >= n0 + settle_oks, wait_s, "the probe served after the takeover")
                probe.stop()
                probe.join()
                for h in (old, new):  # before the heal: a guest's console starts afresh when it boots again
                    notify[h] = [f"{t.time:.9f} {t.host} {t.instance} {t.state}" for t in read_transitions(lab, h)]
    finally:
        probe.stop()
        cluster.close()
        history.close()
    ops = history.ops()
    f_inv, f_ok = _fault_times(ops, fault)
    facts = follow_probes(ops, PROBE)
    latency = {o.time: float(o.extra.get("latency_ms", 0.0)) / 1000.0 for o in ops
               if o.process == PROBE and o.type == "ok" and o.time >= f_inv}
    interval = max(1.0 / rate_hz, timeout_s)
    unc = max(o.uncertainty_s for o in offsets.values())
    window_end = ops[-1].time
    cmp_ = compare(fault, expect, outages=facts.outages, fault_invoke=f_inv, fault_ok=f_ok, window_end=window_end,
                   takeover=takeover, interval_s=interval, clock_uncertainty_s=unc, ok_latency_s=latency)
    return Failover(cmp_, old, new, f_inv, f_ok, takeover, offsets, ops, notify)


def _wait(pred: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``pred`` (50 ms steps) until it gives a true value; LabError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise LabError(f"{what}: not seen within {timeout:.0f}s")


def wait_settled(lab: Lab, master: str = "dir1", timeout: float = 90.0) -> float:
    """Wait until the lab is healthy with ``master`` holding both VIPs (keepalived preempts a few
    adverts after a healed director is back); returns the seconds it took."""
    t0 = time.monotonic()

    def settled() -> bool:
        st = lab.status()
        return st.healthy and st.vip_holders == {"web": [master], "db": [master]}

    _wait(settled, timeout, f"lab healthy with {master} holding both VIPs")
    return time.monotonic() - t0
