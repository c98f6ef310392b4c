from pathlib import Path

import pytest

from harness.errors import ParseError
from harness.parsers.haproxy_stat import parse_show_stat, server_states

SAMPLES = Path(__file__).parent / "samples"


def test_real_show_stat_from_haproxy_2_6():
    # captured from haproxy 2.6.12 on a stats socket: web1 up, web2 refused, web3 disabled
    rows = parse_show_stat((SAMPLES / "haproxy_show_stat_2.6.csv").read_text())
    assert server_states(rows) == {
        "bk_web": {"web1": "UP", "web2": "DOWN", "web3": "MAINT"},
        "bk_db": {"db1": "DOWN", "db2": "NOCHECK"},
    }
    web2 = next(r for r in rows if r.name == "web2")
    assert web2.check_status == "L4CON" and web2.address == "127.0.0.1:18092" and web2.is_server
    kinds = {(r.proxy, r.name): r.type for r in rows}
    assert kinds[("ft_web", "FRONTEND")] == "frontend" and kinds[("bk_web", "BACKEND")] == "backend"


def test_transitional_states_and_reordered_columns():
    text = "# pxname,svname,status,weight\nbk,web1,UP 1/2,1\nbk,web2,DOWN 1/2,1\nbk,web3,MAINT (via bk/web1),0\nbk,web4,DRAIN,0\n"
    rows = parse_show_stat(text)
    assert [(r.state, r.transitional) for r in rows] == [("UP", True), ("DOWN", True), ("MAINT", False), ("DRAIN", False)]
    assert rows[2].weight == 0


def test_errors():
    with pytest.raises(ParseError, match="haproxy show stat: line 1: expected the '# pxname"):
        parse_show_stat("Unknown command. Please enter one of the following commands only :\n")
    with pytest.raises(ParseError, match="line 2: 2 fields"):
        parse_show_stat("# pxname,svname,status\nbk,web1\n")


def test_backend_servers_say_why_a_server_is_down_from_the_captured_sample():
    from harness.parsers.haproxy_stat import backend_servers

    rows = parse_show_stat((SAMPLES / "haproxy_show_stat_2.6.csv").read_text())
    assert backend_servers(rows) == {
        "bk_web": {"web1": "UP", "web2": "DOWN(L4CON Connection refused)", "web3": "MAINT"},
        "bk_db": {"db1": "DOWN(L4CON Connection refused)", "db2": "no check"},
    }
    web2 = next(r for r in rows if r.name == "web2")
    assert web2.last_check == "Connection refused"
