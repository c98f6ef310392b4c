"""Nightly soak runs: a seeded schedule of faults with audits after every one (Pacemaker CTS).

``build_schedule`` is pure: a seed, a duration and an inventory give a list of
:class:`SoakStep` (steady period, fault kind, target, how long the fault is held), drawn from a
catalogue of fault kinds restricted to those whose targets exist in the inventory. The same
seed and inventory always give the same schedule, so a failed night is replayed with
``--seed N``. A target that only exists at run time (the director holding the web VIP) is
named by role in the step and resolved when the step runs.

``run_soak`` runs a schedule against a live cluster through a :class:`harness.scenario.Scenario`:
VIP probes, the SQL ledger and Moodle load for the whole soak, then per step steady -> inject
-> observe (until the fault took effect, bounded) -> heal -> audit. Every audit (one VRRP
master, each VIP on one host, every node back, Galera in sync, no fault left in the nemesis or
the journal) is recorded in the history as process ``audit`` and in the scenario's ``extra``
(result.json ``soak``) for the report. It stops at the deadline even mid-schedule.
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from . import fault_effects
from .acceptance import database_stall_budget_s, director_failover_budget_s
from .audit import audit_state
from .checkers import CheckResult
from .checkers.availability import availability
from .errors import FaultError, HarnessError
from .history import Op
from .invariants import Sample
from .inventory._model import Inventory
from .scenario import Scenario
from .workload import WorkloadSpec, start_workload

#: the service keys a web node's Apache may carry in a cluster file
APACHE_KEYS = ("apache", "apache2", "httpd")
#: a step's planned cost beyond its steady and fault holds: heal, audit, sampling
DEFAULT_OVERHEAD_S = 20.0


class SoakError(HarnessError):
    """A soak schedule could not be built (bad duration, range or catalogue name)."""


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Plan:
    """Where a fault kind strikes: a host (or None: resolved at run time) and fixed params."""

    target: str | None
    target_text: str
    params: dict[str, Any]


Effect = Callable[["SoakStep", str, Sample, Inventory], list[str]]


@dataclass(frozen=True)
class FaultKind:
    """One entry of the soak catalogue: a harness.faults fault aimed at a kind of host."""

    name: str
    fault: str  # the name in harness.faults
    tier: str  # director | web | db | network: which failover budget applies
    role: str
    #: the eligible hosts in an inventory; an empty list means the kind is not available
    candidates: Callable[[Inventory], list[str]]
    #: a Plan for one step, from the eligible hosts and the schedule's generator
    plan: Callable[[Inventory, list[str], random.Random], Plan]
    #: why the fault of a step has not visibly taken effect yet (harness.fault_effects), from
    #: the step, the web VIP holder before it, a state sample and the inventory
    effect: Effect
    #: resolved at run time ("vip-holder": the director holding the web VIP), else None
    resolve: str | None = None


def _names(inv: Inventory, role: str) -> list[str]:
    return sorted(h.name for h in inv.with_role(role))


def _apache_key(inv: Inventory, host: str) -> str | None:
    services = inv.host(host).services
    return next((k for k in APACHE_KEYS if k in services), None)


def _web_with_apache(inv: Inventory) -> list[str]:
    webs = [n for n in _names(inv, "web") if _apache_key(inv, n)]
    return webs if len(webs) >= 2 else []  # one web node down must leave another serving


def _directors_pair(inv: Inventory) -> list[str]:
    directors = [n for n in _names(inv, "director") if "keepalived" in inv.host(n).services]
    return directors if len(directors) >= 2 else []


def _director_domains(inv: Inventory) -> list[str]:
    ds = _directors_pair(inv)
    return ds if ds and all(inv.host(d).domain is not None for d in ds) else []


def _web_domains(inv: Inventory) -> list[str]:
    webs = _names(inv, "web")
    return [w for w in webs if inv.host(w).domain is not None] if len(webs) >= 2 else []


def _galera_nodes(inv: Inventory) -> list[str]:
    dbs = _names(inv, "db")
    # a Galera node may die only if the rest keep quorum
    return dbs if inv.database.kind == "galera" and len(dbs) >= 3 else []


def _vip_holder_plan(inv: Inventory, hosts: list[str], rng: random.Random) -> Plan:
    return Plan(None, "role director, the web VIP holder", {})


def _apache_plan(inv: Inventory, hosts: list[str], rng: random.Random) -> Plan:
    host = rng.choice(hosts)
    return Plan(host, host, {"host": host, "process": _apache_key(inv, host), "tree": True})


def _host_plan(inv: Inventory, hosts: list[str], rng: random.Random) -> Plan:
    host = rng.choice(hosts)
    return Plan(host, host, {"host": host})


def _partition_plan(inv: Inventory, hosts: list[str], rng: random.Random) -> Plan:
    a, b = hosts[:1], hosts[1:]
    return Plan(None, f"{', '.join(a)} | {', '.join(b)}", {"a": a, "b": b})


def _vip_moved(step: SoakStep, holder_before: str, sample: Sample, inv: Inventory) -> list[str]:
    return fault_effects.vip_moved_away(sample, holder_before)


def _backend_out(step: SoakStep, holder_before: str, sample: Sample, inv: Inventory) -> list[str]:
    return fault_effects.backend_out_of_pool(sample, step.target or "", holder_before)


def _db_node_left(step: SoakStep, holder_before: str, sample: Sample, inv: Inventory) -> list[str]:
    return fault_effects.db_node_left(sample, step.target or "", len(inv.with_role("db")))


def _directors_split(step: SoakStep, holder_before: str, sample: Sample, inv: Inventory) -> list[str]:
    return fault_effects.directors_split(sample)


CATALOGUE: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind("director-failure", "director-failure", "director", "director", _directors_pair, _vip_holder_plan,
                  _vip_moved, "vip-holder"),
        FaultKind("kill-apache", "kill-process", "web", "web", _web_with_apache, _apache_plan, _backend_out),
        FaultKind("db-node-failure", "db-node-failure", "db", "db", _galera_nodes, _host_plan, _db_node_left),
        FaultKind("partition-directors", "partition", "network", "director", _directors_pair, _partition_plan,
                  _directors_split),
        FaultKind("domain-destroy-web", "domain-destroy", "web", "web", _web_domains, _host_plan, _backend_out),
        FaultKind("domain-destroy-director", "domain-destroy", "director", "director", _director_domains,
                  _vip_holder_plan, _vip_moved, "vip-holder"),
        FaultKind("freeze-apache", "freeze", "web", "web", _web_with_apache, _apache_plan, _backend_out),
    )
}
DEFAULT_CATALOGUE: tuple[str, ...] = tuple(CATALOGUE)


@dataclass(frozen=True)
class SoakStep:
    """One planned step: hold steady, then inject ``fault`` on ``target`` for ``fault_s``."""

    index: int  # 1, 2, ...
    kind: str  # catalogue name, e.g. "kill-apache"
    fault: str  # harness.faults name, e.g. "kill-process"
    tier: str
    role: str
    target: str | None  # a host name, or None when resolved at run time
    target_text: str  # what the report shows: "web2", "role director, the web VIP holder"
    resolve: str | None
    params: dict[str, Any]
    steady_s: float
    fault_s: float
    planned_start_s: float  # offset of the steady period in the planned schedule

    @property
    def planned_s(self) -> float:
        return self.steady_s + self.fault_s

    def fault_params(self, vip_holder: str | None = None) -> dict[str, Any]:
        """Parameters for harness.faults; ``vip_holder`` fills a run-time target."""
        if self.resolve == "vip-holder":
            if not vip_holder:
                raise SoakError(f"step {self.index} {self.kind}: the web VIP holder is not known")
            return {**self.params, "host": vip_holder}
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def available_kinds(inventory: Inventory, catalogue: Iterable[str] = DEFAULT_CATALOGUE) -> list[str]:
    """The catalogue names whose targets exist in ``inventory`` (in catalogue order)."""
    out = []
    for name in catalogue:
        kind = CATALOGUE.get(name)
        if kind is None:
            raise SoakError(f"catalogue: unknown fault kind {name!r} (known: {', '.join(CATALOGUE)})")
        if kind.candidates(inventory):
            out.append(name)
    return out


def _check_range(name: str, r: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = float(r[0]), float(r[1])
    except (TypeError, ValueError, IndexError):
        raise SoakError(f"{name}: expected (min, max) seconds, not {r!r}") from None
    if not (0 < lo <= hi) or not math.isfinite(hi):
        raise SoakError(f"{name}: expected 0 < min <= max, not {r!r}")
    return lo, hi


def build_schedule(
    seed: int,
    duration_s: float,
    inventory: Inventory,
    *,
    catalogue: Sequence[str] = DEFAULT_CATALOGUE,
    steady_s: tuple[float, float] = (20.0, 60.0),
    fault_s: tuple[float, float] = (8.0, 20.0),
    overhead_s: float = DEFAULT_OVERHEAD_S,
    max_steps: int = 10000,
) -> list[SoakStep]:
    """A deterministic schedule for ``seed``: steps whose planned time (steady + fault +
    ``overhead_s`` for heal and audit) fits in ``duration_s``.

    Kinds are dealt from a shuffled deck of the available kinds, reshuffled when empty, so
    even a short soak covers the catalogue before repeating a kind.
    """
    if not (isinstance(duration_s, (int, float)) and duration_s > 0 and math.isfinite(duration_s)):
        raise SoakError(f"duration_s: expected a positive number of seconds, not {duration_s!r}")
    st = _check_range("steady_s", steady_s)
    ft = _check_range("fault_s", fault_s)
    if overhead_s < 0:
        raise SoakError(f"overhead_s: expected >= 0, not {overhead_s!r}")
    kinds = available_kinds(inventory, catalogue)
    if not kinds:
        raise SoakError(
            f"{inventory.source}: no fault kind of the catalogue ({', '.join(catalogue)}) has its targets in the inventory"
        )
    rng = random.Random(seed)
    deck: list[str] = []
    steps: list[SoakStep] = []
    t = 0.0
    while len(steps) < max_steps:
        steady = round(rng.uniform(*st), 1)
        hold = round(rng.uniform(*ft), 1)
        if t + steady + hold + overhead_s > duration_s:
            break
        if not deck:
            deck = list(kinds)
            rng.shuffle(deck)
            if steps and len(deck) > 1 and deck[-1] == steps[-1].kind:
                deck[0], deck[-1] = deck[-1], deck[0]  # no kind twice in a row across decks
        name = deck.pop()
        kind = CATALOGUE[name]
        plan = kind.plan(inventory, kind.candidates(inventory), rng)
        steps.append(
            SoakStep(len(steps) + 1, name, kind.fault, kind.tier, kind.role, plan.target, plan.target_text,
                     kind.resolve, plan.params, steady, hold, round(t, 1))
        )
        t += steady + hold + overhead_s
    return steps


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


def effect_problems(step: SoakStep, holder_before: str, sample: Sample, inventory: Inventory) -> list[str]:
    """Why the fault of ``step`` has not visibly taken effect yet (empty: it has)."""
    kind = CATALOGUE.get(step.kind)
    return kind.effect(step, holder_before, sample, inventory) if kind is not None else []


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
        d = director_failover_budget_s(scenario.cluster) + slo.failover_margin_s
        out["director"] = out["network"] = round(d, 3)
    except HarnessError:
        out["director"] = out["network"] = None
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
