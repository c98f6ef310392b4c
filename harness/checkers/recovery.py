"""Time to steady state after each heal (Chaos Toolkit's steady-state hypothesis, after).

After a heal completes, the cluster is back when both hold at once:
- every VIP probe process's latest result (since the heal) is a success, and
- the latest ``state`` sample (since the heal) satisfies ``steady``.

The default ``steady`` (:class:`DefaultSteady`) wants exactly one MASTER per VRRP instance,
each VIP on exactly one host, no unreachable host, and every database node present and
healthy: ``wsrep_local_state_comment`` Synced, ``wsrep_cluster_status`` Primary,
``wsrep_ready`` ON and ``wsrep_cluster_size`` equal to the largest size seen in the run (so
an arbitrator counts), for whichever of those keys the node reports. The instances, VIPs and
nodes expected are every one that appears in any sample of the run.

A fold and then a judgement, as in Jepsen: :func:`follow_heals` streams the history once,
watching each heal from its completion until steady state or the next fault's start, and
gathers a :class:`HealWatch` per heal into :class:`RecoveryFacts`; :func:`judge` turns those
facts alone into the verdict (recovered, late, never, interrupted or unknown per heal).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history import Op
from ..invariants import (
    NO_STATUS,
    READY,
    SIZE,
    DbFinding,
    galera_findings,
    learn_expectations,
    unreachable_hosts,
    vips_not_held_once,
    vrrp_without_one_master,
)
from ._orphans import fail_closed
from ._result import CheckResult, Validity
from .phases import FaultWindow, scan_faults

NAME = "recovery"

Steady = Callable[[dict], bool]


class DefaultSteady:
    """The default steady-state predicate, its expectations learnt from the whole history.

    The invariants are :mod:`harness.invariants`' (expectations learnt by
    :func:`harness.invariants.learn_expectations`); this class words them for the recovery
    checker's ``missing`` lists.
    """

    def __init__(self, ops: Iterable[Op], *, state_process: str = "state", db_cluster_size: int | None = None) -> None:
        self.expectations, self.samples = learn_expectations(ops, state_process=state_process,
                                                             db_cluster_size=db_cluster_size)
        self.instances: set[str] = set(self.expectations.instances or ())
        self.vips: set[str] = set(self.expectations.vips)
        self.db_nodes: set[str] = set(self.expectations.db_nodes)
        self.db_cluster_size = self.expectations.db_cluster_size

    def reasons(self, state: dict) -> list[str]:
        """Why ``state`` is not steady (empty list: steady)."""
        exp = self.expectations
        why = [f"vrrp {inst}: {len(m)} MASTER(s)" for inst, m in vrrp_without_one_master(state, exp.instances or ()).items()]
        why += [f"vip {vip}: held by {len(held)} host(s)" for vip, held in vips_not_held_once(state, exp.vips).items()]
        unreachable = unreachable_hosts(state)
        if unreachable:
            why.append(f"unreachable: {', '.join(unreachable)}")
        why += [self._db_reason(f) for f in galera_findings(state, exp)]
        return why

    @staticmethod
    def _db_reason(f: DbFinding) -> str:
        if f.key == NO_STATUS:
            return f"db {f.node}: not sampled"
        if f.key == READY:
            return f"db {f.node}: wsrep_ready {f.value}"
        if f.key == SIZE:
            return f"db {f.node}: cluster size {f.value} != {f.want}"
        return f"db {f.node}: {f.value}"  # wsrep_local_state_comment or wsrep_cluster_status

    def __call__(self, state: dict) -> bool:
        return not self.reasons(state)


def _heal_pos(w: FaultWindow) -> int:
    """The position of a healed window's heal completion."""
    if w.end_pos is None:
        raise ValueError(f"fault {w.fault_id!r} was never healed")
    return w.end_pos


@dataclass
class HealWatch:
    """One heal, followed op by op from its completion until steady state or the next
    fault's start: what the pass saw of it."""

    window: FaultWindow
    #: position of the op that starts the next fault (exclusive end of the watch), or None
    stop: int | None
    #: probe process -> whether its latest result since the heal succeeded
    last_ok: dict[str, bool] = field(default_factory=dict)
    n_ok: int = 0  # how many of those are True
    state_ok: bool = False  # steady() on the latest state sample since the heal
    last_state: dict | None = None
    recovered_at: float | None = None  # time of the op that made both hold
    horizon: float | None = None  # time of the op at ``stop``, when the watch reached it

    @classmethod
    def of(cls, w: FaultWindow, fault_starts: Sequence[int]) -> HealWatch:
        end_pos = _heal_pos(w)
        return cls(w, next((s for s in fault_starts if s > end_pos), None))

    def probe(self, process: str, good: bool) -> None:
        prev = self.last_ok.get(process)
        if prev is None:
            self.n_ok += good
        elif prev != good:
            self.n_ok += 1 if good else -1
        self.last_ok[process] = good

    def state(self, value: dict, steady: Steady) -> None:
        self.last_state = value
        self.state_ok = bool(steady(value))


