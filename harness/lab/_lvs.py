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

Rendering (``render_director_configs``, ``parse_guest_status``) is pure and unit-tested; the
side effects (boot, destroy, pause) go through harness.lab._uml.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabError
from . import _uml
from ._daemons import LabPaths, render, vrrp_instance_blocks
from ._topology import VRRP_INSTANCES, LabHost, Topology

#: the guest's only NIC, as the UML vector driver names it inside the guest
GUEST_IFACE = "vec0"
#: IPVS schedulers the configs use: rr (web) and fo (weighted failover, DB single writer)
# iptable_filter, ip6table_filter: the partition fault's firewall on a director. This kernel's
# nf_tables has neither the inet nor the ip family, so the fault falls back to iptables-legacy,
# which cannot load modules itself in the guest (modprobe from inside iptables fails there).
GUEST_MODULES: tuple[str, ...] = ("ip_vs", "ip_vs_rr", "ip_vs_fo", "sch_netem", "iptable_filter", "ip6table_filter")
#: the DB servers' weights under the "fo" scheduler: the live one with the highest weight gets
#: every new connection, so db1 is the single writer and db2, db3 take over in that order
DB_WEIGHTS: tuple[int, ...] = (3, 2, 1)
#: one SSH round trip that says everything `lab status` needs from a director guest
STATUS_COMMAND = (
    "pid=$(cat /run/keepalived/keepalived.pid 2>/dev/null); "
    "if [ -n \"$pid\" ] && [ \"$(cat /proc/$pid/comm 2>/dev/null)\" = keepalived ]; "
    "then echo keepalived alive; else echo keepalived dead; fi; "
    + "".join(f"echo \"vrrp {inst} $(cat /run/keepalived/{inst}.state 2>/dev/null || echo UNKNOWN)\"; "
              for inst in VRRP_INSTANCES)
    + f"echo @@addr; ip -o -4 addr show dev {GUEST_IFACE}; echo @@ipvs; ipvsadm -Ln"
)


def guestctl_path(paths: LabPaths) -> Path:
    return paths.bin / "guestctl"


def guest_start_script(paths: LabPaths, host: str) -> Path:
    return paths.conf(host, "guest-start.sh")


def render_director_configs(topo: Topology, host: LabHost, paths: LabPaths, advert_int: float,
                            lvs_sync: bool) -> dict[Path, tuple[str, int]]:
    """keepalived.conf (VRRP + virtual servers), its notify script and the guest's boot script."""
    notify = paths.conf(host.name, "keepalived-notify.sh")
    blocks = vrrp_instance_blocks(topo, host, paths, advert_int, iface=GUEST_IFACE)
    web = "".join(render("keepalived-lvs-rs.conf", address=h.address, port=80, weight=1,
                         path="/healthz.php", check_port=80, retry_delay=0.2) for h in topo.with_role("web"))
    dbs = topo.with_role("db")
    db = "".join(render("keepalived-lvs-rs.conf", address=h.address, port=3306,
                        weight=DB_WEIGHTS[i] if i < len(DB_WEIGHTS) else 1, path="/", check_port=9200,
                        retry_delay=0.5)
                 for i, h in enumerate(dbs))
    first_vrid = next(iter(VRRP_INSTANCES.values()))[1]
    sync = (f"    lvs_sync_daemon {GUEST_IFACE} VI_WEB id {first_vrid}" if lvs_sync
            else "    # lvs_sync_daemon off (lab option lvs_sync=False)")
    conf = render("keepalived-lvs.conf", host=host.name, sync_daemon=sync, instances="\n".join(blocks),
                  web_vip=topo.vips["web"], db_vip=topo.vips["db"], web_servers=web.rstrip("\n"),
                  db_servers=db.rstrip("\n"))
    return {
        paths.conf(host.name, "keepalived.conf"): (conf, 0o644),
        # the guest cannot write host files (overlay): log state changes to its console instead
        notify: (render("keepalived-notify.sh", host=host.name, log="/dev/console"), 0o755),
        guest_start_script(paths, host.name): (render(
            "guest-start.sh", host=host.name, guestctl=guestctl_path(paths),
            sync_sysctls="" if lvs_sync else "# no connection sync"), 0o755),
    }


def render_guestctl(lab_name: str, paths: LabPaths) -> str:
    return render("guestctl.sh", lab=lab_name, state_dir=paths.state_dir)


def guest_spec(topo: Topology, host: LabHost, paths: LabPaths) -> _uml.GuestSpec:
    return _uml.GuestSpec(
        name=host.name, address=host.address, prefix_len=topo.prefixlen, tap=host.tap, bridge=topo.bridge,
        user_script=guest_start_script(paths, host.name), modules=GUEST_MODULES,
        mac_override=host.mac,
    )


