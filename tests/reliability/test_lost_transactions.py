"""Zero lost transactions: every acknowledged write, SQL ledger rows and forum posts made over
HTTP, is present on every database node after the cluster healed."""

from __future__ import annotations

import pytest

from harness.acceptance import FaultPlan, fault_under_load, forced_relogins, longest_outage_in_phases, vip_moved_away
from harness.budgets import database_stall_budget_s
from harness.checkers import Validity
from harness.scenario import assert_slo
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.failover, pytest.mark.reliability]


def _assert_nothing_lost(scenario, run) -> None:
    for name in ("ledger", "posts"):
        result = run.check(name)
        lost = result.counts.get("lost")
        scenario.slo_line(f"{name}: acknowledged writes lost", lost, 0, "writes")
        assert result.valid is Validity.VALID, f"{name}: {result.message}; counts {result.counts}; examples {result.examples}"
        assert result.counts.get("acknowledged", 0) > 0, f"{name}: nothing was acknowledged, nothing proven: {result.counts}"


@pytest.mark.scenario(title="No lost writes while a database node is killed", tier="db", fault="db-node-failure")
@pytest.mark.waive("availability", reason="killing db1 stalls the site for the Galera membership change (~4 s, "
                   "bounded below by the Galera timers as test_database bounds it for db3) and here pages fail "
                   "fast during it (69 failed probes in 4.1 s, 8 for db3): 93.8-95.1 % of probes in a ~30 s run; "
                   "the % SLO is for long runs")
def test_no_lost_writes_when_a_database_node_is_killed(scenario, cluster, load_users):
    node = cluster.inventory.with_role("db")[0].name
    stall = database_stall_budget_s(cluster, scenario.guard) if cluster.inventory.database.kind == "galera" else None
    run = fault_under_load(scenario, FaultPlan("db-node-failure", lambda ctx: {"host": node}, observe_s=8,
                                               workload=WorkloadSpec.acceptance(users=load_users)))
    _assert_nothing_lost(scenario, run)
    if stall is not None:  # the waiver covers the share of probes served, not an unbounded stall
        # the kill (the survivors evict db1) and the heal (db1 rejoins: IST, a view change) each
        # change the membership once; each is bounded by the Galera timers on its own, and the
        # message says which one and when it was (CI once: 7.1 s, no trace of which)
        bound = round(stall + cluster.inventory.slo.failover_margin_s, 3)
        availability = run.check("availability")
        for what, phases in (("db1 evicted", ("inject", "observe")), ("db1 rejoining", ("heal", "recover"))):
            longest, outage = longest_outage_in_phases(availability, scenario.phases, phases)
            assert_slo(scenario.slo_line(f"longest web VIP outage, Galera membership change ({what})", longest,
                                         bound, "s"), f"outage {outage}; phases {scenario.phases}")


@pytest.mark.scenario(title="No lost writes while the MASTER director fails", tier="director", fault="director-failure")
def test_no_lost_writes_when_the_master_director_fails(scenario, cluster, load_users):
    run = fault_under_load(scenario, FaultPlan("director-failure", lambda ctx: {"host": ctx.holder_before},
                                               until=vip_moved_away, until_timeout_s=15, observe_s=4,
                                               workload=WorkloadSpec.acceptance(users=load_users)))
    _assert_nothing_lost(scenario, run)


@pytest.mark.scenario(title="No lost writes or forced re-logins while a web node dies", tier="web", fault="kill-process")
def test_no_lost_writes_or_relogins_when_a_web_node_dies(scenario, cluster, load_users):
    node = cluster.inventory.with_role("web")[-1].name
    service = next(iter(s for s in cluster.inventory.host(node).services if s in ("apache", "apache2", "httpd")), "apache")
    run = fault_under_load(scenario, FaultPlan("kill-process", lambda ctx: {"host": node, "process": service, "tree": True},
                                               observe_s=8, workload=WorkloadSpec.acceptance(users=load_users)))
    _assert_nothing_lost(scenario, run)
    assert_slo(scenario.slo_line("forced re-logins (sessions are shared)", forced_relogins(scenario), 0, ""))
