"""Network faults: a link down, a partition, a host black-holed, a rate limit, added latency.

Each fault owns a named object on the host (our nft table / iptables chains, our tc qdisc
handle) and heal deletes only that, so an operator's own firewall or qdisc is never touched.
"""

from __future__ import annotations

import ipaddress
import re
import time
from typing import Any

from ..errors import CommandError, FaultError, TransportError, UnsupportedFault
from ..parsers.tc import has_root_qdisc, qdisc_kind_unknown
from ..transport.base import quote_command
from .base import Fault, check_iface, no_extra, positive, take

#: tc handle (major) of the qdiscs we add; "fa17" = fault. Heal deletes only this handle.
QDISC_HANDLE = "fa17:"
_RATE_RE = re.compile(r"^\d+(\.\d+)?([kmgt]?(bit|bps)|[KMGT]i?(bit|bps))$")
_TIME_RE = re.compile(r"^\d+(\.\d+)?(s|ms|us)$")
_TABLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


class LinkDown(Fault):
    """``ip link set IFACE down``. On a host managed over that link, give ``auto_heal_s``:
    the host then brings the link up by itself, since our heal could no longer reach it."""

    name = "link-down"
    summary = "ip link set IFACE down on a host; heal: up (auto_heal_s: the host re-ups it itself)"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "host": take(params, self.name, "host", str),
            "interface": check_iface(self.name, "interface", take(params, self.name, "interface", str)),
            "auto_heal_s": take(params, self.name, "auto_heal_s", float, None),
        }
        if out["auto_heal_s"] is not None:
            positive(self.name, "auto_heal_s", out["auto_heal_s"])
        no_extra(params, self.name, out)
        self.host(out["host"])
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    def _inject(self) -> None:
        host, iface = self.params["host"], self.params["interface"]
        self.touch(host)
        if self.params["auto_heal_s"] is not None:
            # one detached script on the host: the link goes down just after this command has
            # answered (its reply would otherwise be stuck behind the dead link), and comes up
            # again by itself after auto_heal_s, whatever happens to the harness meanwhile
            script = (f"sleep 0.3; {_link(iface, 'down')}; "
                      f"sleep {_seconds(self.params['auto_heal_s'])}; {_link(iface, 'up')}")
            self.run_expect(host, [0], quote_command("nohup sh -c %s >/dev/null 2>&1 &", script))
            time.sleep(0.5)  # the script's own delay: return once the link is really down
            return
        self.run_expect(host, [0], _link(iface, "down"))

    def _heal(self) -> None:
        host, iface = self.params["host"], self.params["interface"]
        auto = self.params["auto_heal_s"]
        if auto is None:
            self.run_expect(host, [0], _link(iface, "up"))
            return
        # managed over that link: unreachable until the host's own timer re-ups it
        deadline = time.monotonic() + auto + 30.0
        while True:
            try:
                self.run_expect(host, [0], _link(iface, "up"), timeout=5.0)
                return
            except CommandError:
                raise  # the host answered: a real failure, not the link still being down
            except TransportError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)


