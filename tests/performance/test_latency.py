"""Latency SLOs from raw samples: steady state, and inside a fault window."""

from __future__ import annotations

import pytest

from harness.acceptance import FaultPlan, fault_under_load
from harness.checkers import Validity, latency
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.failover, pytest.mark.performance]


def _record_and_assert(scenario, phase: str) -> None:
    slo = scenario.cluster.inventory.slo
    bound = slo.latency_ms.get(phase)
    assert bound is not None, f"no latency bound for phase {phase!r} in the cluster file"
    ops = scenario.history.ops()
    only = [o for o in ops if o.process.startswith("locust-") or o.process.startswith("nemesis")]
    result = latency(only, {phase: {"p95": bound.p95, "p99": bound.p99}}, slo.recovery_s)
    figures = (result.counts.get("phases") or {}).get(phase) or {}
    assert figures.get("n", 0) > 0, f"no {phase} samples: {result.counts}"
    lines = [scenario.slo_line(f"Moodle request latency {pct} ({phase}, all requests)", figures.get(pct),
                               getattr(bound, pct), "ms") for pct in ("p95", "p99")]
    per_type = (result.counts.get("per_phase_f") or {}).get(phase) or {}
    for f, fig in sorted(per_type.items()):
        for pct in ("p95", "p99"):
            lines.append(scenario.slo_line(f"{f} latency {pct} ({phase}, n={fig['n']})", fig.get(pct),
                                           getattr(bound, pct), "ms"))
    bad = [f"{ln.name}: {ln.measured} ms > {ln.bound} ms" for ln in lines if ln.verdict is Validity.INVALID]
    assert not bad, "latency SLO exceeded: " + "; ".join(bad)


@pytest.mark.scenario(title="Steady-state latency under Moodle load", tier="web", fault="none")
def test_steady_state_latency_within_slo(scenario, load_users):
    fault_under_load(scenario, FaultPlan(None, steady_s=15, observe_s=0,
                                         workload=WorkloadSpec.acceptance(users=load_users, ledger=False)))
    _record_and_assert(scenario, "steady")


@pytest.mark.scenario(title="Latency while a web node is down", tier="web", fault="kill-process")
def test_fault_window_latency_within_slo(scenario, cluster, load_users):
    node = cluster.inventory.with_role("web")[1].name
    service = next(iter(s for s in cluster.inventory.host(node).services if s in ("apache", "apache2", "httpd")), "apache")
    fault_under_load(scenario, FaultPlan("kill-process", lambda ctx: {"host": node, "process": service, "tree": True},
                                         observe_s=12, workload=WorkloadSpec.acceptance(users=load_users, ledger=False)))
    _record_and_assert(scenario, "fault")
