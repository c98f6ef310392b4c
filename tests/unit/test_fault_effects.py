"""Did the fault take effect: each check on literal state samples."""

from __future__ import annotations

from harness.fault_effects import backend_out_of_pool, db_node_left, directors_split, vip_moved_away


def test_the_vip_moved_away_when_another_director_holds_it():
    # a crashed MASTER may still list the VIP (two MACs answer ARP): a new holder is what counts
    assert vip_moved_away({"vip_holders": {"web": ["dir1", "dir2"]}}, "dir1") == []
    assert vip_moved_away({"vip_holders": {"web": ["dir2"]}}, "dir1") == []
    assert vip_moved_away({"vip_holders": {"web": ["dir1"]}}, "dir1") == ["web VIP held by ['dir1'] (was dir1)"]
    assert vip_moved_away({"vip_holders": {"web": []}}, "dir1") == ["web VIP held by nobody (was dir1)"]
    assert vip_moved_away({"vip_holders": {"db": ["dir1"]}}, "dir2", "db") == []


def test_a_web_node_is_out_when_marked_down_or_gone_from_the_table():
    haproxy = {"backends": {"dir1": {"web": {"web1": "UP", "web2": "DOWN 1/2"}, "stats": {}},
                            "dir2": {"web": {"web1": "UP", "web2": "UP"}}}}
    assert backend_out_of_pool(haproxy, "web2", "dir1") == []
    assert backend_out_of_pool(haproxy, "web1", "dir1") == ["web1 still ['UP'] on dir1"]
    # only the VIP holder's balancer counts
    assert backend_out_of_pool(haproxy, "web2", "dir2") == ["web2 still ['UP'] on dir2"]
    # LVS: keepalived drops a failed real server from the IPVS table
    lvs = {"backends": {"dir1": {"web": {"web1": "UP"}}}}
    assert backend_out_of_pool(lvs, "web2", "dir1") == []
    # no pools at all (the director did not answer): nothing is known yet
    assert backend_out_of_pool({"backends": {}}, "web2", "dir1") == ["web2 still unknown on dir1"]
    # in two pools, down in one only: still served
    two = {"backends": {"dir1": {"a": {"web2": "DOWN"}, "b": {"web2": "UP"}}}}
    assert backend_out_of_pool(two, "web2", "dir1") == ["web2 still ['DOWN', 'UP'] on dir1"]


def test_a_db_node_left_when_the_others_report_a_smaller_cluster():
    shrunk = {"db": {"db1": {"wsrep_cluster_size": "2"}, "db2": {"wsrep_cluster_size": 2}, "db3": {"wsrep_cluster_size": 3}}}
    assert db_node_left(shrunk, "db3", 3) == []  # the dead node's own (stale) answer does not count
    whole = {"db": {"db1": {"wsrep_cluster_size": 3}, "db2": {"wsrep_cluster_size": 2}}}
    assert db_node_left(whole, "db3", 3) == ["the other nodes still report cluster size [2, 3]"]
    assert db_node_left({"db": {"db3": {}}}, "db3", 3) == ["the other nodes still report cluster size []"]
    assert db_node_left({"db": {"db1": {"wsrep_cluster_size": None}}}, "db3", 3) == []  # size 0: not whole


def test_a_partition_shows_two_masters():
    both = {"vrrp": {"dir1": {"VI_WEB": "MASTER", "VI_DB": "BACKUP"}, "dir2": {"VI_DB": "MASTER"}}}
    assert directors_split(both) == []
    one = {"vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP"}, "dir3": "FAULT"}}
    assert directors_split(one) == ["MASTER on ['dir1'] only"]
    assert directors_split({}) == ["MASTER on [] only"]