@dataclass(frozen=True)
class RecoveryFacts:
    """What :func:`follow_heals` gathers: one watch per healed fault, in injection order."""

    watches: list[HealWatch]
    probes: set[str]  # the VIP probe processes whose success steady state needs
    end_time: float  # of the last op seen while a watch was open (bounds "never" / "unknown")


def probe_processes(ops: Iterable[Op], probe_prefix: str) -> set[str]:
    """Processes named ``probe_prefix*`` that completed at least one op."""
    return {op.process for op in ops if op.type != "invoke" and op.process.startswith(probe_prefix)}


def follow_heals(
    ops: Iterable[Op], windows: Sequence[FaultWindow], steady: Steady, probes: set[str], *, state_process: str = "state"
) -> RecoveryFacts:
    """The recovery pass: one forward walk (the ops may be a file streamed anew for each
    pass, never indexed) in which a watch per heal follows the ops after it, until steady
    (every probe's latest result ok and the latest state sample steady) or the next fault."""
    starts = sorted(w.start_pos for w in windows)
    watches = [HealWatch.of(w, starts) for w in windows if w.healed]
    to_open = sorted(watches, key=lambda h: _heal_pos(h.window))
    n_probes = len(probes)
    active: list[HealWatch] = []
    end_time = 0.0
    k = 0
    next_heal = _heal_pos(to_open[0].window) if to_open else None
    for pos, op in enumerate(ops):
        if active:
            end_time = op.time
            for h in [h for h in active if h.stop == pos]:
                h.horizon = op.time
                active.remove(h)
            if active and op.type != "invoke":
                proc = op.process
                is_probe = proc in probes
                is_state = not is_probe and proc == state_process and op.f == "sample" and op.type == "ok" and isinstance(op.value, dict)
                if is_probe or is_state:
                    for h in list(active):
                        if is_probe:
                            h.probe(proc, op.type == "ok")
                        else:
                            h.state(op.value, steady)
                        if h.state_ok and h.n_ok == n_probes:
                            h.recovered_at = op.time
                            active.remove(h)
        if pos == next_heal:
            while k < len(to_open) and _heal_pos(to_open[k].window) == pos:
                active.append(to_open[k])  # it follows the ops after its heal
                k += 1
            next_heal = _heal_pos(to_open[k].window) if k < len(to_open) else None
        elif not active and next_heal is None:
            break  # every heal judged: the rest of the history changes nothing
    return RecoveryFacts(watches, probes, end_time)


def _missing(h: HealWatch, probes: set[str], explain: Callable[[dict], list[str]] | None) -> list[str]:
    """Why a heal that never got back to steady state had not, as of its watch's end."""
    missing = []
    if h.last_state is None:
        missing.append("no state sample after the heal")
    elif explain is not None:
        missing.extend(explain(h.last_state))
    elif not h.state_ok:
        missing.append("steady() false on the last sample")
    failing = sorted(p for p in probes if not h.last_ok.get(p, False))
    if failing:
        missing.append(f"probes not succeeding: {', '.join(failing)}")
    return missing


def _heal_entry(h: HealWatch, facts: RecoveryFacts, within_s: float, explain: Callable[[dict], list[str]] | None) -> dict[str, Any]:
    """One heal's line in the result: its status, and what was missing if not recovered."""
    w = h.window
    heal_t = w.end
    entry: dict[str, Any] = {"fault_id": w.fault_id, "fault": w.fault, "heal_time": heal_t}
    if h.recovered_at is not None:
        took = h.recovered_at - heal_t
        entry["recovery_s"] = round(took, 6)
        entry["status"] = "recovered" if took <= within_s else "late"
        return entry
    cut = h.stop is not None
    horizon = h.horizon if h.horizon is not None else facts.end_time
    entry["recovery_s"] = None
    if horizon - heal_t > within_s:
        entry["status"] = "late" if cut else "never"
    else:
        entry["status"] = "interrupted" if cut else "unknown"
    entry["missing"] = _missing(h, facts.probes, explain)
    return entry


