"""HAProxy directors: dir1 and dir2 as namespace hosts running keepalived (VRRP) and HAProxy.

HAProxy binds both VIPs on each director (``ip_nonlocal_bind``) and proxies to the web and db
nodes; keepalived moves the VIPs. Status comes from the director's own files and sockets,
read from the root namespace through ``/proc/<init>/root``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from ...errors import LabError, ParseError
from ...invariants import pool_gaps
from ...parsers.haproxy_stat import backend_servers, parse_show_stat
from ...parsers.ip_addr import addresses_from_json
from .. import _netns
from .._domains import NamespaceHost
from .._interfaces import Directors, Files, HostDomain, LabContext
from .._ldap import LDAP_PORT
from .._paths import LabPaths
from .._preflight import ip_json
from .._records import DirectorStatus, LabStatus
from .._render import render, vrrp_instance_blocks
from .._services import DAEMONS
from .._state import LabState
from .._topology import VRRP_INSTANCES, LabHost, Topology


def haproxy_command(sock_path: Path | str, command: str, timeout: float = 2.0) -> str:
    """Send one command to an HAProxy stats socket and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def ldap_section(topo: Topology) -> str:
    """haproxy.cfg's ldap frontend and backend (VIP:389, the first ldap host active, the others
    backups), or "" without the auth tier (the config is then the one before it, byte for byte)."""
    if "ldap" not in topo.vips:
        return ""
    servers = "\n".join(f"    server {h.name} {h.address}:{LDAP_PORT} check" + ("" if i == 0 else " backup")
                        for i, h in enumerate(topo.with_role("ldap")))
    return render("haproxy-ldap.cfg", ldap_vip=topo.vips["ldap"], ldap_servers=servers)


class HAProxyDirectors(Directors):
    kind = "haproxy"
    # HAProxy retries a refused request on another web node: 1 % is for scheduling on 2 busy cores
    availability_percent = 99.0
    backends_ready = "HAProxy: every backend UP on both directors"

    def is_guest(self, host: LabHost) -> bool:
        return False

    def domain(self, lab: LabContext, host: LabHost) -> HostDomain:
        return NamespaceHost(lab, host)

    def render_director_configs(self, topo: Topology, host: LabHost, paths: LabPaths, advert_int: float,
                                lvs_sync: bool) -> Files:
        """keepalived.conf (VRRP only), its notify script, haproxy.cfg (web round robin, db
        single writer with the others as backups; with the auth tier, ldap the same way)."""
        blocks = vrrp_instance_blocks(topo, host, paths, advert_int, iface="eth0")
        web = "\n".join(f"    server {h.name} {h.address}:80 check" for h in topo.with_role("web"))
        dbs = topo.with_role("db")
        db = "\n".join(f"    server {h.name} {h.address}:3306 check" + ("" if i == 0 else " backup")
                       for i, h in enumerate(dbs))
        return {
            paths.conf(host.name, "keepalived.conf"): (
                render("keepalived.conf", host=host.name, instances="\n".join(blocks)), 0o644),
            paths.conf(host.name, "keepalived-notify.sh"): (
                render("keepalived-notify.sh", host=host.name,
                       log=paths.log(host.name) / "keepalived-notify.log", copy=""), 0o755),
            paths.conf(host.name, "haproxy.cfg"): (render(
                "haproxy.cfg", host=host.name, web_vip=topo.vips["web"], db_vip=topo.vips["db"],
                web_servers=web, db_servers=db, ldap_section=ldap_section(topo)), 0o644),
        }

    def daemon_hosts(self, topo: Topology) -> list[LabHost]:
        return topo.with_role("director")

    def director_status(self, lab: LabContext, state: LabState, host: LabHost) -> DirectorStatus:
        """VRRP from keepalived's notify files (DEAD if keepalived is not running), VIPs from
        eth0's addresses, backends from HAProxy's ``show stat``."""
        pid = _netns.init_pid(state, host.name)
        root = Path(f"/proc/{pid}/root")
        keepalived = DAEMONS["keepalived"]
        alive = pid is not None and _netns.namespace_daemon_alive(pid, keepalived.pidfile, keepalived.process)
        vrrp = {}
        for inst in VRRP_INSTANCES:
            if not alive:  # the notify files of a dead keepalived say what it was, not what it is
                vrrp[inst] = "DEAD"
                continue
            try:
                vrrp[inst] = (root / "run/keepalived" / f"{inst}.state").read_text().strip()
            except OSError:
                vrrp[inst] = "UNKNOWN"
        try:
            addrs = addresses_from_json(ip_json("-n", host.netns, "addr", "show", "dev", "eth0"))
        except (LabError, ParseError):
            addrs = set()
        backends: dict[str, dict[str, str]] = {}
        try:
            backends = backend_servers(parse_show_stat(haproxy_command(root / "run/haproxy/admin.sock", "show stat")))
        except (OSError, ParseError):
            pass
        return DirectorStatus(vrrp=vrrp, vips_held={name: addr in addrs for name, addr in lab.topo.vips.items()},
                              backends=backends)

    def backend_problems(self, status: LabStatus, topo: Topology, running: list[str]) -> list[str]:
        gaps = pool_gaps({"backends": {d: status.backends.get(d, {}) for d in running}}, {})
        problems = [f"{g.director}: backend {g.pool}: {', '.join(f'{s} {v}' for s, v in g.not_up.items())} not UP"
                    for g in gaps]  # v says why (L4TOUT ...)
        problems += [f"{d}: haproxy backends unknown (admin socket not answering)"
                     for d in running if not status.backends.get(d)]
        return problems

