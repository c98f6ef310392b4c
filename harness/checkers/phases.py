"""Fault windows and the steady / fault / recovery phase of any instant (docs/history.md).

The nemesis writes its faults into the same history as the clients, so every checker that
needs "was this during a fault?" derives it here, from one definition:

- a fault window runs from the ``invoke`` of a fault op to the ``ok``/``info`` completion of
  the ``heal`` carrying the same ``fault_id`` (a heal without ``fault_id`` heals every open
  fault), or to the end of the history if never healed. A fault whose own completion is
  ``fail`` certainly did not happen and opens no window;
- ``fault``: inside any fault window;
- ``recovery``: from a heal's completion for ``recovery_s`` seconds, or until the next fault;
- ``steady``: everything else (before the first fault, after recovery ends).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..history import NEMESIS, Op
from ._orphans import Orphans

STEADY = "steady"
FAULT = "fault"
RECOVERY = "recovery"
PHASE_NAMES: tuple[str, ...] = (STEADY, FAULT, RECOVERY)


@dataclass(frozen=True)
class FaultWindow:
    """One injected fault. ``end`` is the heal's completion time (inf if never healed);
    ``end_pos`` its position in the op sequence (None if never healed)."""

    fault_id: str
    fault: str
    start: float
    end: float
    start_pos: int
    end_pos: int | None = None

    @property
    def healed(self) -> bool:
        return self.end_pos is not None

    def to_dict(self) -> dict:
        return {
            "fault_id": self.fault_id,
            "fault": self.fault,
            "start": self.start,
            "end": self.end if self.healed else None,
            "healed": self.healed,
        }


_NEMESIS_PREFIX = NEMESIS + "-"


def is_nemesis(process: str) -> bool:
    """``nemesis`` or ``nemesis-<n>`` (several fault workers)."""
    return process == NEMESIS or process.startswith(_NEMESIS_PREFIX)


def _fault_id(inv: Op) -> str:
    """A fault invocation's ``fault_id``, else ``@<index>`` (unique in the history)."""
    value = inv.value if isinstance(inv.value, dict) else {}
    return str(value.get("fault_id", f"@{inv.index}"))


def _healed_id(inv: Op) -> str | None:
    """The ``fault_id`` a heal invocation names, or None: it heals every open fault."""
    value = inv.value if isinstance(inv.value, dict) else {}
    fid = value.get("fault_id")
    return None if fid is None else str(fid)


def fault_windows(ops: Iterable[Op]) -> list[FaultWindow]:
    """Fault windows in order of injection (see the module docstring for the rules)."""
    return scan_faults(ops)[0]


def scan_faults(ops: Iterable[Op]) -> tuple[list[FaultWindow], Orphans]:
    """Fault windows in order of injection, and the nemesis completions that had no
    invocation (ignored for the windows: which fault or heal they end is unknown, so the
    checkers that use the windows answer UNKNOWN unless INVALID)."""
    orphans = Orphans()
    open_inv: dict[str, Op] = {}  # nemesis process -> its open invocation
    started: dict[str, dict] = {}  # fault_id -> partial window, in injection order
    done: list[dict] = []
    for pos, op in enumerate(ops):
        process = op.process
        if process != NEMESIS and not process.startswith(_NEMESIS_PREFIX):
            continue
        if op.type == "invoke":
            open_inv[process] = op
            if op.f != "heal":
                fid = _fault_id(op)
                started[fid] = {"fault_id": fid, "fault": op.f, "start": op.time, "start_pos": pos, "end": None}
            continue
        inv = open_inv.pop(process, None)
        if inv is None:
            orphans.add(op)
            continue
        if inv.f != "heal":
            if op.type == "fail":
                started.pop(_fault_id(inv), None)  # it certainly did not happen: no window
            continue
        if op.type == "fail":
            continue  # the heal did not happen: the fault goes on
        healed = _healed_id(inv)
        targets = [healed] if healed is not None else list(started)
        for t in targets:
            w = started.pop(t, None)
            if w is not None:
                w["end"] = op.time
                w["end_pos"] = pos
                done.append(w)
    for w in started.values():
        done.append(w)
    out = [
        FaultWindow(w["fault_id"], w["fault"], w["start"], math.inf if w["end"] is None else w["end"], w["start_pos"], w.get("end_pos"))
        for w in done
    ]
    out.sort(key=lambda w: (w.start, w.start_pos))
    return out, orphans


