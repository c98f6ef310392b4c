"""LVS directors: dir1 and dir2 as User-Mode Linux guests running keepalived with IPVS (LVS-DR).

Why LVS-DR and not LVS-NAT: in the lab the clients (the root namespace's bridge address, the
client host, the web nodes for the DB VIP) share one subnet with the real servers. With NAT the
real servers would answer those clients directly, bypassing the director that rewrote the
destination, unless every real server routed its own subnet through a floating director address
(policy routing per host). With DR the real servers hold the VIP on ``lo`` (``arp_ignore=1``,
``arp_announce=2``: only the MASTER director answers ARP for it) and answer clients directly
from the VIP; Galera nodes keep talking to each other on their own addresses. IPVS connection
sync then carries the director's connection entries, which is all a DR connection needs to
survive a failover (the TCP state lives in the client and the real server).

Rendering is pure and unit-tested; the guests as machines are harness.lab._lvs and _uml.
"""

from __future__ import annotations

import functools
from typing import Any

from ...errors import LabError
from ...invariants import pool_gaps
from ...parsers.guest_status import parse_guest_status
from ...parsers.ipvsadm import real_server_states
from .. import _lvs, _netns, _uml
from .._domains import GuestHost, NamespaceHost
from .._interfaces import Directors, Files, HostDomain, LabContext
from .._ldap import LDAP_PORT
from .._parallel import parallel
from .._paths import GUEST_NOTIFY_LOG, LabPaths
from .._records import DirectorStatus, LabStatus
from .._render import render, vrrp_instance_blocks
from .._state import LabState
from .._topology import VRRP_INSTANCES, LabHost, Topology

#: the DB servers' weights under the "fo" scheduler: the live one with the highest weight gets
#: every new connection, so db1 is the single writer and db2, db3 take over in that order
DB_WEIGHTS: tuple[int, ...] = (3, 2, 1)
#: one SSH round trip that says everything `lab status` needs from a director guest
#: (parsed by harness.parsers.guest_status)
STATUS_COMMAND = (
    "pid=$(cat /run/keepalived/keepalived.pid 2>/dev/null); "
    "if [ -n \"$pid\" ] && [ \"$(cat /proc/$pid/comm 2>/dev/null)\" = keepalived ]; "
    "then echo keepalived alive; else echo keepalived dead; fi; "
    + "".join(f"echo \"vrrp {inst} $(cat /run/keepalived/{inst}.state 2>/dev/null || echo UNKNOWN)\"; "
              for inst in VRRP_INSTANCES)
    + f"echo @@addr; ip -o -4 addr show dev {_lvs.GUEST_IFACE}; echo @@ipvs; ipvsadm -Ln"
)
#: the port of each VIP's virtual service
VIP_PORTS = {"web": 80, "db": 3306, "ldap": LDAP_PORT}


def render_guestctl(lab_name: str, paths: LabPaths) -> str:
    return render("guestctl.sh", lab=lab_name, state_dir=paths.state_dir)


def ipvs_backends(table: str, topo: Topology) -> dict[str, dict[str, str]]:
    """Pure: ``ipvsadm -Ln`` -> VIP name -> real server host -> UP (weight > 0) | DRAIN."""
    services: dict[tuple[str, int | None], str] = {(addr, VIP_PORTS[name]): name for name, addr in topo.vips.items()}
    return real_server_states(table, services, {h.address: h.name for h in topo.hosts.values()})


def expected_backends(topo: Topology) -> dict[str, list[str]]:
    want = {"web": [h.name for h in topo.with_role("web")], "db": [h.name for h in topo.with_role("db")]}
    if "ldap" in topo.vips:
        want["ldap"] = [h.name for h in topo.with_role("ldap")]
    return want


def ldap_virtual_server(topo: Topology) -> str:
    """keepalived.conf's ``virtual_server`` of the LDAP VIP, or "" without the auth tier (the
    config is then the one before it, byte for byte)."""
    if "ldap" not in topo.vips:
        return ""
    hosts = topo.with_role("ldap")
    servers = "".join(render("keepalived-lvs-ldap-rs.conf", address=h.address, weight=len(hosts) - i)
                      for i, h in enumerate(hosts))
    return render("keepalived-lvs-ldap.conf", ldap_vip=topo.vips["ldap"], ldap_servers=servers.rstrip("\n"))


