"""A database data node fails under load: the site and writes through the DB VIP go on."""

from __future__ import annotations

import pytest

from harness.acceptance import (
    FaultPlan,
    db_node_left,
    error_rate_percent,
    fault_under_load,
    outage_windows,
)
from harness.budgets import database_stall_budget_s
from harness.checkers import Validity
from harness.scenario import assert_slo
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.failover, pytest.mark.availability]


@pytest.mark.scenario(title="Database data node killed (kill -9 mariadbd)", tier="db", fault="db-node-failure")
def test_database_node_killed_site_and_writes_go_on(scenario, cluster, load_users):
    dbs = [h.name for h in cluster.inventory.with_role("db")]
    if len(dbs) < 3:
        pytest.skip("needs at least three database nodes to keep quorum")
    node = dbs[-1]
    stall = database_stall_budget_s(cluster, scenario.guard)
    run = fault_under_load(scenario, FaultPlan(
        "db-node-failure", lambda ctx: {"host": node},
        until=db_node_left(node), until_timeout_s=20, observe_s=5, workload=WorkloadSpec.acceptance(users=load_users),
    ))
    slo = cluster.inventory.slo
    avail = run.check("availability")
    # Galera stalls writes until the survivors agree the node is gone; pages that write (every
    # page writes its session) wait with it: bounded by the Galera timers, not by zero
    assert_slo(scenario.slo_line("longest web VIP outage (Galera membership change)",
                                 avail.counts.get("longest_outage_s"), round(stall + slo.failover_margin_s, 3), "s"))
    scenario.slo_line("web VIP availability (reported)", avail.counts.get("availability_percent"), None, "%")
    assert_slo(scenario.slo_line("client error rate during the fault, outside the stall",
                                 error_rate_percent(scenario, outside_outages=outage_windows(run)),
                                 slo.max_error_rate_percent, "%"))
    ledger = run.check("ledger")
    assert ledger.valid is Validity.VALID, f"ledger: {ledger.message} {ledger.counts}"
    assert ledger.counts.get("acknowledged", 0) > 0, f"no acknowledged ledger writes: {ledger.counts}"
    assert_slo(scenario.slo_line("back to steady state after heal", run.recovery_s, slo.recovery_s, "s"))
