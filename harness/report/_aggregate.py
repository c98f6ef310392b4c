"""A history reduced to a timeline: fixed time bins, exact outages, fault spans.

The timeline is reduced to fixed time bins (counts of ok / fail / info per bin, latency
percentiles per bin from a log histogram, ``_latency_hist``), but outages are never binned
away: their exact windows come from the availability checker (harness.checkers.availability),
run on the subset of probe results that can change an outage (every non-ok result and the ok
results on either side of them), which yields the same windows as running it on the whole
history.

One aggregator, two readers: :func:`aggregate_ops` here feeds it
:class:`harness.history.Op` objects (``load_history``); ``_scan.aggregate_file`` feeds it
``history.jsonl`` lines, parsing whole only the lines it needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ..checkers.availability import availability
from ..checkers.phases import fault_windows, is_nemesis
from ..history import Op
from ._latency_hist import COARSEN, _LatHist
from ._model import FaultSpan, Lane, Outage, Timeline
from ._scrub import scrub

#: target number of time bins across a test's timeline (about one per pixel column)
TARGET_BINS = 900
#: bin widths we round up to, so axis ticks and tooltips show round numbers
_NICE_BINS = (0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
#: at most this many lanes / latency series of one kind (a run with 40 locust users is one lane)
MAX_PROBE_LANES = 6


def nice_bin(duration: float, target: int = TARGET_BINS) -> float:
    """The smallest round bin width giving at most ``target`` bins over ``duration``."""
    want = max(duration, 1e-9) / target
    for b in _NICE_BINS:
        if b >= want:
            return float(b)
    return float(math.ceil(want / 3600.0) * 3600)


def _coarsen_lane(name: str, kind: str, counts: list[list[int]], bin_s: float) -> Lane:
    """A lane whose results are sparser than the bins (a writer at 5/s in 50 ms bins) would
    read as a barcode of "no data"; merge ``k`` bins so >= 90% of its active span has data."""
    ok, fail, info = counts
    nb = len(ok)
    filled = [b for b in range(nb) if ok[b] or fail[b] or info[b]]
    if not filled:
        return Lane(name, kind, ok, fail, info, bin_s)
    first, last = filled[0], filled[-1]
    k = 1
    for c in COARSEN:
        cf = {b // c for b in filled}
        span = last // c - first // c + 1
        k = c
        if len(cf) >= 0.9 * span or nb / c < 40:
            break
    if k == 1:
        return Lane(name, kind, ok, fail, info, bin_s)
    m = (nb + k - 1) // k

    def merged(arr: list[int]) -> list[int]:
        return [sum(arr[i * k : (i + 1) * k]) for i in range(m)]

    return Lane(name, kind, merged(ok), merged(fail), merged(info), bin_s * k)


_LANE_LABEL = {"writes": "ledger writes", "requests": "locust requests", "storage": "file writes/reads",
               "ldap-binds": "LDAP logins", "ldap-writes": "directory writes"}


class _Aggregator:
    """Consumes completions one at a time; see the module docstring."""

    def __init__(self, t0: float, t1: float, probe_prefix: str, keep_ledger: bool) -> None:
        self.t0 = t0
        self.t1 = max(t1, t0 + 1e-6)
        self.bin_s = nice_bin(self.t1 - self.t0)
        self.nbins = max(1, int(math.ceil((self.t1 - self.t0) / self.bin_s)))
        self.probe_prefix = probe_prefix
        self.keep_ledger = keep_ledger
        self.lanes: dict[str, list[list[int]]] = {}  # lane name -> [ok, fail, info]
        self.lane_kind: dict[str, str] = {}
        self.hists: dict[str, _LatHist] = {}
        self.kind_of: dict[str, tuple[str, str] | tuple[()]] = {}  # process -> (kind, lane), () if ignored
        self.nemesis: list[Op] = []
        self.ledger_ops: list[Op] = []
        self.subset: list[Op] = []  # probe results that can change an outage
        self.pending_ok: dict[str, Callable[[], Op]] = {}
        self.head_ok: dict[str, Callable[[], Op]] = {}  # a probe's first result, when ok (see _Chunk)
        self.in_run: dict[str, bool] = {}
        self.probe_attempts = 0
        self.probe_ok = 0
        self.ops = 0
        self.tmax = -math.inf

    def classify(self, process: str) -> tuple[str, str] | None:
        """(kind, lane) of a process, or None if the timeline ignores it."""
        if process.startswith(self.probe_prefix):
            probes = [n for n, k in self.lane_kind.items() if k == "probe"]
            if process not in probes and len(probes) >= MAX_PROBE_LANES:
                return ("probe", "other probes")
            return ("probe", process)
        if process.startswith("ledger-read-"):
            return ("ledger-read", "")
        if process.startswith("ledger-"):
            return ("writes", _LANE_LABEL["writes"])
        if process.startswith("locust"):
            return ("requests", _LANE_LABEL["requests"])
        if process.startswith("storage-probe-"):  # the file tier's probe, every web node in one lane
            return ("storage", _LANE_LABEL["storage"])
        if process.startswith("ldap-probe"):  # the directory tier's binds through the LDAP VIP
            return ("ldap-binds", _LANE_LABEL["ldap-binds"])
        if process.startswith("ldap-writer"):
            return ("ldap-writes", _LANE_LABEL["ldap-writes"])
        if is_nemesis(process):
            return ("nemesis", "")
        return None

    def _lane(self, kind: str, name: str) -> list[list[int]]:
        lane = self.lanes.get(name)
        if lane is None:
            lane = self.lanes[name] = [[0] * self.nbins, [0] * self.nbins, [0] * self.nbins]
            self.lane_kind[name] = kind
        return lane

    def bin_of(self, t: float) -> int:
        b = int((t - self.t0) / self.bin_s)
        return 0 if b < 0 else (self.nbins - 1 if b >= self.nbins else b)

    def completion(
        self, kind: str, lane_name: str, process: str, t: float, typ: str, f: str, lat: float | None, make_op: Callable[[], Op]
    ) -> None:
        """One ok/fail/info result of a timeline process."""
        if kind == "writes" and f != "write":
            if self.keep_ledger:
                self.ledger_ops.append(make_op())
            return
        if t > self.tmax:
            self.tmax = t
        b = self.bin_of(t)
        lane = self._lane(kind, lane_name)
        if typ == "ok":
            lane[0][b] += 1
            if lat is not None:
                h = self.hists.get(lane_name)
                if h is None:
                    h = self.hists[lane_name] = _LatHist(lane_name, kind, self.nbins)
                h.add(b, lat)
        elif typ == "fail":
            lane[1][b] += 1
        else:
            lane[2][b] += 1
        if kind == "probe":
            self.probe_attempts += 1
            if typ == "ok":
                self.probe_ok += 1
                if self.in_run.get(process):
                    self.subset.append(make_op())
                    self.in_run[process] = False
                else:
                    if process not in self.in_run and process not in self.head_ok:
                        self.head_ok[process] = make_op
                    self.pending_ok[process] = make_op
            else:
                if not self.in_run.get(process):
                    prev = self.pending_ok.pop(process, None)
                    if prev is not None:
                        self.subset.append(prev())
                    self.in_run[process] = True
                self.subset.append(make_op())
        elif kind == "writes" and self.keep_ledger:
            self.ledger_ops.append(make_op())

    def feed_op(self, op: Op) -> None:
        """The Op reader's entry point (also the scanner's fallback for odd lines)."""
        self.ops += 1
        cls = self.kind_of.get(op.process)
        if cls is None:
            cls = self.kind_of[op.process] = self.classify(op.process) or ()
        if not cls:
            return
        kind, lane = cls
        if kind == "nemesis":
            self.nemesis.append(op)
            return
        if kind == "ledger-read" or (kind == "writes" and op.type == "invoke"):
            if self.keep_ledger:
                self.ledger_ops.append(op)
            return
        if op.type == "invoke":
            return
        lat = op.extra.get("latency_ms") if op.extra else None
        if lat is not None and not isinstance(lat, (int, float)):
            lat = None
        self.completion(kind, lane, op.process, op.time, op.type, op.f, lat, lambda: op)

    def finish(self, outage_prefix: str) -> tuple[Timeline, list[Op]]:
        windows = fault_windows(self.nemesis)
        invokes: dict[str, Op] = {}
        for op in self.nemesis:
            if op.type == "invoke" and op.f != "heal" and isinstance(op.value, dict):
                invokes[str(op.value.get("fault_id", f"@{op.index}"))] = op
        errors: dict[str, str] = {}
        for op in self.nemesis:
            if op.type != "invoke" and op.extra.get("error"):
                errors.setdefault(op.f, str(op.extra["error"]))
        faults = []
        for w in windows:
            inv = invokes.get(w.fault_id)
            targets: tuple[str, ...] = ()
            if inv is not None:
                tv = inv.value.get("targets") or inv.value.get("target") or inv.value.get("hosts")
                if isinstance(tv, (list, tuple)):
                    targets = tuple(str(x) for x in tv)
                elif tv is not None:
                    targets = (str(tv),)
            faults.append(FaultSpan(w.fault_id, w.fault, w.start, w.end if w.healed else None, targets, None))
        outages: list[Outage] = []
        if self.subset:
            res = availability(self.subset, outage_prefix, max_examples=len(self.subset) + 1)
            for ex in res.examples.get("outages", []):
                err = ex.get("first_error")
                outages.append(
                    Outage(
                        ex["process"], ex["start"], ex["end"], ex["duration_s"], ex["failed"],
                        scrub(str(err)) if err is not None else None, bool(ex["open"]), _attribute(ex["start"], ex["end"], faults),
                    )
                )
        outages.sort(key=lambda o: o.start)
        t1 = self.t1  # later times were clamped into the last bin
        order = {"probe": 0, "writes": 1, "requests": 2, "storage": 3, "ldap-binds": 4, "ldap-writes": 5}
        names = sorted(self.lanes, key=lambda n: (order.get(self.lane_kind[n], 9), n))
        lanes = [_coarsen_lane(n, self.lane_kind[n], self.lanes[n], self.bin_s) for n in names]
        latency = [self.hists[n].series(self.bin_s) for n in names if n in self.hists]
        tl = Timeline(self.t0, t1, self.bin_s, lanes, latency, faults, outages, self.probe_attempts, self.probe_ok, self.ops, self.nbins)
        return tl, self.ledger_ops


def _attribute(start: float, end: float, faults: list[FaultSpan], grace_s: float = 10.0) -> str | None:
    """The fault an outage belongs to: the window it overlaps (heal + ``grace_s`` counts, a
    VIP often comes back a moment after the heal); the latest-started one wins."""
    best = None
    for f in faults:
        f_end = (f.end if f.end is not None else math.inf) + grace_s
        if f.start <= end and start <= f_end and (best is None or f.start >= best.start):
            best = f
    return best.fault if best else None


def aggregate_ops(
    ops: Iterable[Op], *, probe_prefix: str = "vip-probe", keep_ledger: bool = True, t_range: tuple[float, float] | None = None
) -> tuple[Timeline, list[Op]]:
    """Timeline (and the ledger ops, if kept) from Op objects."""
    ops = list(ops)
    if t_range is None:
        times = [op.time for op in ops]
        t_range = (min(times, default=0.0), max(times, default=1.0))
    agg = _Aggregator(t_range[0], t_range[1], probe_prefix, keep_ledger)
    for op in ops:
        agg.feed_op(op)
    return agg.finish(probe_prefix)
