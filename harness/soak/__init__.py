"""Nightly soak runs: a seeded schedule of faults with audits after every one (Pacemaker CTS).

``build_schedule`` is pure: a seed, a duration and an inventory give a list of
:class:`SoakStep` (steady period, fault kind, target, how long the fault is held), drawn from a
catalogue of fault kinds restricted to those whose targets exist in the inventory. The same
seed and inventory always give the same schedule, so a failed night is replayed with
``--seed N``. A target that only exists at run time (the director holding the web VIP) is
named by role in the step and resolved when the step runs.

``run_soak(scenario, SoakPlan(schedule, deadline, WorkloadSpec.soak(users=n), seed=...))`` runs a
schedule against a live cluster through a :class:`harness.scenario.Scenario`: the standard
workload (``harness.workload``: VIP probes, the SQL ledger and Moodle load) for the whole
soak, then per step steady -> inject -> observe (until the fault took effect, bounded) -> heal
-> audit. Every audit (one VRRP
master, each VIP on one host, every node back, Galera in sync, no fault left in the nemesis or
the journal) is recorded in the history as process ``audit`` and in the scenario's ``extra``
(result.json ``soak``) for the report. It stops at the deadline even mid-schedule.

Layout: ``_schedule`` (the catalogue and the schedule, pure), ``_run`` (the run and its
figures); everything is re-exported here.
"""

from __future__ import annotations

from ._run import (
    SoakPlan,
    SoakRun,
    StepOutcome,
    StepResult,
    failover_budgets,
    nines,
    outages_of,
    run_soak,
    step_failover_s,
)
from ._schedule import (
    APACHE_KEYS,
    CATALOGUE,
    DEFAULT_CATALOGUE,
    DEFAULT_OVERHEAD_S,
    FaultKind,
    Plan,
    SoakError,
    SoakStep,
    available_kinds,
    build_schedule,
    effect_problems,
)

__all__ = [
    "APACHE_KEYS", "CATALOGUE", "DEFAULT_CATALOGUE", "DEFAULT_OVERHEAD_S", "FaultKind", "Plan", "SoakError",
    "SoakPlan", "SoakRun", "SoakStep", "StepOutcome", "StepResult", "available_kinds", "build_schedule",
    "effect_problems", "failover_budgets", "nines", "outages_of", "run_soak", "step_failover_s",
]
