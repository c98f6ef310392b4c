"""Bridge, veth pairs, network namespaces, host inits and nsenter: the lab's "hardware".

Every object is recorded in the state file before it is created. Commands are argument lists,
never shell strings. Only PIDs from the records (inits, checked against their start time) are
ever signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import LabError
from . import _disks
from ._paths import INIT_SCRIPT, LabPaths
from ._procfs import all_pids, read_stat, read_status
from ._state import LabState, pid_alive, proc_starttime
from ._topology import LabHost, Topology

#: the directory holding the ``harness`` package (a checkout, or site-packages for a wheel)
PACKAGE_HOME = Path(__file__).resolve().parents[2]
FREEZER_ROOT = Path("/sys/fs/cgroup/freezer")
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLEAN_ENV = {"PATH": HOST_PATH, "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 20.0, input: str | None = None,
        what: str = "") -> subprocess.CompletedProcess[str]:
    """Run a root-namespace command; LabError names the command and its stderr."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise LabError(f"{what or argv[0]}: `{' '.join(argv)}` did not finish in {timeout:.0f}s") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise LabError(
            f"{what or argv[0]}: `{' '.join(argv)}` exited {proc.returncode}: " + " | ".join(detail)
        )
    return proc


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


# -- network ---------------------------------------------------------------------------------
def create_bridge(topo: Topology, state: LabState) -> None:
    state.record("link", topo.bridge)
    if not link_exists(topo.bridge):
        run(["ip", "link", "add", topo.bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0",
             "mcast_snooping", "0"], what=f"bridge {topo.bridge}")
    run(["ip", "addr", "replace", f"{topo.bridge_address}/{topo.prefixlen}", "dev", topo.bridge],
        what=f"bridge {topo.bridge}")
    run(["ip", "link", "set", topo.bridge, "up"], what=f"bridge {topo.bridge}")


