"""Parse ``ipvsadm -Ln``, ``ipvsadm -Ln --stats`` and ``ipvsadm -Lnc``.

Audits read the kernel's IPVS table to check that a dead web node left rotation and came
back, and which director actually forwards (the one with connection entries). Only the
numeric forms (``-n``) are supported: resolved names would make addresses ambiguous.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import parse_error

_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP", "FWM"})
_FORWARD_METHODS = {"Route": "dr", "Masq": "nat", "Tunnel": "tun", "Local": "local", "Bypass": "bypass"}
_SUFFIX = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000, "T": 1_000_000_000_000}


@dataclass(frozen=True)
class RealServer:
    """One ``-> RemoteAddress:Port  Forward Weight ActiveConn InActConn`` row."""

    address: str
    port: int
    forward: str  # as printed: Route, Masq, Tunnel, Local
    weight: int
    active_conns: int
    inactive_conns: int

    @property
    def method(self) -> str:
        """LVS forwarding method: dr, nat, tun, local (or the raw word if unknown)."""
        return _FORWARD_METHODS.get(self.forward, self.forward.lower())


@dataclass(frozen=True)
class VirtualService:
    """One virtual service with its real servers. ``FWM`` services have ``port`` None and
    the firewall mark in ``address``."""

    protocol: str
    address: str
    port: int | None
    scheduler: str
    flags: tuple[str, ...] = ()
    persistent_s: int | None = None
    real_servers: tuple[RealServer, ...] = ()

    @property
    def endpoint(self) -> str:
        return self.address if self.port is None else f"{self.address}:{self.port}"


@dataclass(frozen=True)
class RealServerStats:
    address: str
    port: int
    conns: int
    inpkts: int
    outpkts: int
    inbytes: int
    outbytes: int


@dataclass(frozen=True)
class VirtualServiceStats:
    protocol: str
    address: str
    port: int | None
    conns: int
    inpkts: int
    outpkts: int
    inbytes: int
    outbytes: int
    real_servers: tuple[RealServerStats, ...] = ()


@dataclass(frozen=True)
class Connection:
    """One ``-Lnc`` entry. ``expire_s`` is seconds left (``MM:SS`` or plain seconds)."""

    protocol: str
    expire_s: int
    state: str
    source: str
    virtual: str
    destination: str


def _split_endpoint(command: str, lineno: int, line: str, text: str) -> tuple[str, int]:
    """``10.0.0.1:80`` or ``[2001:db8::1]:80`` -> (address, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise parse_error(command, lineno, line, f"bad address:port {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _int(command: str, lineno: int, line: str, text: str) -> int:
    """An ipvsadm counter; without ``--exact`` large ones carry a K/M/G/T suffix."""
    try:
        if text and text[-1] in _SUFFIX:
            return int(text[:-1]) * _SUFFIX[text[-1]]
        return int(text)
    except ValueError:
        raise parse_error(command, lineno, line, f"not a number: {text!r}") from None


def _service_head(command: str, lineno: int, line: str, fields: list[str]) -> tuple[str, str, int | None]:
    proto = fields[0]
    if proto == "FWM":
        return proto, fields[1], None
    addr, port = _split_endpoint(command, lineno, line, fields[1])
    return proto, addr, port


def _is_header(line: str) -> bool:
    s = line.strip()
    return (
        not s
        or s.startswith("IP Virtual Server")
        or s.startswith("Prot ")
        or s.startswith("-> RemoteAddress")
    )


def parse_ipvsadm_list(text: str) -> list[VirtualService]:
    """Parse ``ipvsadm -Ln``: virtual services with their real servers.

    ``TCP  198.18.0.100:80 wlc persistent 300`` then ``  -> 10.0.0.21:80  Route 1 0 0`` rows.
    """
    command = "ipvsadm -Ln"
    if "IP Virtual Server" not in text:
        raise parse_error(command, None, None, "no 'IP Virtual Server' banner: not ipvsadm -Ln output")
    services: list[VirtualService] = []
    current: dict[str, Any] | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if _is_header(line):
            continue
        fields = line.split()
        if fields[0] == "->":
            if current is None:
                raise parse_error(command, lineno, line, "real server before any virtual service")
            if len(fields) != 6:
                raise parse_error(command, lineno, line, "expected '-> ADDR:PORT Forward Weight ActiveConn InActConn'")
            addr, port = _split_endpoint(command, lineno, line, fields[1])
            current["real_servers"].append(
                RealServer(
                    addr,
                    port,
                    fields[2],
                    _int(command, lineno, line, fields[3]),
                    _int(command, lineno, line, fields[4]),
                    _int(command, lineno, line, fields[5]),
                )
            )
            continue
        if fields[0] not in _PROTOCOLS or len(fields) < 3:
            raise parse_error(command, lineno, line, "expected 'PROTO ADDR:PORT SCHEDULER [flags]'")
        proto, vaddr, vport = _service_head(command, lineno, line, fields)
        flags = fields[3:]
        persistent: int | None = None
        if "persistent" in flags:
            i = flags.index("persistent")
            if i + 1 < len(flags) and flags[i + 1].isdigit():
                persistent = int(flags[i + 1])
        if current is not None:
            services.append(_freeze(current))
        current = {
            "protocol": proto,
            "address": vaddr,
            "port": vport,
            "scheduler": fields[2],
            "flags": tuple(flags),
            "persistent_s": persistent,
            "real_servers": [],
        }
    if current is not None:
        services.append(_freeze(current))
    return services


def _freeze(d: dict[str, Any]) -> VirtualService:
    return VirtualService(**{**d, "real_servers": tuple(d["real_servers"])})


def parse_ipvsadm_stats(text: str) -> list[VirtualServiceStats]:
    """Parse ``ipvsadm -Ln --stats`` (counters may carry K/M/G suffixes)."""
    command = "ipvsadm -Ln --stats"
    if "IP Virtual Server" not in text and "Prot LocalAddress" not in text:
        raise parse_error(command, None, None, "no ipvsadm header: not ipvsadm -Ln --stats output")
    out: list[VirtualServiceStats] = []
    head: list[Any] | None = None
    reals: list[RealServerStats] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if _is_header(line) or s == "-> RemoteAddress:Port":
            continue
        fields = s.split()
        if fields[0] == "->":
            if head is None:
                raise parse_error(command, lineno, line, "real server before any virtual service")
            if len(fields) != 7:
                raise parse_error(command, lineno, line, "expected '-> ADDR:PORT Conns InPkts OutPkts InBytes OutBytes'")
            addr, port = _split_endpoint(command, lineno, line, fields[1])
            reals.append(RealServerStats(addr, port, *(_int(command, lineno, line, x) for x in fields[2:7])))
            continue
        if fields[0] not in _PROTOCOLS:
            raise parse_error(command, lineno, line, "expected 'PROTO ADDR:PORT Conns InPkts OutPkts InBytes OutBytes'")
        numbers = fields[-5:]
        if len(fields) < 7:
            raise parse_error(command, lineno, line, "expected five counters after the service")
        if head is not None:
            out.append(_service_stats(head, reals))
        proto, vaddr, vport = _service_head(command, lineno, line, fields)
        head = [proto, vaddr, vport, *(_int(command, lineno, line, x) for x in numbers)]
        reals = []
    if head is not None:
        out.append(_service_stats(head, reals))
    return out


def _service_stats(head: list[Any], reals: list[RealServerStats]) -> VirtualServiceStats:
    """[proto, address, port, conns, inpkts, outpkts, inbytes, outbytes] + its real servers."""
    return VirtualServiceStats(head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7],
                               real_servers=tuple(reals))


def _expire(command: str, lineno: int, line: str, text: str) -> int:
    try:
        if ":" in text:
            minutes, seconds = text.split(":", 1)
            return int(minutes) * 60 + int(seconds)
        return int(text)
    except ValueError:
        raise parse_error(command, lineno, line, f"bad expire time {text!r}") from None


def parse_ipvsadm_connections(text: str) -> list[Connection]:
    """Parse ``ipvsadm -Lnc``: one entry per connection (``NONE`` rows are persistence templates)."""
    command = "ipvsadm -Lnc"
    if "IPVS connection entries" not in text:
        raise parse_error(command, None, None, "no 'IPVS connection entries' banner: not ipvsadm -Lnc output")
    out: list[Connection] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s == "IPVS connection entries" or s.startswith("pro expire"):
            continue
        fields = s.split()
        if len(fields) != 6 or fields[0] not in _PROTOCOLS:
            raise parse_error(command, lineno, line, "expected 'pro expire state source virtual destination'")
        out.append(
            Connection(fields[0], _expire(command, lineno, line, fields[1]), fields[2], fields[3], fields[4], fields[5])
        )
    return out


def real_server_states(text: str, services: Mapping[tuple[str, int | None], str],
                       hosts: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``ipvsadm -Ln`` -> service name -> real server name -> ``UP`` (weight > 0) | ``DRAIN``.

    ``services`` names virtual services by (address, port), ``hosts`` real servers by address;
    anything unnamed keeps its ``PROTO addr:port`` / ``addr:port`` spelling.
    """
    out: dict[str, dict[str, str]] = {}
    for vs in parse_ipvsadm_list(text):
        key = services.get((vs.address, vs.port), f"{vs.protocol} {vs.endpoint}")
        servers = out.setdefault(key, {})
        for rs in vs.real_servers:
            servers[hosts.get(rs.address, f"{rs.address}:{rs.port}")] = "UP" if rs.weight > 0 else "DRAIN"
    return out
