"""Web node failures under Moodle load: the balancer routes around them, the site stays up."""

from __future__ import annotations

import pytest

from harness.acceptance import FaultPlan, backend_out_of_pool, error_rate_percent, fault_under_load, forced_relogins
from harness.scenario import assert_slo
from harness.workload import WorkloadSpec

pytestmark = [pytest.mark.failover, pytest.mark.availability]


def _assert_site_stayed_up(scenario, run) -> None:
    slo = scenario.cluster.inventory.slo
    avail = run.check("availability")
    assert_slo(scenario.slo_line("web VIP availability", avail.counts.get("availability_percent"),
                                 slo.availability_percent, "%", higher_is_better=True))
    assert_slo(scenario.slo_line("longest web VIP outage", avail.counts.get("longest_outage_s"),
                                 slo.web_failover_s, "s"))
    assert_slo(scenario.slo_line("client error rate during the fault", error_rate_percent(scenario),
                                 slo.max_error_rate_percent, "%"))
    assert_slo(scenario.slo_line("forced re-logins", forced_relogins(scenario), 0, ""))
    # the session probe's sessions, one per web node checked through the VIP: deterministic,
    # where Locust users notice a lost session only if one sat on the node that died
    sessions = run.check("sessions")
    assert_slo(scenario.slo_line("lost sessions (session probe)", sessions.counts.get("lost") if sessions.counts.get("homes") else None,
                                 0, ""))
    assert_slo(scenario.slo_line("back to steady state after heal", run.recovery_s, slo.recovery_s, "s"))


def _a_web_node(cluster) -> str:
    webs = cluster.inventory.with_role("web")
    if len(webs) < 2:
        pytest.skip("needs at least two web nodes")
    return webs[0].name


@pytest.mark.scenario(title="Apache killed on one web node", tier="web", fault="kill-process")
def test_apache_killed_on_one_web_node_leaves_the_site_up(scenario, cluster, load_users):
    node = _a_web_node(cluster)
    service = next(iter(s for s in cluster.inventory.host(node).services if s in ("apache", "apache2", "httpd")), "apache")
    run = fault_under_load(scenario, FaultPlan(
        "kill-process", lambda ctx: {"host": node, "process": service, "tree": True},
        until=backend_out_of_pool(node), until_timeout_s=15, observe_s=5, workload=WorkloadSpec.acceptance(users=load_users),
    ))
    _assert_site_stayed_up(scenario, run)


@pytest.mark.scenario(title="Web node domain destroyed", tier="web", fault="domain-destroy")
def test_web_node_domain_destroyed_leaves_the_site_up(scenario, cluster, load_users):
    node = _a_web_node(cluster)
    if cluster.inventory.host(node).domain is None:
        pytest.skip(f"{node} is not a domain of a hypervisor in this cluster file")
    run = fault_under_load(scenario, FaultPlan(
        "domain-destroy", lambda ctx: {"host": node},
        until=backend_out_of_pool(node), until_timeout_s=15, observe_s=5, workload=WorkloadSpec.acceptance(users=load_users),
    ))
    _assert_site_stayed_up(scenario, run)
