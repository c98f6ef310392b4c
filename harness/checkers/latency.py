"""Latency SLOs: exact percentiles of raw ``latency_ms`` samples, per phase and request type.

Percentiles use the **nearest-rank** method on the sorted raw samples: pXX is the smallest
sample such that at least XX% of samples are <= it (rank ``ceil(XX/100 * n)``, 1-based). No
interpolation and no histogram buckets: the reported value is a latency that was measured.
Only ``ok`` completions count (a failed request's latency says nothing about service time),
and a sample belongs to the phase of its completion time (a request slowed by a fault that
started mid-flight counts as a fault-phase request).

A fold and then a judgement: :func:`gather_samples` streams the history once into
:class:`LatencySamples` (the raw samples grouped by phase and request type);
:func:`judge` computes the percentiles and checks the bounds on those samples alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..history import Op
from ._orphans import fail_closed
from ._result import CheckResult, Validity
from .phases import PHASE_NAMES, Phases, scan_faults

NAME = "latency"
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 95.0, 99.0)


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (0 < p <= 100) of already sorted values."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("percentile of no samples")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    rank = math.ceil(p / 100.0 * n)
    return sorted_values[max(rank, 1) - 1]


def _pkey(name: str) -> float:
    """``"p95"`` -> 95.0, ``"p99.9"`` -> 99.9."""
    if not name.startswith("p"):
        raise ValueError(f"bound name {name!r} is not like 'p95'")
    return float(name[1:])


def _summary(values: list[float], percentiles: Iterable[float]) -> dict[str, Any]:
    values.sort()
    out: dict[str, Any] = {"n": len(values), "max": values[-1]}
    for p in percentiles:
        out[f"p{p:g}"] = nearest_rank(values, p)
    return out


def latency(
    ops: Iterable[Op],
    bounds: Mapping[str, Mapping[str, float | None]] | None = None,
    recovery_s: float = 60.0,
    *,
    process_prefix: str | None = None,
    request_types: Iterable[str] | None = None,
    percentiles: Iterable[float] = DEFAULT_PERCENTILES,
    warm_up_prefix: str | None = "locust-",
) -> CheckResult:
    """Per-phase (and per phase and ``f``) percentiles; INVALID when a phase's bound is exceeded.

    ``bounds`` = ``{"steady": {"p95": 300, "p99": 800}, "fault": {...}, "recovery": {...}}``
    (milliseconds) applies to all selected samples of that phase. ``process_prefix`` and
    ``request_types`` (values of ``f``) select which operations count; by default every ok
    completion that carries a numeric ``latency_ms``. ``recovery_s`` sets the phase rules
    (see phases.py). ``warm_up_prefix`` names the load generator's processes: their requests
    begun before :func:`warm_up_end` are left out of the steady phase (None: nothing is left
    out). UNKNOWN when there is no sample.
    """
    try:
        _check_bounds(bounds or {})
        ops = ops if isinstance(ops, Sequence) else list(ops)
        windows, orphans = scan_faults(ops)
        warm_up = None
        if warm_up_prefix is not None:
            end = warm_up_end(ops, process_prefix=warm_up_prefix)
            warm_up = None if end is None else WarmUp(warm_up_prefix, end)
        samples = gather_samples(ops, Phases(windows, recovery_s).classifier(), process_prefix, request_types,
                                 warm_up=warm_up)
        return fail_closed(judge(samples, bounds or {}, tuple(percentiles)), orphans, "phases unsure: nemesis ")
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(NAME, Validity.UNKNOWN, message=f"bad data: {type(exc).__name__}: {exc}")


def _check_bounds(bounds: Mapping[str, Mapping[str, float | None]]) -> None:
    """ValueError for an unknown phase or a bound name not like ``p95``."""
    for phase, b in bounds.items():
        if phase not in PHASE_NAMES:
            raise ValueError(f"bounds: unknown phase {phase!r} (known: {', '.join(PHASE_NAMES)})")
        for pname in b:
            _pkey(pname)


@dataclass(frozen=True)
class WarmUp:
    """The load's warm-up: requests of processes named ``prefix...`` begun before ``end``
    (history time) are its start, not the cluster's steady state."""

    prefix: str
    end: float


@dataclass(frozen=True)
class LatencySamples:
    """What :func:`gather_samples` gathers: raw ``latency_ms`` values by (phase, ``f``), in
    history order, how many selected samples were not numbers, and how many steady-phase
    samples of the warm-up were left out."""

    groups: dict[tuple[str, str], list[float]]
    bad: int = 0
    warm_up: WarmUp | None = None
    warm_up_left_out: int = 0

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.groups.values())


