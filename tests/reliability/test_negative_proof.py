"""Negative proof: break the lab on purpose and show each verdict catches it.

A harness that cannot fail is worthless. Each test runs the same flow as an acceptance test on
a cluster broken in a known way and asserts the checker's verdict is INVALID with the expected
figures. These break the cluster's data, so they only run against the lab.
"""

from __future__ import annotations

import pymysql
import pytest

from harness.acceptance import FaultPlan, fault_under_load, forced_relogins
from harness.budgets import director_failover_budget_s
from harness.checkers import Validity
from harness.probes.txn import ListAppendProbe
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.failover, pytest.mark.reliability, pytest.mark.lab]


@pytest.fixture
def lab_only(cluster_target):
    if cluster_target.lab is None:
        pytest.skip("negative proofs break the cluster on purpose: lab only")
    return cluster_target.lab


@pytest.mark.scenario(title="Negative proof: a database that loses acknowledged writes", tier="db", fault="lose-writes", negative=True)
@pytest.mark.expect_invalid("ledger", reason="five acknowledged rows are deleted on purpose")
def test_ledger_checker_catches_acknowledged_writes_that_vanish(scenario, cluster, lab_only):
    deleted: list[str] = []

    def lose_some_acknowledged_rows(ctx) -> None:
        acked = [op.value for op in scenario.history.ops() if op.process.startswith("ledger-") and op.type == "ok"
                 and op.f == "write"]
        assert len(acked) >= 10, f"too few acknowledged writes to break: {len(acked)}"
        victims = acked[:: max(1, len(acked) // 5)][:5]
        inv = cluster.inventory
        vip = inv.vip("db")
        conn = pymysql.connect(host=vip.address, port=vip.port, user=inv.database.user, password=inv.db_password(),
                               database=inv.database.name, autocommit=True, connect_timeout=5)
        try:
            with conn.cursor() as cur:
                cur.executemany("DELETE FROM ledger WHERE k = %s", [(k,) for k in victims])
        finally:
            conn.close()
        deleted.extend(victims)

    run = fault_under_load(scenario, FaultPlan(None, steady_s=4, observe_s=2, before_heal=lose_some_acknowledged_rows,
                                               workload=WorkloadSpec.acceptance(load=False)))
    ledger = run.check("ledger")
    scenario.slo_line("ledger: acknowledged writes lost (broken on purpose)", ledger.counts.get("lost"), 0, "writes")
    assert ledger.valid is Validity.INVALID, f"the ledger checker missed {len(deleted)} lost writes: {ledger.counts}"
    assert ledger.counts["lost"] == len(deleted) == 5
    lost_keys = {e["key"] if isinstance(e, dict) else e for e in ledger.examples.get("lost", [])}
    assert lost_keys <= set(deleted) and lost_keys, ledger.examples


@pytest.mark.scenario(title="Negative proof: a database that rewrites a committed list", tier="db",
                      fault="rewrite-list", negative=True)
@pytest.mark.expect_invalid("list_append", reason="the first element of one committed list is removed on purpose")
def test_list_append_checker_catches_a_rewritten_list(scenario, cluster, lab_only):
    broken: dict = {}

    def drop_the_first_element(ctx) -> None:
        probe = next(p for p in scenario.probes if isinstance(p, ListAppendProbe))
        longest: dict[int, list[int]] = {}  # key -> the longest list an ok transaction read
        for op in scenario.history.ops():
            if op.process.startswith("txn-") and op.f == "txn" and op.type == "ok":
                for f, k, v in op.value:
                    if f == "r" and len(v) >= 2 and len(v) > len(longest.get(k, [])):
                        longest[k] = v
        assert longest, "no ok read saw a list of two: nothing to break"
        key, read = max(longest.items(), key=lambda kv: (len(kv[1]), -kv[0]))
        inv = cluster.inventory
        vip = inv.vip("db")
        conn = pymysql.connect(host=vip.address, port=vip.port, user=inv.database.user, password=inv.db_password(),
                               database=inv.database.name, autocommit=True, connect_timeout=5, read_timeout=10,
                               write_timeout=10)
        try:
            with conn.cursor() as cur:
                n = cur.execute(f"UPDATE `{probe.table}` SET val = SUBSTRING(val, LOCATE(',', val) + 1)"
                                " WHERE run_id = %s AND k = %s", (probe.run_id, key))
        finally:
            conn.close()
        assert n == 1, f"key {key} of run {probe.run_id}: {n} rows updated"
        broken.update(key=key, read=read)

    run = fault_under_load(scenario, FaultPlan(None, steady_s=6, observe_s=3, before_heal=drop_the_first_element,
                                               workload=WorkloadSpec.acceptance(load=False, list_append=True)))
    la = run.check("list_append")
    scenario.slo_line("list-append: incompatible orders (broken on purpose)",
                      la.counts.get("anomalies", {}).get("incompatible-order"), 0, "reads")
    assert la.valid is Validity.INVALID, f"the list-append checker missed a rewritten list: {la.counts}"
    assert "incompatible-order" in la.counts["anomaly_types"], la.counts
    witnesses = la.examples["incompatible-order"]
    # the rewritten list starts with what was the second element: one side of the witness shows it
    assert any(w["key"] == broken["key"] and broken["read"][1] in (w["read"][:1] + w["longest"][:1])
               for w in witnesses), (broken, witnesses)


def _director_outage_fault(cluster) -> str:
    """A fault that stops the VIP holder forwarding. With HAProxy, crashing keepalived + HAProxy
    does; with LVS it does not: the kernel's IPVS table and the VIP outlive a crashed keepalived
    and the site stays up (measured: no failed probe until the heal), so pull the guest's plug."""
    directors = cluster.inventory.with_role("director")
    if any("haproxy" in d.services for d in directors):
        return "director-failure"
    if all(d.domain is not None for d in directors):
        return "domain-destroy"
    pytest.skip("LVS directors that are not domains: no fault here stops the kernel forwarding")


# the fault kind depends on the directors (see _director_outage_fault): the test sets it
@pytest.mark.scenario(title="Negative proof: a director pair without a standby", tier="director", negative=True)
@pytest.mark.expect_invalid("availability", reason="the standby's keepalived is stopped: the VIP never moves")
@pytest.mark.waive("latency", reason="the site is down ~25 s on purpose; the requests queued behind that outage "
                   "make the recovery phase's p99 (measured 2.1-4.1 s > 2 s) a figure of the break, not of the cluster")
def test_availability_checker_catches_a_failover_that_never_happens(scenario, cluster, lab_only, load_users):
    budget = director_failover_budget_s(cluster)
    bound = budget + cluster.inventory.slo.failover_margin_s
    scenario.fault_kind = fault = _director_outage_fault(cluster)
    run = fault_under_load(scenario, FaultPlan(
        fault, lambda ctx: {"host": ctx.holder_before},
        pre_faults=[("stop-service", lambda ctx: {"host": ctx.others[0], "service": "keepalived"})],
        observe_s=bound + 3, max_outage_s=bound, workload=WorkloadSpec.acceptance(users=load_users, ledger=False),
    ))
    avail = run.check("availability")
    scenario.slo_line("longest web VIP outage (no standby, broken on purpose)", avail.counts.get("longest_outage_s"), bound, "s")
    assert avail.valid is Validity.INVALID, f"the availability checker passed a cluster that never failed over: {avail.counts}"
    assert avail.counts["longest_outage_s"] > bound


@pytest.mark.scenario(title="Negative proof: sessions lost (forced re-logins)", tier="web", fault="drop-sessions", negative=True)
@pytest.mark.expect_invalid("sessions", reason="every session row is deleted on purpose: the session probe's "
                           "sessions (one per web node) must be seen lost too")
def test_forced_relogins_are_caught_when_sessions_are_lost(scenario, cluster, lab_only, load_users):
    db1 = cluster.inventory.with_role("db")[0].name

    def drop_all_sessions(ctx) -> None:
        cluster.transport(db1).run_expect([0], ["mariadb", "-e", "DELETE FROM moodle.mdl_sessions"])

    fault_under_load(scenario, FaultPlan(None, steady_s=6, observe_s=1, settle_s=8, before_heal=drop_all_sessions,
                                         workload=WorkloadSpec.acceptance(users=load_users, ledger=False)))
    relogins = forced_relogins(scenario)
    line = scenario.slo_line("forced re-logins (sessions dropped on purpose)", relogins, 0, "")
    assert line.verdict is Validity.INVALID and relogins > 0, f"no forced re-login was counted ({relogins})"
