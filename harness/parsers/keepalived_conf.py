"""Parse keepalived.conf: VRRP instances (for the failover budget) and LVS virtual servers.

The availability checker's default ``max_outage_s`` comes from here: a director failover
cannot be faster than VRRP's master-down timer, so the bound is derived from the deployed
configuration instead of a number someone guessed.

Failover budget of a VRRP instance (the backup that takes over), in seconds::

    budget = 3 * advert_int + skew_time + preempt_delay
    skew_time = ((256 - priority) * advert_int) / 256     # VRRPv3, RFC 5798 section 6.1
    skew_time = (256 - priority) / 256                    # VRRPv2, RFC 3768

``3 * advert_int + skew_time`` is the Master_Down_Interval of the RFCs (keepalived computes
``ms_down_timer`` the same way, with the backup's effective priority). ``preempt_delay`` is
added as the worst case the harness tolerates: with ``preempt_delay`` set, a backup that
starts or sees a lower-priority master waits that long before taking over. Pass the instance
of the director that takes over (the BACKUP's priority gives the longer skew).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from . import parse_error

_COMMAND = "keepalived.conf"

#: include loader: pattern (as written after ``include``) -> list of (name, text) it expands to
IncludeLoader = Callable[[str], "list[tuple[str, str]]"]


@dataclass(frozen=True)
class VrrpInstance:
    name: str
    state: str = "BACKUP"
    interface: str | None = None
    virtual_router_id: int | None = None
    priority: int = 100
    advert_int: float = 1.0
    preempt_delay: float = 0.0
    nopreempt: bool = False
    virtual_ipaddresses: tuple[str, ...] = ()
    version: int = 2
    #: ``authentication { auth_type ...; auth_pass ... }``: the type, and a fingerprint of the
    #: password (peers must agree; the password itself is never kept or shown)
    auth_type: str | None = None
    auth_fingerprint: str | None = None
    unicast_src_ip: str | None = None
    unicast_peers: tuple[str, ...] = ()
    #: seconds between gratuitous ARP refreshes while MASTER (None: keepalived's default, none)
    garp_master_refresh: float | None = None
    #: where the instance starts (evidence for audit findings)
    lineno: int = field(default=0, compare=False)
    source: str = field(default="", compare=False)

    @property
    def vips(self) -> tuple[str, ...]:
        """Bare addresses (``198.18.0.100/24 dev eth0`` -> ``198.18.0.100``)."""
        return tuple(v.split()[0].split("/")[0] for v in self.virtual_ipaddresses)


#: keepalived's health checkers of a real server
HEALTH_CHECKERS = frozenset({"HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "SMTP_CHECK", "DNS_CHECK",
                             "BFD_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK"})


@dataclass(frozen=True)
class RealServerConf:
    address: str
    port: int | None
    weight: int = 1
    #: the health checkers configured for it (``TCP_CHECK``, ``HTTP_GET`` ...): none means
    #: keepalived keeps it in the pool whatever happens to it
    checks: tuple[str, ...] = ()
    #: the slowest checker's ``connect_timeout`` / retries / ``delay_before_retry`` (s)
    connect_timeout: float | None = None
    retry: int | None = None
    delay_before_retry: float | None = None
    lineno: int = field(default=0, compare=False)


@dataclass(frozen=True)
class VirtualServerConf:
    """``virtual_server 198.18.0.100 80 { ... }`` (or ``fwmark N`` / ``group NAME``)."""

    address: str
    port: int | None
    protocol: str = "TCP"
    lb_algo: str | None = None
    lb_kind: str | None = None
    real_servers: tuple[RealServerConf, ...] = ()
    delay_loop: float | None = None
    lineno: int = field(default=0, compare=False)
    source: str = field(default="", compare=False)


@dataclass(frozen=True)
class KeepalivedConfig:
    vrrp_instances: dict[str, VrrpInstance] = field(default_factory=dict)
    virtual_servers: tuple[VirtualServerConf, ...] = ()
    #: include patterns seen but not expanded (no loader given)
    unresolved_includes: tuple[str, ...] = ()
    #: ``global_defs { lvs_sync_daemon IFACE INSTANCE }``: connection sync between directors
    lvs_sync_daemon: tuple[str, ...] | None = None


@dataclass
class _Block:
    keyword: str
    args: list[str]
    children: list[_Block]
    lineno: int
    line: str


def _strip_comment(line: str) -> str:
    """Drop ``#`` and ``!`` comments that are outside double quotes."""
    in_quote = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_quote = not in_quote
        elif ch in "#!" and not in_quote:
            return line[:i]
    return line


