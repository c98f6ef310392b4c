"""The standby is ready to take over every VIP (issue 14): read from the directors' own
keepalived.conf before a test starts, and judged on every director's backends by the audit.

Before: audits looked at the director holding the VIPs only, so a standby without the DB VIP
(every new DB connection failed for ~14 s after a failover) or with dead backends read steady.
"""

from __future__ import annotations

import pytest

from harness.acceptance import require_standby_ready
from harness.audit import takeover_problems
from harness.cluster import Cluster
from harness.invariants import TakeoverGap, takeover_gaps
from harness.inventory._model import Host, Inventory, Service, Vip
from harness.parsers.keepalived_conf import parse_keepalived_conf
from harness.testing import FakeCluster

VIPS = {"web": ("198.18.0.100", 80), "db": ("198.18.0.101", 3306)}


def conf(vips: list[str], servers: list[str] = ()) -> str:
    instances = "".join(
        f"vrrp_instance VI_{i} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {51 + i}\n"
        f"    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        {v}/24\n    }}\n}}\n"
        for i, v in enumerate(vips))
    vs = "".join(f"virtual_server {s} {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n}}\n" for s in servers)
    return instances + vs


def parsed(text: str):
    return parse_keepalived_conf(text, source="test")


LVS_FULL = conf(["198.18.0.100", "198.18.0.101"], ["198.18.0.100 80", "198.18.0.101 3306"])


def test_two_directors_carrying_every_vip_have_no_gap():
    assert takeover_gaps({"dir1": parsed(LVS_FULL), "dir2": parsed(LVS_FULL)}, VIPS) == []
    haproxy = conf(["198.18.0.100", "198.18.0.101"])  # no virtual_server anywhere: HAProxy balances
    assert takeover_gaps({"dir1": parsed(haproxy), "dir2": parsed(haproxy)}, VIPS) == []


def test_a_standby_without_the_db_vip_cannot_take_it_over():
    standby = conf(["198.18.0.100"], ["198.18.0.100 80", "198.18.0.101 3306"])
    gaps = takeover_gaps({"dir1": parsed(LVS_FULL), "dir2": parsed(standby)}, VIPS)
    assert gaps == [TakeoverGap("dir2", "db", "198.18.0.101", 3306, "vrrp")]
    assert takeover_problems(gaps) == ["dir2 cannot take over VIP db (198.18.0.101:3306): no VRRP instance carries it"]


def test_a_standby_holding_the_vip_without_its_lvs_virtual_server_forwards_nothing():
    standby = conf(["198.18.0.100", "198.18.0.101"], ["198.18.0.100 80"])
    gaps = takeover_gaps({"dir1": parsed(LVS_FULL), "dir2": parsed(standby)}, VIPS)
    assert gaps == [TakeoverGap("dir2", "db", "198.18.0.101", 3306, "virtual_server")]


def test_a_vip_no_director_carries_is_a_gap_on_every_director():
    web_only = conf(["198.18.0.100"])
    gaps = takeover_gaps({"dir1": parsed(web_only), "dir2": parsed(web_only)}, VIPS)
    assert [(g.director, g.vip) for g in gaps] == [("dir1", "db"), ("dir2", "db")]


def _cluster(dir2_conf: str) -> tuple[Cluster, FakeCluster]:
    fake = FakeCluster()
    fake("dir1").on(r"^cat /etc/keepalived/keepalived.conf$", (0, LVS_FULL, ""))
    fake("dir2").on(r"^cat /etc/keepalived/keepalived.conf$", (0, dir2_conf, ""))
    keepalived = {"keepalived": Service("keepalived", "command", start="keepalived", stop="kill", process="keepalived")}
    inv = Inventory("t", {"dir1": Host("dir1", "198.18.0.11", ("director",), services=keepalived),
                          "dir2": Host("dir2", "198.18.0.12", ("director",), services=keepalived)},
                    {"web": Vip("web", "198.18.0.100", 80, "http"), "db": Vip("db", "198.18.0.101", 3306, "mysql")})
    return Cluster(inv, transport_factory=lambda h: fake(h.name)), fake


def test_the_acceptance_flow_refuses_to_start_when_the_standby_lacks_a_vip():
    cluster, fake = _cluster(conf(["198.18.0.100"], ["198.18.0.100 80", "198.18.0.101 3306"]))
    with pytest.raises(AssertionError, match=r"standby is not ready to take over: dir2 cannot take over VIP db"):
        require_standby_ready(cluster)
    assert fake("dir2").commands == ["cat /etc/keepalived/keepalived.conf"]


def test_the_acceptance_flow_starts_when_every_director_can_take_every_vip():
    cluster, _ = _cluster(LVS_FULL)
    require_standby_ready(cluster)  # no exception: nothing to refuse
