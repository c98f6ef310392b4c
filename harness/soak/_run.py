"""Running a soak schedule against a live cluster, and the soak's figures.

:func:`run_soak` takes a :class:`SoakPlan` and runs, under the soak workload
(``harness.workload``): a baseline audit, then per step steady -> inject -> observe (until
the fault took effect, bounded) -> heal -> audit (``harness.audit``), then the read-back and
the checkers, then each step's failover time against its tier's budget.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..audit import audit_state
from ..budgets import FailoverBound, database_stall_budget_s, director_failover_budget
from ..checkers import CheckResult
from ..checkers.availability import availability
from ..errors import FaultError, HarnessError
from ..history import Op
from ..invariants import Sample
from ..scenario import Scenario
from ..workload import WorkloadSpec, start_workload
from ._schedule import SoakStep, effect_problems

# --------------------------------------------------------------------------- pure figures


def nines(availability_percent: float | None) -> float | None:
    """99.95 % -> 3.3 (``-log10(1 - A)``); None when unknown, ``inf`` for 100 %."""
    if availability_percent is None:
        return None
    miss = 1.0 - availability_percent / 100.0
    if miss <= 0:
        return math.inf
    return -math.log10(min(miss, 1.0))


def outages_of(ops: Iterable[Op], prefix: str = "vip-probe-web") -> tuple[CheckResult, list[dict[str, Any]]]:
    """The availability check over the whole soak and every outage window it found."""
    res = availability(ops, prefix, max_examples=10**9)
    return res, list(res.examples.get("outages", []))


def step_failover_s(outages: Iterable[dict[str, Any]], start: float, end: float) -> float:
    """The longest outage overlapping a step's window [inject, audit done]; 0.0 if none."""
    return max((float(o["duration_s"]) for o in outages if o["start"] <= end and o["end"] >= start), default=0.0)


# --------------------------------------------------------------------------- run time


@dataclass
class StepResult:
    """What happened to one step; JSON-ready via ``to_dict`` (result.json ``soak.steps``)."""

    step: SoakStep
    status: str = "not run"  # not run | ran | inject failed
    resolved_target: str | None = None
    fault_id: str | None = None
    started_at: float | None = None  # history time of the steady period's start
    injected_at: float | None = None
    healed_at: float | None = None
    took_effect: bool | None = None
    effect_s: float | None = None
    error: str | None = None
    audit_ok: bool | None = None
    audit_problems: list[str] = field(default_factory=list)
    recovery_s: float | None = None
    audited_at: float | None = None
    failover_s: float | None = None
    budget_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        s = self.step
        return {
            "index": s.index, "kind": s.kind, "fault": s.fault, "tier": s.tier, "target": s.target_text,
            "resolved_target": self.resolved_target, "params": s.params, "steady_s": s.steady_s, "fault_s": s.fault_s,
            "planned_start_s": s.planned_start_s, "status": self.status, "fault_id": self.fault_id,
            "started_at": self.started_at, "injected_at": self.injected_at, "healed_at": self.healed_at,
            "took_effect": self.took_effect, "effect_s": self.effect_s, "error": self.error,
            "audit": None if self.audit_ok is None else {
                "ok": self.audit_ok, "problems": self.audit_problems, "recovery_s": self.recovery_s, "at": self.audited_at,
            },
            "failover_s": self.failover_s, "budget_s": self.budget_s,
        }

    def add_error(self, text: str) -> None:
        self.error = ((self.error + "; ") if self.error else "") + text


@dataclass
class SoakRun:
    """The outcome of ``run_soak``: per-step results, the checkers, the baseline audit."""

    steps: list[StepResult]
    checks: dict[str, CheckResult]
    baseline_audit: list[str]
    summary: dict[str, Any]

    @property
    def ran(self) -> list[StepResult]:
        return [r for r in self.steps if r.status != "not run"]

    def check(self, name: str) -> CheckResult:
        try:
            return self.checks[name]
        except KeyError:
            raise HarnessError(f"no checker result {name!r} (have: {', '.join(self.checks)})") from None


