"""The cluster's own configuration, read before any fault (`-m audit`, docs/audit.md): what the
static audit finds that would make a failover fail, per tier. Seconds, no fault, no load."""

from __future__ import annotations

import pytest

from harness.config_audit import Finding, Severity
from harness.config_audit._cli import render_table

pytestmark = [pytest.mark.audit, pytest.mark.failover, pytest.mark.availability]

#: a host or file the audit could not read is a failure of these tests too: nothing was judged
_UNJUDGED = ("host-unreadable", "config-unparsable", "config-include-unread", "web-config-unread")


def _bad(findings: list[Finding], prefixes: tuple[str, ...]) -> list[Finding]:
    return [f for f in findings if f.rule.startswith(prefixes + _UNJUDGED) and f.severity is not Severity.INFO]


def test_the_directors_configs_can_fail_over(audit_findings):
    bad = _bad(audit_findings, ("vrrp-", "lvs-", "haproxy-"))
    assert not bad, render_table(bad)


def test_the_database_nodes_are_one_durable_cluster(cluster, audit_findings):
    bad = _bad(audit_findings, ("ndb-",) if cluster.inventory.database.kind == "ndb" else ("db-",))
    assert not bad, render_table(bad)


def test_the_web_nodes_run_the_same_code(audit_findings):
    bad = _bad(audit_findings, ("web-version-differs",))
    assert not bad, render_table(bad)


def test_the_directory_replicates_both_ways_behind_its_vip(cluster, audit_findings):
    if not cluster.inventory.with_role("ldap"):
        pytest.skip("no host with role ldap (the lab: --lab-auth-tier openldap)")
    bad = _bad(audit_findings, ("ldap-",))
    assert not bad, render_table(bad)


def test_sessions_survive_a_web_node(audit_findings):
    bad = [f for f in audit_findings if f.rule in ("web-sessions-local", "web-settings-differ", *_UNJUDGED)
           and f.severity is not Severity.INFO]
    assert not bad, render_table(bad)


def test_moodles_files_are_on_the_shared_storage(cluster, audit_findings):
    if cluster.inventory.storage is None:
        pytest.skip("no storage: section: the cluster file does not promise shared files "
                    "(the lab: --lab-file-tier gluster)")
    bad = [f for f in audit_findings if f.rule in ("web-dataroot-local", "web-dataroot-volumes-differ", *_UNJUDGED)
           or f.rule.startswith("gluster-")]
    assert not bad, render_table(bad)
