"""The static audit's keepalived rules, one misconfiguration each, on literal keepalived.conf
pairs shaped like the LVS lab's (rendered from harness/lab/templates); a sound pair is clean."""

from __future__ import annotations

import json

import pytest

from harness.config_audit import DirectorConfig, Finding, Severity, exit_status, lvs_findings, vrrp_findings
from harness.config_audit._cli import render_table
from harness.parsers.keepalived_conf import parse_keepalived_conf

PATH = "/etc/keepalived/keepalived.conf"


def conf(*, state: str = "MASTER", priority: int = 150, vrid: int = 51, advert: str = "1", auth: str = "",
         extra_instance: str = "", unicast: str = "", garp: str = "vrrp_garp_master_refresh 10",
         sync: str = "lvs_sync_daemon eth0 VI_WEB", reals: tuple[str, ...] = ("198.18.0.21", "198.18.0.22"),
         check: bool = True, web_vs: bool = True, vip: str = "198.18.0.100", delay_loop: str = "0.5") -> str:
    rs = "".join(
        f"    real_server {a} 80 {{\n        weight 1\n"
        + ("        HTTP_GET {\n            url {\n                path /healthz.php\n                status_code 200\n"
           "            }\n            connect_timeout 1\n            retry 1\n            delay_before_retry 0.2\n"
           "        }\n" if check else "")
        + "    }\n" for a in reals)
    vs = (f"virtual_server {vip} 80 {{\n    delay_loop {delay_loop}\n    lb_algo rr\n    lb_kind DR\n"
          f"    protocol TCP\n{rs}}}\n") if web_vs else ""
    return (f"global_defs {{\n    router_id dir\n    vrrp_version 3\n    {garp}\n    {sync}\n}}\n"
            f"vrrp_instance VI_WEB {{\n    state {state}\n    interface eth0\n    virtual_router_id {vrid}\n"
            f"    priority {priority}\n    advert_int {advert}\n{auth}{unicast}"
            f"    virtual_ipaddress {{\n        {vip}/24 dev eth0\n    }}\n}}\n{extra_instance}{vs}")


def pair(dir1: str | None = None, dir2: str | None = None) -> list[DirectorConfig]:
    a = dir1 if dir1 is not None else conf()
    b = dir2 if dir2 is not None else conf(state="BACKUP", priority=100)
    return [DirectorConfig("dir1", PATH, parse_keepalived_conf(a, source=PATH)),
            DirectorConfig("dir2", PATH, parse_keepalived_conf(b, source=PATH))]


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule for f in findings)


def all_findings(directors: list[DirectorConfig], promise_s: float | None = 5.0,
                 web_failover_s: float | None = 3.0) -> list[Finding]:
    return vrrp_findings(directors, promise_s=promise_s) + lvs_findings(directors, web_failover_s=web_failover_s)


def test_a_sound_pair_audits_clean() -> None:
    assert all_findings(pair()) == []
    assert exit_status([]) == 0


def test_an_instance_missing_on_the_standby_is_critical_with_both_sides_as_evidence() -> None:
    extra = "vrrp_instance VI_DB {\n    state MASTER\n    interface eth0\n    virtual_router_id 52\n" \
            "    priority 150\n    virtual_ipaddress {\n        198.18.0.101/24\n    }\n}\n"
    found = vrrp_findings(pair(conf(extra_instance=extra)))
    assert rules(found) == ["vrrp-instance-missing"]
    f = found[0]
    assert f.severity is Severity.CRITICAL and "not on dir2" in f.message
    assert f.evidence[0].where() == f"dir1:{PATH}:17" and f.evidence[1].host == "dir2"


@pytest.mark.parametrize("change, rule", [
    ({"vrid": 61}, "vrrp-vrid-mismatch"),
    ({"advert": "2"}, "vrrp-advert-int-mismatch"),
    ({"auth": "    authentication {\n        auth_type PASS\n        auth_pass s3cret\n    }\n"}, "vrrp-auth-mismatch"),
    ({"vip": "198.18.0.199"}, "vrrp-vips-mismatch"),
])
def test_peers_that_disagree_on_what_makes_them_one_router_are_critical(change: dict, rule: str) -> None:
    found = [f for f in vrrp_findings(pair(dir2=conf(state="BACKUP", priority=100, **change)))
             if not f.rule.startswith("lvs")]
    assert rule in rules(found)
    f = next(f for f in found if f.rule == rule)
    assert f.severity is Severity.CRITICAL and [e.host for e in f.evidence] == ["dir1", "dir2"]
    assert "s3cret" not in json.dumps(f.to_dict())  # a password is never shown