def prepare_host_key(paths: LabPaths, host: str) -> None:
    """Give the guest the lab's host key for ``host``: known_hosts stays the same in both modes."""
    ssh_dir = paths.state_dir / "guests" / host / "ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(ssh_dir, 0o700)
    src = paths.etc(host) / "ssh_host_ed25519_key"
    for suffix in ("", ".pub"):
        dst = ssh_dir / f"host_key{suffix}"
        dst.write_bytes(Path(f"{src}{suffix}").read_bytes())
        os.chmod(dst, 0o600 if not suffix else 0o644)


# -- the guest as a domain ----------------------------------------------------------------------
def load_guest(paths: LabPaths, host: str) -> _uml.Guest | None:
    try:
        return _uml.Guest.load(paths.state_dir, host)
    except _uml.UmlError:
        return None


def _is_uml(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/exe") == str(_uml.LINUX_UML)
    except OSError:
        return False


def group_is_guest(guest: _uml.Guest) -> bool:
    """Does the recorded process group still hold linux.uml processes (and only then may we kill it)?

    Checked before any group kill: a pgid recorded long ago could name someone else's group now.
    """
    return guest.is_running() or any(_is_uml(p) for p in _uml.group_members(guest.pgid))


def _paused_mark(paths: LabPaths, host: str) -> Path:
    return paths.state_dir / "guests" / host / "paused"


def set_paused(paths: LabPaths, host: str, paused: bool) -> None:
    """Record pause/unpause (the guest's processes cannot say it reliably: UML's own stops look alike)."""
    mark = _paused_mark(paths, host)
    if paused:
        mark.write_text("paused\n")
    else:
        mark.unlink(missing_ok=True)


def guest_state(paths: LabPaths, host: str) -> str:
    """running | paused | shutoff, like a namespace host's state."""
    guest = load_guest(paths, host)
    if guest is None or not guest.is_running():
        return "shutoff"
    return "paused" if _paused_mark(paths, host).exists() else "running"


def destroy_guest(paths: LabPaths, host: LabHost) -> bool:
    """Power-cord pull: tap down first (no frame escapes the dying guest), then kill the whole group.

    True if a guest was destroyed.
    """
    guest = load_guest(paths, host.name)
    if guest is None or not group_is_guest(guest):
        return False
    if _uml._link_exists(host.tap):
        _uml._ip("link", "set", host.tap, "down", check=False)
    if guest.is_running():
        # SIGSTOPped kernel side: SIGKILL reaches it anyway; CONT is harmless
        for pid in guest.members():
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    guest.destroy()
    set_paused(paths, host.name, False)
    return True


@dataclass
class GuestStatus:
    """What one director guest said about itself (``STATUS_COMMAND``'s output, parsed)."""

    keepalived_alive: bool = False
    vrrp: dict[str, str] = field(default_factory=dict)
    addresses: set[str] = field(default_factory=set)
    ipvs_table: str = ""


def parse_guest_status(text: str) -> GuestStatus:
    """Pure: ``STATUS_COMMAND`` output -> GuestStatus (VRRP of a dead keepalived reads DEAD)."""
    st = GuestStatus()
    section = "head"
    ipvs: list[str] = []
    for line in text.splitlines():
        if line.startswith("@@"):
            section = line[2:].strip()
            continue
        parts = line.split()
        if section == "head":
            if parts[:1] == ["keepalived"] and len(parts) == 2:
                st.keepalived_alive = parts[1] == "alive"
            elif parts[:1] == ["vrrp"] and len(parts) == 3:
                st.vrrp[parts[1]] = parts[2]
        elif section == "addr":
            if len(parts) >= 4 and parts[2] == "inet":
                st.addresses.add(parts[3].split("/", 1)[0])
        elif section == "ipvs":
            ipvs.append(line)
    if not st.keepalived_alive:
        st.vrrp = {inst: "DEAD" for inst in VRRP_INSTANCES}
    st.ipvs_table = "\n".join(ipvs)
    return st


def ipvs_backends(table: str, topo: Topology) -> dict[str, dict[str, str]]:
    """Pure: ``ipvsadm -Ln`` -> VIP name -> real server host -> UP (weight > 0) | DRAIN."""
    from ..parsers.ipvsadm import parse_ipvsadm_list

    by_vip = {(addr, port): name for name, addr in topo.vips.items()
              for port in ((80,) if name == "web" else (3306,))}
    by_addr = {h.address: h.name for h in topo.hosts.values()}
    out: dict[str, dict[str, str]] = {}
    for vs in parse_ipvsadm_list(table):
        key = by_vip.get((vs.address, vs.port), f"{vs.protocol} {vs.endpoint}")
        servers = out.setdefault(key, {})
        for rs in vs.real_servers:
            servers[by_addr.get(rs.address, f"{rs.address}:{rs.port}")] = "UP" if rs.weight > 0 else "DRAIN"
    return out


def expected_backends(topo: Topology) -> dict[str, list[str]]:
    return {"web": [h.name for h in topo.with_role("web")], "db": [h.name for h in topo.with_role("db")]}


class GuestBootError(LabError):
    """A director guest could not boot (auto mode falls back to HAProxy directors)."""