def _tokens(line: str) -> list[str]:
    spaced = re.sub(r"([{}])", r" \1 ", line)
    try:
        lexer = shlex.shlex(spaced, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        return list(lexer)
    except ValueError:
        return spaced.split()


def _parse_blocks(
    text: str, source: str, loader: IncludeLoader | None, unresolved: list[str], depth: int = 0
) -> list[_Block]:
    """Tokenise into nested blocks; ``include`` is expanded in place through ``loader``."""
    if depth > 8:
        raise parse_error(source, None, None, "include nesting deeper than 8 (include loop?)")
    root: list[_Block] = []
    stack: list[list[_Block]] = [root]
    last: _Block | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        toks = _tokens(_strip_comment(raw))
        i = 0
        # one statement per line; braces may share the line
        stmt: list[str] = []
        while i < len(toks):
            t = toks[i]
            if t == "{":
                if stmt:
                    last = _Block(stmt[0], stmt[1:], [], lineno, raw)
                    stack[-1].append(last)
                    stmt = []
                elif last is None or not stack[-1] or stack[-1][-1] is not last:
                    raise parse_error(source, lineno, raw, "'{' without a keyword")
                stack.append(last.children)
            elif t == "}":
                if stmt:
                    stack[-1].append(_Block(stmt[0], stmt[1:], [], lineno, raw))
                    stmt = []
                if len(stack) == 1:
                    raise parse_error(source, lineno, raw, "unbalanced '}'")
                stack.pop()
            else:
                stmt.append(t)
            i += 1
        if stmt:
            if stmt[0] == "include" and len(stmt) >= 2:
                if loader is None:
                    unresolved.append(stmt[1])
                else:
                    for name, sub_text in loader(stmt[1]):
                        stack[-1].extend(_parse_blocks(sub_text, name, loader, unresolved, depth + 1))
                last = None
                continue
            last = _Block(stmt[0], stmt[1:], [], lineno, raw)
            stack[-1].append(last)
    if len(stack) != 1:
        raise parse_error(source, None, None, f"{len(stack) - 1} unclosed '{{' at end of file")
    return root


def _number(block: _Block, source: str, kind: type = float) -> float:
    if not block.args:
        raise parse_error(source, block.lineno, block.line, f"{block.keyword} needs a value")
    try:
        return kind(block.args[0])
    except ValueError:
        raise parse_error(source, block.lineno, block.line, f"{block.keyword}: not a number") from None


def parse_keepalived_conf(
    text: str, *, include_loader: IncludeLoader | None = None, source: str = _COMMAND
) -> KeepalivedConfig:
    """Parse keepalived.conf text. ``include`` lines are expanded with ``include_loader``
    (e.g. one that globs on the director through the transport) or listed as unresolved."""
    unresolved: list[str] = []
    blocks = _parse_blocks(text, source, include_loader, unresolved)
    version = 2
    sync_daemon: tuple[str, ...] | None = None
    garp_refresh: float | None = None
    for b in blocks:
        if b.keyword == "global_defs":
            for c in b.children:
                if c.keyword == "vrrp_version":
                    version = int(_number(c, source, int))
                elif c.keyword == "lvs_sync_daemon":
                    sync_daemon = tuple(c.args)
                elif c.keyword == "vrrp_garp_master_refresh":
                    garp_refresh = _number(c, source)
        elif b.keyword == "lvs_sync_daemon":  # keepalived also takes it at the top level
            sync_daemon = tuple(b.args)
    instances: dict[str, VrrpInstance] = {}
    servers: list[VirtualServerConf] = []
    for b in blocks:
        if b.keyword == "vrrp_instance":
            if not b.args:
                raise parse_error(source, b.lineno, b.line, "vrrp_instance without a name")
            instances[b.args[0]] = _instance(b, source, version, garp_refresh)
        elif b.keyword == "virtual_server":
            servers.append(_virtual_server(b, source))
    return KeepalivedConfig(instances, tuple(servers), tuple(unresolved), sync_daemon)


def _instance(b: _Block, source: str, default_version: int, garp_refresh: float | None = None) -> VrrpInstance:
    kw: dict = {"name": b.args[0], "version": default_version, "lineno": b.lineno, "source": source,
                "garp_master_refresh": garp_refresh}
    for c in b.children:
        k = c.keyword
        if k == "state":
            kw["state"] = (c.args[0] if c.args else "").upper()
        elif k == "interface":
            kw["interface"] = c.args[0] if c.args else None
        elif k == "virtual_router_id":
            kw["virtual_router_id"] = int(_number(c, source, int))
        elif k == "priority":
            kw["priority"] = int(_number(c, source, int))
        elif k == "advert_int":
            kw["advert_int"] = _number(c, source)
        elif k == "preempt_delay":
            kw["preempt_delay"] = _number(c, source)
        elif k == "nopreempt":
            kw["nopreempt"] = True
        elif k == "version":
            kw["version"] = int(_number(c, source, int))
        elif k == "virtual_ipaddress":
            vips = [" ".join([c2.keyword, *c2.args]) for c2 in c.children]
            kw["virtual_ipaddresses"] = tuple(vips)
        elif k == "authentication":
            for c2 in c.children:
                if c2.keyword == "auth_type" and c2.args:
                    kw["auth_type"] = c2.args[0].upper()
                elif c2.keyword == "auth_pass" and c2.args:
                    kw["auth_fingerprint"] = hashlib.sha256(c2.args[0].encode()).hexdigest()[:12]
        elif k == "unicast_src_ip":
            kw["unicast_src_ip"] = c.args[0] if c.args else None
        elif k == "unicast_peer":
            kw["unicast_peers"] = tuple(sorted(c2.keyword for c2 in c.children))
        elif k == "garp_master_refresh":
            kw["garp_master_refresh"] = _number(c, source)
    pr = kw.get("priority", 100)
    if not 1 <= pr <= 255:
        raise parse_error(source, b.lineno, b.line, f"vrrp_instance {b.args[0]}: priority {pr} outside 1..255")
    return VrrpInstance(**kw)


def _virtual_server(b: _Block, source: str) -> VirtualServerConf:
    if not b.args:
        raise parse_error(source, b.lineno, b.line, "virtual_server without an address")
    if b.args[0] in ("fwmark", "group"):
        address, port = " ".join(b.args[:2]), None
    else:
        address = b.args[0]
        port = int(b.args[1]) if len(b.args) > 1 and b.args[1].isdigit() else None
    protocol, algo, kind = "TCP", None, None
    delay_loop: float | None = None
    reals: list[RealServerConf] = []
    for c in b.children:
        if c.keyword == "delay_loop":
            delay_loop = _number(c, source)
        if c.keyword == "protocol" and c.args:
            protocol = c.args[0].upper()
        elif c.keyword in ("lb_algo", "lvs_sched") and c.args:
            algo = c.args[0]
        elif c.keyword in ("lb_kind", "lvs_method") and c.args:
            kind = c.args[0].upper()
        elif c.keyword == "real_server":
            if not c.args:
                raise parse_error(source, c.lineno, c.line, "real_server without an address")
            weight = 1
            checks: list[str] = []
            timing: dict[str, float] = {}
            for cc in c.children:
                if cc.keyword == "weight":
                    weight = int(_number(cc, source, int))
                elif cc.keyword.upper() in HEALTH_CHECKERS:
                    checks.append(cc.keyword.upper())
                    for t in cc.children:
                        name = {"nb_get_retry": "retry"}.get(t.keyword, t.keyword)
                        if name in ("connect_timeout", "retry", "delay_before_retry"):
                            timing[name] = max(timing.get(name, 0.0), _number(t, source))
            rport = int(c.args[1]) if len(c.args) > 1 and c.args[1].isdigit() else None
            reals.append(RealServerConf(c.args[0], rport, weight, tuple(checks), timing.get("connect_timeout"),
                                        int(timing["retry"]) if "retry" in timing else None,
                                        timing.get("delay_before_retry"), lineno=c.lineno))
    return VirtualServerConf(address, port, protocol, algo, kind, tuple(reals), delay_loop, lineno=b.lineno,
                             source=source)


def skew_time_s(instance: VrrpInstance) -> float:
    """RFC 5798 (VRRPv3): ``((256 - priority) * advert_int) / 256``; RFC 3768 (v2): ``(256 - priority) / 256``."""
    if instance.version >= 3:
        return ((256 - instance.priority) * instance.advert_int) / 256
    return (256 - instance.priority) / 256


def failover_budget_s(instance: VrrpInstance) -> float:
    """Seconds a backup may take to become MASTER: ``3 * advert_int + skew_time + preempt_delay``.

    See the module docstring for the formula and why the BACKUP's instance should be passed.
    """
    return 3 * instance.advert_int + skew_time_s(instance) + instance.preempt_delay
