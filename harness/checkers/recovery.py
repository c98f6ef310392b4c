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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
from ._result import CheckResult, Validity
from .phases import FaultWindow, fault_windows

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


class _Tracker:
    """One heal's recovery, followed op by op until steady state or the next fault's start."""

    def __init__(self, w: FaultWindow, fault_starts: Sequence[int]) -> None:
        self.w = w
        #: position of the op that starts the next fault (exclusive end of the scan), or None
        self.stop = next((s for s in fault_starts if s > w.end_pos), None)  # type: ignore[operator]
        self.last_ok: dict[str, bool] = {}
        self.n_ok = 0
        self.state_ok = False
        self.last_state: dict | None = None
        self.recovered_at: float | None = None
        self.horizon: float | None = None  # the time of the op at ``stop``


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
    windows = fault_windows(ops)
    healed = [w for w in windows if w.healed]
    if not healed:
        return CheckResult(NAME, Validity.UNKNOWN, {"heals": 0}, message="no healed fault in the history")
    explain: Callable[[dict], list[str]] | None = None
    if steady is None:
        default = DefaultSteady(ops, state_process=state_process)
        if default.samples == 0:
            return CheckResult(NAME, Validity.UNKNOWN, {"heals": len(healed)}, message=f"no {state_process!r} samples to judge steady state")
        steady = default
        explain = default.reasons
    probe_procs = {op.process for op in ops if op.type != "invoke" and op.process.startswith(probe_prefix)} if require_probes else set()
    n_probes = len(probe_procs)
    starts = sorted(w.start_pos for w in windows)

    # one forward pass (the ops may be a file streamed again for each pass, never indexed): a
    # tracker per heal follows the ops after it, until steady or until the next fault starts
    to_open = sorted(healed, key=lambda w: w.end_pos)  # type: ignore[arg-type, return-value]
    active: list[_Tracker] = []
    ended: dict[int, _Tracker] = {}  # id(window) -> tracker
    end_time = 0.0  # of the last op seen while a tracker was open: all "never"/"unknown" need
    k = 0
    next_heal = to_open[0].end_pos if to_open else None
    for pos, op in enumerate(ops):
        if active:
            end_time = op.time
            for tr in [t for t in active if t.stop == pos]:
                tr.horizon = op.time
                active.remove(tr)
                ended[id(tr.w)] = tr
            if active and op.type != "invoke":
                proc = op.process
                is_probe = proc in probe_procs
                is_state = not is_probe and proc == state_process and op.f == "sample" and op.type == "ok" and isinstance(op.value, dict)
                if is_probe or is_state:
                    for tr in list(active):
                        if is_probe:
                            good = op.type == "ok"
                            prev = tr.last_ok.get(proc)
                            if prev is None:
                                tr.n_ok += good
                            elif prev != good:
                                tr.n_ok += 1 if good else -1
                            tr.last_ok[proc] = good
                        else:
                            tr.last_state = op.value
                            tr.state_ok = bool(steady(op.value))
                        if tr.state_ok and tr.n_ok == n_probes:
                            tr.recovered_at = op.time
                            active.remove(tr)
                            ended[id(tr.w)] = tr
        if pos == next_heal:
            while k < len(to_open) and to_open[k].end_pos == pos:
                active.append(_Tracker(to_open[k], starts))  # it follows the ops after its heal
                k += 1
            next_heal = to_open[k].end_pos if k < len(to_open) else None
        elif not active and next_heal is None:
            break  # every heal judged: the rest of the history changes nothing
    for tr in active + [_Tracker(w, starts) for w in to_open[k:]]:
        ended[id(tr.w)] = tr

    results: list[dict[str, Any]] = []
    for w in healed:
        tr = ended[id(w)]
        heal_t = w.end
        entry: dict[str, Any] = {"fault_id": w.fault_id, "fault": w.fault, "heal_time": heal_t}
        if tr.recovered_at is not None:
            took = tr.recovered_at - heal_t
            entry["recovery_s"] = round(took, 6)
            entry["status"] = "recovered" if took <= within_s else "late"
        else:
            cut = tr.stop is not None
            horizon = tr.horizon if tr.horizon is not None else end_time
            entry["recovery_s"] = None
            if horizon - heal_t > within_s:
                entry["status"] = "late" if cut else "never"
            else:
                entry["status"] = "interrupted" if cut else "unknown"
            missing = []
            if tr.last_state is None:
                missing.append("no state sample after the heal")
            elif explain is not None:
                missing.extend(explain(tr.last_state))
            elif not tr.state_ok:
                missing.append("steady() false on the last sample")
            failing = sorted(p for p in probe_procs if not tr.last_ok.get(p, False))
            if failing:
                missing.append(f"probes not succeeding: {', '.join(failing)}")
            entry["missing"] = missing
        results.append(entry)

    by_status: dict[str, int] = {}
    for r in results:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    times = [r["recovery_s"] for r in results if r["recovery_s"] is not None]
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
    shown = (bad or results)[:max_examples]
    examples = {"heals": shown}
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