@dataclass
class SoakPlan:
    """A soak to run: the schedule, the deadline that ends it, the workload, each step's bounds."""

    schedule: Sequence[SoakStep]
    #: a ``time.monotonic()`` instant: no step starts its fault after it
    deadline: float
    workload: WorkloadSpec = field(default_factory=WorkloadSpec.soak)
    seed: int | None = None
    #: longest wait for a fault to take effect (a step waits at most its fault time + 15 s)
    observe_timeout_s: float = 30.0
    #: longest wait for steady state after a heal (None: the SLO's ``recovery_s``)
    audit_timeout_s: float | None = None
    settle_s: float = 3.0

    def audit_bound_s(self, recovery_s: float) -> float:
        return self.audit_timeout_s if self.audit_timeout_s is not None else recovery_s

    def time_left_s(self) -> float:
        return self.deadline - time.monotonic()

    def past_deadline(self) -> bool:
        return time.monotonic() >= self.deadline


class StepOutcome(enum.Enum):
    """How a step ended, for the schedule: go on, stop at the deadline, stop on a stuck fault."""

    DONE = "done"
    DEADLINE = "deadline"
    STUCK = "stuck"


def failover_budgets(scenario: Scenario) -> dict[str, float | None]:
    """Longest VIP outage allowed per tier, from keepalived's and Galera's own timers and the
    SLOs; a budget that cannot be read is None (the SLO line then says unknown)."""
    slo = scenario.cluster.inventory.slo
    out: dict[str, float | None] = {"web": slo.web_failover_s}
    try:
        bound = FailoverBound.of(director_failover_budget(scenario.cluster), slo)
    except HarnessError:
        out["director"] = out["network"] = None
    else:
        refusal = bound.refusal()
        if refusal is not None:  # as the acceptance flow does: before any fault
            raise AssertionError(refusal)
        # a director step is held to the user's promise too; a partition only to the timers
        out["director"] = round(bound.bound_s, 3)
        out["network"] = round(bound.budget_bound_s, 3)
    try:
        out["db"] = round(database_stall_budget_s(scenario.cluster, scenario.guard) + slo.failover_margin_s, 3)
    except HarnessError:
        out["db"] = None
    return out


def _audit(scenario: Scenario, timeout_s: float) -> tuple[list[str], float]:
    """Wait (bounded) for every invariant; the problems left, and the seconds it took."""
    inv = scenario.cluster.inventory
    last: list[str] = []

    def problems(sample: Sample) -> list[str]:
        last[:] = audit_state(sample, inv)
        return last

    t0 = time.monotonic()
    try:
        scenario.wait_until("steady state", problems, timeout_s=timeout_s)
    except HarnessError as exc:
        return (list(last) or [str(exc)]), time.monotonic() - t0
    leftovers = [f"nemesis still holds {fid} {f.name}" for fid, f in scenario.nemesis.active.items()]
    leftovers += [f"journal: {r.get('fault_id')} {r.get('name')} still {r.get('state')}" for r in scenario.journal.pending()]
    return leftovers, time.monotonic() - t0


def _record_audit(scenario: Scenario, summary: dict[str, Any], value: dict[str, Any], problems: list[str],
                  recovery_s: float) -> float:
    """The audit as a history op (process ``audit``) and in the summary; the op's end time."""
    op = scenario.history.invoke("audit", "audit", value)
    done = {"problems": problems, "recovery_s": round(recovery_s, 3), **value}
    if problems:
        op.fail(done)
    else:
        op.ok(done)
    summary["audits"].append({**value, "ok": not problems, "problems": problems, "recovery_s": round(recovery_s, 3)})
    return op.completion.time if op.completion else scenario.history.now()


