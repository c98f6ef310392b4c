"""VIP continuity: outage windows and the share of probes served.

An outage runs from the last success before a run of failures to the first success after it
(DESIGN.md's definition), measured on completion times. ``fail`` and ``info`` both count as
"not served": a probe that timed out did not serve its user. Each probe process (one per
VIP: ``vip-probe-web``, ``vip-probe-db``) is followed separately, so successes on one VIP
cannot hide an outage of another.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
        return _availability(ops, process_prefix, max_outage_s, min_availability_percent, max_examples)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(NAME, Validity.UNKNOWN, message=f"bad data in history: {type(exc).__name__}: {exc}")


def _availability(
    ops: Iterable[Op],
    prefix: str,
    max_outage_s: float | None,
    min_pct: float | None,
    max_examples: int,
) -> CheckResult:
    is_probe: dict[str, bool] = {}
    # per process: [last_ok_time, outage_start, first_error, failed_in_run, attempts, ok, last_time, open_start,
    #               first_time]
    per: dict[str, list[Any]] = {}
    outages: list[tuple[str, float, float, Any, int, bool, bool]] = []
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
        st = per.get(proc)
        if st is None:
            st = per[proc] = [None, None, None, 0, 0, 0, None, False, op.time]
        t = op.time
        st[4] += 1
        st[6] = t
        if typ == "ok":
            st[5] += 1
            if st[1] is not None:
                outages.append((proc, st[1], t, st[2], st[3], False, st[7]))
                st[1] = None
            st[0] = t
        else:
            if st[1] is None:
                last_ok = st[0]
                st[1] = t if last_ok is None else last_ok
                st[7] = last_ok is None
                err = op.extra.get("error")
                st[2] = err if err is not None else (f"{typ}: {op.value}" if op.value is not None else typ)
                st[3] = 0
            st[3] += 1
    for proc, st in per.items():
        if st[1] is not None:
            outages.append((proc, st[1], st[6], st[2], st[3], True, st[7]))

    attempts = sum(st[4] for st in per.values())
    if attempts == 0:
        return CheckResult(NAME, Validity.UNKNOWN, {"attempts": 0}, message=f"no completed probe operations (process prefix {prefix!r})")
    ok = sum(st[5] for st in per.values())
    pct = 100.0 * ok / attempts
    durations = [end - start for _, start, end, *_ in outages]
    longest = max(durations, default=0.0)
    # by time as well as by probe: a probe stuck in a connect timeout (a silent host) fails once
    # per timeout, not once per slot, so "% of probes served" flatters outages without resets
    observed = sum(st[6] - st[8] for st in per.values())
    downtime = sum(durations)
    counts: dict[str, Any] = {
        "attempts": attempts,
        "ok": ok,
        "failed": attempts - ok,
        "availability_percent": round(pct, 4),
        "outages": len(outages),
        "longest_outage_s": round(longest, 6),
        "open_outage": any(o[5] for o in outages),
        "downtime_s": round(downtime, 6),
        "observed_s": round(observed, 6),
        "time_availability_percent": round(100.0 * (1 - downtime / observed), 4) if observed > 0 else None,
    }
    if len(per) > 1:
        by_proc: dict[str, dict[str, Any]] = {}
        for proc, st in sorted(per.items()):
            mine = [o[2] - o[1] for o in outages if o[0] == proc]
            by_proc[proc] = {
                "attempts": st[4],
                "ok": st[5],
                "availability_percent": round(100.0 * st[5] / st[4], 4),
                "outages": len(mine),
                "longest_outage_s": round(max(mine, default=0.0), 6),
            }
        counts["per_process"] = by_proc
    worst = sorted(outages, key=lambda o: o[2] - o[1], reverse=True)[:max_examples]
    worst.sort(key=lambda o: o[1])
    examples = {
        "outages": [
            {
                "process": proc,
                "start": start,
                "end": end,
                "duration_s": round(end - start, 6),
                "failed": failed,
                "first_error": err,
                "open": is_open,
                "no_success_before": no_before,
            }
            for proc, start, end, err, failed, is_open, no_before in worst
        ]
    }
    violations = []
    if max_outage_s is not None and longest > max_outage_s:
        violations.append(f"longest outage {longest:.3f} s > max_outage_s {max_outage_s} s")
    if min_pct is not None and pct < min_pct:
        violations.append(f"availability {pct:.3f}% < minimum {min_pct}%")
    notes = list(violations) or [f"{pct:.3f}% served, {len(outages)} outage(s), longest {longest:.3f} s"]
    if counts["open_outage"]:
        notes.append("an outage was still open at the end of the history (duration is a lower bound)")
    valid = Validity.INVALID if violations else Validity.VALID
    return CheckResult(NAME, valid, counts, examples, "; ".join(notes))
