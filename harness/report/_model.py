"""The report's data: a run directory reduced to a compact, render-ready model.

A soak history can hold millions of probe results; the page cannot. The timeline is reduced
to fixed time bins (counts of ok / fail / info per bin, latency percentiles per bin from a
log histogram), but outages are never binned away: their exact windows come from the
availability checker (harness.checkers.availability), run on the subset of probe results
that can change an outage (every non-ok result and the ok results on either side of them),
which yields the same windows as running it on the whole history.

Two readers feed one aggregator: :func:`aggregate_ops` takes :class:`harness.history.Op`
objects (``load_history``), :func:`aggregate_file` reads ``history.jsonl`` line by line and
only parses with ``json`` the lines it needs whole (nemesis, ledger when recomputed,
non-ok probe results), so a 24-hour, 100 probes/s history stays within seconds.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkers.availability import availability
from ..checkers.ledger import ledger as ledger_checker
from ..checkers.phases import fault_windows, is_nemesis
from ..errors import HarnessError, HistoryError
from ..history import OP_TYPES, Op, load_history
from ._scrub import scrub, scrub_data

#: target number of time bins across a test's timeline (about one per pixel column)
TARGET_BINS = 900
#: bin widths we round up to, so axis ticks and tooltips show round numbers
_NICE_BINS = (0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
#: latency histogram: 8 buckets per doubling (about 9% wide) from 2^-10 ms to 2^24 ms
_LAT_PER_OCTAVE = 8
_LAT_KMIN = -10 * _LAT_PER_OCTAVE
_LAT_NB = 34 * _LAT_PER_OCTAVE
#: above this size a history is read by the line scanner instead of load_history
FAST_PATH_BYTES = 32 * 1024 * 1024
#: at most this many lanes / latency series of one kind (a run with 40 locust users is one lane)
MAX_PROBE_LANES = 6


class ReportError(HarnessError):
    """A run directory cannot be turned into a report (names the file at fault)."""


@dataclass
class Lane:
    """One row of the timeline strip: outcome counts per bin."""

    name: str
    kind: str  # "probe" | "writes" | "requests"
    ok: list[int]
    fail: list[int]
    info: list[int]
    bin_s: float = 1.0  # may be a multiple of the timeline's bin for a sparse lane

    @property
    def attempts(self) -> int:
        return sum(self.ok) + sum(self.fail) + sum(self.info)

    @property
    def served(self) -> int:
        return sum(self.ok)


@dataclass
class LatencySeries:
    """Per-bin latency of ok results (ms). Percentiles are approximate (9% buckets, clamped
    to the bin's exact min/max); ``max`` is exact. None where a bin has no sample."""

    name: str
    kind: str
    n: list[int]
    p50: list[float | None]
    p95: list[float | None]
    max: list[float | None]
    bin_s: float = 1.0  # a multiple of the timeline's bin, so most bins hold several samples


@dataclass(frozen=True)
class Outage:
    """An exact outage window from the availability checker, attributed to a fault."""

    process: str
    start: float
    end: float
    duration_s: float
    failed: int
    first_error: str | None
    open: bool
    fault: str | None = None  # the fault whose window (or heal) it overlaps


@dataclass(frozen=True)
class FaultSpan:
    fault_id: str
    fault: str
    start: float
    end: float | None  # None: never healed (runs to the end of the history)
    targets: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Timeline:
    t0: float
    t1: float
    bin_s: float
    lanes: list[Lane]
    latency: list[LatencySeries]
    faults: list[FaultSpan]
    outages: list[Outage]
    probe_attempts: int
    probe_ok: int
    ops: int = 0
    nbins: int = 0

    @property
    def availability_percent(self) -> float | None:
        return 100.0 * self.probe_ok / self.probe_attempts if self.probe_attempts else None

    @property
    def longest_outage(self) -> Outage | None:
        return max(self.outages, key=lambda o: o.duration_s, default=None)


@dataclass
class TestModel:
    slug: str
    test: str
    title: str
    outcome: str
    tier: str | None = None
    fault_kind: str | None = None
    started: float | None = None
    duration_s: float | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    slo: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    timeline: Timeline | None = None
    ledger: dict[str, Any] | None = None  # counts of the ledger checker
    notes: list[str] = field(default_factory=list)
    soak: dict[str, Any] | None = None  # result.json "soak" (harness.soak): steps, audits, figures
    #: the cluster was broken on purpose; "passed" means the checker caught it
    negative_proof: bool = False


@dataclass(frozen=True)
class TrendPoint:
    """One soak run of the reports directory, for the trend across nights."""

    run_id: str
    started: str | None
    seed: Any
    availability_percent: float | None
    longest_outage_s: float | None
    steps_run: int | None = None
    audits_failed: int | None = None
    current: bool = False


@dataclass
class RunModel:
    run_id: str
    started: str | None = None
    finished: str | None = None
    seed: Any = None
    harness_version: str | None = None
    markers: str | None = None
    cluster: dict[str, Any] = field(default_factory=dict)
    tests: list[TestModel] = field(default_factory=list)
    soak_trend: list[TrendPoint] = field(default_factory=list)

    @property
    def measured(self) -> list[TestModel]:
        """The tests whose figures describe the cluster: all but the negative proofs, whose
        outages and lost writes were made on purpose (a 27 s outage that proves a checker works
        is not the cluster's longest outage)."""
        return [t for t in self.tests if not t.negative_proof]

    @property
    def negative_proofs(self) -> list[TestModel]:
        return [t for t in self.tests if t.negative_proof]

    @property
    def probe_attempts(self) -> int:
        return sum(t.timeline.probe_attempts for t in self.measured if t.timeline)

    @property
    def availability_percent(self) -> float | None:
        attempts = self.probe_attempts
        ok = sum(t.timeline.probe_ok for t in self.measured if t.timeline)
        return 100.0 * ok / attempts if attempts else None

    def longest_by_fault(self) -> dict[str, tuple[Outage, TestModel]]:
        """The longest outage per fault kind (``(no fault)`` for outages outside any window),
        over the measured tests."""
        out: dict[str, tuple[Outage, TestModel]] = {}
        for t in self.measured:
            if not t.timeline:
                continue
            for o in t.timeline.outages:
                kind = o.fault or "(no fault)"
                if kind not in out or o.duration_s > out[kind][0].duration_s:
                    out[kind] = (o, t)
        return dict(sorted(out.items(), key=lambda kv: -kv[1][0].duration_s))


# --------------------------------------------------------------------------- aggregation


def nice_bin(duration: float, target: int = TARGET_BINS) -> float:
    """The smallest round bin width giving at most ``target`` bins over ``duration``."""
    want = max(duration, 1e-9) / target
    for b in _NICE_BINS:
        if b >= want:
            return float(b)
    return float(math.ceil(want / 3600.0) * 3600)


def _lat_bucket(ms: float) -> int:
    if ms <= 0:
        return 0
    k = int(math.floor(math.log2(ms) * _LAT_PER_OCTAVE)) - _LAT_KMIN
    return 0 if k < 0 else (_LAT_NB - 1 if k >= _LAT_NB else k)


def _lat_value(k: int) -> float:
    return 2.0 ** ((k + _LAT_KMIN + 0.5) / _LAT_PER_OCTAVE)


class _LatHist:
    """Per-bin log histogram of latencies for one series."""

    def __init__(self, name: str, kind: str, nbins: int) -> None:
        self.name, self.kind, self.nbins = name, kind, nbins
        self.counts = [0] * (nbins * _LAT_NB)
        self.n = [0] * nbins
        self.lo: list[float] = [math.inf] * nbins
        self.hi: list[float] = [-math.inf] * nbins

    def merge(self, other: _LatHist) -> None:
        """Add another histogram over the same bins (a later byte range of the history)."""
        counts, theirs = self.counts, other.counts
        for b, n in enumerate(other.n):
            if n:
                s = b * _LAT_NB
                counts[s : s + _LAT_NB] = [x + y for x, y in zip(counts[s : s + _LAT_NB], theirs[s : s + _LAT_NB])]
                self.n[b] += n
                self.lo[b] = min(self.lo[b], other.lo[b])
                self.hi[b] = max(self.hi[b], other.hi[b])

    def add(self, b: int, ms: float) -> None:
        self.counts[b * _LAT_NB + _lat_bucket(ms)] += 1
        self.n[b] += 1
        if ms < self.lo[b]:
            self.lo[b] = ms
        if ms > self.hi[b]:
            self.hi[b] = ms

    def series(self, bin_s: float) -> LatencySeries:
        """Percentiles per bin of ``k`` base bins, ``k`` chosen so a typical bin holds about
        ten samples (a line through single samples is noise) but the chart keeps >= 80 points."""
        filled = sorted(x for x in self.n if x)
        typical = filled[len(filled) // 2] if filled else 1
        k = next((c for c in _COARSEN if typical * c >= 10 or self.nbins / c < 160), _COARSEN[-1])
        while k > 1 and self.nbins / k < 80:
            k = _COARSEN[_COARSEN.index(k) - 1]
        nb = (self.nbins + k - 1) // k
        p50: list[float | None] = []
        p95: list[float | None] = []
        mx: list[float | None] = []
        ns: list[int] = []
        for cb in range(nb):
            b0, b1 = cb * k, min((cb + 1) * k, self.nbins)
            n = sum(self.n[b0:b1])
            ns.append(n)
            if n == 0:
                p50.append(None)
                p95.append(None)
                mx.append(None)
                continue
            if k == 1:
                row = self.counts[b0 * _LAT_NB : b1 * _LAT_NB]
            else:
                row = [sum(col) for col in zip(*(self.counts[b * _LAT_NB : (b + 1) * _LAT_NB] for b in range(b0, b1)))]
            lo, hi = min(self.lo[b0:b1]), max(self.hi[b0:b1])
            vals = []
            for p in (50.0, 95.0):
                rank = max(1, math.ceil(p / 100.0 * n))
                acc = 0
                for bucket, c in enumerate(row):
                    acc += c
                    if acc >= rank:
                        vals.append(min(max(_lat_value(bucket), lo), hi))
                        break
            p50.append(round(vals[0], 3))
            p95.append(round(vals[1], 3))
            mx.append(hi)
        return LatencySeries(self.name, self.kind, ns, p50, p95, mx, bin_s * k)


_COARSEN = (1, 2, 4, 5, 10, 20, 25, 50, 100)


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
    for c in _COARSEN:
        cf = {b // c for b in filled}
        span = last // c - first // c + 1
        k = c
        if len(cf) >= 0.9 * span or nb / c < 40:
            break
    if k == 1:
        return Lane(name, kind, ok, fail, info, bin_s)
    m = (nb + k - 1) // k
    return Lane(name, kind, *([sum(arr[i * k : (i + 1) * k]) for i in range(m)] for arr in (ok, fail, info)), bin_s * k)


_LANE_LABEL = {"writes": "ledger writes", "requests": "locust requests"}


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
        self.kind_of: dict[Any, tuple[str, str] | None] = {}  # process (str or bytes) -> (kind, lane)
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
        cls = self.kind_of.get(op.process, False)
        if cls is False:
            cls = self.kind_of[op.process] = self.classify(op.process)
        if cls is None:
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
        self.completion(kind, lane, op.process, op.time, op.type, op.f, lat, lambda op=op: op)

    def finish(self, outage_prefix: str) -> tuple[Timeline, list[Op]]:
        windows = fault_windows(self.nemesis)
        invokes = {}
        for op in self.nemesis:
            if op.type == "invoke" and op.f != "heal" and isinstance(op.value, dict):
                invokes[str(op.value.get("fault_id", f"@{op.index}"))] = op
        errors = {}
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
        order = {"probe": 0, "writes": 1, "requests": 2}
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


_TYPES = {b"ok": "ok", b"fail": "fail", b"info": "info"}


_HEAD = re.compile(
    rb'\{"index": -?\d+, "time": (-?[0-9][0-9.eE+-]*), "process": "([^"\\]*)", "type": "(invoke|ok|fail|info)", "f": "([^"\\]*)"'
)
_LAT = re.compile(rb'"latency_ms": (-?[0-9][0-9.eE+-]*)')
_TIME = re.compile(rb'"time": (-?[0-9][0-9.eE+-]*)')


def _parse_line(line: bytes, path: Path, lineno: int) -> Op:
    try:
        d = json.loads(line)
    except json.JSONDecodeError as exc:
        raise HistoryError(f"{path}:{lineno}: not JSON: {exc.msg}") from exc
    if not isinstance(d, dict):
        raise HistoryError(f"{path}:{lineno}: not a JSON object")
    for key in ("index", "time", "process", "type", "f"):
        if key not in d:
            raise HistoryError(f"{path}:{lineno}: missing field {key!r}")
    if d["type"] not in OP_TYPES:
        raise HistoryError(f"{path}:{lineno}: field 'type': {d['type']!r} is not one of {sorted(OP_TYPES)}")
    return Op.from_dict(d)


def _time_range(path: Path) -> tuple[float, float]:
    """First and last ``time`` of a history, from its first and last lines (no full read)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(65536)
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    first = [m for m in (_TIME.search(x) for x in head.splitlines() if x.strip()) if m][:1]
    last = [m for m in (_TIME.search(x) for x in tail.splitlines()[-50:] if x.strip()) if m]
    t0 = float(first[0].group(1)) if first else 0.0
    t1 = max((float(m.group(1)) for m in last), default=t0 + 1.0)
    return t0, t1


def aggregate_file(
    path: str | Path, *, probe_prefix: str = "vip-probe", keep_ledger: bool = True, workers: int | None = None
) -> tuple[Timeline, list[Op]]:
    """Timeline from a history.jsonl, reading it line by line (the fast path).

    Lines written by :class:`harness.history.HistoryRecorder` are recognised by their fixed
    key order and parsed with two regexes; any other line is parsed with ``json`` and checked
    like ``load_history`` does, so a hand-written history works too (only slower). Times
    outside the range of the first and last lines are clamped into the first/last bin.

    A history over :data:`PARALLEL_BYTES` is cut at line boundaries into one byte range per
    CPU (``workers``: default the CPUs this process may use, at most 4), scanned in worker
    processes and merged in file order: the scan is pure Python, one core per range is what
    makes a 24-hour soak's report affordable. The result is the same as one scan's.
    """
    p = Path(path)
    t0, t1 = _time_range(p)
    size = p.stat().st_size
    if workers is None:
        workers = min(4, len(os.sched_getaffinity(0))) if size >= PARALLEL_BYTES else 1
    ranges = _line_ranges(p, size, max(1, workers))
    args = (t0, t1, probe_prefix, keep_ledger)
    chunks: list[_Chunk] | None = None
    if len(ranges) > 1:
        try:
            ctx = multiprocessing.get_context("spawn")  # no fork: the caller may hold SSH threads
            with ProcessPoolExecutor(max_workers=len(ranges), mp_context=ctx) as pool:
                futures = [pool.submit(_scan_range, p, a, b, *args) for a, b in ranges]
                chunks = [f.result() for f in futures]
        except (HistoryError, OSError, BrokenProcessPool):
            chunks = None  # one scan below: its error names the exact line; no worker, no problem
    if chunks is None:
        chunks = [_scan_range(p, 0, size, *args)]
    return _merge(chunks, *args).finish(probe_prefix)


#: above this size a history is scanned by one process per CPU (see aggregate_file)
PARALLEL_BYTES = 256 * 1024 * 1024
#: the scanner reads this many bytes at a time and splits them into lines
_BLOCK_BYTES = 16 * 1024 * 1024


@dataclass
class _Chunk:
    """What one byte range of a history contributes to the timeline (picklable, merged in order).

    ``head_ok``: a probe's first result in the range, when it was ok (it ends an outage that a
    range before may have left open). ``tail_ok``: a probe's last ok after its last kept
    result (it starts an outage that begins in the next range). Extra ok results in time order
    change no outage window, so keeping both always is exact.
    """

    lanes: dict[str, list[list[int]]]
    lane_kind: dict[str, str]
    hists: dict[str, _LatHist]
    nemesis: list[Op]
    ledger_ops: list[Op]
    subset: list[Op]
    head_ok: dict[str, Op]
    tail_ok: dict[str, Op]
    probe_attempts: int
    probe_ok: int
    ops: int
    tmax: float


def _line_ranges(path: Path, size: int, n: int) -> list[tuple[int, int]]:
    """``n`` byte ranges of about equal size covering the file, each starting at a line start."""
    cuts = [0]
    with open(path, "rb") as fh:
        for k in range(1, n):
            fh.seek(size * k // n)
            fh.readline()
            pos = fh.tell()
            if cuts[-1] < pos < size:
                cuts.append(pos)
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a] or [(0, size)]


def _blocks(path: Path, start: int, end: int) -> Iterator[bytes]:
    """The bytes ``start`` to ``end`` in blocks of whole lines (the last may lack its newline)."""
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = end - start
        rest = b""
        while remaining > 0:
            data = fh.read(min(_BLOCK_BYTES, remaining))
            if not data:
                break
            remaining -= len(data)
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if remaining > 0 and cut < len(data):
                rest = data[cut:]
                data = data[:cut]
            else:
                rest = b""
            if data:
                yield data
        if rest:
            yield rest


def _scan_range(path: Path, start: int, end: int, t0: float, t1: float, probe_prefix: str, keep_ledger: bool) -> _Chunk:
    """Aggregate the lines from byte ``start`` to ``end`` (line starts). Line numbers in errors
    count from ``start``: aggregate_file rescans the whole file to name the exact line."""
    p = path
    agg = _Aggregator(t0, t1, probe_prefix, keep_ledger)
    kind_of: dict[bytes, tuple[str, str, str, Any] | None] = {}
    head = _HEAD.match
    lat_search = _LAT.search
    completion = agg.completion
    feed_op = agg.feed_op
    inv_tag = b'"type": "invoke", "f": '
    t0_, bin_s, last_bin = agg.t0, agg.bin_s, agg.nbins - 1
    hists = agg.hists
    in_run = agg.in_run
    pend: dict[str, tuple[bytes, int]] = {}  # probe process -> its latest ok line, parsed only if needed
    n_ok = 0

    def flush_pending() -> None:
        # hand the scanner's pending oks to the aggregator before it sees a result itself
        for proc_, (line_, lineno_) in pend.items():
            agg.pending_ok[proc_] = lambda line_=line_, lineno_=lineno_: _parse_line(line_, p, lineno_)
        pend.clear()

    floor, log2 = math.floor, math.log2
    n = 0
    lines_before = 0  # of this range, before the block
    for block in _blocks(p, start, end):
        lines = block.split(b"\n")
        if not lines[-1]:
            lines.pop()
        first_lineno = lines_before + 1
        lines_before += len(lines)
        for lineno, line in enumerate(lines, first_lineno):
            if inv_tag in line and b'"process": "nemesis' not in line and not (keep_ledger and b'"process": "ledger-' in line):
                n += 1  # an invocation the timeline does not need (probe, locust, state)
                continue
            m = head(line)
            if m is None:
                if not line.strip():
                    continue
                n += 1
                flush_pending()
                feed_op(_parse_line(line, p, lineno))
                agg.ops -= 1
                continue
            n += 1
            bproc = m.group(2)
            cls = kind_of.get(bproc, False)
            if cls is False:
                proc = bproc.decode("utf-8", "replace")
                c = agg.classify(proc)
                cls = kind_of[bproc] = (c[0], c[1], proc, None) if c else None
            if cls is None:
                continue
            kind = cls[0]
            typ = m.group(3)
            if kind == "nemesis" or kind == "ledger-read" or typ == b"invoke":
                if kind == "nemesis" or keep_ledger:
                    agg.feed_op(_parse_line(line, p, lineno))
                    agg.ops -= 1
                continue
            if kind == "probe" and typ == b"ok":
                # the hot path (99.9% of a soak's lines), inlined: bin, latency, outage bookkeeping
                proc = cls[2]
                t = float(m.group(1))
                b = int((t - t0_) / bin_s)
                if b < 0:
                    b = 0
                elif b >= last_bin:
                    b = last_bin
                lanes = cls[3]
                if lanes is None:  # this probe's first ok through the hot path
                    lanes = agg._lane("probe", cls[1])
                    kind_of[bproc] = cls = (cls[0], cls[1], cls[2], lanes)
                    if proc not in in_run and proc not in agg.head_ok:  # no failure before it here
                        agg.head_ok[proc] = lambda line=line, lineno=lineno: _parse_line(line, p, lineno)
                lanes[0][b] += 1
                n_ok += 1
                if t > agg.tmax:
                    agg.tmax = t
                lm = lat_search(line, m.end())
                if lm is not None:
                    ms = float(lm.group(1))
                    h = hists.get(cls[1])
                    if h is None:
                        h = hists[cls[1]] = _LatHist(cls[1], "probe", agg.nbins)
                    if ms > 0:
                        k = int(floor(log2(ms) * _LAT_PER_OCTAVE)) - _LAT_KMIN
                        k = 0 if k < 0 else (_LAT_NB - 1 if k >= _LAT_NB else k)
                    else:
                        k = 0
                    h.counts[b * _LAT_NB + k] += 1
                    h.n[b] += 1
                    if ms < h.lo[b]:
                        h.lo[b] = ms
                    if ms > h.hi[b]:
                        h.hi[b] = ms
                if in_run.get(proc):
                    agg.subset.append(_parse_line(line, p, lineno))
                    in_run[proc] = False
                else:
                    pend[proc] = (line, lineno)
                continue
            if pend:
                flush_pending()
            lat = None
            if typ == b"ok":
                lm = lat_search(line, m.end())
                if lm is not None:
                    lat = float(lm.group(1))
            completion(
                kind, cls[1], cls[2], float(m.group(1)), _TYPES[typ], m.group(4).decode(), lat,
                lambda line=line, lineno=lineno: _parse_line(line, p, lineno),
            )
    flush_pending()
    return _Chunk(
        agg.lanes, agg.lane_kind, agg.hists, agg.nemesis, agg.ledger_ops, agg.subset,
        {proc: make() for proc, make in agg.head_ok.items()},
        {proc: make() for proc, make in agg.pending_ok.items()},
        agg.probe_attempts + n_ok, agg.probe_ok + n_ok, n, agg.tmax,
    )


def _merge(chunks: Iterable[_Chunk], t0: float, t1: float, probe_prefix: str, keep_ledger: bool) -> _Aggregator:
    """One aggregator holding the chunks' sums, in file order (see :class:`_Chunk`)."""
    agg = _Aggregator(t0, t1, probe_prefix, keep_ledger)
    for c in chunks:
        rename: dict[str, str] = {}
        for name, counts in c.lanes.items():
            kind = c.lane_kind[name]
            probes = sum(1 for k in agg.lane_kind.values() if k == "probe")
            if kind == "probe" and name not in agg.lanes and probes >= MAX_PROBE_LANES:
                rename[name] = "other probes"  # as classify() does past MAX_PROBE_LANES
            for dst, src in zip(agg._lane(kind, rename.get(name, name)), counts):
                for b, v in enumerate(src):
                    if v:
                        dst[b] += v
        for name, h in c.hists.items():
            name = rename.get(name, name)
            mine = agg.hists.get(name)
            if mine is None:
                h.name = name
                agg.hists[name] = h
            else:
                mine.merge(h)
        agg.nemesis += c.nemesis
        agg.ledger_ops += c.ledger_ops
        agg.subset += [*c.head_ok.values(), *c.subset, *c.tail_ok.values()]
        agg.probe_attempts += c.probe_attempts
        agg.probe_ok += c.probe_ok
        agg.ops += c.ops
        agg.tmax = max(agg.tmax, c.tmax)
    return agg


# --------------------------------------------------------------------------- run directory


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc


def _slugify(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "test"


def _test_dirs(run_dir: Path, run: Mapping[str, Any]) -> list[Path]:
    """Test directories in run.json's order, then any other with a result or history."""
    found = sorted(
        d for d in run_dir.iterdir() if d.is_dir() and ((d / "result.json").is_file() or (d / "history.jsonl").is_file())
    )
    order: dict[str, int] = {}
    for i, test in enumerate(run.get("tests") or []):
        order[_slugify(str(test))] = i
    slugs: dict[Path, int] = {}
    for d in found:
        res = d / "result.json"
        rank = len(order) + len(slugs)
        if res.is_file():
            try:
                r = _read_json(res)
                test = r.get("test") if isinstance(r, dict) else None
                for key in (r.get("slug") if isinstance(r, dict) else None, test and _slugify(str(test))):
                    if key in order:
                        rank = order[key]
                        break
            except ReportError:
                pass
        slugs[d] = rank
    return sorted(found, key=lambda d: (slugs[d], d.name))


def _ledger_summary(checks: list[dict[str, Any]], ledger_ops: list[Op]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(ledger counts, a recomputed ledger check if result.json had none)."""
    for c in checks:
        if c.get("checker") == "ledger" and isinstance(c.get("counts"), dict) and c["counts"]:
            return c["counts"], None
    if not ledger_ops:
        return None, None
    res = ledger_checker(ledger_ops).to_dict()
    res["message"] = (res.get("message") or "") + " (recomputed from the history for the report)"
    return (res["counts"] or None), res


def load_test(test_dir: str | Path, *, probe_prefix: str = "vip-probe", fast_path_bytes: int = FAST_PATH_BYTES) -> TestModel:
    """One test directory (result.json and/or history.jsonl) as a TestModel."""
    d = Path(test_dir)
    r: dict[str, Any] = {}
    if (d / "result.json").is_file():
        loaded = _read_json(d / "result.json")
        if not isinstance(loaded, dict):
            raise ReportError(f"{d / 'result.json'}: not a JSON object")
        r = scrub_data(loaded)
    checks = [c for c in (r.get("checks") or []) if isinstance(c, dict)]
    has_ledger = any(c.get("checker") == "ledger" and c.get("counts") for c in checks)
    t = TestModel(
        slug=str(r.get("slug") or d.name),
        test=str(r.get("test") or d.name),
        title=str(r.get("title") or r.get("test") or d.name),
        outcome=str(r.get("outcome") or ("unknown" if r else "no result")),
        tier=r.get("tier"),
        fault_kind=r.get("fault_kind"),
        started=r.get("started"),
        duration_s=r.get("duration_s"),
        phases=[p for p in (r.get("phases") or []) if isinstance(p, dict)],
        checks=checks,
        slo=[s for s in (r.get("slo") or []) if isinstance(s, dict)],
        error=r.get("error"),
        soak=r.get("soak") if isinstance(r.get("soak"), dict) else None,
        negative_proof=r.get("negative_proof") is True,
    )
    hist = d / "history.jsonl"
    ledger_ops: list[Op] = []
    if hist.is_file() and hist.stat().st_size > 0:
        if hist.stat().st_size > fast_path_bytes:
            t.timeline, ledger_ops = aggregate_file(hist, probe_prefix=probe_prefix, keep_ledger=not has_ledger)
        else:
            t.timeline, ledger_ops = aggregate_ops(load_history(hist), probe_prefix=probe_prefix, keep_ledger=not has_ledger)
    elif not r:
        t.notes.append("no result.json and no history.jsonl")
    else:
        t.notes.append("no history.jsonl: timeline not available")
    t.ledger, recomputed = _ledger_summary(checks, ledger_ops)
    if recomputed is not None:
        t.checks.append(scrub_data(recomputed))
    return t


def load_run(run_dir: str | Path, *, probe_prefix: str = "vip-probe") -> RunModel:
    """A run directory (docs/run-dir.md) as a RunModel; a bare test directory works too."""
    root = Path(run_dir)
    if not root.is_dir():
        raise ReportError(f"{root}: not a run directory")
    run: dict[str, Any] = {}
    if (root / "run.json").is_file():
        loaded = _read_json(root / "run.json")
        if not isinstance(loaded, dict):
            raise ReportError(f"{root / 'run.json'}: not a JSON object")
        run = scrub_data(loaded)
    if (root / "history.jsonl").is_file() or (root / "result.json").is_file():
        dirs = [root]
    else:
        dirs = _test_dirs(root, run)
    if not dirs and not run:
        raise ReportError(f"{root}: no run.json and no test directory (with result.json or history.jsonl)")
    cluster = run.get("cluster") if isinstance(run.get("cluster"), dict) else {}
    model = RunModel(
        run_id=str(run.get("run_id") or root.name),
        started=run.get("started"),
        finished=run.get("finished"),
        seed=run.get("seed"),
        harness_version=run.get("harness_version"),
        markers=run.get("markers"),
        cluster=cluster or {},
        tests=[load_test(d, probe_prefix=probe_prefix) for d in dirs],
    )
    if any(t.soak for t in model.tests) and dirs != [root]:
        model.soak_trend = load_soak_trend(root.parent, current=root.name)
    return model


#: at most this many runs in the soak trend (the newest)
MAX_TREND_RUNS = 60


def _soak_point(run_dir: Path, current: str | None) -> TrendPoint | None:
    """The soak figures of one earlier run directory; None if it has none or cannot be read."""
    try:
        run = _read_json(run_dir / "run.json") if (run_dir / "run.json").is_file() else {}
        if not isinstance(run, dict):
            run = {}
        for res in sorted(run_dir.glob("*/result.json")):
            r = _read_json(res)
            soak = r.get("soak") if isinstance(r, dict) else None
            if not isinstance(soak, dict):
                continue
            pct, longest = soak.get("availability_percent"), soak.get("longest_outage_s")
            if not isinstance(pct, (int, float)) and not isinstance(longest, (int, float)):
                continue  # a soak that died before its figures: nothing to plot
            return TrendPoint(
                run_id=str(run.get("run_id") or run_dir.name), started=run.get("started"), seed=run.get("seed", soak.get("seed")),
                availability_percent=float(pct) if isinstance(pct, (int, float)) else None,
                longest_outage_s=float(longest) if isinstance(longest, (int, float)) else None,
                steps_run=soak.get("steps_run") if isinstance(soak.get("steps_run"), int) else None,
                audits_failed=soak.get("audits_failed") if isinstance(soak.get("audits_failed"), int) else None,
                current=run_dir.name == current,
            )
    except (ReportError, OSError):
        return None
    return None


def load_soak_trend(reports_dir: str | Path, *, current: str | None = None, limit: int = MAX_TREND_RUNS) -> list[TrendPoint]:
    """Availability and longest outage of every soak run under ``reports_dir`` (run ids sort
    by time: they start with the UTC time), oldest first, the newest ``limit``; run
    directories without soak results, or unreadable, are skipped."""
    root = Path(reports_dir)
    try:
        dirs = sorted(d for d in root.iterdir() if d.is_dir())
    except OSError:
        return []
    points: list[TrendPoint] = []
    for d in reversed(dirs):
        if len(points) >= limit:
            break
        p = _soak_point(d, current)
        if p is not None:
            points.append(p)
    return points[::-1]