def create_host_network(topo: Topology, host: LabHost, state: LabState) -> None:
    """Namespace + veth (root side in the bridge, `eth0` inside) + address; no default route."""
    state.record("netns", host.netns)
    if not netns_exists(host.netns):
        run(["ip", "netns", "add", host.netns], what=host.name)
    state.record("link", host.veth)
    if not link_exists(host.veth):
        run(["ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns],
            what=host.name)
    run(["ip", "link", "set", host.veth, "master", topo.bridge, "up"], what=host.name)
    ns = ["ip", "-n", host.netns]
    run([*ns, "link", "set", "lo", "up"], what=host.name)
    run([*ns, "link", "set", "eth0", "address", host.mac], what=host.name)
    run([*ns, "addr", "replace", f"{host.address}/{topo.prefixlen}", "dev", "eth0"], what=host.name)
    run([*ns, "link", "set", "eth0", "up"], what=host.name)
    if host.has_role("director"):
        # HAProxy binds the VIPs whether or not keepalived put them on this host
        run(["ip", "netns", "exec", host.netns, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1"],
            what=host.name)


def set_link(host: LabHost, up: bool) -> None:
    if link_exists(host.veth):
        run(["ip", "link", "set", host.veth, "up" if up else "down"], what=host.name)


def delete_link(name: str) -> None:
    if link_exists(name):
        run(["ip", "link", "del", name], check=False, what=name)


def delete_netns(name: str) -> None:
    if netns_exists(name):
        run(["ip", "netns", "del", name], check=False, what=name)


# -- host init -------------------------------------------------------------------------------
def _children_of(ppid: int) -> list[int]:
    """PIDs whose parent is ``ppid`` (this kernel has no /proc/PID/task/TID/children)."""
    found = []
    for pid in all_pids():
        st = read_stat(pid)
        if st is not None and st.ppid == ppid:
            found.append(pid)
    return found


def init_pid(state: LabState, host: str) -> int | None:
    """The host's init PID if it is alive and is the process we recorded, else None."""
    rec = state.init(host)
    pid = rec.get("pid")
    if pid and pid_alive(pid, rec.get("starttime")):
        return int(pid)
    return None


def kept_candidates(paths: LabPaths) -> list[str]:
    """What every host must still see through its private directories (_disks.kept_paths picks
    those under one): the lab's state dir, the directory holding the harness package (service
    scripts, templates, the LMS: a checkout for an editable install, site-packages for a wheel)
    and the Python running the harness, which runs hostctl (a CI clone and its venv may well
    live under /tmp)."""
    found = [os.path.abspath(paths.state_dir), str(PACKAGE_HOME), sys.prefix, sys.base_prefix,
             str(Path(os.path.realpath(sys.executable)).parent.parent)]
    # the path the hosts use (not resolved: a symlinked state root is put back as named);
    # the init binds each, so each must exist
    return [p for p in found if Path(p).is_dir()]


def write_mount_plan(topo: Topology, host: LabHost, paths: LabPaths) -> Path:
    """Seed the host's disk if it has none yet and write the plan its init mounts (in the state
    dir, read by the init before it covers anything)."""
    _disks.ensure_disk_roots(paths, topo.hosts)
    _disks.seed_disk(paths, host.name, exclude=kept_candidates(paths))
    shared = [p for p in _disks.SHARED_READ_ONLY if Path(p).is_dir()]
    plan = _disks.mount_plan(paths, host.name, list(topo.hosts), kept_candidates(paths), shared)
    out = paths.host_dir(host.name) / "mounts.json"
    out.write_text(json.dumps(_disks.plan_json(plan), indent=1) + "\n")
    return out


def start_init(topo: Topology, host: LabHost, state: LabState, paths: LabPaths, timeout_s: float = 10.0) -> int:
    """Start the host's init in its namespaces, on its own disk; record it; wait until it has
    made its mounts."""
    existing = init_pid(state, host.name)
    if existing:
        return existing
    log_path = paths.log(host.name) / "init.log"
    plan = write_mount_plan(topo, host, paths)
    state.set_init(host.name, pid=None, starttime=None, launcher=None, launcher_starttime=None, starting=True)
    log = open(log_path, "ab")
    try:
        launcher = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, "unshare", "--pid", "--fork", "--mount", "--uts", "--ipc",
             "--propagation", "private", "--mount-proc", "--", "/usr/bin/python3", str(INIT_SCRIPT),
             "--hostname", host.name, "--plan", str(plan)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=CLEAN_ENV,
        )
    finally:
        log.close()
    state.set_init(host.name, launcher=launcher.pid, launcher_starttime=proc_starttime(launcher.pid))
    deadline = time.monotonic() + timeout_s
    pid = None
    while time.monotonic() < deadline:
        if launcher.poll() is not None:
            break
        kids = _children_of(launcher.pid)
        if kids:
            pid = kids[0]
            break
        time.sleep(0.01)
    if pid is None:
        raise LabError(f"{host.name}: host init did not start (exit {launcher.poll()}); see {log_path}")
    state.set_init(host.name, pid=pid, starttime=proc_starttime(pid), starting=False)
    _join_freezer(topo, host, state, pid)
    ready = Path(f"/proc/{pid}/root/run/.hlab-init-ready")
    while time.monotonic() < deadline:
        if ready.exists():
            return pid
        if not pid_alive(pid, None):
            break
        time.sleep(0.01)
    raise LabError(f"{host.name}: host init did not get ready in {timeout_s:.0f}s; see {log_path}")


def _freezer_dir(host: LabHost) -> Path:
    return FREEZER_ROOT / host.netns


def _join_freezer(topo: Topology, host: LabHost, state: LabState, pid: int) -> None:
    """Put the init in its own cgroup-v1 freezer group (children inherit it) if there is one."""
    if not (FREEZER_ROOT / "cgroup.procs").exists():
        return
    group = _freezer_dir(host)
    state.record("cgroup", str(group))
    group.mkdir(exist_ok=True)
    (group / "cgroup.procs").write_text(str(pid))


def freeze(state: LabState, host: LabHost, frozen: bool) -> None:
    """Freeze/thaw every process of the host: cgroup freezer if present, else SIGSTOP/SIGCONT."""
    pid = init_pid(state, host.name)
    if pid is None:
        raise LabError(f"{host.name}: not running, cannot {'pause' if frozen else 'unpause'} it")
    group = _freezer_dir(host)
    if (group / "freezer.state").exists():
        if frozen:
            # processes entered through nsenter (daemons started by hostctl or over SSH) are not
            # descendants of the init: sweep every process of the PID namespace into the group,
            # twice, so a child forked during the first sweep is caught (it joins a frozen group)
            for _ in range(2):
                for p in namespace_pids(pid):
                    try:
                        (group / "cgroup.procs").write_text(str(p))
                    except OSError:
                        pass  # exited meanwhile
                (group / "freezer.state").write_text("FROZEN")
        else:
            (group / "freezer.state").write_text("THAWED")
        deadline = time.monotonic() + 5
        want = "FROZEN" if frozen else "THAWED"
        while (group / "freezer.state").read_text().strip() != want and time.monotonic() < deadline:
            time.sleep(0.02)
        return
    sig = signal.SIGSTOP if frozen else signal.SIGCONT
    for _ in range(3):  # repeat: a process may fork while we stop its siblings
        for p in namespace_pids(pid):
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
    state.set_init(host.name, sigstopped=frozen)


def is_frozen(state: LabState, host: LabHost) -> bool:
    group = _freezer_dir(host)
    if (group / "freezer.state").exists():
        return (group / "freezer.state").read_text().strip() in ("FROZEN", "FREEZING")
    return bool(state.init(host.name).get("sigstopped"))


def namespace_pids(init: int) -> list[int]:
    """Every root-namespace PID living in the PID namespace whose init is ``init``."""
    try:
        target = os.readlink(f"/proc/{init}/ns/pid")
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == target:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def namespace_daemon_alive(init: int, pidfile: str, process: str) -> bool:
    """Is the daemon of a host's pidfile (read through /proc/INIT/root) running? Root-ns PIDs
    differ, so look the namespace PID up among the host's processes by name."""
    try:
        ns_pid = int((Path(f"/proc/{init}/root") / pidfile.lstrip("/")).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    for pid in namespace_pids(init):
        fields = read_status(pid)
        if fields is None:
            continue
        nspids = fields.get("NSpid", "").split()
        if nspids and int(nspids[-1]) == ns_pid:
            return fields.get("Name", "") == process and fields.get("State", "")[:1] != "Z"
    return False


def kill_init(state: LabState, host: LabHost, timeout_s: float = 10.0) -> None:
    """SIGKILL the host's init (thawed first: a frozen task does not die) and wait it out."""
    rec = state.init(host.name)
    pid = init_pid(state, host.name)
    if pid is not None:
        group = _freezer_dir(host)
        if (group / "freezer.state").exists():
            (group / "freezer.state").write_text("THAWED")
        pids = namespace_pids(pid)
        os.kill(pid, signal.SIGKILL)
        for p in pids:  # SIGSTOPped processes: the namespace kill reaches them, CONT is harmless
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (pid_alive(pid, rec.get("starttime")) or
                                               any(pid_alive(p, None) for p in pids)):
            time.sleep(0.02)
    launcher = rec.get("launcher")
    if launcher and pid_alive(launcher, rec.get("launcher_starttime")):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and pid_alive(launcher, rec.get("launcher_starttime")):
            time.sleep(0.02)
    state.set_init(host.name, pid=None, starttime=None, sigstopped=False)


def terminate_init(state: LabState, host: LabHost, timeout_s: float = 30.0) -> None:
    """Orderly end of a host: SIGTERM its init (which TERMs, then KILLs, its processes)."""
    pid = init_pid(state, host.name)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and pid_alive(pid, state.init(host.name).get("starttime")):
        time.sleep(0.05)
    kill_init(state, host)


def remove_freezer(path: str) -> None:
    group = Path(path)
    if group.exists():
        try:
            group.rmdir()
        except OSError:
            pass


def nsenter_argv(pid: int, argv: Sequence[str]) -> list[str]:
    return ["nsenter", "--target", str(pid), "--net", "--pid", "--mount", "--uts", "--ipc", "--", *argv]