def judge(
    facts: RecoveryFacts,
    within_s: float,
    *,
    explain: Callable[[dict], list[str]] | None = None,
    require_probes: bool = True,
    max_examples: int = 10,
) -> CheckResult:
    """The verdict on ``facts`` alone: INVALID if a heal was late or never recovered, UNKNOWN
    if none (or not every one) could be judged. ``explain`` gives the reasons a state is not
    steady (the default steady's ``reasons``) for the ``missing`` lines."""
    results = [_heal_entry(h, facts, within_s, explain) for h in facts.watches]
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    times = [r["recovery_s"] for r in results if r["recovery_s"] is not None]
    n_probes = len(facts.probes)
    counts: dict[str, Any] = {
        "heals": len(results),
        "recovered": by_status.get("recovered", 0),
        "late": by_status.get("late", 0),
        "never": by_status.get("never", 0),
        "interrupted": by_status.get("interrupted", 0),
        "unknown": by_status.get("unknown", 0),
        "max_recovery_s": max(times) if times else None,
        "within_s": within_s,
        "probe_processes": n_probes,
    }
    bad = [r for r in results if r["status"] in ("late", "never")]
    examples = {"heals": (bad or results)[:max_examples]}
    if bad:
        msg = "; ".join(
            f"{r['fault']} ({r['fault_id']}): " + (f"{r['recovery_s']:.3f} s > {within_s} s" if r["recovery_s"] is not None else f"not steady within {within_s} s")
            for r in bad[:3]
        )
        return CheckResult(NAME, Validity.INVALID, counts, examples, msg)
    if counts["recovered"] == 0:
        return CheckResult(NAME, Validity.UNKNOWN, counts, examples, "no heal could be judged (history ends too soon or next fault interrupted)")
    msg = f"{counts['recovered']} heal(s) recovered, max {counts['max_recovery_s']:.3f} s"
    if counts["unknown"]:
        msg += f"; {counts['unknown']} not judged (history ends too soon)"
        return CheckResult(NAME, Validity.UNKNOWN, counts, examples, msg)
    if not n_probes and require_probes:
        msg += "; no VIP probes in the history (state samples only)"
    return CheckResult(NAME, Validity.VALID, counts, examples, msg)


def recovery(
    ops: Iterable[Op],
    within_s: float,
    steady: Steady | None = None,
    *,
    probe_prefix: str = "vip-probe",
    state_process: str = "state",
    require_probes: bool = True,
    max_examples: int = 10,
) -> CheckResult:
    """Seconds from each heal's completion to steady state; INVALID if over ``within_s`` or never.

    ``steady`` judges one state sample value (default :class:`DefaultSteady`). A heal whose
    recovery is cut short by the next fault is ``interrupted`` (INVALID only if already over
    ``within_s``); one the history ends too soon to judge is ``unknown``.
    """
    try:
        return _recovery(ops, within_s, steady, probe_prefix, state_process, require_probes, max_examples)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return CheckResult(NAME, Validity.UNKNOWN, message=f"bad data: {type(exc).__name__}: {exc}")


def _recovery(
    ops: Iterable[Op],
    within_s: float,
    steady: Steady | None,
    probe_prefix: str,
    state_process: str,
    require_probes: bool,
    max_examples: int,
) -> CheckResult:
    """What the pass needs first (fault windows, the steady predicate, the probes), each a
    pass of its own, and UNKNOWN early when there is nothing to follow."""
    windows, orphans = scan_faults(ops)
    n_healed = sum(1 for w in windows if w.healed)
    if not n_healed:
        return fail_closed(CheckResult(NAME, Validity.UNKNOWN, {"heals": 0}, message="no healed fault in the history"), orphans, "nemesis ")
    explain: Callable[[dict], list[str]] | None = None
    if steady is None:
        default = DefaultSteady(ops, state_process=state_process)
        if default.samples == 0:
            return CheckResult(NAME, Validity.UNKNOWN, {"heals": n_healed}, message=f"no {state_process!r} samples to judge steady state")
        steady = default
        explain = default.reasons
    probes = probe_processes(ops, probe_prefix) if require_probes else set()
    facts = follow_heals(ops, windows, steady, probes, state_process=state_process)
    result = judge(facts, within_s, explain=explain, require_probes=require_probes, max_examples=max_examples)
    return fail_closed(result, orphans, "heals unsure: nemesis ")
