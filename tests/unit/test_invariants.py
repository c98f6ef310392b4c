"""The cluster invariants over literal state samples, and how each caller words them."""

from __future__ import annotations

from harness.audit import audit_state
from harness.checkers import DefaultSteady
from harness.history import Op
from harness.invariants import (
    SIZE,
    STATE,
    DbFinding,
    Expectations,
    PoolGap,
    Source,
    galera_findings,
    learn_expectations,
    masters,
    pool_gaps,
    unreachable_hosts,
    vip_holders,
    vips_not_held_once,
    vrrp_without_one_master,
)
from harness.inventory._model import Database, Host, Inventory, Vip


def inventory(kind: str = "galera") -> Inventory:
    hosts = {
        "dir1": Host("dir1", "198.18.0.11", ("director",)),
        "dir2": Host("dir2", "198.18.0.12", ("director",)),
        "web1": Host("web1", "198.18.0.21", ("web",)),
        "web2": Host("web2", "198.18.0.22", ("web",)),
        "db1": Host("db1", "198.18.0.31", ("db",)),
        "db2": Host("db2", "198.18.0.32", ("db",)),
    }
    vips = {"web": Vip("web", "198.18.0.100", 80, "http"), "db": Vip("db", "198.18.0.101", 3306, "mysql")}
    return Inventory("lab", hosts, vips, Database(kind=kind))  # type: ignore[arg-type]  # kind: a literal str


def synced(size: int = 2) -> dict:
    return {STATE: "Synced", "wsrep_cluster_status": "Primary", "wsrep_ready": "ON", SIZE: size}


STEADY = {
    "vrrp": {"dir1": {"VI_WEB": "MASTER", "VI_DB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP", "VI_DB": "BACKUP"}},
    "vip_holders": {"web": ["dir1"], "db": ["dir1"]},
    "backends": {"dir1": {"web": {"web1": "UP", "web2": "UP"}}, "dir2": {"web": {"web1": "DOWN"}}},
    "db": {"db1": synced(), "db2": synced()},
    "unreachable": [],
}


def test_expectations_from_the_inventory():
    exp = Expectations.from_inventory(inventory())
    assert exp.source is Source.INVENTORY
    assert exp.vips == {"web": "198.18.0.100", "db": "198.18.0.101"}
    assert exp.instances is None  # every instance the sample reports
    assert exp.db_nodes == ("db1", "db2") and exp.db_cluster_size == 2
    assert exp.tier_members == {"web": ("web1", "web2"), "db": ("db1", "db2")}
    # no wsrep status to expect from anything but Galera
    ndb = Expectations.from_inventory(inventory("ndb"))
    assert ndb.db_nodes == () and ndb.db_cluster_size is None


def test_expectations_learnt_from_a_history_cover_every_sample():
    a = {"vrrp": {"dir1": {"VI_WEB": "MASTER"}}, "vip_holders": {"web": ["dir1"]}, "db": {"db1": {SIZE: "2"}}}
    b = {"vrrp": {"dir2": {"VI_DB": "BACKUP"}}, "vip_holders": {"db": []}, "db": {"db2": {SIZE: 3}, "garb": "x"}}
    ops = [Op(0, 1.0, "state", "ok", "sample", a), Op(1, 2.0, "state", "ok", "sample", b),
           Op(2, 3.0, "state", "fail", "sample", {"db": {"db9": {}}}), Op(3, 4.0, "vip-probe", "ok", "sample", a)]
    exp, n = learn_expectations(ops)
    assert n == 2 and exp.source is Source.HISTORY
    assert exp.instances == {"VI_WEB", "VI_DB"} and set(exp.vips) == {"web", "db"}
    assert exp.db_nodes == ("db1", "db2", "garb") and exp.db_cluster_size == 3
    assert learn_expectations(ops, db_cluster_size=5)[0].db_cluster_size == 5
    assert learn_expectations([])[0].db_cluster_size is None


def test_readings_of_a_sample():
    s = {"vip_holders": {"web": ["dir2", "dir1", "dir2"], "db": "dir1"},
         "vrrp": {"dir1": {"VI_WEB": "BACKUP", "VI_DB": "MASTER"}, "dir2": {"VI_WEB": "MASTER"}, "dir3": "FAULT"},
         "unreachable": ["web2", "db1"]}
    assert vip_holders(s) == ["dir1", "dir2"]
    assert vip_holders(s, "db") == []  # not a list: nobody known
    assert vip_holders({}, "web") == [] and vip_holders({"vip_holders": None}) == []
    assert masters(s) == ["dir1", "dir2"]
    assert unreachable_hosts(s) == ["web2", "db1"] and unreachable_hosts({"unreachable": None}) == []


def test_one_master_per_instance():
    assert vrrp_without_one_master(STEADY) == {}
    split = {"vrrp": {"dir2": {"VI_WEB": "MASTER"}, "dir1": {"VI_WEB": "MASTER", "VI_DB": "BACKUP"}}}
    assert vrrp_without_one_master(split) == {"VI_DB": [], "VI_WEB": ["dir2", "dir1"]}  # sample order kept
    # expected instances are judged even when no host reports them
    assert vrrp_without_one_master({"vrrp": {}}, {"VI_WEB"}) == {"VI_WEB": []}
    assert vrrp_without_one_master(split, ()) == {}


