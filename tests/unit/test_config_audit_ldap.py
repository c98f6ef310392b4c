"""The audit's LDAP-tier rules: cn=config as ``ldapsearch -Y EXTERNAL -H ldapi:///`` prints
it for the lab's ldap1 (OpenLDAP 2.5), and the directors' LDAP VIP as the lab renders it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config_audit import DirectorConfig, Severity, exit_status
from harness.config_audit.haproxy import HaproxyDirector
from harness.config_audit.ldap import ldap_replication_findings, ldap_vip_findings, parse_syncrepl, server_from_ldif
from harness.errors import ParseError
from harness.parsers.haproxy_cfg import parse_haproxy_cfg
from harness.parsers.keepalived_conf import parse_keepalived_conf

SAMPLES = Path(__file__).parent / "samples"
LDAP1 = (SAMPLES / "ldapsearch_cn_config_ldap1.ldif").read_text()
#: ldap2's: serverID 2, consumer of ldap1 (rid 001)
LDAP2 = (LDAP1.replace("olcServerID: 1", "olcServerID: 2").replace("rid=002", "rid=001")
         .replace("198.18.0.52", "198.18.0.51"))
HOSTS = {"ldap1": "198.18.0.51", "ldap2": "198.18.0.52"}
SUFFIX = "dc=lms,dc=lab"
SOURCE = "ldapsearch -Y EXTERNAL -H ldapi:/// -b cn=config"


def pair(one: str = LDAP1, two: str = LDAP2):
    return [server_from_ldif("ldap1", HOSTS["ldap1"], one, SOURCE), server_from_ldif("ldap2", HOSTS["ldap2"], two, SOURCE)]


def rules(found: list) -> list[str]:
    return sorted(f.rule for f in found)


def drop(text: str, prefix: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(prefix)) + "\n"


def test_the_labs_config_parses_and_a_sound_pair_audits_clean() -> None:
    s = pair()[0]
    db = s.data_database(SUFFIX)
    assert db is not None and db.multiprovider and db.syncprov and s.server_id() == "1"
    assert db.syncrepls[0]["provider"] == "ldap://198.18.0.52:389/" and db.syncrepls[0]["retry"] == "1 +"
    assert ldap_replication_findings(pair(), HOSTS, SUFFIX) == []
    assert ldap_replication_findings(pair(), HOSTS) == []  # no suffix declared: the first database with one


def test_a_server_that_does_not_replicate_from_its_peer_is_critical_and_names_both() -> None:
    found = ldap_replication_findings(pair(two=drop(LDAP2, "olcSyncrepl:")), HOSTS, SUFFIX)
    # ldap2 no longer consumes ldap1; ldap2 without a consumer is also no longer judged for multi-provider
    assert rules(found) == ["ldap-replication-missing"] and found[0].severity is Severity.CRITICAL
    assert found[0].message.startswith("ldap2 does not replicate from ldap1 (198.18.0.51)")
    assert found[0].evidence[0].text.endswith("olcSyncrepl none")
    # a consumer of another host is no consumer of the peer; the credentials are never shown
    wrong = ldap_replication_findings(pair(two=LDAP2.replace("198.18.0.51", "198.18.0.59")), HOSTS, SUFFIX)
    assert rules(wrong) == ["ldap-replication-missing"] and "s3cret" not in str([f.to_dict() for f in wrong])
    assert exit_status(wrong) == 1


def test_a_syncprov_checkpoint_less_often_than_every_write_is_info_naming_the_setting() -> None:
    lax = ldap_replication_findings(pair(one=LDAP1.replace("olcSpCheckpoint: 1 1", "olcSpCheckpoint: 100 10")),
                                    HOSTS, SUFFIX)
    assert rules(lax) == ["ldap-syncprov-checkpoint-lax"] and lax[0].severity is Severity.INFO
    assert lax[0].message.startswith("ldap1: syncprov writes its dc=lms,dc=lab contextCSN to disk only every 100 "
                                     "writes or 10 min")
    assert lax[0].evidence[0].text.endswith("olcSpCheckpoint 100 10") and exit_status(lax) == 0
    unset = ldap_replication_findings(pair(two=drop(LDAP2, "olcSpCheckpoint:")), HOSTS, SUFFIX)
    assert rules(unset) == ["ldap-syncprov-checkpoint-lax"] and "only at a clean shutdown" in unset[0].message


def test_a_consumer_without_multi_provider_is_a_read_only_replica() -> None:
    found = ldap_replication_findings(pair(two=drop(LDAP2, "olcMultiProvider:")), HOSTS, SUFFIX)
    assert rules(found) == ["ldap-multiprovider-off"] and "ldap2" in found[0].message
    mirror = LDAP2.replace("olcMultiProvider: TRUE", "olcMirrorMode: TRUE")  # before OpenLDAP 2.5
    assert ldap_replication_findings(pair(two=mirror), HOSTS, SUFFIX) == []


def test_a_provider_without_syncprov_and_shared_server_ids_are_critical() -> None:
    no_prov = drop(LDAP1.split("dn: olcOverlay")[0], "olcOverlay")
    found = ldap_replication_findings(pair(one=no_prov), HOSTS, SUFFIX)
    assert rules(found) == ["ldap-syncprov-missing"] and "ldap2 replicate from it" in found[0].message
    same = ldap_replication_findings(pair(two=LDAP2.replace("olcServerID: 2", "olcServerID: 1")), HOSTS, SUFFIX)
    assert rules(same) == ["ldap-serverid-duplicate"] and "ldap1, ldap2 share olcServerID 1" in same[0].message
    unset = ldap_replication_findings(pair(drop(LDAP1, "olcServerID"), drop(LDAP2, "olcServerID")), HOSTS, SUFFIX)
    assert rules(unset) == ["ldap-serverid-duplicate"] and "(unset: 0)" in unset[0].message


def test_a_subtree_consumer_and_a_missing_database_are_found() -> None:
    part = LDAP2.replace('searchbase="dc=lms,dc=lab"', 'searchbase="ou=people,dc=lms,dc=lab"')
    found = ldap_replication_findings(pair(two=part), HOSTS, SUFFIX)
    assert rules(found) == ["ldap-replication-partial"] and found[0].severity is Severity.WARNING
    other = ldap_replication_findings(pair(two=LDAP2.replace("olcSuffix: dc=lms,dc=lab", "olcSuffix: dc=x")), HOSTS, SUFFIX)
    assert "ldap-database-missing" in rules(other)


def test_syncrepl_values_and_bad_ldif() -> None:
    s = parse_syncrepl('{1}rid=3 provider="ldap://ldap3.example:389" searchbase="dc=a, dc=b" type=refreshOnly')
    assert s == {"rid": "3", "provider": "ldap://ldap3.example:389", "searchbase": "dc=a, dc=b", "type": "refreshOnly"}
    with pytest.raises(ParseError, match="ldap1: ldapsearch"):
        server_from_ldif("ldap1", "198.18.0.51", "not ldif at all\n", SOURCE)


# -- the LDAP VIP on the directors (the lab's templates) --------------------------------------
VIP = "198.18.0.102"
HAPROXY = f"""defaults
    timeout connect 2s
    timeout check 1s

