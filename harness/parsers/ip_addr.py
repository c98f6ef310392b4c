"""Parse ``ip addr`` output: which addresses a host holds (VIP holders, leftover VIPs).

Three forms meet the harness: ``ip -o addr show`` (one line an address, used by faults to find a
dead director's leftover VIPs), ``ip -o -4 addr show`` grouped by interface (the state sampler's
VIP holders) and ``ip -j addr show`` (JSON, read by the lab on its own namespaces).
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import parse_error

_INET = re.compile(r"\binet\s+(?P<addr>[0-9.]+)(?:/\d+)?")


def parse_ip_addr(text: str) -> dict[str, list[str]]:
    """``ip -o -4 addr show`` -> interface -> IPv4 addresses, in order (``eth0@if12`` -> ``eth0``)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or not fields[0].endswith(":"):
            continue
        ifname = fields[1].split("@", 1)[0]
        m = _INET.search(line)
        if m:
            out.setdefault(ifname, []).append(m.group("addr"))
    return out


def parse_addr_show(text: str) -> list[tuple[str, str]]:
    """``ip -o addr show`` lines -> (interface, address/prefix), IPv4 and IPv6."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("inet", "inet6"):
            out.append((parts[1].split("@", 1)[0], parts[3]))
    return out


def addresses_from_json(links: Any) -> set[str]:
    """The addresses (no prefix) in ``ip -j addr show``'s decoded JSON, every interface."""
    if not isinstance(links, list):
        raise parse_error("ip -j addr show", None, None, f"expected a JSON list of links, got {type(links).__name__}")
    return {str(a["local"]) for link in links if isinstance(link, dict)
            for a in link.get("addr_info", []) if isinstance(a, dict) and "local" in a}


def parse_addr_json(text: str) -> set[str]:
    """``ip -j addr show`` text -> the addresses it lists (empty output: none)."""
    if not text.strip():
        return set()
    try:
        links = json.loads(text)
    except ValueError as exc:
        raise parse_error("ip -j addr show", None, None, f"not JSON ({exc})") from exc
    return addresses_from_json(links)
