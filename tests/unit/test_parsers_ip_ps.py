"""Parsers of ``ip addr`` and process listings, on captured output."""

from __future__ import annotations

import pytest

from harness.errors import ParseError
from harness.parsers.ip_addr import addresses_from_json, parse_addr_json, parse_addr_show, parse_ip_addr
from harness.parsers.ps import parse_pids, parse_ps_tree

# `ip -o addr show` inside a lab director namespace holding both VIPs
IP_O_ADDR = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever
2: eth0@if31    inet 198.18.0.11/24 brd 198.18.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0@if31    inet 198.18.0.100/32 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0@if31    inet6 fe80::3c1a:8cff:fe55:e711/64 scope link \\       valid_lft forever preferred_lft forever
"""

# `ip -j addr show dev eth0`, trimmed
IP_J_ADDR = """[{"ifindex":2,"ifname":"eth0","link_index":31,"flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],
"addr_info":[{"family":"inet","local":"198.18.0.11","prefixlen":24,"broadcast":"198.18.0.255"},
{"family":"inet","local":"198.18.0.101","prefixlen":32},{"family":"inet6","local":"fe80::1","prefixlen":64}]}]"""


def test_ip_o_addr_by_interface_strips_the_peer_suffix_and_skips_ipv6() -> None:
    assert parse_ip_addr(IP_O_ADDR) == {"lo": ["127.0.0.1"], "eth0": ["198.18.0.11", "198.18.0.100"]}


def test_addr_show_lines_keep_the_prefix_for_ip_addr_del() -> None:
    assert parse_addr_show(IP_O_ADDR) == [
        ("lo", "127.0.0.1/8"), ("lo", "::1/128"), ("eth0", "198.18.0.11/24"), ("eth0", "198.18.0.100/32"),
        ("eth0", "fe80::3c1a:8cff:fe55:e711/64")]


def test_ip_json_gives_every_address_without_prefix() -> None:
    assert parse_addr_json(IP_J_ADDR) == {"198.18.0.11", "198.18.0.101", "fe80::1"}
    assert parse_addr_json("") == set()


def test_ip_json_that_is_not_a_list_of_links_names_the_command() -> None:
    with pytest.raises(ParseError, match="ip -j addr show"):
        parse_addr_json("{not json")
    with pytest.raises(ParseError, match="JSON list"):
        addresses_from_json({"ifname": "eth0"})


def test_pids_in_order_once_and_never_init() -> None:
    assert parse_pids("4711 12 4711\n1 0 x 99\n") == [4711, 12, 99]


def test_ps_tree_maps_parents_to_children_and_skips_headers() -> None:
    text = "  PID  PPID\n    1     0\n  230     1\n  231   230\n  232   230\n"
    assert parse_ps_tree(text) == {0: [1], 1: [230], 230: [231, 232]}
