"""VIP continuity: outage windows and the share of probes served.

An outage runs from the last success before a run of failures to the first success after it,
measured on completion times (a run of failures with no success before it starts at its
first failure; one with no success after it ends at the last attempt: docs/checkers.md). ``fail`` and ``info`` both count as
"not served": a probe that timed out did not serve its user. Each probe process (one per
VIP: ``vip-probe-web``, ``vip-probe-db``) is followed separately, so successes on one VIP
cannot hide an outage of another.

A fold and then a judgement: :func:`follow_probes` streams the history once into
:class:`ProbeFacts` (each probe process's tallies and its outages); :func:`judge` computes the
figures and the verdict from those facts alone.

Thin evidence fails closed (docs/checkers.md): a span in which a probe process sent nothing,
from one attempt's completion to its next invoke, longer than ``max_probe_gap_s`` plus the
probe's usual spacing, is **unobserved** time (the prober stalled: nothing says the VIP
served), and a completion without its invocation means a damaged history. Either makes the
verdict UNKNOWN unless it is already INVALID.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..history import Op
from ._orphans import Orphans
from ._result import CheckResult, Validity

NAME = "availability"
#: default bound on a probe's idle span beyond its usual spacing, in seconds: the largest idle
#: span measured in acceptance runs on the loaded 2-core machine, with a wide margin (docs/checkers.md)
DEFAULT_MAX_PROBE_GAP_S = 1.0
#: resolution of the spacing histogram: 32 buckets an octave (about 2 %)
_SPACING_BUCKETS_PER_OCTAVE = 32


def availability(
    ops: Iterable[Op],
    process_prefix: str = "vip-probe",
    max_outage_s: float | None = None,
    min_availability_percent: float | None = None,
    *,
    max_probe_gap_s: float = DEFAULT_MAX_PROBE_GAP_S,
    max_examples: int = 10,
) -> CheckResult:
    """Outages and availability of the probes whose process starts with ``process_prefix``.

    INVALID when the longest outage exceeds ``max_outage_s`` or availability is below
    ``min_availability_percent``; UNKNOWN when there is no probe completion at all, or
    (unless INVALID) when a probe was idle longer than ``max_probe_gap_s`` beyond its usual
    spacing (unobserved time) or a completion has no invocation. An outage still open at the
    end runs to the last attempt and is flagged ``open`` (its duration is then a lower bound).
    """
    try:
        facts = follow_probes(ops, process_prefix, max_probe_gap_s=max_probe_gap_s)
        return judge(facts, max_outage_s, min_availability_percent, max_examples=max_examples)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(NAME, Validity.UNKNOWN, message=f"bad data in history: {type(exc).__name__}: {exc}")


class Outage(NamedTuple):
    """One outage of one probe process, times on the history's clock."""

    process: str
    start: float  # the last success before the failures (the first failure if none)
    end: float  # the first success after them (the last attempt if none: ``open``)
    first_error: Any
    failed: int  # failed attempts in the run
    open: bool  # still open at the end of the history (a lower bound)
    no_success_before: bool

    @property
    def duration_s(self) -> float:
        return self.end - self.start


class Gap(NamedTuple):
    """An idle span of one probe process: from an attempt's completion (its invoke, if it
    never completed) to the next attempt's invoke."""

    process: str
    start: float
    end: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start


class _Probe:
    """One probe process, as the pass follows it."""

    __slots__ = ("attempts", "ok", "first_time", "last_time", "last_ok", "down_since", "first_error", "failed",
                 "no_success_before", "open", "last_end", "last_invoke", "spacing")

    def __init__(self) -> None:
        self.attempts = 0
        self.ok = 0
        self.first_time = 0.0  # of the first completion (attempts > 0)
        self.last_time = 0.0
        self.last_ok: float | None = None  # time of the latest success
        self.down_since: float | None = None  # start of the open outage, if one is open
        self.first_error: Any = None
        self.failed = 0
        self.no_success_before = False
        self.open = False  # an invocation awaits its completion
        self.last_end: float | None = None  # when the previous attempt ended (completion, else invoke)
        self.last_invoke: float | None = None
        self.spacing: dict[int, int] = {}  # invoke-to-invoke spacing histogram (see _bucket)


#: spacing histogram: 0.1 ms buckets below 1 s, then 32 an octave (about 2 %)
_LINEAR_BUCKETS = 10_000


def _bucket(spacing: float) -> int:
    """The spacing histogram's bucket of ``spacing`` seconds: a multiply for the usual probe
    spacings (under a second), a logarithm only above."""
    if spacing < 1.0:
        return int(spacing * _LINEAR_BUCKETS)
    return _LINEAR_BUCKETS + round(math.log2(spacing) * _SPACING_BUCKETS_PER_OCTAVE)


def _bucket_value(b: int) -> float:
    if b < _LINEAR_BUCKETS:
        return max(0.0, (b + 0.5) / _LINEAR_BUCKETS)
    return 2.0 ** ((b - _LINEAR_BUCKETS) / _SPACING_BUCKETS_PER_OCTAVE)


