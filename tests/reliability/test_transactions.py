"""Committed transactions survive: list-append and bank under a DB node kill and a whole-tier
power loss, inside the standard workload (VIP probes, ledger, Moodle users).

What is asserted is what the lab's MariaDB Galera (durability 1, MariaDB's default) was
measured to do:

- no acknowledged append is missing from any node's final read, at the defaults and strict;
- at the defaults (REPEATABLE READ, no ``wsrep_sync_wait``) bank transfers, which read both
  balances and write them back, LOSE UPDATES: the total changed from the fault on (805 instead
  of 800, 66 of 105 reads; 75 of 117; 73 of 108; 41, 39 and 45 of ~100 in the power-loss
  runs: 6 runs of 6).
  MariaDB's REPEATABLE READ reads without locks, so two transfers that read the same balance
  both write their own result back (P4; without faults too once transfers overlap:
  tests/lab/test_txn_lab.py, 2868 of 2881 reads at 8 workers); at 10/s they overlap when the
  stall of the fault lines the workers up (a director failover, where the DB node stays the
  same: 0 wrong totals in 2 runs of 2). Recorded (SLO line, no bound), not asserted here;
- strict (SERIALIZABLE with ``wsrep_sync_wait=1``: every read waits until the node applied
  what the cluster committed) no bank read has a wrong total.

The anomaly checkers (Elle's list-append analysis, the bank checker) judge the same histories:
the plugin against the cluster file's ``database.isolation`` (waived at the defaults, with the
measured reason), and every type found is recorded in each test's SLO lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from harness.acceptance import FaultPlan, fault_under_load, vip_moved_away
from harness.checkers.bank import check_bank
from harness.checkers.list_append import check_list_append
from harness.history import Op
from harness.probes.txn import acknowledged_appends, txn_rate
from harness.scenario import Scenario, assert_slo
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.failover, pytest.mark.reliability]


def _spec(users: int, **changes: Any) -> WorkloadSpec:
    return WorkloadSpec.acceptance(users=users, list_append=True, bank=True, **changes)


STRICT = {"txn_isolation": "serializable", "txn_sync_wait": 1}

#: at the defaults MariaDB's REPEATABLE READ is not Adya's PL-2.99 (the model the lab's cluster
#: file promises): whether an anomaly shows in a ~30 s run depends on two transactions
#: overlapping, so the checkers' verdicts are reported (INVALID with witnesses when found), not
#: deciding; the strict test judges both, and tests/lab/test_txn_lab.py proves the checkers find
#: the lost updates every time (8 workers, no fault)
_DEFAULTS_LIST_APPEND = pytest.mark.waive(
    "list_append", reason="MariaDB REPEATABLE READ allows G-single / G2-item / lost update under overlap "
    "(a db1 kill: G-single 3, G2-item 1 in 511 txns; db1 partitioned: G-single 4, G2-item 1 in 764; a director "
    "failover and a power loss: none, 1 run each)")
_DEFAULTS_BANK = pytest.mark.waive(
    "bank", reason="MariaDB REPEATABLE READ loses transfers that read the same balance (a db1 kill: 94 of 130 "
    "reads with a wrong total; the txn helper's runs: 6 of 6 under a node kill or power loss, 0 of 2 director "
    "failovers)")


def txn_figures(ops: Iterable[Op]) -> dict[str, Any]:
    """Acknowledged appends, those missing from each node's final read, and bank totals."""
    ops = list(ops)
    final_procs = {op.process for op in ops if op.process.startswith("txn-") and op.type == "invoke" and "node" in op.extra}
    finals = {op.extra["node"]: {m[1]: m[2] for m in op.value} for op in ops
              if op.process in final_procs and op.type == "ok"}
    acked = acknowledged_appends(ops)
    lost = {n: sorted((k, v) for k, v in acked if v not in f.get(k, [])) for n, f in finals.items()}
    setup = next((op.value for op in ops if op.process == "bank-setup" and op.type == "ok"), None)
    reads = [op for op in ops if op.process.startswith("bank-") and op.f == "read" and op.type == "ok"]
    total = setup["total"] if setup else None
    wrong = [op.value for op in reads if total is not None and sum(op.value.values()) != total]
    return {"acked": len(acked), "finals": sorted(finals), "lost": {n: len(v) for n, v in lost.items()},
            "lost_examples": {n: v[:5] for n, v in lost.items() if v}, "bank_reads": len(reads),
            "bank_wrong_totals": len(wrong), "bank_wrong_examples": wrong[:3], "txn_per_s": txn_rate(ops),
            "transfers_ok": sum(1 for op in ops if op.f == "transfer" and op.type == "ok")}


def _assert_committed_work_kept(scenario: Scenario, *, strict: bool) -> dict[str, Any]:
    """No acknowledged append lost; bank totals asserted only in the strict configuration."""
    fig = txn_figures(scenario.ops())
    lost = max(fig["lost"].values(), default=None)
    assert_slo(scenario.slo_line("list-append: acknowledged appends lost (worst node)", lost, 0, "appends"))
    wrong = scenario.slo_line("bank: reads with a wrong total", fig["bank_wrong_totals"], 0 if strict else None, "reads")
    if strict:
        assert_slo(wrong)
    assert fig["acked"] > 0 and fig["transfers_ok"] > 0, f"nothing acknowledged, nothing proven: {fig}"
    assert len(fig["finals"]) == len(scenario.cluster.inventory.with_role("db")), fig
    _anomaly_checkers(scenario)
    print(f"\nFIGURE {scenario.test}: {fig}")
    return fig


