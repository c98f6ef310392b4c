"""LVS director guests on this machine: dir1 and dir2 as User-Mode Linux guests (harness.lab._uml).

What the lab and its teardown need of a director guest as a machine: its spec (address, tap,
MAC, boot script, kernel modules), its host key, finding a recorded guest again, whether its
process group is still a guest, the pause mark, its domain state, and the power-cord pull.
What the guest *runs* (keepalived with IPVS, LVS-DR) is the LVS strategy's, in
harness.lab._directors.lvs.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from . import _uml
from ._paths import LabPaths
from ._topology import LabHost, Topology

#: the guest's only NIC, as the UML vector driver names it inside the guest
GUEST_IFACE = "vec0"
#: IPVS schedulers the configs use: rr (web) and fo (weighted failover, DB single writer)
# iptable_filter, ip6table_filter: the partition fault's firewall on a director. This kernel's
# nf_tables has neither the inet nor the ip family, so the fault falls back to iptables-legacy,
# which cannot load modules itself in the guest (modprobe from inside iptables fails there).
GUEST_MODULES: tuple[str, ...] = ("ip_vs", "ip_vs_rr", "ip_vs_fo", "sch_netem", "iptable_filter", "ip6table_filter")


def guest_start_script(paths: LabPaths, host: str) -> Path:
    """The guest's boot script (rendered by the LVS strategy; run by guest-init.sh)."""
    return paths.conf(host, "guest-start.sh")


def guest_spec(topo: Topology, host: LabHost, paths: LabPaths) -> _uml.GuestSpec:
    return _uml.GuestSpec(
        name=host.name, address=host.address, prefix_len=topo.prefixlen, tap=host.tap, bridge=topo.bridge,
        user_script=guest_start_script(paths, host.name), modules=GUEST_MODULES,
        mac_override=host.mac,
    )


def prepare_host_key(paths: LabPaths, host: str) -> None:
    """Give the guest the lab's host key for ``host``: known_hosts stays the same in both modes."""
    ssh_dir = paths.guest_dir(host) / "ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(ssh_dir, 0o700)
    src = paths.host_key(host)
    for suffix in ("", ".pub"):
        dst = ssh_dir / f"host_key{suffix}"
        dst.write_bytes(Path(f"{src}{suffix}").read_bytes())
        os.chmod(dst, 0o600 if not suffix else 0o644)


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
    return paths.guest_dir(host) / "paused"


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
    if _uml.link_exists(host.tap):
        _uml.ip("link", "set", host.tap, "down", check=False)
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
