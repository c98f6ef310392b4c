"""The auth tier's LDAP VIP, without a lab: the directors hold it in the web VIP's VRRP
instance, HAProxy fronts ldap1 (active) and ldap2 (backup) on it with an LDAP check, the web
nodes' Apache makes the LMS bind through it (or to each server: ``ldap_hosts="servers"``), the
cluster file names it as a VIP of protocol ldap, `lab status` shows its holder; LVS directors
serve it with IPVS (ldap1 then ldap2, an LDAP check), the ldap hosts' slapd on the VIP too; and
none of it without the tier (a default lab's files are the ones before it)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.errors import LabError
from harness.inventory import inventory_from_dict
from harness.lab import Lab
from harness.lab._cli import format_status, register
from harness.lab._configs import lms_auth_lines, render_host_configs
from harness.lab._directors.lvs import expected_backends, ipvs_backends
from harness.lab._ldap import holds_address, slapd_argv
from harness.lab._paths import LabPaths
from harness.lab._records import DirectorStatus, LabStatus
from harness.lab._status import add_director, judge_directors
from harness.lab._topology import Topology, build_topology
from harness.probes.ldap import vip_endpoint

NAME, SUBNET = "lv", "198.18.72.0/24"
VIP = "198.18.72.102"


def _topo(auth_tier: str = "openldap") -> Topology:
    return build_topology(NAME, SUBNET, auth_tier=auth_tier)


def _file(topo: Topology, host: str, name: str, directors: str = "haproxy", **kw: str) -> str:
    paths = LabPaths(Path("/tmp/lab-state"))
    files = render_host_configs(topo, topo.host(host), paths, 1.0, "lms-pw", directors, **kw)  # type: ignore[arg-type]
    return files[paths.conf(host, name)][0]


def test_the_ldap_vip_is_next_to_the_others_only_with_the_auth_tier() -> None:
    assert _topo().vips == {"web": "198.18.72.100", "db": "198.18.72.101", "ldap": VIP}
    assert _topo("none").vips == {"web": "198.18.72.100", "db": "198.18.72.101"}
    assert VIP not in {h.address for h in _topo().hosts.values()}


def test_haproxy_fronts_ldap1_with_ldap2_as_backup_only_with_the_auth_tier() -> None:
    cfg = _file(_topo(), "dir1", "haproxy.cfg")
    front = cfg[cfg.index("frontend ldap"):cfg.index("\nbackend ldap")]
    back = cfg[cfg.index("\nbackend ldap"):]
    assert "mode tcp" in front and f"bind {VIP}:389" in front and "default_backend ldap" in front
    assert "mode tcp" in back and "option ldap-check" in back
    assert "inter 1s fastinter 200ms downinter 1s fall 2 rise 2" in back  # the db backend's timings
    assert back.rstrip().endswith("    server ldap1 198.18.72.51:389 check\n"
                                  "    server ldap2 198.18.72.52:389 check backup")
    plain = _file(_topo("none"), "dir1", "haproxy.cfg")
    assert "ldap" not in plain and plain.endswith("    server db3 198.18.72.33:3306 check backup\n")


def test_the_ldap_vip_moves_with_the_web_vip_in_one_vrrp_instance() -> None:
    conf = _file(_topo(), "dir2", "keepalived.conf")
    web = conf[conf.index("vrrp_instance VI_WEB"):conf.index("vrrp_instance VI_DB")]
    assert "198.18.72.100/24 dev eth0\n" in web and f"{VIP}/24 dev eth0\n" in web
    assert VIP not in conf[conf.index("vrrp_instance VI_DB"):]
    assert VIP not in _file(_topo("none"), "dir2", "keepalived.conf")


@pytest.mark.parametrize("ldap_hosts, hosts", [("vip", f"ldap://{VIP}"),
                                               ("servers", "ldap://198.18.72.51;ldap://198.18.72.52")])
def test_apache_makes_the_lms_log_in_through_ldap_only_with_the_auth_tier(ldap_hosts: str, hosts: str) -> None:
    conf = _file(_topo(), "web2", "apache2.conf", ldap_hosts=ldap_hosts)
    for line in ("SetEnv LMS_AUTH ldap", f"SetEnv LMS_LDAP_HOSTS {hosts}",
                 "SetEnv LMS_LDAP_CONTEXT ou=people,dc=lms,dc=lab", "SetEnv LMS_LDAP_NETWORK_TIMEOUT 2"):
        assert f"\n{line}\n" in conf, line
    assert "LMS_AUTH" not in _file(_topo("none"), "web2", "apache2.conf")
    assert lms_auth_lines(_topo("none"), "servers") == ""
    with pytest.raises(LabError, match="ldap_hosts 'both'"):
        lms_auth_lines(_topo(), "both")
    with pytest.raises(LabError, match="ldap_hosts 'both'"):
        Lab(NAME, SUBNET, auth_tier="openldap", ldap_hosts="both")


def test_the_cluster_file_has_the_ldap_vip_only_with_the_auth_tier(tmp_path: Path) -> None:
    lab = Lab(NAME, SUBNET, state_dir=tmp_path, directors="haproxy", auth_tier="openldap")
    d = lab.inventory_dict()
    assert d["vips"]["ldap"] == {"address": VIP, "port": 389, "protocol": "ldap"}
    ep = vip_endpoint(inventory_from_dict(d, "cluster.yml"))
    assert (ep.name, ep.address, ep.port) == ("ldap", VIP, 389)
    plain = Lab(NAME, SUBNET, state_dir=tmp_path, directors="haproxy").inventory_dict()
    assert set(plain["vips"]) == {"web", "db"}


def test_the_cli_takes_ldap_hosts_default_vip() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["lab", "up"]).ldap_hosts == "vip"
    assert parser.parse_args(["lab", "up", "--ldap-hosts", "servers"]).ldap_hosts == "servers"


def test_lab_status_shows_the_ldap_vip_holder_and_its_backend() -> None:
    topo = _topo()
    st = LabStatus(name=NAME, state_dir="/s", built=True, hosts={"dir1": "running", "dir2": "running"},
                   ldap={"ldap1": {"slapd": "up", "pid": 3, "context_csn": []}})
    vrrp = {"VI_WEB": "MASTER", "VI_DB": "MASTER"}
    ldap = {"ldap1": "UP", "ldap2": "DOWN"}
    add_director(st, "dir1", DirectorStatus(vrrp=vrrp, vips_held={"web": True, "db": True, "ldap": True},
                                            backends={"ldap": ldap}))
    add_director(st, "dir2", DirectorStatus(vrrp={"VI_WEB": "BACKUP", "VI_DB": "BACKUP"},
                                            vips_held={"web": False, "db": False, "ldap": False},
                                            backends={"ldap": {"ldap1": "UP", "ldap2": "UP"}}))
    text = format_status(st)
    assert "ldap@dir1" in text and "ldap[ldap1:UP ldap2:DOWN]" in text
    problems = judge_directors(st, topo)
    assert any("backend ldap" in p and "ldap2 DOWN" in p for p in problems), problems
    st.vip_holders.pop("ldap")
    assert "VIP ldap held by nobody" in judge_directors(st, topo)


def test_lvs_directors_serve_the_ldap_vip_one_provider_at_a_time_only_with_the_auth_tier() -> None:
    conf = _file(_topo(), "dir1", "keepalived.conf", directors="lvs")
    vs = conf[conf.index(f"virtual_server {VIP} 389"):]
    assert "lb_algo fo" in vs and "lb_kind DR" in vs
    for address, weight in (("198.18.72.51", 2), ("198.18.72.52", 1)):
        rs = vs[vs.index(f"real_server {address} 389"):]
        assert rs.index(f"weight {weight}") < rs.index("MISC_CHECK")
        assert f'misc_path "/usr/bin/ldapwhoami -x -H ldap://{address}:389/ -o nettimeout=1"' in rs
    plain = _file(_topo("none"), "dir1", "keepalived.conf", directors="lvs")
    assert "389" not in plain and plain.endswith("}\n")
    assert expected_backends(_topo())["ldap"] == ["ldap1", "ldap2"] and "ldap" not in expected_backends(_topo("none"))
    table = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
             "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
             f"TCP  {VIP}:389 fo\n  -> 198.18.72.51:389               Route   2      0          0\n"
             "  -> 198.18.72.52:389               Route   0      0          0\n")
    assert ipvs_backends(table, _topo())["ldap"] == {"ldap1": "UP", "ldap2": "DRAIN"}


def test_slapd_also_listens_on_the_ldap_vip_where_its_host_holds_it() -> None:
    host = _topo().host("ldap1")
    assert slapd_argv(NAME, host)[4] == "ldap://198.18.72.51:389/ ldapi://%2Frun%2Fslapd%2Fldapi/"
    assert slapd_argv(NAME, host, VIP)[4] == (f"ldap://198.18.72.51:389/ ldap://{VIP}:389/ "
                                              "ldapi://%2Frun%2Fslapd%2Fldapi/")
    assert holds_address("127.0.0.1") and not holds_address("198.18.72.253")