def run_soak(scenario: Scenario, plan: SoakPlan) -> SoakRun:
    """Run ``plan.schedule`` until it ends or ``plan.deadline`` passes.

    The workload runs for the whole soak, bounded by the time left plus a margin for the last
    heal and audit. Steps that could not start before the deadline are ``not run``. The
    nemesis heals on any exit (the scenario's); audits never raise, they are recorded.
    """
    sc = scenario
    slo = sc.cluster.inventory.slo
    audit_bound = plan.audit_bound_s(slo.recovery_s)
    results = [StepResult(s) for s in plan.schedule]
    summary: dict[str, Any] = {
        "seed": plan.seed, "planned_steps": len(plan.schedule), "catalogue": sorted({s.kind for s in plan.schedule}),
        "steps": [], "audits": [],
    }
    sc.extra = summary  # result.json carries it even if the run dies half way
    _publish(summary, results)
    t_begin = time.monotonic()
    baseline = _baseline(sc, summary)
    budgets = summary["budgets_s"] = failover_budgets(sc)
    margin_s = plan.observe_timeout_s + audit_bound + plan.settle_s + 60.0
    workload = start_workload(sc, plan.workload, max(30.0, plan.time_left_s()) + margin_s)

    stopped_by_deadline = False
    for r in results:
        outcome = _run_step(sc, plan, r, audit_bound, summary)
        if outcome is StepOutcome.DEADLINE:
            stopped_by_deadline = True
            break
        _publish(summary, results)
        if outcome is StepOutcome.STUCK:
            # a fault that would not heal poisons every later step: stop here, say why
            summary["stopped"] = f"step {r.step.index}: faults still active after the audit"
            break
    summary["stopped_by_deadline"] = stopped_by_deadline
    _hold_until_deadline(sc, plan, summary)
    with sc.phase("settle"):
        sc.hold(plan.settle_s)
    load_figures = workload.finish()
    # availability over a schedule dense with faults is reported, not judged against the SLO
    # meant for production months; the failover budgets per fault are the soak's verdicts
    checks = sc.check(workload.check_config(min_availability_percent=None))
    _judge(sc, results, budgets, summary, t_begin=t_begin, load_figures=load_figures)
    return SoakRun(results, checks, baseline, summary)


def _publish(summary: dict[str, Any], results: Sequence[StepResult]) -> None:
    summary["steps"] = [r.to_dict() for r in results]


def _baseline(sc: Scenario, summary: dict[str, Any]) -> list[str]:
    """The cluster must be whole before the first fault: audit it (recorded as step 0)."""
    baseline, took = _audit(sc, max(60.0, sc.cluster.inventory.slo.recovery_s))
    _record_audit(sc, summary, {"step": 0, "fault": "baseline", "target": "whole cluster"}, baseline, took)
    if baseline:
        raise HarnessError(f"soak: the cluster is not steady before the first fault: {'; '.join(baseline[:6])}")
    return baseline


def _run_step(sc: Scenario, plan: SoakPlan, r: StepResult, audit_bound_s: float, summary: dict[str, Any]) -> StepOutcome:
    """steady -> resolve the target -> inject -> observe -> heal -> audit, for one step."""
    step = r.step
    if plan.past_deadline():
        return StepOutcome.DEADLINE
    r.started_at = round(sc.history.now(), 3)
    with sc.phase("steady"):
        sc.hold(min(step.steady_s, plan.time_left_s()))
    if plan.past_deadline():
        r.started_at = None
        return StepOutcome.DEADLINE
    holder = _resolve_holder(sc, r)
    fault_id = _inject_step(sc, r, holder) if r.status == "not run" else None
    if fault_id is not None:
        _observe_step(sc, plan, r, holder)
        _heal_step(sc, r, fault_id)
    with sc.phase("recover"):
        problems, took = _audit(sc, audit_bound_s)
    r.audit_ok, r.audit_problems, r.recovery_s = not problems, problems, round(took, 3)
    value = {"step": step.index, "fault": step.kind, "target": r.resolved_target or step.target_text,
             "fault_id": fault_id}
    r.audited_at = round(_record_audit(sc, summary, value, problems, took), 3)
    return StepOutcome.STUCK if problems and sc.nemesis.active else StepOutcome.DONE