def gather_samples(
    ops: Iterable[Op],
    phase_at: Callable[[float], str],
    prefix: str | None = None,
    request_types: Iterable[str] | None = None,
    *,
    warm_up: WarmUp | None = None,
) -> LatencySamples:
    """The latency pass: the ``latency_ms`` of every ``ok`` completion by a process starting
    with ``prefix`` (any, if None) whose ``f`` is in ``request_types`` (any, if None), under
    the phase ``phase_at`` gives its completion time; a steady-phase sample of ``warm_up``'s
    processes begun (``t_start``, else its time) before its end is left out and counted."""
    wanted = set(request_types) if request_types is not None else None
    groups: dict[tuple[str, str], list[float]] = {}
    selected: dict[str, bool] = {}
    bad = 0
    left_out = 0
    for op in ops:
        if op.type != "ok":
            continue
        extra = op.extra
        if not extra:
            continue
        lat = extra.get("latency_ms")
        if lat is None:
            continue
        proc = op.process
        sel = selected.get(proc)
        if sel is None:
            sel = selected[proc] = prefix is None or proc.startswith(prefix)
        if not sel or (wanted is not None and op.f not in wanted):
            continue
        if lat.__class__ is not float and lat.__class__ is not int:
            bad += 1  # bool, str, ...: not a measured latency
            continue
        phase = phase_at(op.time)
        if (warm_up is not None and phase == "steady" and proc.startswith(warm_up.prefix)
                and extra.get("t_start", op.time) < warm_up.end):
            left_out += 1
            continue
        key = (phase, op.f)
        g = groups.get(key)
        if g is None:
            groups[key] = [lat]
        else:
            g.append(lat)
    return LatencySamples(groups, bad, warm_up, left_out)


def _violations(
    bounds: Mapping[str, Mapping[str, float | None]], per_phase: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The bounds a phase's percentile exceeds, and the bounds of phases with no sample."""
    violations: list[dict[str, Any]] = []
    unchecked: list[str] = []
    for phase, b in bounds.items():
        summary = per_phase.get(phase)
        for pname, bound in b.items():
            if bound is None:
                continue
            if summary is None:
                unchecked.append(f"{phase}.{pname}")
                continue
            measured = summary[f"p{_pkey(pname):g}"]
            if measured > bound:
                violations.append({"phase": phase, "percentile": pname, "measured_ms": measured, "bound_ms": bound, "n": summary["n"]})
    return violations, unchecked


def judge(
    samples: LatencySamples,
    bounds: Mapping[str, Mapping[str, float | None]] | None = None,
    percentiles: Iterable[float] = DEFAULT_PERCENTILES,
) -> CheckResult:
    """The latency verdict from ``samples`` alone: percentiles per phase and per phase and
    ``f``; INVALID when one exceeds its bound. Sorts the sample lists in place."""
    bounds = bounds or {}
    total, bad = samples.total, samples.bad
    if total == 0:
        return CheckResult(NAME, Validity.UNKNOWN, {"samples": 0, "bad_samples": bad}, message="no latency samples of ok completions")
    wanted_ps = sorted(set(percentiles) | {_pkey(p) for b in bounds.values() for p in b})
    per_phase_f: dict[str, dict[str, Any]] = {}
    per_phase_values: dict[str, list[float]] = {}
    for (phase, f), values in samples.groups.items():
        per_phase_values.setdefault(phase, []).extend(values)
        per_phase_f.setdefault(phase, {})[f] = _summary(values, wanted_ps)
    per_phase = {phase: _summary(values, wanted_ps) for phase, values in per_phase_values.items()}
    violations, unchecked = _violations(bounds, per_phase)
    counts: dict[str, Any] = {
        "samples": total,
        "bad_samples": bad,
        "phases": {p: per_phase[p] for p in PHASE_NAMES if p in per_phase},
        "per_phase_f": {p: per_phase_f[p] for p in PHASE_NAMES if p in per_phase_f},
        "unchecked_bounds": unchecked,
    }
    if samples.warm_up is not None:
        counts["warm_up"] = {"end": samples.warm_up.end, "left_out": samples.warm_up_left_out}
    examples = {"violations": violations} if violations else {}
    if violations:
        msg = "; ".join(f"{v['phase']} {v['percentile']} = {v['measured_ms']:g} ms > bound {v['bound_ms']:g} ms (n={v['n']})" for v in violations)
        return CheckResult(NAME, Validity.INVALID, counts, examples, msg)
    msg = f"{total} samples within bounds"
    if samples.warm_up_left_out:
        msg += f" ({samples.warm_up_left_out} of the load's warm-up left out)"
    if unchecked:
        msg += f"; no samples to check {', '.join(unchecked)}"
    if bad:
        msg += f"; {bad} non-numeric latency_ms ignored"
    return CheckResult(NAME, Validity.VALID, counts, examples, msg)


def warm_up_end(ops: Iterable[Op], *, process_prefix: str = "locust-", login_f: str = "login") -> float | None:
    """When the load's warm-up ended: every simulated user past its first login (pure).

    The load starts every user at once, so their first logins (bcrypt) run side by side on
    whatever cores the lab has: 190-390 ms each here, 611 ms in CI once, against 20-40 ms for
    a login later on. That burst is the load generator's start, not the cluster's steady state.
    Returns the latest, over the users, of each one's first ``ok`` completion of another request
    type; None if some user never got that far (nothing to leave out then: judge everything).
    """
    first: dict[str, float | None] = {}
    for op in ops:
        if not op.process.startswith(process_prefix) or op.type == "invoke":
            continue
        first.setdefault(op.process, None)
        if first[op.process] is None and op.type == "ok" and op.f != login_f:
            first[op.process] = op.time
    if not first or any(t is None for t in first.values()):
        return None
    return max(t for t in first.values() if t is not None)