class Partition(Fault):
    """Cut traffic between host sets ``a`` and ``b`` (both directions, addresses from the
    inventory); hosts outside both sets, the supervisor included, still reach everyone."""

    name = "partition"
    summary = "drop traffic between host sets a and b (nft table of our own, iptables fallbacks); heal: delete it"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "a": _host_list(self.name, "a", take(params, self.name, "a", (list, tuple, str))),
            "b": _host_list(self.name, "b", take(params, self.name, "b", (list, tuple, str))),
            "table": take(params, self.name, "table", str, "harness_partition"),
        }
        no_extra(params, self.name, out)
        if not _TABLE_RE.match(out["table"]):
            raise FaultError(f"{self.name}: parameter 'table': {out['table']!r} is not a valid table name")
        both = sorted(set(out["a"]) & set(out["b"]))
        if both:
            raise FaultError(f"{self.name}: host(s) {', '.join(both)} are on both sides")
        self.addresses: dict[str, str] = {}
        for name in out["a"] + out["b"]:
            address = self.host(name).address
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise FaultError(
                    f"{self.name}: host {name!r} has address {address!r}, not an IP: a partition drops by address"
                ) from None
            self.addresses[name] = address
        return out

    def resolve_targets(self) -> list[str]:
        return list(self.params["a"]) + list(self.params["b"])

    def _other_side(self, host: str) -> list[str]:
        side = self.params["b"] if host in self.params["a"] else self.params["a"]
        return [self.addresses[h] for h in side]

    def _inject(self) -> None:
        backends: dict[str, str] = self.runtime.setdefault("backend", {})
        for host in self.targets:
            backend = self._backend(host)
            backends[host] = backend
            self.touch(host)
            if backend.startswith("iptables"):  # chains left by a crashed run would make -N fail
                for command, ok_codes in self.unblock_commands(backend):
                    self.run_expect(host, ok_codes, command)
            for command in self.block_commands(backend, self._other_side(host)):
                self.run_expect(host, [0], command)

    def _heal(self) -> None:
        known: dict[str, str] = self.runtime.get("backend", {})
        for host in self.targets:
            if host not in self.touched:
                continue
            backend = known.get(host) or self._backend(host)
            for command, ok_codes in self.unblock_commands(backend):
                self.run_expect(host, ok_codes, command)

    def _backend(self, host: str) -> str:
        """nft with an ``inet`` table; ``nft-ip`` where the kernel lacks the inet family; where it
        lacks both (Debian's User-Mode Linux kernel: nf_tables without any IP family, but
        ip_tables as modules) ``iptables-legacy``; without nft at all, ``iptables``."""
        result = self.run_expect(host, [0, 1], "command -v nft >/dev/null 2>&1")
        if result.exit_status != 0:
            return "iptables"
        probe = f"{self.params['table']}_probe"
        for backend, family in (("nft", "inet"), ("nft-ip", "ip")):
            if self.run(host, ["nft", f"add table {family} {probe}; delete table {family} {probe}"]).succeeded:
                return backend
        if self.run_expect(host, [0, 1], "command -v iptables-legacy >/dev/null 2>&1").exit_status == 0:
            return "iptables-legacy"
        raise UnsupportedFault(f"{self.name}: host {host}: nft has neither the inet nor the ip family on this "
                               "kernel, and there is no iptables-legacy to fall back to")

    # ---- command builders (pure: unit-tested for exact text) ----------------------------
    def block_commands(self, backend: str, addresses: list[str]) -> list[str]:
        table = self.params["table"]
        v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
        v6 = [a for a in addresses if ipaddress.ip_address(a).version == 6]
        if backend in ("nft", "nft-ip"):
            tfam = "inet" if backend == "nft" else "ip"
            if tfam == "ip" and v6:
                raise UnsupportedFault(f"{self.name}: IPv6 addresses need nft's inet family, missing on this kernel")
            parts = _nft_fresh_table(tfam, table)
            for family, addrs in (("ip", v4), ("ip6", v6)):
                if addrs:
                    s = ", ".join(addrs)
                    parts.append(f"add rule {tfam} {table} input {family} saddr {{ {s} }} drop")
                    parts.append(f"add rule {tfam} {table} output {family} daddr {{ {s} }} drop")
            return [quote_command(["nft", "; ".join(parts)])]
        commands: list[str] = []
        chain_in, chain_out = self._chains()
        for tool, addrs in zip(_iptables_tools(backend), (v4, v6), strict=True):
            if not addrs:
                continue
            steps: list[list[str]] = [
                [tool, "-N", chain_in],
                [tool, "-N", chain_out],
            ]
            for a in addrs:
                steps.append([tool, "-A", chain_in, "-s", a, "-j", "DROP"])
                steps.append([tool, "-A", chain_out, "-d", a, "-j", "DROP"])
            steps.append([tool, "-I", "INPUT", "1", "-j", chain_in])
            steps.append([tool, "-I", "OUTPUT", "1", "-j", chain_out])
            commands.append(" && ".join(quote_command(s) for s in steps))
        return commands

    def unblock_commands(self, backend: str) -> list[tuple[str, list[int]]]:
        """Commands that remove our table/chains and succeed when they are already gone."""
        table = self.params["table"]
        if backend in ("nft", "nft-ip"):
            tfam = "inet" if backend == "nft" else "ip"
            # adding first makes the delete succeed whether or not the table exists
            return [(quote_command(["nft", f"add table {tfam} {table}; delete table {tfam} {table}"]), [0])]
        chain_in, chain_out = self._chains()
        out: list[tuple[str, list[int]]] = []
        for tool in _iptables_tools(backend):
            # unlink every jump (bounded loop), then flush and delete; missing chains exit 1
            line = (
                f"command -v {tool} >/dev/null 2>&1 || exit 0; "
                f"for i in 1 2 3 4 5 6 7 8; do {tool} -D INPUT -j {chain_in} 2>/dev/null || break; done; "
                f"for i in 1 2 3 4 5 6 7 8; do {tool} -D OUTPUT -j {chain_out} 2>/dev/null || break; done; "
                f"for c in {chain_in} {chain_out}; do "
                f"if {tool} -n -L $c >/dev/null 2>&1; then {tool} -F $c && {tool} -X $c || exit 1; fi; done"
            )
            out.append((line, [0]))
        return out

    def _chains(self) -> tuple[str, str]:
        base = self.params["table"].upper()[:20]
        return f"{base}_IN", f"{base}_OUT"