def _resolve_holder(sc: Scenario, r: StepResult) -> str | None:
    """The web VIP holder now; a step aimed at it fails to inject when there is not one."""
    try:
        return sc.vip_holder("web")
    except HarnessError as exc:
        if r.step.resolve == "vip-holder":
            r.status, r.error = "inject failed", f"no single web VIP holder: {exc}"
        return None


def _inject_step(sc: Scenario, r: StepResult, holder: str | None) -> str | None:
    """Inject the step's fault; its id, or None when the nemesis refused (it healed what it started)."""
    step = r.step
    r.resolved_target = holder if step.resolve == "vip-holder" else step.target
    with sc.phase("inject"):
        r.injected_at = round(sc.history.now(), 3)
        try:
            fault_id = sc.nemesis.inject(step.fault, **step.fault_params(holder))
        except HarnessError as exc:
            r.status, r.error = "inject failed", str(exc)
            return None
        r.status, r.fault_id = "ran", fault_id
        return fault_id


def _observe_step(sc: Scenario, plan: SoakPlan, r: StepResult, holder: str | None) -> None:
    """Wait (bounded) until the fault visibly took effect, then hold the rest of its time."""
    step = r.step
    inv = sc.cluster.inventory
    t_inject = time.monotonic()
    with sc.phase("observe"):
        try:
            sc.wait_until(f"{step.kind} took effect", lambda s: effect_problems(step, holder or "", s, inv),
                          timeout_s=min(plan.observe_timeout_s, max(step.fault_s, 5.0) + 15.0), interval_s=0.25)
            r.took_effect, r.effect_s = True, round(time.monotonic() - t_inject, 3)
        except HarnessError as exc:
            r.took_effect, r.error = False, str(exc)
        sc.hold(min(step.fault_s - (time.monotonic() - t_inject), plan.time_left_s()))


def _heal_step(sc: Scenario, r: StepResult, fault_id: str) -> None:
    with sc.phase("heal"):
        try:
            sc.nemesis.heal(fault_id)
        except FaultError as exc:
            r.add_error(f"heal: {exc}")
        r.healed_at = round(sc.history.now(), 3)


def _hold_until_deadline(sc: Scenario, plan: SoakPlan, summary: dict[str, Any]) -> None:
    """The schedule plans generous heal/audit time: keep the cluster under load until the
    deadline, so a soak lasts what it was asked to and its availability covers that time."""
    if "stopped" not in summary and not plan.past_deadline():
        with sc.phase("steady"):
            sc.hold(plan.time_left_s())


def _judge(sc: Scenario, results: Sequence[StepResult], budgets: dict[str, float | None],
           summary: dict[str, Any], *, t_begin: float, load_figures: dict[str, int]) -> None:
    """Each step's failover time against its tier's budget, and the soak's figures."""
    avail, outages = outages_of(sc.ops())
    end_of_run = sc.history.now()
    for r in results:
        if r.status == "ran" and r.injected_at is not None:
            r.failover_s = round(step_failover_s(outages, r.injected_at, r.audited_at or end_of_run), 3)
            r.budget_s = budgets.get(r.step.tier)
    _publish(summary, results)
    pct = avail.counts.get("availability_percent")
    n = nines(pct)
    summary.update({
        "duration_s": round(time.monotonic() - t_begin, 3),
        "availability_percent": pct,
        "nines": None if n is None or n == math.inf else round(n, 3),
        "probes": avail.counts.get("attempts"),
        "outages": len(outages),
        "longest_outage_s": avail.counts.get("longest_outage_s"),
        "load": load_figures,
        "steps_run": sum(1 for r in results if r.status != "not run"),
        "audits_failed": sum(1 for a in summary["audits"] if not a["ok"]),
    })
