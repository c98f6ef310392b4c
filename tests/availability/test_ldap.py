"""Authentication through the LDAP VIP while the directory tier fails (issue 13), with Moodle
traffic running: binds keep being accepted, no acknowledged directory write is lost, the
servers converge after the heal. The faults: slapd killed on the server behind the VIP, that
server black-holed, the replication link between the servers partitioned, the director holding
the VIP crashed; and a negative proof (a server's replication switched off: its peer's writes
lost on it, which the checkers must say). Needs a cluster file with a ``directory:`` section
and an ``ldap`` VIP (the lab: ``--lab-auth-tier openldap``). Figures: docs/lab-measurements.md
"The directory tier's faults"."""

from __future__ import annotations

import pytest

from harness.acceptance import FaultPlan, director_failover_under_load, fault_under_load, vip_moved_away
from harness.budgets import FailoverBound, director_failover_budget
from harness.checkers import Validity, latency
from harness.scenario import assert_slo
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.failover, pytest.mark.availability]


@pytest.fixture
def directory(cluster):
    inv = cluster.inventory
    if inv.directory is None or "ldap" not in inv.vips:
        pytest.skip("no directory: section or ldap VIP in the cluster file (the lab: --lab-auth-tier openldap)")
    servers = inv.with_role("ldap")
    if len(servers) < 2:
        pytest.skip("needs two LDAP servers")
    return inv.directory


def _directory_spec(load_users: int, **changes) -> WorkloadSpec:
    return WorkloadSpec.acceptance(users=load_users, directory=True, **changes)


def _assert_directory_kept(scenario, run, max_auth_outage_s: float | None = None) -> None:
    """Logins kept within the bound (default: a login is a web request, so the web failover
    promise), no acknowledged write lost, the servers equal again within their bound, login
    latency per phase within the cluster file's bounds."""
    slo = scenario.cluster.inventory.slo
    auth = run.check("ldap_availability")
    assert auth.counts.get("attempts", 0) > 0, f"no bind was attempted: {auth.message}"
    assert_slo(scenario.slo_line("longest authentication outage (binds through the LDAP VIP)",
                                 auth.counts.get("longest_outage_s"),
                                 slo.web_failover_s if max_auth_outage_s is None else max_auth_outage_s, "s"))
    lost = run.check("lost_directory_writes")
    assert_slo(scenario.slo_line("directory writes: acknowledged and lost", lost.counts.get("lost"), 0, "writes"))
    assert lost.valid is Validity.VALID, f"{lost.message}; {lost.counts}; {lost.examples}"
    conv = run.check("ldap_convergence")
    assert_slo(scenario.slo_line("contextCSN equal on every server after the heal", conv.counts.get("converged_s"),
                                 conv.counts.get("bound_s"), "s"))
    # login latency per phase: the binds alone, against the cluster file's latency bounds
    logins = latency(scenario.ops(), recovery_s=slo.recovery_s, process_prefix="ldap-probe", warm_up_prefix=None)
    for phase, figures in logins.counts.get("phases", {}).items():
        bound = slo.latency_ms.get(phase)
        for p in ("p95", "p99"):
            limit = getattr(bound, p) if bound is not None else None
            line = scenario.slo_line(f"login (LDAP bind) {p}, {phase}", figures.get(p), limit, "ms")
            if limit is not None:  # a phase without a bound is reported, not judged
                assert_slo(line)


@pytest.mark.scenario(title="slapd killed on an LDAP server behind the VIP", tier="ldap", fault="kill-process")
def test_logins_go_on_when_slapd_is_killed_on_a_server_behind_the_vip(scenario, cluster, directory, load_users):
    server = cluster.inventory.with_role("ldap")[0].name
    run = fault_under_load(scenario, FaultPlan("kill-process", lambda ctx: {"host": server, "process": "slapd"},
                                               observe_s=6, workload=_directory_spec(load_users)))
    _assert_directory_kept(scenario, run)


def _unanswered(scenario, server: str) -> int:
    """contextCSN samples (fault windows or not) in which ``server`` did not answer."""
    return sum(1 for op in scenario.ops() if op.process == "ldap-csn" and op.type == "ok"
               and isinstance(op.value, dict) and (op.value.get("servers") or {}).get(server, {}) is None)


@pytest.mark.scenario(title="An LDAP server behind the VIP black-holed (every packet dropped: the hang case)",
                      tier="ldap", fault="blackhole")