def test_equal_priorities_two_masters_and_a_master_below_its_peer_are_warnings() -> None:
    assert rules(vrrp_findings(pair(dir2=conf(state="BACKUP", priority=150)))) == ["vrrp-equal-priority"]
    # two MASTERs: the lower one is also below its peer
    assert rules(vrrp_findings(pair(dir2=conf(state="MASTER", priority=100)))) == [
        "vrrp-master-not-highest", "vrrp-two-masters-configured"]
    found = vrrp_findings(pair(conf(priority=90)))
    assert rules(found) == ["vrrp-master-not-highest"] and found[0].severity is Severity.WARNING


def test_nopreempt_with_state_master_and_on_one_peer_only_are_flagged() -> None:
    nopre = conf(state="BACKUP", priority=100).replace("    advert_int 1\n", "    advert_int 1\n    nopreempt\n")
    assert rules(vrrp_findings(pair(dir2=nopre))) == ["vrrp-preempt-inconsistent"]
    master_nopre = conf().replace("    advert_int 1\n", "    advert_int 1\n    nopreempt\n")
    assert "vrrp-nopreempt-ignored" in rules(vrrp_findings(pair(master_nopre)))
    delayed = conf(state="BACKUP", priority=100).replace("    advert_int 1\n", "    advert_int 1\n    preempt_delay 5\n")
    assert rules(vrrp_findings(pair(dir2=delayed), promise_s=None)) == ["vrrp-preempt-delay-mismatch"]


def test_a_unicast_peer_list_that_leaves_out_the_other_director_is_critical() -> None:
    good1 = "    unicast_src_ip 198.18.0.11\n    unicast_peer {\n        198.18.0.12\n    }\n"
    good2 = "    unicast_src_ip 198.18.0.12\n    unicast_peer {\n        198.18.0.11\n    }\n"
    assert vrrp_findings(pair(conf(unicast=good1), conf(state="BACKUP", priority=100, unicast=good2))) == []
    bad2 = "    unicast_src_ip 198.18.0.12\n    unicast_peer {\n        198.18.0.13\n    }\n"
    found = vrrp_findings(pair(conf(unicast=good1), conf(state="BACKUP", priority=100, unicast=bad2)))
    assert rules(found) == ["vrrp-unicast-asymmetric"] and "dir2 does not list dir1 (198.18.0.11)" in found[0].message


def test_two_instances_sharing_a_vrid_on_one_interface_collide() -> None:
    extra = "vrrp_instance VI_DB {\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n" \
            "    priority 150\n    virtual_ipaddress {\n        198.18.0.101/24\n    }\n}\n"
    extra2 = extra.replace("MASTER", "BACKUP").replace("priority 150", "priority 100")
    found = vrrp_findings(pair(conf(extra_instance=extra), conf(state="BACKUP", priority=100, extra_instance=extra2)))
    assert "vrrp-vrid-collision" in rules(found)
    assert "VRID 51 on eth0 is used by VI_DB and VI_WEB" in next(f.message for f in found if f.rule == "vrrp-vrid-collision")


def test_no_gratuitous_arp_refresh_is_information_not_a_failure() -> None:
    found = vrrp_findings(pair(conf(garp="vrrp_garp_master_refresh 0"), conf(state="BACKUP", priority=100,
                                                                             garp="")))
    assert rules(found) == ["vrrp-no-garp-refresh", "vrrp-no-garp-refresh"]
    assert exit_status(found) == 0


def test_a_failover_budget_over_the_promise_is_critical() -> None:
    slow = pair(conf(advert="3"), conf(state="BACKUP", priority=100, advert="3"))
    found = vrrp_findings(slow, promise_s=5.0)
    assert rules(found) == ["vrrp-budget-over-promise"]
    assert "dir2: VI_WEB may take 10.83 s" in found[0].message  # VRRPv3: 3 x 3 + (256-100) x 3 / 256
    assert vrrp_findings(slow, promise_s=None) == []