def _coverage_events(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, int]]:
    """``(time, +1)`` where a half-open interval ``[a, b)`` starts, ``(time, -1)`` where it
    ends, sorted by time. An empty interval (``b <= a``, or a NaN end) covers nothing and
    gives no event; an end of +inf never comes."""
    events: list[tuple[float, int]] = []
    for a, b in intervals:
        if not a < b:
            continue
        events.append((a, 1))
        if b != math.inf:
            events.append((b, -1))
    events.sort(key=lambda e: e[0])
    return events


def _sweep(
    fault_iv: Sequence[tuple[float, float]], rec_iv: Sequence[tuple[float, float]]
) -> tuple[list[float], list[str]]:
    """The phase boundaries and labels: at every finite interval end ``p``, FAULT if some fault
    interval holds ``a <= p < b``, else RECOVERY if some recovery interval does, else STEADY;
    equal neighbours merged. One sweep keeps a count of the intervals open at ``p`` (every
    event at or before ``p`` applied), instead of testing every interval at every point, which
    was quadratic in the number of faults (22,906 windows: minutes)."""
    points = sorted({p for iv in (*fault_iv, *rec_iv) for p in iv if p != math.inf and p == p})
    fault_ev, rec_ev = _coverage_events(fault_iv), _coverage_events(rec_iv)
    fi = ri = n_fault = n_rec = 0
    bounds: list[float] = []
    labels: list[str] = []
    for p in points:
        while fi < len(fault_ev) and fault_ev[fi][0] <= p:
            n_fault += fault_ev[fi][1]
            fi += 1
        while ri < len(rec_ev) and rec_ev[ri][0] <= p:
            n_rec += rec_ev[ri][1]
            ri += 1
        label = FAULT if n_fault > 0 else RECOVERY if n_rec > 0 else STEADY
        if labels and labels[-1] == label:
            continue
        bounds.append(p)
        labels.append(label)
    return bounds, labels


class Phases:
    """Classifies instants into steady / fault / recovery; O(log faults) per lookup.

    Built once from the fault windows in O(n log n) (a sweep over the sorted interval ends, see
    :func:`_sweep`): a sorted list of boundaries and the phase that holds from each boundary on.
    """

    def __init__(self, windows: Sequence[FaultWindow], recovery_s: float) -> None:
        if not recovery_s >= 0:  # NaN too: it would make every recovery interval empty
            raise ValueError(f"recovery_s must be >= 0, not {recovery_s}")
        self.windows = list(windows)
        self.recovery_s = recovery_s
        starts = sorted(w.start for w in self.windows)
        fault_iv = [(w.start, w.end) for w in self.windows]
        rec_iv = []
        for w in self.windows:
            if not w.healed:
                continue
            k = bisect_right(starts, w.end)
            nxt = starts[k] if k < len(starts) else math.inf
            rec_iv.append((w.end, min(w.end + recovery_s, nxt)))
        bounds, labels = _sweep(fault_iv, rec_iv)
        self._bounds = bounds
        self._labels = labels

    @classmethod
    def from_ops(cls, ops: Iterable[Op], recovery_s: float) -> Phases:
        return cls(fault_windows(ops), recovery_s)

    @property
    def segments(self) -> list[tuple[float, str]]:
        """(start time, phase) pairs; before the first start the phase is steady."""
        return list(zip(self._bounds, self._labels, strict=True))

    def phase_at(self, t: float) -> str:
        i = bisect_right(self._bounds, t)
        return STEADY if i == 0 else self._labels[i - 1]

    def classifier(self):  # noqa: ANN201 - returns a fast closure
        """A ``phase_at`` specialised for the common case of non-decreasing times (a moving
        cursor instead of a bisect per call); falls back to bisect when time goes back."""
        bounds, labels = self._bounds, self._labels
        n = len(bounds)
        if n == 0:
            return lambda t: STEADY
        state = {"i": 0}  # index of the next boundary not yet passed

        def at(t: float) -> str:
            i = state["i"]
            if i > 0 and t < bounds[i - 1]:
                i = bisect_right(bounds, t)
            while i < n and bounds[i] <= t:
                i += 1
            state["i"] = i
            return STEADY if i == 0 else labels[i - 1]

        return at
