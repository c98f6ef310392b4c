"""Authentication through the LDAP VIP while a directory server fails (issue 13), with Moodle
traffic running: binds keep being accepted, no acknowledged directory write is lost, the
servers converge after the heal. Needs a cluster file with a ``directory:`` section and an
``ldap`` VIP (the lab: ``--lab-auth-tier openldap``)."""

from __future__ import annotations

import pytest

from harness.acceptance import FaultPlan, fault_under_load
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


def _assert_directory_kept(scenario, run) -> None:
    slo = scenario.cluster.inventory.slo
    auth = run.check("ldap_availability")
    assert auth.counts.get("attempts", 0) > 0, f"no bind was attempted: {auth.message}"
    # a login is a web request: the web failover promise bounds its outage
    assert_slo(scenario.slo_line("longest authentication outage (binds through the LDAP VIP)",
                                 auth.counts.get("longest_outage_s"), slo.web_failover_s, "s"))
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
                                               observe_s=6, workload=WorkloadSpec.acceptance(users=load_users,
                                                                                              directory=True)))
    _assert_directory_kept(scenario, run)
