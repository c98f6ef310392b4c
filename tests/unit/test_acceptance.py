"""The acceptance flow's plan and its 'took effect' callbacks, without a cluster."""

from __future__ import annotations

from harness.acceptance import (
    FaultContext,
    FaultPlan,
    backend_out_of_pool,
    db_node_left,
    directors_split,
    vip_moved_away,
)
from harness.inventory._model import Host, Inventory
from harness.workload import WorkloadSpec


def test_a_plan_defaults_to_the_acceptance_workload_and_bounds_every_phase():
    plan = FaultPlan("kill-process")
    assert plan.workload == WorkloadSpec.acceptance()
    assert (plan.steady_s, plan.until_timeout_s, plan.observe_s, plan.settle_s) == (5.0, 30.0, 6.0, 3.0)
    assert plan.bound_s(60.0) == 5 + 30 + 6 + 60 + 3 + 60
    assert FaultPlan(None, steady_s=15, observe_s=0).bound_s(10.0) == 15 + 30 + 0 + 10 + 3 + 60


class _Cluster:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory


class _Scenario:
    def __init__(self, inventory: Inventory) -> None:
        self.cluster = _Cluster(inventory)


def _ctx(holder: str = "dir1") -> FaultContext:
    hosts = {f"db{i}": Host(f"db{i}", f"198.18.0.3{i}", ("db",)) for i in (1, 2, 3)}
    return FaultContext(_Scenario(Inventory("t", hosts, {})), holder, ["dir2"])  # type: ignore[arg-type]  # only .cluster.inventory is read


def test_until_callbacks_read_the_sample_with_what_the_context_knows():
    ctx = _ctx()
    assert vip_moved_away(ctx, {"vip_holders": {"web": ["dir2"]}}) == []
    assert vip_moved_away(ctx, {"vip_holders": {"web": ["dir1"]}}) == ["web VIP held by ['dir1'] (was dir1)"]
    # the holder before the fault is the balancer that counts
    sample = {"backends": {"dir1": {"web": {"web1": "UP"}}, "dir2": {"web": {"web1": "UP", "web2": "UP"}}}}
    assert backend_out_of_pool("web2")(ctx, sample) == []
    assert backend_out_of_pool("web2")(_ctx("dir2"), sample) == ["web2 still ['UP'] on dir2"]
    # the cluster size to fall below is the inventory's db node count
    assert db_node_left("db3")(ctx, {"db": {"db1": {"wsrep_cluster_size": 2}}}) == []
    assert db_node_left("db3")(ctx, {"db": {"db1": {"wsrep_cluster_size": 3}}}) != []
    assert directors_split(ctx, {"vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "MASTER"}}}) == []
