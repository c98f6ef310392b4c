"""Split brain: two directors MASTER for one VRRP instance, or one VIP held by two hosts.

Read from the ``state``/``sample`` ops (docs/history.md): ``vrrp`` gives each host's state
per instance, ``vip_holders`` the hosts that carry each VIP. During a network partition
between the directors a split brain is VRRP doing its job (each side sees no master), so by
default it is tolerated inside fault windows and for ``settle_s`` after each heal; anywhere
else, and in particular after the last heal has settled, it is INVALID: that is the
acceptance suite's "no split brain after heal".

A fold and then a judgement: :func:`gather_splits` streams the state samples once into
:class:`SplitBrainFacts` (every sample that shows a split, with its time); :func:`judge`
decides from those facts and the fault windows which splits were tolerated.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history import Op
from ._orphans import fail_closed
from ._result import CheckResult, Validity
from .phases import FaultWindow, scan_faults

NAME = "split_brain"


def split_brain_in(state: Any) -> list[dict[str, Any]]:
    """The split brains in one state sample value: ``[{"kind": "vrrp"|"vip", "name", "hosts"}]``."""
    found: list[dict[str, Any]] = []
    if not isinstance(state, dict):
        return found
    vrrp = state.get("vrrp")
    if isinstance(vrrp, dict):
        masters: dict[str, list[str]] = {}
        for host, instances in vrrp.items():
            if not isinstance(instances, dict):
                raise ValueError(f"state sample: vrrp.{host} is {type(instances).__name__}, not a mapping")
            for inst, st in instances.items():
                if st == "MASTER":
                    masters.setdefault(inst, []).append(host)
        for inst, hosts in masters.items():
            if len(hosts) > 1:
                found.append({"kind": "vrrp", "name": inst, "hosts": sorted(hosts)})
    holders = state.get("vip_holders")
    if isinstance(holders, dict):
        for vip, hosts in holders.items():
            if not isinstance(hosts, list):
                raise ValueError(f"state sample: vip_holders.{vip} is {type(hosts).__name__}, not a list")
            if len(set(hosts)) > 1:
                found.append({"kind": "vip", "name": vip, "hosts": sorted(set(hosts))})
    return found


def split_brain(
    ops: Iterable[Op],
    *,
    allow_during_faults: bool = True,
    settle_s: float = 3.0,
    process: str = "state",
    max_examples: int = 10,
) -> CheckResult:
    """Count samples with split brain; INVALID if one is seen outside the tolerated windows.

    ``allow_during_faults`` False makes any split brain INVALID. ``persisted_after_last_heal``
    is True when a sample taken ``settle_s`` or more after the last heal still shows one.
    UNKNOWN when no sample carried ``vrrp`` or ``vip_holders``.
    """
    try:
        windows, orphans = scan_faults(ops)
        result = judge(gather_splits(ops, process), windows, allow_during_faults=allow_during_faults, settle_s=settle_s, max_examples=max_examples)
        return fail_closed(result, orphans, "fault windows unsure: nemesis ")
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(NAME, Validity.UNKNOWN, message=f"bad data: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class SplitSample:
    """One state sample that shows at least one split brain."""

    time: float
    index: int
    split: list[dict[str, Any]]  # as :func:`split_brain_in` returns


@dataclass(frozen=True)
class SplitBrainFacts:
    """What :func:`gather_splits` gathers from the ``process`` samples."""

    process: str = "state"
    samples: int = 0  # ok samples
    informative: int = 0  # of those, the ones carrying ``vrrp`` or ``vip_holders``
    splits: list[SplitSample] = field(default_factory=list)


def gather_splits(ops: Iterable[Op], process: str = "state") -> SplitBrainFacts:
    """The split-brain pass: every ``ok`` ``sample`` of ``process``, reduced to its splits.
    Raises ValueError for a sample whose ``vrrp`` or ``vip_holders`` entries are malformed."""
    samples = informative = 0
    splits: list[SplitSample] = []
    for op in ops:
        if op.process != process or op.type != "ok" or op.f != "sample":
            continue
        samples += 1
        value = op.value
        if not isinstance(value, dict):
            continue
        if isinstance(value.get("vrrp"), dict) or isinstance(value.get("vip_holders"), dict):
            informative += 1
        found = split_brain_in(value)
        if found:
            splits.append(SplitSample(op.time, op.index, found))
    return SplitBrainFacts(process, samples, informative, splits)


def tolerated_union(intervals: Iterable[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The union of half-open intervals ``[a, b)`` as sorted disjoint ones (starts, ends), for a
    bisect per instant instead of a test of every interval (O(n log n), not samples x windows).
    An interval with ``not a < b`` (empty, or NaN) covers nothing and is dropped."""
    starts: list[float] = []
    ends: list[float] = []
    for a, b in sorted(iv for iv in intervals if iv[0] < iv[1]):
        if ends and a <= ends[-1]:
            if b > ends[-1]:
                ends[-1] = b
        else:
            starts.append(a)
            ends.append(b)
    return starts, ends