def _median_spacing(hist: dict[int, int]) -> float | None:
    """The median invoke-to-invoke spacing from its histogram (None without two invokes):
    the probe's interval, inferred because the history does not record the rate. A median,
    so the stalls and catch-ups being looked for do not move it."""
    total = sum(hist.values())
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if 2 * seen >= total:
            return _bucket_value(b)
    return None


@dataclass(frozen=True)
class ProbeTally:
    """One probe process's completions: how many, how many ``ok``, first and last time, and
    its usual spacing (median invoke to invoke, inferred; None with fewer than two invokes)."""

    attempts: int
    ok: int
    first_time: float
    last_time: float
    interval_s: float | None = None


@dataclass(frozen=True)
class ProbeFacts:
    """What :func:`follow_probes` gathers: per probe process its tally, every outage (closed
    ones in the order they closed, then the ones still open, by process), the idle spans
    longer than ``max_gap_s`` (candidates: :func:`unobserved` keeps those past the probe's
    spacing too) and the completions without an invocation."""

    prefix: str
    probes: dict[str, ProbeTally]
    outages: list[Outage]
    max_gap_s: float = DEFAULT_MAX_PROBE_GAP_S
    idle: list[Gap] = field(default_factory=list)
    orphans: Orphans = field(default_factory=Orphans)


def unobserved(facts: ProbeFacts) -> list[Gap]:
    """The idle spans longer than ``max_gap_s`` plus their probe's usual spacing: time in
    which nothing was observed (a probe idles up to one spacing between attempts normally)."""
    out = []
    for g in facts.idle:
        tally = facts.probes.get(g.process)
        interval = tally.interval_s if tally is not None and tally.interval_s is not None else 0.0
        interval = max(0.0, interval)
        if g.duration_s > facts.max_gap_s + interval:
            out.append(g)
    return out


def follow_probes(ops: Iterable[Op], prefix: str = "vip-probe", *, max_probe_gap_s: float = DEFAULT_MAX_PROBE_GAP_S) -> ProbeFacts:
    """The availability pass: every op of a ``prefix*`` process, one fold per process.
    ``fail`` and ``info`` both open (or extend) an outage; ``ok`` closes it. Invocations give
    the idle spans (longer than ``max_probe_gap_s`` kept) and the spacing; a completion with
    no open invocation is an orphan (still counted as an attempt)."""
    if not (isinstance(max_probe_gap_s, (int, float)) and math.isfinite(max_probe_gap_s) and max_probe_gap_s >= 0):
        raise ValueError(f"max_probe_gap_s must be a finite number >= 0, not {max_probe_gap_s!r}")
    is_probe: dict[str, bool] = {}
    per: dict[str, _Probe] = {}
    outages: list[Outage] = []
    idle: list[Gap] = []
    orphans = Orphans()
    completed: dict[str, _Probe] = {}  # in the order of their first completion
    bucket = _bucket
    for op in ops:
        typ = op.type
        proc = op.process
        probe = is_probe.get(proc)
        if probe is None:
            probe = is_probe[proc] = proc.startswith(prefix)
        if not probe:
            continue
        t = op.time
        st = per.get(proc)
        if st is None:
            st = per[proc] = _Probe()
        if typ == "invoke":
            if st.open:
                st.last_end = st.last_invoke  # the previous attempt never completed
            last_end = st.last_end
            if last_end is not None and t - last_end > max_probe_gap_s:
                idle.append(Gap(proc, last_end, t))
            last_inv = st.last_invoke
            if last_inv is not None:
                b = bucket(t - last_inv)
                spacing = st.spacing
                spacing[b] = spacing.get(b, 0) + 1
            st.last_invoke = t
            st.open = True
            continue
        if st.open:
            st.open = False
        else:
            orphans.add(op)
        if not st.attempts:
            st.first_time = t
            completed[proc] = st
        st.last_end = t
        st.attempts += 1
        st.last_time = t
        if typ == "ok":
            st.ok += 1
            if st.down_since is not None:
                outages.append(Outage(proc, st.down_since, t, st.first_error, st.failed, False, st.no_success_before))
                st.down_since = None
            st.last_ok = t
        else:
            if st.down_since is None:
                last_ok = st.last_ok
                st.down_since = t if last_ok is None else last_ok
                st.no_success_before = last_ok is None
                err = op.extra.get("error")
                st.first_error = err if err is not None else (f"{typ}: {op.value}" if op.value is not None else typ)
                st.failed = 0
            st.failed += 1
    for proc, st in completed.items():
        if st.down_since is not None:
            outages.append(Outage(proc, st.down_since, st.last_time, st.first_error, st.failed, True, st.no_success_before))
    tallies = {
        proc: ProbeTally(st.attempts, st.ok, st.first_time, st.last_time, _median_spacing(st.spacing))
        for proc, st in completed.items()
    }
    return ProbeFacts(prefix, tallies, outages, max_probe_gap_s, idle, orphans)


