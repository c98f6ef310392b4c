"""Audits of one state sample against the inventory (what 'steady' means between steps)."""

from __future__ import annotations

from harness.audit import audit_state
from harness.inventory._model import Host, Inventory, Vip


def inventory() -> Inventory:
    hosts = {
        "dir1": Host("dir1", "198.18.0.11", ("director",)),
        "dir2": Host("dir2", "198.18.0.12", ("director",)),
        "db1": Host("db1", "198.18.0.31", ("db",)),
        "db2": Host("db2", "198.18.0.32", ("db",)),
    }
    vips = {"web": Vip("web", "198.18.0.100", 80, "http"), "db": Vip("db", "198.18.0.101", 3306, "mysql")}
    return Inventory("lab", hosts, vips)


def synced(size: int = 2) -> dict:
    return {"wsrep_local_state_comment": "Synced", "wsrep_cluster_status": "Primary",
            "wsrep_ready": "ON", "wsrep_cluster_size": size}


STEADY = {
    "vrrp": {"dir1": {"VI_WEB": "MASTER", "VI_DB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP", "VI_DB": "BACKUP"}},
    "vip_holders": {"web": ["dir1"], "db": ["dir1"]},
    "backends": {"dir1": {"web": {"web1": "UP", "web2": "UP"}}, "dir2": {"web": {"web1": "UP", "web2": "UP"}}},
    "db": {"db1": synced(), "db2": synced()},
    "unreachable": [],
}


def test_a_steady_sample_has_no_problems():
    assert audit_state(STEADY, inventory()) == []


def test_split_brain_and_a_vip_on_two_hosts_are_reported():
    s = dict(STEADY, vrrp={"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "MASTER"}},
             vip_holders={"web": ["dir1", "dir2"], "db": []})
    problems = audit_state(s, inventory())
    assert "VRRP VI_WEB: 2 MASTER(s) ['dir1', 'dir2']" in problems
    assert "VIP web (198.18.0.100) held by 2 host(s) ['dir1', 'dir2']" in problems
    assert "VIP db (198.18.0.101) held by 0 host(s) []" in problems


def test_backends_down_count_on_every_director_the_standby_too():
    # on main only the director holding the VIP was judged: a standby with dead backends (or
    # none) read steady, and the first failover met it
    s = dict(STEADY, backends={"dir1": {"web": {"web1": "UP", "web2": "DOWN 1/2"}}, "dir2": {"web": {"web1": "DOWN"}}})
    assert audit_state(s, inventory()) == ["dir1 backend web: not UP: web2", "dir2 backend web: not UP: web1"]
    assert audit_state(s, inventory(), require_backends=False) == []


def test_a_standby_missing_a_pool_the_master_balances_is_not_steady():
    s = dict(STEADY, backends={"dir1": {"web": {"web1": "UP"}, "db": {"db1": "UP", "db2": "UP"}},
                               "dir2": {"web": {"web1": "UP"}}})
    assert audit_state(s, inventory()) == ["dir2 backend db: not in the table: db1, db2"]


def test_galera_node_not_synced_or_cluster_shrunk_is_reported():
    s = dict(STEADY, db={"db1": synced(1), "db2": dict(synced(), wsrep_local_state_comment="Joining")})
    assert audit_state(s, inventory()) == [
        "db db1: wsrep_cluster_size=1 < 2",
        "db db2: wsrep_local_state_comment=Joining",
    ]


def test_unreachable_host_is_reported_once():
    s = dict(STEADY, unreachable=["db2"], db={"db1": synced()})
    assert audit_state(s, inventory()) == ["unreachable: db2"]


def test_a_real_server_missing_from_an_lvs_table_is_reported():
    """keepalived removes a dead real server from IPVS rather than marking it DOWN."""
    inv = inventory()
    hosts = dict(inv.hosts, web1=Host("web1", "198.18.0.21", ("web",)), web2=Host("web2", "198.18.0.22", ("web",)))
    inv = Inventory("lab", hosts, inv.vips)
    s = dict(STEADY, backends={"dir1": {"web": {"web1": "UP"}, "db": {"db1": "UP", "db2": "UP"}}})
    assert audit_state(s, inv) == ["dir1 backend web: not in the table: web2"]
