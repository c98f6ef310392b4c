from pathlib import Path

import pytest

from harness.errors import ParseError
from harness.parsers.ipvsadm import parse_ipvsadm_connections, parse_ipvsadm_list, parse_ipvsadm_stats

SAMPLES = Path(__file__).parent / "samples"


def test_list_services_real_servers_and_flags():
    services = parse_ipvsadm_list((SAMPLES / "ipvsadm_Ln.txt").read_text())
    assert [s.endpoint for s in services] == ["198.18.0.100:80", "198.18.0.101:3306", "2001:db8::100:53", "1"]
    web = services[0]
    assert (web.protocol, web.scheduler, web.persistent_s) == ("TCP", "wlc", 300)
    assert [(r.address, r.weight, r.active_conns, r.inactive_conns) for r in web.real_servers] == [
        ("198.18.0.21", 1, 12, 140),
        ("198.18.0.22", 1, 11, 133),
        ("198.18.0.23", 0, 0, 7),
    ]
    assert {r.method for r in web.real_servers} == {"dr"}
    assert services[1].real_servers[0].method == "nat"
    v6 = services[2]
    assert (v6.protocol, v6.address, v6.port) == ("UDP", "2001:db8::100", 53)
    assert v6.real_servers[0].address == "2001:db8::21" and v6.real_servers[0].method == "tun"
    fwm = services[3]
    assert (fwm.protocol, fwm.address, fwm.port, fwm.scheduler) == ("FWM", "1", None, "sh")


def test_list_with_no_services_is_empty():
    text = (
        "IP Virtual Server version 1.2.1 (size=4096)\n"
        "Prot LocalAddress:Port Scheduler Flags\n"
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    )
    assert parse_ipvsadm_list(text) == []


def test_list_errors_name_command_and_line():
    text = "IP Virtual Server version 1.2.1 (size=4096)\n  -> 10.0.0.1:80  Route 1 0 0\n"
    with pytest.raises(ParseError, match=r"ipvsadm -Ln: line 2: real server before any virtual service"):
        parse_ipvsadm_list(text)
    with pytest.raises(ParseError, match="ipvsadm -Ln: line 2: .*'TCP 10.0.0.1:80'"):
        parse_ipvsadm_list("IP Virtual Server version 1.2.1 (size=4096)\nTCP 10.0.0.1:80\n")
    with pytest.raises(ParseError, match="Protocol not available|banner"):
        parse_ipvsadm_list("Can't initialize ipvs: Protocol not available\n")


def test_stats_with_k_suffix():
    stats = parse_ipvsadm_stats((SAMPLES / "ipvsadm_Ln_stats.txt").read_text())
    assert [(s.address, s.port, s.conns) for s in stats] == [("198.18.0.100", 80, 8811), ("198.18.0.101", 3306, 2)]
    assert stats[1].outbytes == 184_940_000
    assert [r.conns for r in stats[0].real_servers] == [4420, 4391]
    assert stats[1].real_servers[1].inpkts == 660294


def test_connections():
    conns = parse_ipvsadm_connections((SAMPLES / "ipvsadm_Lnc.txt").read_text())
    assert len(conns) == 5
    assert conns[0].expire_s == 114 and conns[0].state == "TIME_WAIT"
    assert conns[1].destination == "198.18.0.22:80"
    assert [c.state for c in conns].count("ESTABLISHED") == 2
    # --persistent-conn style plain seconds
    c = parse_ipvsadm_connections("IPVS connection entries\npro expire state source virtual destination\nTCP 10798 NONE 10.0.2.5:0 10.96.100.1:80 10.0.1.1:8080\n")
    assert c[0].expire_s == 10798
    with pytest.raises(ParseError, match="line 3"):
        parse_ipvsadm_connections("IPVS connection entries\npro expire state\nTCP 01:00 garbage\n")


def test_real_server_states_name_services_and_hosts_and_keep_unknown_ones_spelled_out():
    from harness.parsers.ipvsadm import real_server_states

    text = (SAMPLES / "ipvsadm_Ln.txt").read_text()
    states = real_server_states(text, {("198.18.0.100", 80): "web"},
                                {"198.18.0.21": "web1", "198.18.0.22": "web2", "198.18.0.31": "db1"})
    assert states["web"] == {"web1": "UP", "web2": "UP", "198.18.0.23:80": "DRAIN"}
    assert states["TCP 198.18.0.101:3306"] == {"db1": "UP", "198.18.0.32:3306": "UP"}
    assert states["FWM 1"] == {"web1": "UP"}
    assert list(states) == ["web", "TCP 198.18.0.101:3306", "UDP 2001:db8::100:53", "FWM 1"]