def test_logins_go_on_when_an_ldap_server_behind_the_vip_is_black_holed(scenario, cluster, directory, load_users):
    """A server that falls silent (no reset, no answer) is the case a client without a network
    timeout hangs on; behind the VIP the balancer's health check must take it out within the
    promise. Every packet to and from it is dropped (its peer's and the harness's probes'
    included) but the harness's SSH."""
    server = cluster.inventory.with_role("ldap")[0].name
    run = fault_under_load(scenario, FaultPlan("blackhole", lambda ctx: {"host": server},
                                               observe_s=6, workload=_directory_spec(load_users)))
    # the evidence that the server fell silent: the contextCSN sampler got no answer from it
    silent = scenario.slo_line(f"contextCSN samples without an answer from {server} (evidence of the fault)",
                               _unanswered(scenario, server), None, "samples")
    assert (silent.measured or 0) > 0, f"{server} kept answering the harness during the black hole"
    _assert_directory_kept(scenario, run)


@pytest.mark.scenario(title="The replication link between the LDAP servers partitioned", tier="ldap",
                      fault="partition")
def test_no_directory_write_is_lost_when_the_replication_link_is_partitioned(scenario, cluster, directory,
                                                                             load_users):
    """Both servers stay up and reachable from the directors and web nodes; only the two no
    longer see each other. Through the VIP (one provider at a time) logins do not notice; the
    servers drift apart while cut and must converge after the heal with nothing lost."""
    first, *rest = (h.name for h in cluster.inventory.with_role("ldap"))
    run = fault_under_load(scenario, FaultPlan("partition", lambda ctx: {"a": [first], "b": rest},
                                               observe_s=6, workload=_directory_spec(load_users)))
    conv = run.check("ldap_convergence")
    # the evidence that the partition cut replication: otherwise "converged" proves nothing
    apart = scenario.slo_line("contextCSN samples apart during the partition (evidence of the cut)",
                              conv.counts.get("diverged_in_faults"), None, "samples")
    assert (apart.measured or 0) > 0, f"no contextCSN sample saw the servers apart during the partition: {conv.counts}"
    _assert_directory_kept(scenario, run)


@pytest.mark.scenario(title="MASTER director crash with the directory workload (the LDAP VIP moves)", tier="ldap",
                      fault="director-failure")
@pytest.mark.waive("availability", reason="one deliberate failover in a ~30 s run: the share of probes served says "
                   "little; the outage is judged by director_failover against promise and budget")
def test_logins_go_on_when_the_director_holding_the_ldap_vip_crashes(scenario, cluster, directory, load_users):
    """The LDAP VIP rides with the web VIP: a director crash moves it; logins are bounded by
    the director failover promise (and the keepalived budget), like every VIP."""
    bound = FailoverBound.of(director_failover_budget(cluster), cluster.inventory.slo)
    run = director_failover_under_load(scenario, FaultPlan(
        "director-failure", lambda ctx: {"host": ctx.holder_before}, until=vip_moved_away,
        until_timeout_s=bound.budget.budget_s + 10, observe_s=4, workload=_directory_spec(load_users)), bound)
    assert run.holder_after_fault not in (None, run.holder_before), (
        f"the VIPs did not move away from {run.holder_before} (held by {run.holder_after_fault})")
    _assert_directory_kept(scenario, run, max_auth_outage_s=bound.bound_s)


@pytest.mark.scenario(title="Negative proof: an LDAP server with its replication switched off", tier="ldap",
                      fault="kill-process", negative=True)
@pytest.mark.expect_invalid("lost_directory_writes", reason="ldap2 no longer consumes ldap1's changes: what "
                            "ldap1 acknowledged is missing on ldap2 after slapd on ldap1 is killed and restarted")
@pytest.mark.expect_invalid("ldap_convergence", reason="with one consumer gone the contextCSNs never agree again "
                            "until replication is back")
def test_lost_directory_writes_are_caught_when_replication_is_switched_off(scenario, cluster, cluster_target,
                                                                          directory, load_users):
    if cluster_target.lab is None:
        pytest.skip("switches a server's replication off on purpose: lab only")
    first, survivor = (h.name for h in cluster.inventory.with_role("ldap")[:2])
    off = scenario.nemesis.inject("ldap-replication-off", host=survivor)
    try:
        run = fault_under_load(scenario, FaultPlan("kill-process", lambda ctx: {"host": first, "process": "slapd"},
                                                   observe_s=4, workload=_directory_spec(load_users,
                                                                                         directory_converge_s=5.0)))
    finally:  # the heal waits until the survivor caught up: the lab is whole for the next test
        scenario.nemesis.heal(off)
    lost = run.check("lost_directory_writes")
    scenario.slo_line("directory writes lost (broken on purpose)", lost.counts.get("lost"), 0, "writes")
    assert lost.counts.get("lost", 0) > 0, lost.counts
    assert {e["server"] for e in lost.examples["lost"]} == {survivor}, lost.examples
