"""Moodle's files survive the file tier's faults: no acknowledged file or upload lost or corrupt,
the storage probe's outage bounded, self-heal back to zero within its bound.

Needs a cluster file with a ``storage:`` section (the lab: ``--lab-file-tier gluster``, which
scripts/run-tests runs as a pass of its own); skipped otherwise. The standard workload runs with
the storage probe (one writer-reader per web node through its mount, 2/s each), the self-heal
backlog sampled at 1/s and Moodle users whose posts upload an attachment half the time.

Measured on the lab (GlusterFS replica 3 arbiter 1, network.ping-timeout 5 s, heal-timeout
10 s; docs/lab-measurements.md): a destroyed file server stalls a write by about the ping
timeout (8.8 s once), a partitioned one likewise, a killed brick not at all; self-heal after the
server is back 4-13 s.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.acceptance import FaultPlan, fault_under_load
from harness.scenario import assert_slo
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.failover, pytest.mark.reliability, pytest.mark.storage]

#: a write may wait out GlusterFS's ping timeout (the lab's 5 s) on a server that went silent,
#: plus scheduling on two busy cores
STORAGE_STALL_S = 15.0


@pytest.fixture
def storage(cluster):
    if cluster.inventory.storage is None:
        pytest.skip("no storage: section in the cluster file (the lab: --lab-file-tier gluster)")
    if not cluster.inventory.with_role("fileserver") or len(cluster.inventory.with_role("web")) < 2:
        pytest.skip("needs file servers and two web nodes")
    return cluster.inventory.storage


def _spec(users: int, **changes: Any) -> WorkloadSpec:
    return WorkloadSpec.acceptance(**{"users": users, "storage": True, "attach_fraction": 0.5, **changes})


def _data_server(cluster) -> str:
    """A file server holding data (fs1 in the lab; the arbiter is the last). Its network
    interface is ``eth0`` (the lab's; a real cluster names its own in a test of its own)."""
    return cluster.inventory.with_role("fileserver")[0].name


def _assert_files_kept(scenario, run) -> dict[str, Any]:
    lost = run.check("lost_files")
    avail = run.check("storage_availability")
    heal = run.check("storage_convergence")
    uploads = sum(1 for op in scenario.ops() if op.process.startswith("locust-") and op.f == "upload" and op.type == "ok")
    assert_slo(scenario.slo_line("files lost or corrupt (every web node)",
                                 (lost.counts.get("lost", 0) + lost.counts.get("corrupt", 0)) if lost.counts else None,
                                 0, "files"))
    assert_slo(scenario.slo_line("longest storage write/read outage", avail.counts.get("longest_outage_s"),
                                 STORAGE_STALL_S, "s"))
    scenario.slo_line("self-heal backlog back to 0 after the heal", heal.counts.get("converged_s"),
                      heal.counts.get("bound_s"), "s")
    fig = {"acknowledged": lost.counts.get("acknowledged"), "uploads_ok": uploads, "lost": lost.counts.get("lost"),
           "corrupt": lost.counts.get("corrupt"), "longest_outage_s": avail.counts.get("longest_outage_s"),
           "converged_s": heal.counts.get("converged_s"), "max_pending": heal.counts.get("max_pending")}
    assert lost.counts.get("acknowledged", 0) > 10 and uploads > 0, f"too little written to prove anything: {fig}"
    print(f"\nFIGURE {scenario.test}: {fig}")
    return fig


@pytest.mark.scenario(title="Files kept while a file server is destroyed", tier="storage", fault="domain-destroy")
def test_files_kept_when_a_file_server_is_destroyed(scenario, cluster, storage, load_users):
    node = _data_server(cluster)
    run = fault_under_load(scenario, FaultPlan("domain-destroy", lambda ctx: {"host": node}, observe_s=10,
                                               workload=_spec(load_users)))
    _assert_files_kept(scenario, run)


@pytest.mark.scenario(title="Files kept while a file server is partitioned from the web nodes", tier="storage",
                      fault="partition")
def test_files_kept_when_a_file_server_is_partitioned_from_the_web_nodes(scenario, cluster, storage, load_users):
    node = _data_server(cluster)
    webs = [h.name for h in cluster.inventory.with_role("web")]
    run = fault_under_load(scenario, FaultPlan("partition", lambda ctx: {"a": [node], "b": webs}, observe_s=10,
                                               workload=_spec(load_users)))
    _assert_files_kept(scenario, run)


@pytest.mark.scenario(title="Files kept with a file server's network slowed", tier="storage", fault="bandwidth")
def test_files_kept_when_a_file_servers_network_is_slowed(scenario, cluster, storage, load_users):
    node = _data_server(cluster)
    run = fault_under_load(scenario, FaultPlan("bandwidth", lambda ctx: {"host": node, "interface": "eth0", "rate": "1mbit"}, observe_s=10,
                                               workload=_spec(load_users)))
    _assert_files_kept(scenario, run)


@pytest.mark.scenario(title="Negative proof: a web node writing to its own disk instead of the share", tier="storage",
                      fault="stop-service", negative=True)
@pytest.mark.expect_invalid("lost_files", reason="web2's mount of the shared volume is taken away: what it writes "
                            "meanwhile lands on its own disk, hidden again once the volume is mounted back")
def test_lost_files_are_caught_when_a_web_node_writes_to_its_own_disk(scenario, cluster, cluster_target, storage,
                                                                      load_users):
    if cluster_target.lab is None:
        pytest.skip("breaks a web node's mount on purpose: lab only")
    web = cluster.inventory.with_role("web")[1].name
    if "gluster-mount" not in cluster.inventory.host(web).services:
        pytest.skip(f"{web} has no gluster-mount service to stop")
    run = fault_under_load(scenario, FaultPlan("stop-service", lambda ctx: {"host": web, "service": "gluster-mount"},
                                               observe_s=8, workload=_spec(load_users, attach_fraction=1.0)))
    lost = run.check("lost_files")
    scenario.slo_line("files lost (broken on purpose)", lost.counts.get("lost"), 0, "files")
    assert lost.counts.get("lost", 0) > 0, lost.counts
    # what web2 wrote while unmounted is missing on the others; the examples name node and path
    assert {e["node"] for e in lost.examples["lost"]} - {web}, lost.examples