class Blackhole(Partition):
    """A host falls silent: every packet in and out dropped, without a reset or an ICMP
    error (a hung kernel, a dead NIC's switch port), except the harness's own SSH port so that
    the heal can still reach it. Peers and clients see connections hang until their own
    timeouts: the case a client without a network timeout, or a balancer with slow health
    checks, fails on. Unlike a partition it cuts the host from everyone, the machine the
    harness runs on included (with LVS-DR, clients reach a real server with their own address:
    a partition between hosts of the cluster file leaves the harness's own probes through)."""

    name = "blackhole"
    summary = "drop every packet to and from a host but its SSH port (nft table of our own); heal: delete it"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "host": take(params, self.name, "host", str),
            "spare_ports": take(params, self.name, "spare_ports", (list, tuple), None),
            "table": take(params, self.name, "table", str, "harness_blackhole"),
        }
        no_extra(params, self.name, out)
        host = self.host(out["host"])
        ports = [host.ssh.port] if out["spare_ports"] is None else list(out["spare_ports"])
        if not ports or not all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports):
            raise FaultError(f"{self.name}: parameter 'spare_ports': {out['spare_ports']!r} is not a non-empty list of "
                             "TCP ports (the harness's SSH port must stay open, or the heal cannot reach the host)")
        out["spare_ports"] = sorted(set(ports))
        if not _TABLE_RE.match(out["table"]):
            raise FaultError(f"{self.name}: parameter 'table': {out['table']!r} is not a valid table name")
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    def _other_side(self, host: str) -> list[str]:
        return []  # everyone

    def block_commands(self, backend: str, addresses: list[str]) -> list[str]:
        table = self.params["table"]
        ports = ", ".join(str(p) for p in self.params["spare_ports"])
        if backend in ("nft", "nft-ip"):
            tfam = "inet" if backend == "nft" else "ip"
            parts = [
                *_nft_fresh_table(tfam, table),
                f"add rule {tfam} {table} input iif lo accept",
                f"add rule {tfam} {table} input tcp dport {{ {ports} }} accept",
                f"add rule {tfam} {table} input drop",
                f"add rule {tfam} {table} output oif lo accept",
                f"add rule {tfam} {table} output tcp sport {{ {ports} }} accept",
                f"add rule {tfam} {table} output drop",
            ]
            return [quote_command(["nft", "; ".join(parts)])]
        chain_in, chain_out = self._chains()
        commands: list[str] = []
        for tool in _iptables_tools(backend):
            steps: list[list[str]] = [[tool, "-N", chain_in], [tool, "-N", chain_out],
                                      [tool, "-A", chain_in, "-i", "lo", "-j", "ACCEPT"],
                                      [tool, "-A", chain_out, "-o", "lo", "-j", "ACCEPT"]]
            for p in self.params["spare_ports"]:
                steps.append([tool, "-A", chain_in, "-p", "tcp", "--dport", str(p), "-j", "ACCEPT"])
                steps.append([tool, "-A", chain_out, "-p", "tcp", "--sport", str(p), "-j", "ACCEPT"])
            steps += [[tool, "-A", chain_in, "-j", "DROP"], [tool, "-A", chain_out, "-j", "DROP"],
                      [tool, "-I", "INPUT", "1", "-j", chain_in], [tool, "-I", "OUTPUT", "1", "-j", chain_out]]
            line = " && ".join(quote_command(s) for s in steps)
            # the IPv6 tool may be missing where the IPv4 one was found: nothing to drop there then
            commands.append(line if tool == _iptables_tools(backend)[0]
                            else f"if command -v {tool} >/dev/null 2>&1; then {line}; fi")
        return commands


class Bandwidth(Fault):
    """A token-bucket rate limit on an interface's egress (``tc qdisc add ... root tbf``)."""

    name = "bandwidth"
    summary = "tc tbf rate limit on an interface (our handle fa17:); heal: delete that qdisc"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "host": take(params, self.name, "host", str),
            "interface": check_iface(self.name, "interface", take(params, self.name, "interface", str)),
            "rate": take(params, self.name, "rate", str),
            "burst": take(params, self.name, "burst", str, "32kbit"),
            "latency": take(params, self.name, "latency", str, "400ms"),
        }
        no_extra(params, self.name, out)
        if not _RATE_RE.match(out["rate"]):
            raise FaultError(f"{self.name}: parameter 'rate': {out['rate']!r} is not a tc rate (e.g. 1mbit)")
        if not (_RATE_RE.match(out["burst"]) or out["burst"].isdigit() or re.match(r"^\d+[kmg]?b$", out["burst"])):
            raise FaultError(f"{self.name}: parameter 'burst': {out['burst']!r} is not a tc size (e.g. 32kbit)")
        if not _TIME_RE.match(out["latency"]):
            raise FaultError(f"{self.name}: parameter 'latency': {out['latency']!r} is not a tc time (e.g. 400ms)")
        self.host(out["host"])
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    def inject_command(self) -> str:
        p = self.params
        return quote_command(
            ["tc", "qdisc", "add", "dev", p["interface"], "root", "handle", QDISC_HANDLE,
             "tbf", "rate", p["rate"], "burst", p["burst"], "latency", p["latency"]]
        )

    def _inject(self) -> None:
        self.touch(self.params["host"])
        self.run_expect(self.params["host"], [0], self.inject_command())

    def _heal(self) -> None:
        _delete_our_qdisc(self, self.params["host"], self.params["interface"])


