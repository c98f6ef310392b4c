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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..history import Op
from ._result import CheckResult, Validity

NAME = "availability"


def availability(
    ops: Iterable[Op],
    process_prefix: str = "vip-probe",
    max_outage_s: float | None = None,
    min_availability_percent: float | None = None,
    *,
    max_examples: int = 10,
) -> CheckResult:
    """Outages and availability of the probes whose process starts with ``process_prefix``.

    INVALID when the longest outage exceeds ``max_outage_s`` or availability is below
    ``min_availability_percent``; UNKNOWN when there is no probe completion at all. An outage
    still open at the end runs to the last attempt and is flagged ``open`` (its duration is
    then a lower bound).
    """
    try:
        return judge(follow_probes(ops, process_prefix), max_outage_s, min_availability_percent, max_examples=max_examples)
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


class _Probe:
    """One probe process, as the pass follows it."""

    __slots__ = ("attempts", "ok", "first_time", "last_time", "last_ok", "down_since", "first_error", "failed", "no_success_before")

    def __init__(self, t: float) -> None:
        self.attempts = 0
        self.ok = 0
        self.first_time = t
        self.last_time = t
        self.last_ok: float | None = None  # time of the latest success
        self.down_since: float | None = None  # start of the open outage, if one is open
        self.first_error: Any = None
        self.failed = 0
        self.no_success_before = False


@dataclass(frozen=True)
class ProbeTally:
    """One probe process's completions: how many, how many ``ok``, first and last time."""

    attempts: int
    ok: int
    first_time: float
    last_time: float


@dataclass(frozen=True)
class ProbeFacts:
    """What :func:`follow_probes` gathers: per probe process its tally, and every outage
    (closed ones in the order they closed, then the ones still open, by process)."""

    prefix: str
    probes: dict[str, ProbeTally]
    outages: list[Outage]


def follow_probes(ops: Iterable[Op], prefix: str = "vip-probe") -> ProbeFacts:
    """The availability pass: every completion of a ``prefix*`` process, one fold per process.
    ``fail`` and ``info`` both open (or extend) an outage; ``ok`` closes it."""
    is_probe: dict[str, bool] = {}
    per: dict[str, _Probe] = {}
    outages: list[Outage] = []
    for op in ops:
        typ = op.type
        if typ == "invoke":
            continue
        proc = op.process
        probe = is_probe.get(proc)
        if probe is None:
            probe = is_probe[proc] = proc.startswith(prefix)
        if not probe:
            continue
        t = op.time
        st = per.get(proc)
        if st is None:
            st = per[proc] = _Probe(t)
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
    for proc, st in per.items():
        if st.down_since is not None:
            outages.append(Outage(proc, st.down_since, st.last_time, st.first_error, st.failed, True, st.no_success_before))
    tallies = {proc: ProbeTally(st.attempts, st.ok, st.first_time, st.last_time) for proc, st in per.items()}
    return ProbeFacts(prefix, tallies, outages)


def _per_process(facts: ProbeFacts) -> dict[str, dict[str, Any]]:
    by_proc: dict[str, dict[str, Any]] = {}
    for proc, st in sorted(facts.probes.items()):
        mine = [o.duration_s for o in facts.outages if o.process == proc]
        by_proc[proc] = {
            "attempts": st.attempts,
            "ok": st.ok,
            "availability_percent": round(100.0 * st.ok / st.attempts, 4),
            "outages": len(mine),
            "longest_outage_s": round(max(mine, default=0.0), 6),
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


def judge(facts: ProbeFacts, max_outage_s: float | None = None, min_pct: float | None = None, *, max_examples: int = 10) -> CheckResult:
    """The availability verdict from ``facts`` alone (see :func:`availability`)."""
    attempts = sum(st.attempts for st in facts.probes.values())
    if attempts == 0:
        return CheckResult(NAME, Validity.UNKNOWN, {"attempts": 0}, message=f"no completed probe operations (process prefix {facts.prefix!r})")
    ok = sum(st.ok for st in facts.probes.values())
    pct = 100.0 * ok / attempts
    durations = [o.duration_s for o in facts.outages]
    longest = max(durations, default=0.0)
    # by time as well as by probe: a probe stuck in a connect timeout (a silent host) fails once
    # per timeout, not once per slot, so "% of probes served" flatters outages without resets
    observed = sum(st.last_time - st.first_time for st in facts.probes.values())
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
    }
    if len(facts.probes) > 1:
        counts["per_process"] = _per_process(facts)
    examples = {"outages": _outage_examples(facts.outages, max_examples)}
    violations = []
    if max_outage_s is not None and longest > max_outage_s:
        violations.append(f"longest outage {longest:.3f} s > max_outage_s {max_outage_s} s")
    if min_pct is not None and pct < min_pct:
        violations.append(f"availability {pct:.3f}% < minimum {min_pct}%")
    notes = list(violations) or [f"{pct:.3f}% served, {len(facts.outages)} outage(s), longest {longest:.3f} s"]
    if counts["open_outage"]:
        notes.append("an outage was still open at the end of the history (duration is a lower bound)")
    valid = Validity.INVALID if violations else Validity.VALID
    return CheckResult(NAME, valid, counts, examples, "; ".join(notes))
