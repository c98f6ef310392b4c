"""The lab's pure parts: preflight decisions, topology derivation, config rendering, parsers.

No root, no network: captured `ip -j route` output and literal file contents only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import LabError
from harness.lab._clustercheck import is_healthy, parse_status
from harness.lab._configs import render_host_configs
from harness.lab._galera import read_grastate
from harness.lab._paths import LabPaths
from harness.lab._preflight import REQUIRED_FILES, missing_packages, missing_packages_message, overlapping_routes
from harness.lab._render import render
from harness.lab._services import host_daemons
from harness.lab._state import LabState
from harness.lab._topology import build_topology
from harness.parsers.grastate import parse_recovered_position

# `ip -j route show table main` captured on this kind of machine, plus a lab already up
ROUTES = [
    {"dst": "default", "gateway": "192.0.2.1", "dev": "eth0", "flags": []},
    {"dst": "192.0.2.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "192.0.2.2", "flags": []},
    {"dst": "198.18.0.0/24", "dev": "hlab0", "protocol": "kernel", "scope": "link", "prefsrc": "198.18.0.1"},
    {"dst": "10.9.9.9", "dev": "tun0", "scope": "link"},
]


def test_own_bridge_route_and_default_route_do_not_count_as_overlap() -> None:
    assert overlapping_routes(ROUTES, "198.18.0.0/24", own_bridge="hlab0") == []


def test_a_foreign_route_into_the_subnet_is_reported_with_its_device() -> None:
    assert overlapping_routes(ROUTES, "198.18.0.0/24", own_bridge="hlab-x") == ["198.18.0.0/24 dev hlab0"]
    assert overlapping_routes(ROUTES, "192.0.2.128/25", own_bridge="hlab0") == ["192.0.2.0/24 dev eth0"]
    # a host route (no /len in `ip -j` output) inside the lab subnet overlaps too
    assert overlapping_routes(ROUTES, "10.9.9.0/24", own_bridge="hlab0") == ["10.9.9.9 dev tun0"]
    assert overlapping_routes(ROUTES, "198.19.0.0/24", own_bridge="hlab-x") == []


def test_missing_packages_are_listed_once_each_with_the_apt_command() -> None:
    absent = {p for p, pkg in REQUIRED_FILES.items() if pkg in ("galera-4", "keepalived", "openssh-client")}
    pkgs = missing_packages(exists=lambda p: p not in absent)
    assert pkgs == ["galera-4", "keepalived", "openssh-client"]
    msg = missing_packages_message(pkgs)
    assert "missing Debian packages: galera-4, keepalived, openssh-client" in msg
    assert "apt-get install -y --no-install-recommends galera-4 keepalived openssh-client" in msg
    assert missing_packages(exists=lambda p: True) == []


def test_topology_addresses_and_names_derive_from_subnet_and_name() -> None:
    topo = build_topology("default", "198.18.0.0/24")
    assert topo.bridge == "hlab0" and topo.bridge_address == "198.18.0.1"
    assert {h: topo.hosts[h].address for h in ("client", "dir1", "dir2", "web3", "db1")} == {
        "client": "198.18.0.5", "dir1": "198.18.0.11", "dir2": "198.18.0.12", "web3": "198.18.0.23",
        "db1": "198.18.0.31"}
    assert topo.vips == {"web": "198.18.0.100", "db": "198.18.0.101"}
    assert topo.hosts["dir1"].netns == "hlab-dir1" and topo.hosts["dir1"].veth == "hlab0h11"
    assert topo.hosts["db2"].mac == "02:48:4c:12:00:20"
    other = build_topology("ci7", "10.77.0.0/16")
    assert other.bridge == "hlab-ci7" and other.hosts["web1"].netns == "hlab-ci7-web1"
    assert other.hosts["web1"].address == "10.77.0.21" and other.vips["db"] == "10.77.0.101"
    assert other.mysql_host_pattern() == "10.77.0.0/255.255.0.0"
    assert all(len(h.veth) <= 15 for h in other.hosts.values())
    assert [h.name for h in topo.with_role("db")] == ["db1", "db2", "db3"]


@pytest.mark.parametrize("name,subnet,needle", [
    ("default", "198.18.0.0/26", "too small"),
    ("default", "198.18.0.1/24", "not an IPv4 network"),
    ("default", "2001:db8::/64", "not an IPv4 network"),
    ("Bad_Name", "198.18.0.0/24", "lab name 'Bad_Name'"),
    ("toolongname", "198.18.0.0/24", "15 characters"),
])
def test_bad_topology_input_is_one_clear_error(name: str, subnet: str, needle: str) -> None:
    with pytest.raises(LabError, match=needle):
        build_topology(name, subnet)


def _configs(tmp_path: Path, host: str) -> dict[str, str]:
    topo = build_topology("default", "198.18.0.0/24")
    files = render_host_configs(topo, topo.host(host), LabPaths(tmp_path), advert_int=0.5, lms_password="pw123")
    return {p.name: content for p, (content, _mode) in files.items()}


def test_director_configs_render_vrrp_and_haproxy_as_specified(tmp_path: Path) -> None:
    c1, c2 = _configs(tmp_path, "dir1"), _configs(tmp_path, "dir2")
    ka = c1["keepalived.conf"]
    assert "vrrp_version 3" in ka and ka.count("vrrp_instance") == 2
    assert "advert_int 0.5" in ka and "priority 150" in ka and "state MASTER" in ka
    assert "198.18.0.100/24 dev eth0" in ka and "198.18.0.101/24 dev eth0" in ka
    assert "priority 100" in c2["keepalived.conf"] and "state BACKUP" in c2["keepalived.conf"]
    hp = c1["haproxy.cfg"]
    for needle in ("bind 198.18.0.100:80", "bind 198.18.0.101:3306", "option httpchk GET /healthz.php",
                   "inter 1s fastinter 200ms", "fall 2 rise 2", "retries 3", "option redispatch",
                   "stats socket /run/haproxy/admin.sock mode 600 level admin", "server web3 198.18.0.23:80 check",
                   "port 9200", "server db2 198.18.0.32:3306 check backup"):
        assert needle in hp, needle
    assert "server db1 198.18.0.31:3306 check\n" in hp  # the one active writer
    notify = c1["keepalived-notify.sh"]
    assert '/run/keepalived/$2.state' in notify and "date -u '+%s.%N " in notify and "$$" not in notify


def test_web_and_db_configs_render(tmp_path: Path) -> None:
    ap = _configs(tmp_path, "web2")["apache2.conf"]
    for needle in ("Listen 198.18.0.22:80", "PidFile /run/apache2/apache2.pid", "DefaultRuntimeDir /run/apache2",
                   "Mutex file:/run/apache2/lock", "libphp8.2.so", "mod_mpm_prefork.so", "SetEnv LMS_NODE web2",
                   "SetEnv LMS_DB_HOST 198.18.0.101", "SetEnv LMS_DB_PASSWORD pw123", "SetEnv LMS_DB_NAME moodle",
                   "SetEnv LMS_WWWROOT http://198.18.0.100", '<FilesMatch "\\.php$">'):
        assert needle in ap, needle
    cnf = _configs(tmp_path, "db3")["galera.cnf"]
    for needle in ("wsrep_node_address = 198.18.0.33", "bind-address = 198.18.0.33",
                   "gcomm://198.18.0.31,198.18.0.32,198.18.0.33", "wsrep_sst_method = rsync",
                   "evs.suspect_timeout=PT3S", "socket = /run/mysqld/mysqld.sock", "skip-name-resolve"):
        assert needle in cnf, needle
    assert "ListenAddress 198.18.0.33" in _configs(tmp_path, "db3")["sshd_config"]
    assert "UsePAM no" in _configs(tmp_path, "client")["sshd_config"]


def test_render_names_a_missing_value() -> None:
    with pytest.raises(LabError, match=r"sshd_config: no value for \$address"):
        render("sshd_config", host="x")


def test_daemons_per_role_in_start_order() -> None:
    topo = build_topology()
    assert host_daemons(topo.host("dir1")) == ["sshd", "haproxy", "keepalived"]
    assert host_daemons(topo.host("db1")) == ["sshd", "mariadb", "clustercheck"]
    assert host_daemons(topo.host("client")) == ["sshd"]


def test_galera_recovery_parsing(tmp_path: Path) -> None:
    log = ("2026-11-25  1:58:05 0 [Note] InnoDB: Starting recovery\n"
           "2026-11-25  1:58:06 0 [Note] WSREP: Recovered position: 913d107b-e873-11f1-bd73-f354722f3066:339\n")
    assert parse_recovered_position(log) == "913d107b-e873-11f1-bd73-f354722f3066:339"
    assert parse_recovered_position("WSREP: Recovered position: 00000000-0000-0000-0000-000000000000:-1") is None
    assert parse_recovered_position("nothing here") is None
    (tmp_path / "grastate.dat").write_text(
        "# GALERA saved state\nversion: 2.1\nuuid:    913d107b-e873-11f1-bd73-f354722f3066\nseqno:   -1\n"
        "safe_to_bootstrap: 0\n")
    assert read_grastate(tmp_path) == {"version": "2.1", "uuid": "913d107b-e873-11f1-bd73-f354722f3066",
                                       "seqno": "-1", "safe_to_bootstrap": "0"}
    assert read_grastate(tmp_path / "absent") == {}


def test_clustercheck_requires_synced_and_ready() -> None:
    status = parse_status("wsrep_local_state_comment\tSynced\nwsrep_ready\tON\nwsrep_cluster_size\t3\n")
    assert status["wsrep_cluster_size"] == "3" and is_healthy(status)
    assert not is_healthy(parse_status("wsrep_local_state_comment\tDonor/Desynced\nwsrep_ready\tON\n"))
    assert not is_healthy(parse_status("wsrep_local_state_comment\tSynced\nwsrep_ready\tOFF\n"))
    assert not is_healthy({})


def test_state_records_are_saved_at_once_and_idempotent(tmp_path: Path) -> None:
    state = LabState.load(tmp_path)
    state.record("netns", "hlab-web1")
    state.record("netns", "hlab-web1")
    state.set_init("web1", pid=123, starttime=456)
    again = LabState.load(tmp_path)  # what a SIGKILLed `up` leaves for `down`
    assert again.records("netns") == [{"kind": "netns", "name": "hlab-web1"}]
    assert again.init("web1") == {"pid": 123, "starttime": 456}


def test_a_down_server_status_says_why_from_haproxys_last_check() -> None:
    from harness.parsers.haproxy_stat import backend_servers, parse_show_stat

    text = ("# pxname,svname,status,check_status,last_chk\n"
            "web,web1,UP,L7OK,HTTP status check validated\n"
            "web,web3,DOWN,L7TOUT,Layer7 timeout: check duration 1001ms\n"
            "web,web2,DOWN 1/2,,\n")
    rows = backend_servers(parse_show_stat(text))["web"]
    assert rows == {"web1": "UP", "web3": "DOWN(L7TOUT Layer7 timeout: check duration 1001ms)", "web2": "DOWN 1/2"}
