from pathlib import Path

import pytest

from harness.errors import ParseError
from harness.parsers.keepalived_conf import VrrpInstance, failover_budget_s, parse_keepalived_conf, skew_time_s
from harness.parsers.keepalived_data import parse_keepalived_data

SAMPLES = Path(__file__).parent / "samples"


def test_conf_instances_and_virtual_servers():
    conf = parse_keepalived_conf((SAMPLES / "keepalived.conf").read_text())
    web = conf.vrrp_instances["VI_WEB"]
    assert (web.state, web.interface, web.virtual_router_id, web.priority, web.advert_int) == ("BACKUP", "eth0", 51, 100, 1.0)
    assert web.version == 3  # from global_defs vrrp_version
    assert web.vips == ("198.18.0.100",)
    assert not web.nopreempt and web.preempt_delay == 0
    db = conf.vrrp_instances["VI_DB"]  # '{' on its own line, one-line virtual_ipaddress block
    assert (db.priority, db.advert_int, db.nopreempt, db.preempt_delay) == (150, 0.1, True, 5.0)
    assert db.virtual_ipaddresses == ("198.18.0.101/24",)
    (vs,) = conf.virtual_servers
    assert (vs.address, vs.port, vs.lb_algo, vs.lb_kind, vs.protocol) == ("198.18.0.100", 80, "wlc", "DR", "TCP")
    assert [(r.address, r.port, r.weight) for r in vs.real_servers] == [("198.18.0.21", 80, 1), ("198.18.0.22", 80, 2)]
    assert conf.unresolved_includes == ("/etc/keepalived/conf.d/*.conf",)


def test_failover_budget_formula():
    conf = parse_keepalived_conf((SAMPLES / "keepalived.conf").read_text())
    # VRRPv3: 3 * 1 + (256 - 100) * 1 / 256
    assert failover_budget_s(conf.vrrp_instances["VI_WEB"]) == pytest.approx(3.609375)
    # 3 * 0.1 + (256 - 150) * 0.1 / 256 + preempt_delay 5
    assert failover_budget_s(conf.vrrp_instances["VI_DB"]) == pytest.approx(5.34140625)
    # VRRPv2 skew does not scale with advert_int
    assert skew_time_s(VrrpInstance("X", priority=100, advert_int=2, version=2)) == pytest.approx(156 / 256)
    assert failover_budget_s(VrrpInstance("X", priority=100, advert_int=2, version=2)) == pytest.approx(6 + 156 / 256)


def test_include_loader_expands_in_place():
    files = {"/etc/keepalived/conf.d/*.conf": [("conf.d/db.conf", "vrrp_instance VI_X {\n priority 90\n advert_int 2\n}\n")]}
    conf = parse_keepalived_conf("include /etc/keepalived/conf.d/*.conf\n", include_loader=files.__getitem__)
    assert conf.vrrp_instances["VI_X"].priority == 90 and conf.unresolved_includes == ()


def test_conf_errors_name_line():
    with pytest.raises(ParseError, match=r"keepalived.conf: line 2: priority: not a number"):
        parse_keepalived_conf("vrrp_instance A {\n priority high\n}\n")
    with pytest.raises(ParseError, match="unclosed"):
        parse_keepalived_conf("vrrp_instance A {\n priority 100\n")
    with pytest.raises(ParseError, match="line 1: vrrp_instance A: priority 300"):
        parse_keepalived_conf("vrrp_instance A {\n priority 300\n}\n")


def test_keepalived_data_states():
    assert parse_keepalived_data((SAMPLES / "keepalived.data").read_text()) == {"VI_WEB": "MASTER", "VI_DB": "BACKUP"}


def test_keepalived_data_errors():
    with pytest.raises(ParseError, match="not a keepalived dump"):
        parse_keepalived_data("cat: /tmp/keepalived.data: No such file or directory\n")
    text = "------< VRRP Topology >------\n VRRP Instance = VI_1\n   Wantstate = MASTER\n------< VRRP Sockpool >------\n"
    with pytest.raises(ParseError, match="line 2: instance 'VI_1' has no 'State =' line"):
        parse_keepalived_data(text)