def _anomaly_checkers(scenario: Scenario) -> None:
    """Every anomaly type the list-append and bank checkers find, as SLO lines with no bound
    (the plugin judges both checkers against the declared model; this records what was seen,
    whatever the model, so the figures of every run can be compared)."""
    ops = list(scenario.ops())
    for name, result in (("list-append", check_list_append(ops, model="serializable")), ("bank", check_bank(ops))):
        found = list(result.counts["anomaly_types"]) if "anomaly_types" in result.counts else [
            k for k in ("wrong_total", "missing_accounts", "unexpected_accounts", "negative") if result.counts.get(k)]
        scenario.slo_line(f"{name}: anomaly types found ({', '.join(found) or 'none'})", len(found), None, "types")
        print(f"\nFIGURE {scenario.test} {name}: {result.valid.name} {result.counts}")


@pytest.mark.scenario(title="Transactions kept while a database node is killed", tier="db", fault="db-node-failure")
@pytest.mark.waive("availability", reason="killing db1 stalls the site for the Galera membership change (~4 s); "
                   "test_lost_transactions measured 93.8-95.1 % of probes in a ~30 s run")
@_DEFAULTS_LIST_APPEND
@_DEFAULTS_BANK
def test_transactions_kept_when_a_database_node_is_killed(scenario, cluster, load_users):
    node = cluster.inventory.with_role("db")[0].name
    fault_under_load(scenario, FaultPlan("db-node-failure", lambda ctx: {"host": node}, observe_s=8,
                                         workload=_spec(load_users)))
    _assert_committed_work_kept(scenario, strict=False)


@pytest.mark.scenario(title="Transactions kept and isolated (SERIALIZABLE, wsrep_sync_wait=1) while a database "
                      "node is killed", tier="db", fault="db-node-failure")
@pytest.mark.waive("availability", reason="killing db1 stalls the site for the Galera membership change (~4 s); "
                   "test_lost_transactions measured 93.8-95.1 % of probes in a ~30 s run")
def test_strict_transactions_kept_and_isolated_when_a_database_node_is_killed(scenario, cluster, load_users):
    node = cluster.inventory.with_role("db")[0].name
    fault_under_load(scenario, FaultPlan("db-node-failure", lambda ctx: {"host": node}, observe_s=8,
                                         workload=_spec(load_users, **STRICT)))
    _assert_committed_work_kept(scenario, strict=True)


@pytest.mark.scenario(title="Transactions kept while the MASTER director fails (the DB VIP moves)", tier="director",
                      fault="director-failure")
@pytest.mark.waive("availability", reason="what this test proves is the transactions; the director takeover's "
                   "availability is test_lost_transactions' and test_director_failover's: on HAProxy directors "
                   "(--lab-directors haproxy) this ~30 s run measured 86.2 % of web probes")
@_DEFAULTS_LIST_APPEND
@_DEFAULTS_BANK
def test_transactions_kept_when_the_master_director_fails(scenario, cluster, load_users):
    fault_under_load(scenario, FaultPlan("director-failure", lambda ctx: {"host": ctx.holder_before},
                                         until=vip_moved_away, until_timeout_s=15, observe_s=4,
                                         workload=_spec(load_users)))
    _assert_committed_work_kept(scenario, strict=False)


@pytest.mark.scenario(title="Transactions kept through a whole-tier power loss", tier="db", fault="db-tier-power-loss")
@pytest.mark.waive("availability", reason="every DB node is down until the heal bootstraps one: tests/lab/"
                   "test_txn_lab.py measured 3.2-3.7 s to the first Synced node and 10.7-11.6 s to all three")
@_DEFAULTS_LIST_APPEND
@_DEFAULTS_BANK
def test_transactions_kept_through_a_whole_tier_power_loss(scenario, cluster, load_users):
    fault_under_load(scenario, FaultPlan("db-tier-power-loss", lambda ctx: {}, observe_s=4,
                                         workload=_spec(load_users)))
    fig = _assert_committed_work_kept(scenario, strict=False)
    heal = [op for op in scenario.ops() if op.f == "heal" and op.type == "ok" and "healed" in (op.value or {})]
    assert len(heal) == 1, heal
    healed = heal[0].value["healed"]
    scenario.slo_line("whole tier down (first kill to a Synced node)", healed["down_s"], None, "s")
    scenario.slo_line("whole tier back (first kill to all Synced)", healed["all_synced_s"], None, "s")
    print(f"\nFIGURE power loss under load: {healed} {fig['lost']}")


def _partition_db_writer(ctx: Any) -> dict[str, list[str]]:
    """db1 (the DB VIP's writer: the others are backups) cut from every other cluster host (not
    from the supervisor, which probes through the VIP and reads every node afterwards)."""
    inv = ctx.inventory
    writer = inv.with_role("db")[0].name
    return {"a": [writer], "b": [n for n, h in inv.hosts.items() if n != writer and h.transport != "local"]}


@pytest.mark.scenario(title="Transactions kept while the database writer is partitioned from the cluster", tier="db",
                      fault="partition")
@_DEFAULTS_LIST_APPEND
@_DEFAULTS_BANK
def test_transactions_kept_when_the_database_writer_is_partitioned(scenario, cluster, load_users):
    """Availability is judged: the probes' requests to db1 time out (0.5 s) until the directors'
    health check marks it down (fall 2, inter 1 s); measured one 4.2 s outage, 99.5 % of probes
    (LVS lab). No acknowledged append lost; G-single 4, G2-item 1 in 764 txns; bank 72 of 183
    reads wrong (REPEATABLE READ)."""
    fault_under_load(scenario, FaultPlan("partition", _partition_db_writer, observe_s=10,
                                         workload=_spec(load_users)))
    _assert_committed_work_kept(scenario, strict=False)