def test_a_virtual_server_missing_on_a_director_that_may_hold_the_vip_is_critical() -> None:
    found = lvs_findings(pair(dir2=conf(state="BACKUP", priority=100, web_vs=False)))
    assert "lvs-virtual-server-missing" in rules(found)
    f = next(f for f in found if f.rule == "lvs-virtual-server-missing")
    assert "dir2 may hold VIP 198.18.0.100 but has no virtual_server 198.18.0.100 80" in f.message


def test_different_real_servers_and_one_without_a_check_are_critical() -> None:
    found = lvs_findings(pair(dir2=conf(state="BACKUP", priority=100, reals=("198.18.0.21",))))
    assert rules(found) == ["lvs-real-servers-differ"]
    unchecked = lvs_findings(pair(dir2=conf(state="BACKUP", priority=100, check=False)))
    assert rules(unchecked) == ["lvs-no-health-check", "lvs-no-health-check"]
    assert unchecked[0].evidence[0].where().startswith(f"dir2:{PATH}:")


def test_detection_slower_than_the_web_promise_and_no_connection_sync_are_warnings() -> None:
    slow = pair(conf(delay_loop="6"), conf(state="BACKUP", priority=100, delay_loop="6"))
    found = lvs_findings(slow, web_failover_s=3.0)
    assert rules(found) == ["lvs-detection-over-promise", "lvs-detection-over-promise"]
    assert "8.20 s" in found[0].message  # 6 + 1 x 2 + 0.2
    nosync = lvs_findings(pair(conf(sync=""), conf(state="BACKUP", priority=100, sync="")))
    assert rules(nosync) == ["lvs-no-connection-sync", "lvs-no-connection-sync"]
    assert exit_status(nosync) == 1


def test_the_table_and_exit_status_say_what_was_found_and_what_could_not_be_judged() -> None:
    found = lvs_findings(pair(dir2=conf(state="BACKUP", priority=100, check=False)))
    table = render_table(found)
    assert table.startswith("CRITICAL lvs-no-health-check: dir2: virtual_server 198.18.0.100 80: real server")
    assert "confirm with: tests/availability/test_web_nodes.py::" in table and table.endswith("2 critical, 0 warning, 0 info")
    unread = [Finding("host-unreadable", Severity.CRITICAL, "dir2: cannot read /etc/keepalived/keepalived.conf")]
    assert exit_status(unread) == 3 and exit_status(unread + found) == 1
    assert render_table([]) == "audit: no findings"


def test_the_audit_reads_each_directors_own_file_and_an_unreadable_one_is_a_finding() -> None:
    from harness.cluster import Cluster
    from harness.config_audit import audit_cluster
    from harness.errors import TransportError
    from harness.inventory import Host, Inventory, Service
    from harness.testing import FakeCluster

    fake = FakeCluster()
    fake("dir1").on(r"^cat /etc/keepalived/keepalived.conf$", (0, conf(), ""))
    fake("dir2").on(r"^cat /srv/k.conf$", (0, conf(state="BACKUP", priority=100, check=False), ""))
    keepalived = Service("keepalived", "command", start="keepalived", stop="kill", process="keepalived",
                         config="/srv/k.conf")
    inv = Inventory("t", {"dir1": Host("dir1", "198.18.0.11", ("director",)),
                          "dir2": Host("dir2", "198.18.0.12", ("director",), services={"keepalived": keepalived})})
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: fake(h.name)))
    assert rules(found) == ["lvs-no-health-check", "lvs-no-health-check"]
    assert {e.path for f in found for e in f.evidence} == {"/srv/k.conf"}
    fake2 = FakeCluster()
    fake2("dir1").on(r"^cat ", (0, conf(), ""))
    fake2("dir2").on(r"^cat ", TransportError("dir2", "connection refused"))
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: fake2(h.name)))
    # dir2 is not judged (not taken for a director without instances): the finding says why
    assert rules(found) == ["host-unreadable"]
    assert "dir2: cannot read /srv/k.conf" in found[0].message and exit_status(found) == 3