frontend ldap
    mode tcp
    bind {VIP}:389
    default_backend ldap

backend ldap
    mode tcp
    option ldap-check
    default-server inter 1s fastinter 200ms downinter 1s fall 2 rise 2 on-marked-down shutdown-sessions
    server ldap1 198.18.0.51:389 check
    server ldap2 198.18.0.52:389 check backup
"""
KEEPALIVED = f"""vrrp_instance VI_WEB {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {{
        198.18.0.100/24
        {VIP}/24
    }}
}}

virtual_server {VIP} 389 {{
    delay_loop 1
    lb_algo fo
    lb_kind DR
    protocol TCP
    real_server 198.18.0.51 389 {{
        weight 2
        MISC_CHECK {{
            misc_path "/usr/bin/ldapwhoami -x -H ldap://198.18.0.51:389/ -o nettimeout=1"
            misc_timeout 2
        }}
    }}
    real_server 198.18.0.52 389 {{
        weight 1
        MISC_CHECK {{
            misc_path "/usr/bin/ldapwhoami -x -H ldap://198.18.0.52:389/ -o nettimeout=1"
            misc_timeout 2
        }}
    }}
}}
"""


def haproxies(*texts: str) -> list[HaproxyDirector]:
    return [HaproxyDirector(f"dir{i}", "/etc/haproxy/haproxy.cfg", parse_haproxy_cfg(t)) for i, t in enumerate(texts, 1)]


def lvs(*texts: str) -> list[DirectorConfig]:
    return [DirectorConfig(f"dir{i}", "/etc/keepalived/keepalived.conf", parse_keepalived_conf(t))
            for i, t in enumerate(texts, 1)]


def test_the_labs_ldap_vip_has_both_servers_behind_it_on_both_kinds_of_director() -> None:
    assert ldap_vip_findings([], haproxies(HAPROXY, HAPROXY), VIP, 389, HOSTS) == []
    assert ldap_vip_findings(lvs(KEEPALIVED, KEEPALIVED), [], VIP, 389, HOSTS) == []


def test_an_ldap_server_missing_from_the_haproxy_backend_is_critical() -> None:
    one = HAPROXY.replace("    server ldap2 198.18.0.52:389 check backup\n", "")
    found = ldap_vip_findings([], haproxies(HAPROXY, one), VIP, 389, HOSTS)
    assert rules(found) == ["ldap-server-not-behind-vip"]
    assert found[0].message.startswith("dir2: backend ldap behind the LDAP VIP 198.18.0.102:389 has no server ldap2")


def test_an_ldap_server_missing_from_the_lvs_virtual_server_is_critical() -> None:
    start = KEEPALIVED.index("    real_server 198.18.0.52")
    one = KEEPALIVED[:start] + "}\n"
    found = ldap_vip_findings(lvs(KEEPALIVED, one), [], VIP, 389, HOSTS)
    assert rules(found) == ["ldap-server-not-behind-vip"] and "dir2: virtual_server" in found[0].message


def test_an_ldap_vip_no_director_serves_is_critical() -> None:
    no_front = HAPROXY.split("frontend ldap")[0]
    found = ldap_vip_findings([], haproxies(no_front, no_front), VIP, 389, HOSTS)
    assert rules(found) == ["ldap-vip-not-served"]
    no_vs = KEEPALIVED.split("virtual_server")[0]
    found = ldap_vip_findings(lvs(no_vs, no_vs), [], VIP, 389, HOSTS)
    assert rules(found) == ["ldap-vip-not-served"]
    # on one director only: the generic rules say it (lvs-virtual-server-missing), not this one
    assert ldap_vip_findings(lvs(KEEPALIVED, no_vs), [], VIP, 389, HOSTS) == []


def test_the_generic_rules_judge_the_ldap_backends_health_checks() -> None:
    from harness.config_audit import lvs_findings
    from harness.config_audit.haproxy import haproxy_findings

    unchecked = HAPROXY.replace("198.18.0.52:389 check backup", "198.18.0.52:389 backup")
    assert "haproxy-no-health-check" in rules(haproxy_findings(haproxies(HAPROXY, unchecked)))
    start = KEEPALIVED.index("        MISC_CHECK", KEEPALIVED.index("real_server 198.18.0.52"))
    end = KEEPALIVED.index("        }\n", start) + len("        }\n")
    bare = KEEPALIVED[:start] + KEEPALIVED[end:]
    assert "lvs-no-health-check" in rules(lvs_findings(lvs(KEEPALIVED, bare)))


def test_the_audit_reads_cn_config_on_each_ldap_host_and_an_unreadable_one_is_a_finding() -> None:
    from harness.cluster import Cluster
    from harness.config_audit import audit_cluster
    from harness.errors import TransportError
    from harness.inventory import Host, Inventory, Service
    from harness.testing import FakeCluster

    slapd = Service("slapd", "command", start="slapd", stop="kill", process="slapd", config="/srv/slapd.d")
    inv = Inventory("t", {"ldap1": Host("ldap1", HOSTS["ldap1"], ("ldap",)),
                          "ldap2": Host("ldap2", HOSTS["ldap2"], ("ldap",), services={"slapd": slapd})})
    fake = FakeCluster()
    fake("ldap1").on(r"^ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// ", (0, LDAP1, ""))
    fake("ldap2").on(r"^ldapsearch ", (255, "", "ldap_sasl_interactive_bind: Can't contact LDAP server (-1)"))
    fake("ldap2").on(r"^slapcat -n 0 -F /srv/slapd\.d$", (0, drop(LDAP2, "olcSyncrepl:"), ""))
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: fake(h.name)))
    assert rules(found) == ["ldap-replication-missing"]
    assert found[0].evidence[0].path == "slapcat -n 0 -F /srv/slapd.d"
    down = FakeCluster()
    down("ldap1").on(r"^ldapsearch ", (0, LDAP1, ""))
    down("ldap2").on(r".", TransportError("ldap2", "connection refused"))
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: down(h.name)))
    assert rules(found) == ["host-unreadable"] and "ldap2: cannot read cn=config" in found[0].message
    assert exit_status(found) == 3