class LVSDirectors(Directors):
    kind = "lvs"
    # LVS cannot retry a refused request on another web node (HAProxy does): a crashed web
    # node's third of new connections is refused until two checks 0.2 s apart remove it
    # (delay_loop 0.5: at most ~0.7 s), ~1 % of a 25 s scenario (measured 98.96-99.14 %); the
    # other 1 % is for scheduling on 2 busy cores
    availability_percent = 98.0
    real_servers_hold_vips = True
    backends_ready = "IPVS: every real server in both directors' tables"

    def __init__(self) -> None:
        self._booting: dict[str, _uml.Guest | Exception] = {}

    def is_guest(self, host: LabHost) -> bool:
        return host.has_role("director")

    def domain(self, lab: LabContext, host: LabHost) -> HostDomain:
        return GuestHost(lab, host) if self.is_guest(host) else NamespaceHost(lab, host)

    def same_options(self, config: dict[str, Any], lvs_sync: bool) -> bool:
        return bool(config.get("lvs_sync", True)) == lvs_sync

    # -- files -------------------------------------------------------------------------------
    def render_director_configs(self, topo: Topology, host: LabHost, paths: LabPaths, advert_int: float,
                                lvs_sync: bool) -> Files:
        """keepalived.conf (VRRP + virtual servers), its notify script and the guest's boot script."""
        iface = _lvs.GUEST_IFACE
        notify = paths.conf(host.name, "keepalived-notify.sh")
        blocks = vrrp_instance_blocks(topo, host, paths, advert_int, iface=iface)
        web = "".join(render("keepalived-lvs-rs.conf", address=h.address, port=80, weight=1,
                             path="/healthz.php", check_port=80, retry_delay=0.2) for h in topo.with_role("web"))
        dbs = topo.with_role("db")
        db = "".join(render("keepalived-lvs-rs.conf", address=h.address, port=3306,
                            weight=DB_WEIGHTS[i] if i < len(DB_WEIGHTS) else 1, path="/", check_port=9200,
                            retry_delay=0.5)
                     for i, h in enumerate(dbs))
        first_vrid = next(iter(VRRP_INSTANCES.values()))[1]
        sync = (f"    lvs_sync_daemon {iface} VI_WEB id {first_vrid}" if lvs_sync
                else "    # lvs_sync_daemon off (lab option lvs_sync=False)")
        conf = render("keepalived-lvs.conf", host=host.name, sync_daemon=sync, instances="\n".join(blocks),
                      web_vip=topo.vips["web"], db_vip=topo.vips["db"], web_servers=web.rstrip("\n"),
                      db_servers=db.rstrip("\n"), ldap_section=ldap_virtual_server(topo))
        return {
            paths.conf(host.name, "keepalived.conf"): (conf, 0o644),
            # the guest cannot write host files (overlay): log state changes to its console instead
            notify: (render("keepalived-notify.sh", host=host.name, log="/dev/console",
                                    copy=GUEST_NOTIFY_LOG), 0o755),
            _lvs.guest_start_script(paths, host.name): (render(
                "guest-start.sh", host=host.name, guestctl=paths.guestctl,
                sync_sysctls="" if lvs_sync else "# no connection sync"), 0o755),
        }

    def lab_files(self, lab_name: str, paths: LabPaths) -> Files:
        return {paths.guestctl: (render_guestctl(lab_name, paths), 0o755)}

    # -- up ----------------------------------------------------------------------------------
    def boot(self, lab: LabContext, state: LabState) -> None:
        """Launch the director guests (recorded first); ``wait_booted`` waits for them."""
        hosts = [h for h in lab.topo.hosts.values() if self.is_guest(h)]
        self._booting = {}
        for h in hosts:
            state.record("guest", h.name)
            state.record("link", h.tap)
            _lvs.prepare_host_key(lab.paths, h.name)
            try:
                self._booting[h.name] = _uml.boot_guest(_lvs.guest_spec(lab.topo, h, lab.paths), lab.state_dir)
            except _uml.UmlError as exc:
                self._booting[h.name] = exc
        lab.say(f"director guests booting: {', '.join(h.name for h in hosts)} (User-Mode Linux, IPVS)")

    def wait_booted(self, lab: LabContext, state: LabState) -> bool:
        """Wait until every guest answers SSH with keepalived started. In auto mode a guest that
        does not boot ends them all (False: fall back to HAProxy directors)."""
        hosts = [lab.topo.host(n) for n in self._booting]

        def wait(name: str) -> float:
            g = self._booting[name]
            if isinstance(g, Exception):
                raise g
            return g.wait_ready(timeout=60)

        try:
            took = parallel({h.name: functools.partial(wait, h.name) for h in hosts})
        except LabError as exc:
            if lab.directors != "auto":
                raise
            first = str(exc).strip().splitlines()[0]
            lab.say(f"directors: an LVS guest did not boot ({first}): falling back to HAProxy directors")
            for h in hosts:
                _lvs.destroy_guest(lab.paths, h)
                _uml.remove_tap(h.tap)
            return False
        lab.say("director guests ready: " + ", ".join(f"{n} {t:.1f}s" for n, t in sorted(took.items()))
                + " (sshd up, keepalived started)")
        return True

    def prepare_real_server(self, lab: LabContext, host: LabHost) -> None:
        """LVS-DR real server: its VIPs on lo, and never answering ARP for them (the director does)."""
        vips = {role: [lab.topo.vips[role]] for role in ("web", "db", "ldap") if role in lab.topo.vips}
        mine = [v for role, addrs in vips.items() if host.has_role(role) for v in addrs]
        if not mine or self.is_guest(host):
            return
        _netns.run(["ip", "netns", "exec", host.netns, "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1",
                    "net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_ignore=1",
                    "net.ipv4.conf.eth0.arp_announce=2"], what=host.name)
        for vip in mine:
            _netns.run(["ip", "-n", host.netns, "addr", "replace", f"{vip}/32", "dev", "lo"], what=host.name)

    # -- status ------------------------------------------------------------------------------
    def director_status(self, lab: LabContext, state: LabState, host: LabHost) -> DirectorStatus:
        """One SSH round trip to a director guest: VRRP states, VIPs held, IPVS table."""
        try:
            res = lab.ssh(host.name, STATUS_COMMAND, timeout=10)
        except LabError as exc:
            return DirectorStatus(ipvs_table="", error=f"status over ssh failed: {exc}")
        if res.returncode == 255:
            return DirectorStatus(ipvs_table="", error=f"ssh failed: {res.stderr.strip()}")
        gs = parse_guest_status(res.stdout, VRRP_INSTANCES)
        err = "" if res.returncode == 0 else f"ipvsadm -Ln exited {res.returncode}: {res.stderr.strip()}"
        return DirectorStatus(vrrp=gs.vrrp, vips_held={name: addr in gs.addresses for name, addr in lab.topo.vips.items()},
                              backends=ipvs_backends(gs.ipvs_table, lab.topo), ipvs_table=gs.ipvs_table, error=err)

    def backend_problems(self, status: LabStatus, topo: Topology, running: list[str]) -> list[str]:
        want = expected_backends(topo)
        # a guest that did not answer (no ipvs table) is a problem already
        answered = {"backends": {d: status.backends.get(d, {}) for d in running if d in status.ipvs}}
        problems = []
        for g in pool_gaps(answered, want, require_pools=True):
            out = [s for s in want.get(g.pool, ()) if s in g.missing or s in g.not_up]
            if out:
                problems.append(f"{g.director}: IPVS {g.pool}: {', '.join(out)} not in the table")
        return problems

    # -- teardown ----------------------------------------------------------------------------
    def sweep(self, paths: LabPaths, topo: Topology, state: LabState) -> list[str]:
        """Director guests recorded, or left by a crash: their whole process groups."""
        names = [r["name"] for r in state.records("guest")] + [h.name for h in topo.with_role("director")]
        return [n for n in dict.fromkeys(names) if _lvs.destroy_guest(paths, topo.host(n))]

    def sweep_links(self, topo: Topology) -> list[str]:
        return [h.tap for h in topo.with_role("director")]

    def leftovers(self, paths: LabPaths, host: LabHost) -> list[str]:
        if not host.has_role("director"):
            return []
        found = []
        if _netns.link_exists(host.tap):
            found.append(f"link {host.tap}")
        guest = _lvs.load_guest(paths, host.name)
        if guest is not None and _lvs.group_is_guest(guest):
            found.append(f"UML guest {host.name} (pgid {guest.pgid})")
        return found