class Latency(Fault):
    """Delay (and jitter) on an interface's egress with netem, where the kernel has it."""

    name = "latency"
    summary = "tc netem delay on an interface (our handle fa17:); UnsupportedFault without netem; heal: delete it"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "host": take(params, self.name, "host", str),
            "interface": check_iface(self.name, "interface", take(params, self.name, "interface", str)),
            "delay_ms": positive(self.name, "delay_ms", take(params, self.name, "delay_ms", float)),
            "jitter_ms": take(params, self.name, "jitter_ms", float, 0.0),
        }
        no_extra(params, self.name, out)
        if out["jitter_ms"] < 0:
            raise FaultError(f"{self.name}: parameter 'jitter_ms' must be >= 0, not {out['jitter_ms']!r}")
        self.host(out["host"])
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    def inject_command(self) -> str:
        p = self.params
        argv = ["tc", "qdisc", "add", "dev", p["interface"], "root", "handle", QDISC_HANDLE,
                "netem", "delay", _ms(p["delay_ms"])]
        if p["jitter_ms"]:
            argv.append(_ms(p["jitter_ms"]))
        return quote_command(argv)

    def _inject(self) -> None:
        host = self.params["host"]
        self.touch(host)
        result = self.run(host, self.inject_command())
        if result.exit_status == 0:
            return
        if not self._netem_supported(host, result.stderr):
            raise UnsupportedFault(f"latency: netem unsupported on host {host}")
        raise CommandError(host, result.command, result.exit_status, result.stdout, result.stderr, (0,))

    def _netem_supported(self, host: str, stderr: str) -> bool:
        """tc's own verdict first ("Specified qdisc kind is unknown" = no sch_netem in the
        kernel), else ask the module tree and the kernel config."""
        if qdisc_kind_unknown(stderr):
            return False
        probe = (
            "modinfo sch_netem >/dev/null 2>&1 || "
            "zcat /proc/config.gz 2>/dev/null | grep -q '^CONFIG_NET_SCH_NETEM=[ym]'"
        )
        return self.run_expect(host, [0, 1], probe).exit_status == 0

    def _heal(self) -> None:
        _delete_our_qdisc(self, self.params["host"], self.params["interface"])


# ---- helpers ------------------------------------------------------------------------------
def _delete_our_qdisc(fault: Fault, host: str, iface: str) -> None:
    """Delete the root qdisc only if it carries our handle (another root qdisc is left alone)."""
    shown = fault.run_expect(host, [0, 1], quote_command(["tc", "qdisc", "show", "dev", iface, "root"]))
    if shown.exit_status != 0:
        # "Cannot find device": nothing of ours can be on it
        return
    if not has_root_qdisc(shown.stdout, QDISC_HANDLE):
        return
    fault.run_expect(host, [0], quote_command(["tc", "qdisc", "del", "dev", iface, "root", "handle", QDISC_HANDLE]))


def _nft_fresh_table(tfam: str, table: str) -> list[str]:
    """The start of one nft transaction: replace any leftover table of ours, then its input and
    output chains (the rules follow in the same transaction)."""
    return [
        f"add table {tfam} {table}",
        f"delete table {tfam} {table}",
        f"add table {tfam} {table}",
        f"add chain {tfam} {table} input {{ type filter hook input priority -10; policy accept; }}",
        f"add chain {tfam} {table} output {{ type filter hook output priority -10; policy accept; }}",
    ]


def _iptables_tools(backend: str) -> tuple[str, str]:
    """The IPv4 and IPv6 tools of an iptables backend (``iptables`` or ``iptables-legacy``)."""
    suffix = "-legacy" if backend == "iptables-legacy" else ""
    return f"iptables{suffix}", f"ip6tables{suffix}"


def _link(iface: str, state: str) -> str:
    return quote_command(["ip", "link", "set", iface, state])


def _host_list(fault: str, key: str, value: Any) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise FaultError(f"{fault}: parameter {key!r} must be a non-empty list of host names, not {value!r}")
    return names


def _ms(value: float) -> str:
    return f"{value:g}ms"


def _seconds(value: float) -> str:
    return f"{value:g}"