def _per_process(facts: ProbeFacts, gaps: list[Gap]) -> dict[str, dict[str, Any]]:
    by_proc: dict[str, dict[str, Any]] = {}
    for proc, st in sorted(facts.probes.items()):
        mine = [o.duration_s for o in facts.outages if o.process == proc]
        by_proc[proc] = {
            "attempts": st.attempts,
            "ok": st.ok,
            "availability_percent": round(100.0 * st.ok / st.attempts, 4),
            "outages": len(mine),
            "longest_outage_s": round(max(mine, default=0.0), 6),
            "probe_interval_s": None if st.interval_s is None else round(st.interval_s, 6),
            "unobserved_windows": sum(1 for g in gaps if g.process == proc),
        }
    return by_proc


def _outage_examples(outages: list[Outage], max_examples: int) -> list[dict[str, Any]]:
    """The longest ``max_examples`` outages, in time order."""
    worst = sorted(outages, key=lambda o: o.duration_s, reverse=True)[:max_examples]
    worst.sort(key=lambda o: o.start)
    return [
        {
            "process": o.process,
            "start": o.start,
            "end": o.end,
            "duration_s": round(o.duration_s, 6),
            "failed": o.failed,
            "first_error": o.first_error,
            "open": o.open,
            "no_success_before": o.no_success_before,
        }
        for o in worst
    ]


def _gap_examples(gaps: list[Gap], max_examples: int) -> list[dict[str, Any]]:
    """The longest ``max_examples`` unobserved spans, in time order."""
    worst = sorted(gaps, key=lambda g: g.duration_s, reverse=True)[:max_examples]
    worst.sort(key=lambda g: (g.start, g.process))
    return [{"process": g.process, "start": g.start, "end": g.end, "duration_s": round(g.duration_s, 6)} for g in worst]


def judge(facts: ProbeFacts, max_outage_s: float | None = None, min_pct: float | None = None, *, max_examples: int = 10) -> CheckResult:
    """The availability verdict from ``facts`` alone (see :func:`availability`)."""
    attempts = sum(st.attempts for st in facts.probes.values())
    if attempts == 0:
        return CheckResult(NAME, Validity.UNKNOWN, {"attempts": 0}, message=f"no completed probe operations (process prefix {facts.prefix!r})")
    ok = sum(st.ok for st in facts.probes.values())
    pct = 100.0 * ok / attempts
    durations = [o.duration_s for o in facts.outages]
    longest = max(durations, default=0.0)
    gaps = unobserved(facts)
    unobserved_s = sum(g.duration_s for g in gaps)
    # by time as well as by probe: a probe stuck in a connect timeout (a silent host) fails once
    # per timeout, not once per slot, so "% of probes served" flatters outages without resets
    observed = sum(st.last_time - st.first_time for st in facts.probes.values()) - unobserved_s
    downtime = sum(durations)
    counts: dict[str, Any] = {
        "attempts": attempts,
        "ok": ok,
        "failed": attempts - ok,
        "availability_percent": round(pct, 4),
        "outages": len(facts.outages),
        "longest_outage_s": round(longest, 6),
        "open_outage": any(o.open for o in facts.outages),
        "downtime_s": round(downtime, 6),
        "observed_s": round(observed, 6),
        "time_availability_percent": round(100.0 * (1 - downtime / observed), 4) if observed > 0 else None,
        "unobserved_windows": len(gaps),
        "unobserved_s": round(unobserved_s, 6),
        "max_probe_gap_s": facts.max_gap_s,
        "orphan_completions": facts.orphans.count,
    }
    if len(facts.probes) == 1:
        (only,) = facts.probes.values()
        counts["probe_interval_s"] = None if only.interval_s is None else round(only.interval_s, 6)
    if len(facts.probes) > 1:
        counts["per_process"] = _per_process(facts, gaps)
    examples: dict[str, list[Any]] = {"outages": _outage_examples(facts.outages, max_examples)}
    if gaps:
        examples["unobserved"] = _gap_examples(gaps, max_examples)
    if facts.orphans.count:
        examples["orphan_completions"] = list(facts.orphans.examples)
    violations = []
    if max_outage_s is not None and longest > max_outage_s:
        violations.append(f"longest outage {longest:.3f} s > max_outage_s {max_outage_s} s")
    if min_pct is not None and pct < min_pct:
        violations.append(f"availability {pct:.3f}% < minimum {min_pct}%")
    notes = list(violations) or [f"{pct:.3f}% served, {len(facts.outages)} outage(s), longest {longest:.3f} s"]
    if counts["open_outage"]:
        notes.append("an outage was still open at the end of the history (duration is a lower bound)")
    doubts = []
    if gaps:
        worst = max(gaps, key=lambda g: g.duration_s)
        doubts.append(
            f"{len(gaps)} unobserved window(s), {unobserved_s:.3f} s in all (longest {worst.duration_s:.3f} s on {worst.process} "
            f"from {worst.start:.3f}): no probe sent for over max_probe_gap_s {facts.max_gap_s} s beyond its spacing"
        )
    if facts.orphans.count:
        doubts.append(facts.orphans.note())
    notes += doubts
    valid = Validity.INVALID if violations else Validity.UNKNOWN if doubts else Validity.VALID
    return CheckResult(NAME, valid, counts, examples, "; ".join(notes))