def test_every_vip_held_exactly_once():
    assert vips_not_held_once(STEADY, ["web", "db"]) == {}
    s = {"vip_holders": {"web": ["dir1", "dir2"]}}
    assert vips_not_held_once(s, ["web", "db"]) == {"db": [], "web": ["dir1", "dir2"]}


def test_pool_gaps_on_the_holder_and_missing_tier_members():
    members = {"web": ("web1", "web2", "web3")}
    s = {"backends": {"dir1": {"web": {"web1": "UP", "web2": "DOWN 1/2"}, "other": {"x": "MAINT"}},
                      "dir2": {"web": {"web1": "DOWN"}}}}
    assert pool_gaps(s, members, director="dir1") == [
        PoolGap("dir1", "other", {"x": "MAINT"}, ()),
        PoolGap("dir1", "web", {"web2": "DOWN 1/2"}, ("web3",)),
    ]
    assert [g.director for g in pool_gaps(s, members)] == ["dir1", "dir1", "dir2"]
    assert pool_gaps(STEADY, {"web": ("web1", "web2")}, director="dir1") == []
    # a pool a director does not list at all: judged only when required (the lab's IPVS view)
    members2 = {"web": ("web1",), "db": ("db1", "db2")}
    assert pool_gaps(STEADY, members2, director="dir1") == []
    assert pool_gaps(STEADY, members2, director="dir1", require_pools=True) == [PoolGap("dir1", "db", {}, ("db1", "db2"))]


def test_galera_from_the_inventory_is_strict_about_what_each_node_says():
    exp = Expectations.from_inventory(inventory())
    assert galera_findings(STEADY, exp) == []
    s = dict(STEADY, db={"db1": {SIZE: "x", "wsrep_ready": "OFF"}, "db2": {}})
    assert galera_findings(s, exp) == [
        DbFinding("db1", STATE, None, "Synced"),  # no state comment: not Synced
        DbFinding("db1", "wsrep_ready", "OFF", "ON"),  # an unreadable size is skipped
        DbFinding("db2", "status", {}, "wsrep status"),
    ]
    # an unreachable node is a problem of its own, not also "no wsrep status"
    assert galera_findings(dict(STEADY, db={"db1": synced()}, unreachable=["db2"]), exp) == []
    # a size above the node count (an arbitrator) is fine
    assert galera_findings(dict(STEADY, db={"db1": synced(3), "db2": synced(1)}), exp) == [DbFinding("db2", SIZE, 1, 2)]


def test_galera_learnt_from_a_history_judges_only_the_keys_reported():
    exp = Expectations(Source.HISTORY, db_nodes=("db1", "db2", "garb"), db_cluster_size=3)
    s = {"db": {"db1": {SIZE: "x"}, "db2": {STATE: "Donor/Desynced", SIZE: 4}, "garb": {}}, "unreachable": ["db3"]}
    assert galera_findings(s, exp) == [
        DbFinding("db1", SIZE, "x", 3),
        DbFinding("db2", STATE, "Donor/Desynced", "Synced"),
        DbFinding("db2", SIZE, 4, 3),
    ]
    assert galera_findings({"db": {}}, exp)[0] == DbFinding("db1", "status", None, "wsrep status")


DEGRADED = {
    "vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "MASTER"}},
    "vip_holders": {"web": ["dir1", "dir2"], "db": []},
    "backends": {"dir1": {"web": {"web1": "UP"}}},
    "db": {"db1": dict(synced(1), wsrep_cluster_status="non-Primary"), "db2": dict(synced(), wsrep_ready="OFF")},
    "unreachable": ["web2", "dir3"],
}


def test_the_audit_words_the_findings_as_it_always_has():
    assert audit_state(DEGRADED, inventory()) == [
        "unreachable: dir3, web2",
        "VRRP VI_WEB: 2 MASTER(s) ['dir1', 'dir2']",
        "VIP db (198.18.0.101) held by 0 host(s) []",
        "VIP web (198.18.0.100) held by 2 host(s) ['dir1', 'dir2']",
        "dir1 backend web: not in the table: web2",
        "db db1: wsrep_cluster_status=non-Primary",
        "db db1: wsrep_cluster_size=1 < 2",
        "db db2: wsrep_ready=OFF",
    ]


def test_the_recovery_checker_words_the_same_findings_its_own_way():
    ops = [Op(0, 1.0, "state", "ok", "sample", STEADY), Op(1, 2.0, "state", "ok", "sample", DEGRADED)]
    steady = DefaultSteady(ops)
    assert steady.samples == 2 and steady.instances == {"VI_WEB", "VI_DB"} and steady.db_cluster_size == 2
    assert steady(STEADY)
    assert steady.reasons(DEGRADED) == [
        "vrrp VI_DB: 0 MASTER(s)",
        "vrrp VI_WEB: 2 MASTER(s)",
        "vip db: held by 0 host(s)",
        "vip web: held by 2 host(s)",
        "unreachable: web2, dir3",
        "db db1: non-Primary",
        "db db1: cluster size 1 != 2",
        "db db2: wsrep_ready OFF",
    ]
    assert steady.reasons({**STEADY, "db": {"db1": synced()}}) == ["db db2: not sampled"]
