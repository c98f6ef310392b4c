"""The static audit's file- and auth-tier rules against a real lab (docs/audit.md), on a lab of
its own with both tiers (``--file-tier gluster --auth-tier openldap``, HAProxy directors):

- the sound lab audits clean of the new rules (``ldap-*``, ``gluster-*``, ``web-version-differs``)
  and every host is read (no ``host-unreadable``/``config-unparsable``): cn=config over
  ``ldapi:///`` as root, ``gluster volume info`` on a file server, the LMS's PHP digest;
- ldap2's ``olcSyncrepl`` deleted at runtime (ldapmodify over ldapi as root) is flagged as
  ``ldap-replication-missing`` naming ldap2 and ldap1; the value is put back after, and the
  audit is clean of it again;
- at the end the lab is torn down and nothing of it is left.

The lab's name and subnet: ``ad`` 198.18.76.0/24, or HARNESS_AUDIT_LAB_NAME and
HARNESS_AUDIT_LAB_SUBNET; its directors HAProxy, or HARNESS_AUDIT_LAB_DIRECTORS=lvs (the LDAP
VIP then judged in keepalived's virtual_server).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from harness.cluster import Cluster
from harness.config_audit import Finding, audit_cluster
from harness.config_audit._cli import render_table
from harness.inventory import load_inventory
from harness.lab import Lab
from harness.lab._ldap import our_slapd_processes
from harness.parsers.ldap import parse_ldif

from .conftest import own_lab, own_lab_marks

pytestmark = own_lab_marks("audit tiers lab")

NAME = os.environ.get("HARNESS_AUDIT_LAB_NAME", "ad")
SUBNET = os.environ.get("HARNESS_AUDIT_LAB_SUBNET", "198.18.76.0/24")
DIRECTORS = os.environ.get("HARNESS_AUDIT_LAB_DIRECTORS", "haproxy")
SERVERS = ("ldap1", "ldap2")
UNJUDGED = ("host-unreadable", "config-unparsable", "config-include-unread", "web-config-unread")
NEW = ("ldap-", "gluster-", "web-version-differs")
DATA_DB = "olcDatabase={1}mdb,cn=config"
EXTERNAL = ["-Q", "-Y", "EXTERNAL", "-H", "ldapi:///"]


def _say(msg: str) -> None:
    sys.stderr.write(f"audit tiers: {msg}\n")


@pytest.fixture(scope="module")
def ad_lab() -> Iterator[Lab]:
    lab = Lab(NAME, SUBNET, directors=DIRECTORS, file_tier="gluster", auth_tier="openldap")
    yield from own_lab(lab, _say, "audit tiers")
    assert our_slapd_processes(NAME, list(SERVERS)) == []


def _audit(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> list[Finding]:
    monkeypatch.setenv("HARNESS_DB_PASSWORD", lab.db_password())
    cluster = Cluster(load_inventory(lab.inventory_path))
    try:
        return audit_cluster(cluster)
    finally:
        cluster.close()


def _of_interest(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.rule.startswith(NEW) or f.rule in UNJUDGED]


def test_the_sound_lab_audits_clean_of_the_tier_rules(ad_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    found = _audit(ad_lab, monkeypatch)
    assert _of_interest(found) == [], render_table(found)


def test_a_deleted_syncrepl_on_ldap2_is_flagged_and_clean_again_once_restored(
        ad_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = ad_lab.exec("ldap2", ["ldapsearch", "-LLL", *EXTERNAL, "-o", "ldif-wrap=no", "-b", DATA_DB, "-s", "base",
                                 "olcSyncrepl"], timeout=20, check=True)
    values = [e for e in parse_ldif(proc.stdout) if e.get("olcsyncrepl")][0]["olcsyncrepl"]
    assert values, proc.stdout
    ad_lab.exec("ldap2", ["ldapmodify", *EXTERNAL], timeout=20, check=True,
                input=f"dn: {DATA_DB}\nchangetype: modify\ndelete: olcSyncrepl\n")
    try:
        found = _audit(ad_lab, monkeypatch)
        bad = _of_interest(found)
        assert [f.rule for f in bad] == ["ldap-replication-missing"], render_table(found)
        assert bad[0].message.startswith("ldap2 does not replicate from ldap1"), bad[0].message
        assert "credentials" not in render_table(found)
    finally:
        added = "".join(f"olcSyncrepl: {v.split('}', 1)[1] if v.startswith('{') else v}\n" for v in values)
        ad_lab.exec("ldap2", ["ldapmodify", *EXTERNAL], timeout=20, check=True,
                    input=f"dn: {DATA_DB}\nchangetype: modify\nadd: olcSyncrepl\n{added}")
    assert _of_interest(_audit(ad_lab, monkeypatch)) == []
