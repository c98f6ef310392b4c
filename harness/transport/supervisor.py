"""Is a host the supervisor (the machine the harness runs on), whatever its transport says?

A host with ``transport: ssh`` at 127.0.0.1, ``localhost``, this machine's hostname or an
address of one of its interfaces is the supervisor reached over SSH: a fault that freezes or
kills processes there stops the harness itself, exactly as with ``transport: local``.
Faults refuse such targets unless they get ``allow_local=True`` (harness.faults.base).

Discovery (the interfaces' addresses, the hostname) is the one side effect, in
:func:`discover`; :func:`supervisor_reason` is pure. Names other than ``localhost`` and the
hostname are not resolved: no DNS query is made to decide (an inventory naming the
supervisor by another DNS name is not detected; addresses are).
The lab's hosts live in their own network namespaces: their addresses are not on the
supervisor's interfaces (only the lab bridge's gateway is, and that is the lab's
``supervisor`` host, ``transport: local``).
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
from dataclasses import dataclass

from ..errors import ParseError, TransportError
from ..parsers.ip_addr import parse_addr_json

#: names that always mean this machine (RFC 6761 reserves ``localhost`` and ``*.localhost``;
#: the ip6- names are Debian's /etc/hosts)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
#: the discovery command, run in the harness's own (root) network namespace
IP_ADDR_COMMAND = ("ip", "-j", "addr", "show")
IP_ADDR_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SupervisorIdentity:
    """What identifies the supervisor: its interfaces' addresses and its hostname."""

    addresses: frozenset[str]
    hostname: str


def _normal_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address in ``text`` (zone index dropped, IPv4-mapped IPv6 as IPv4), or None."""
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def identity_from(addresses: set[str] | frozenset[str], hostname: str) -> SupervisorIdentity:
    """Normalised identity from raw interface addresses and a hostname (pure)."""
    normal = {str(ip) for ip in (_normal_ip(a) for a in addresses) if ip is not None}
    return SupervisorIdentity(frozenset(normal), hostname.strip().rstrip(".").lower())


def discover() -> SupervisorIdentity:
    """This machine's addresses (``ip -j addr show``, every interface) and hostname.

    The side effect of this module; tests replace it. TransportError naming the command when
    the addresses cannot be listed: the caller cannot tell then, and must not guess "not me".
    """
    line = " ".join(IP_ADDR_COMMAND)
    try:
        proc = subprocess.run(
            IP_ADDR_COMMAND, capture_output=True, text=True, timeout=IP_ADDR_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TransportError("supervisor", f"cannot list this machine's addresses ({line}): {exc}") from None
    if proc.returncode != 0:
        raise TransportError(
            "supervisor", f"cannot list this machine's addresses: {line} exited {proc.returncode}: {proc.stderr.strip()[:200]}"
        )
    try:
        addresses = parse_addr_json(proc.stdout)
    except ParseError as exc:
        raise TransportError("supervisor", f"cannot list this machine's addresses: {exc}") from None
    return identity_from(addresses, socket.gethostname())


def _short(name: str) -> str:
    return name.split(".", 1)[0]


def supervisor_reason(address: str, ident: SupervisorIdentity) -> str | None:
    """Why ``address`` is the supervisor (a phrase for an error message), or None (pure)."""
    ip = _normal_ip(address)
    if ip is not None:
        if ip.is_loopback:
            return "a loopback address"
        if ip.is_unspecified:
            return "the unspecified address (it reaches this machine)"
        if str(ip) in ident.addresses:
            return "an address of this machine's own interfaces"
        return None
    name = address.strip().rstrip(".").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return "a name of the loopback"
    host = ident.hostname
    if host and (name == host or (("." not in name or "." not in host) and _short(name) == _short(host))):
        return "this machine's hostname"
    return None


__all__ = ["SupervisorIdentity", "discover", "identity_from", "supervisor_reason"]
