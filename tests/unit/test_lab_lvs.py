"""LVS directors of the lab: rendered keepalived config, guest status parsing (no lab needed)."""

from __future__ import annotations

from pathlib import Path

from harness.lab._configs import render_host_configs
from harness.lab._directors import expected_backends, ipvs_backends
from harness.lab._paths import LabPaths
from harness.lab._topology import VRRP_INSTANCES, build_topology
from harness.parsers.guest_status import parse_guest_status

TOPO = build_topology("lvst", "198.18.6.0/24")
PATHS = LabPaths(Path("/var/lib/harness-lab/lvst"))

STATUS = """keepalived alive
vrrp VI_WEB MASTER
vrrp VI_DB BACKUP
@@addr
2: vec0    inet 198.18.6.11/24 brd 198.18.6.255 scope global vec0\\       valid_lft forever preferred_lft forever
2: vec0    inet 198.18.6.100/24 scope global secondary vec0\\       valid_lft forever preferred_lft forever
@@ipvs
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  198.18.6.100:80 rr
  -> 198.18.6.21:80               Route   1      0          0
  -> 198.18.6.23:80               Route   1      0          1
TCP  198.18.6.101:3306 fo
  -> 198.18.6.31:3306             Route   3      0          20
  -> 198.18.6.32:3306             Route   0      0          0
"""


def _conf(host: str, sync: bool = True) -> str:
    files = render_host_configs(TOPO, TOPO.host(host), PATHS, 1.0, "pw", "lvs", sync)
    return files[PATHS.conf(host, "keepalived.conf")][0]


def test_director_config_is_lvs_dr_with_sync_and_a_single_db_writer() -> None:
    conf = _conf("dir1")
    assert "lvs_sync_daemon vec0 VI_WEB id 51" in conf
    assert "interface vec0" in conf and "198.18.6.100/24 dev vec0" in conf
    assert conf.count("lb_kind DR") == 2
    web, db = conf.split("virtual_server 198.18.6.100 80")[1].split("virtual_server 198.18.6.101 3306")
    assert "lb_algo rr" in web and web.count("real_server") == 3 and "path /healthz.php" in web
    assert "lb_algo fo" in db and "connect_port 9200" in db
    weights = [int(line.split()[1]) for line in db.splitlines() if line.strip().startswith("weight")]
    assert weights == [3, 2, 1]  # db1 the writer, then db2, then db3
    assert "haproxy" not in conf


def test_sync_off_leaves_no_sync_daemon() -> None:
    conf = _conf("dir2", sync=False)
    assert not [ln for ln in conf.splitlines() if ln.strip().startswith("lvs_sync_daemon")]
    assert "priority 100" in conf and "state BACKUP" in conf


def test_real_servers_listen_on_the_vip_only_in_lvs_mode() -> None:
    lvs = render_host_configs(TOPO, TOPO.host("web1"), PATHS, 1.0, "pw", "lvs")
    ha = render_host_configs(TOPO, TOPO.host("web1"), PATHS, 1.0, "pw", "haproxy")
    key = PATHS.conf("web1", "apache2.conf")
    assert "Listen 198.18.6.100:80" in lvs[key][0] and "Listen 198.18.6.100:80" not in ha[key][0]
    db = PATHS.conf("db1", "galera.cnf")
    assert "bind-address = 0.0.0.0" in render_host_configs(TOPO, TOPO.host("db1"), PATHS, 1.0, "pw", "lvs")[db][0]
    assert "bind-address = 198.18.6.31" in render_host_configs(TOPO, TOPO.host("db1"), PATHS, 1.0, "pw")[db][0]


def test_guest_status_parsed() -> None:
    st = parse_guest_status(STATUS, VRRP_INSTANCES)
    assert st.keepalived_alive and st.vrrp == {"VI_WEB": "MASTER", "VI_DB": "BACKUP"}
    assert st.addresses == {"198.18.6.11", "198.18.6.100"}
    backends = ipvs_backends(st.ipvs_table, TOPO)
    assert backends == {"web": {"web1": "UP", "web3": "UP"}, "db": {"db1": "UP", "db2": "DRAIN"}}
    missing = [s for s in expected_backends(TOPO)["web"] if s not in backends["web"]]
    assert missing == ["web2"]


def test_dead_keepalived_reads_dead_whatever_its_state_files_say() -> None:
    st = parse_guest_status(STATUS.replace("keepalived alive", "keepalived dead"), VRRP_INSTANCES)
    assert st.vrrp == {"VI_WEB": "DEAD", "VI_DB": "DEAD"}


def test_tap_names_derive_from_the_lab_name() -> None:
    assert TOPO.host("dir1").tap == "hlab-lvstu11"
    assert build_topology().host("dir1").tap == "hlab0u11"
    assert all(len(h.tap) <= 15 for h in build_topology("abcdef").hosts.values())


def test_web_checks_remove_a_crashed_node_within_a_second_and_the_guest_loads_iptables() -> None:
    """LVS does not retry elsewhere: every 0.1 s a dead web node stays in the table costs requests."""
    from harness.lab._lvs import GUEST_MODULES
    from harness.parsers.keepalived_conf import parse_keepalived_conf

    conf = _conf("dir1")
    parsed = parse_keepalived_conf(conf, source="dir1")
    assert [vs.port for vs in parsed.virtual_servers] == [80, 3306]
    web, db = conf.split("virtual_server 198.18.6.100 80")[1].split("virtual_server 198.18.6.101 3306")
    assert "delay_loop 0.5" in web and web.count("delay_before_retry 0.2") == 3 and web.count("retry 1") == 3
    assert "delay_loop 1" in db and db.count("delay_before_retry 0.5") == 3
    # the partition fault falls back to iptables-legacy in the guest: nf_tables has no IP family there
    assert {"iptable_filter", "ip6table_filter", "ip_vs"} <= set(GUEST_MODULES)


def test_the_lab_promises_less_availability_with_lvs_directors(tmp_path: Path) -> None:
    from harness.lab import Lab

    slo = {kind: Lab("t", state_dir=tmp_path / kind, directors=kind).inventory_dict()["slo"]
           for kind in ("lvs", "haproxy")}
    assert slo["lvs"]["availability_percent"] == 98.0 and slo["haproxy"]["availability_percent"] == 99.0
    assert slo["lvs"]["web_failover_s"] == slo["haproxy"]["web_failover_s"] == 3.0