def _covered(starts: list[float], ends: list[float], t: float) -> bool:
    """Whether ``t`` lies in one of the disjoint intervals (as ``any(a <= t < b)``)."""
    i = bisect_right(starts, t) - 1
    return i >= 0 and t < ends[i]


def judge(
    facts: SplitBrainFacts,
    windows: Sequence[FaultWindow],
    *,
    allow_during_faults: bool = True,
    settle_s: float = 3.0,
    max_examples: int = 10,
) -> CheckResult:
    """The verdict on ``facts`` given the run's fault windows (see :func:`split_brain`):
    examples favour untolerated samples (half the slots are kept for them)."""
    starts, ends = tolerated_union((w.start, w.end + settle_s) for w in windows)
    heals = [w.end for w in windows if w.healed]
    last_heal = max(heals) if heals else None
    splits = facts.splits
    untolerated = 0
    after_heal = False
    examples: list[dict[str, Any]] = []
    for s in splits:
        t = s.time
        excused = allow_during_faults and _covered(starts, ends, t)
        if last_heal is not None and t >= last_heal + settle_s:
            after_heal = True
        if not excused:
            untolerated += 1
        if len(examples) < max_examples and (not excused or len(examples) < max_examples // 2):
            examples.append({"time": t, "index": s.index, "split": s.split, "tolerated": excused})
    names: set[str] = set()
    for s in splits:
        names.update(f"{x['kind']}:{x['name']}" for x in s.split)
    counts: dict[str, Any] = {
        "samples": facts.samples,
        "split_brain_samples": len(splits),
        "vrrp_split_samples": sum(1 for s in splits if any(x["kind"] == "vrrp" for x in s.split)),
        "vip_split_samples": sum(1 for s in splits if any(x["kind"] == "vip" for x in s.split)),
        "untolerated_samples": untolerated,
        "first_time": splits[0].time if splits else None,
        "last_time": splits[-1].time if splits else None,
        "affected": sorted(names),
        "last_heal_time": last_heal,
        "persisted_after_last_heal": after_heal,
    }
    ex = {"samples": examples} if examples else {}
    if facts.informative == 0:
        return CheckResult(NAME, Validity.UNKNOWN, counts, ex, f"no {facts.process!r} sample with vrrp or vip_holders")
    if untolerated:
        msg = f"split brain in {untolerated} sample(s) outside fault windows (+{settle_s} s settle)"
        if after_heal:
            msg += "; persisted after the last heal"
        return CheckResult(NAME, Validity.INVALID, counts, ex, msg)
    msg = f"{facts.informative} samples, no untolerated split brain"
    if splits:
        msg += f" ({len(splits)} during faults)"
    return CheckResult(NAME, Validity.VALID, counts, ex, msg)
