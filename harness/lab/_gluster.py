"""The file tier's daemons, run INSIDE a lab host: glusterd on a file server, the FUSE mount of
the shared volume on a web node (what `hostctl HOST start glusterd|gluster-mount` does).

A leaf under `_daemons`. The pool and the volume are made from the root namespace
(`_file_tier`); here a daemon is started and waited on until it answers, never slept on: glusterd
until it listens on 24007, the mount until the host's mount table has it as ``fuse.glusterfs``
and a ``stat`` of it answers within a timeout (a FUSE mount whose servers are gone hangs its
callers; no call here may hang with it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import LabError
from ._paths import LMS_DATAROOT, LabPaths
from ._proc import port_open, running_pid, spawn, wait_for
from ._services import DAEMONS
from ._topology import LabHost, Topology

#: the one volume of the lab's file tier (Moodle's ``$CFG->dataroot`` lives on it)
VOLUME = "moodledata"
#: where every web node mounts it: the lab LMS's dataroot (LMS_DATAROOT, Moodle's usual place),
#: otherwise a directory on the web node's own disk (/srv), which the mount covers
MOUNT_POINT = LMS_DATAROOT
#: where each file server keeps its brick: on its own disk (/srv is private to the host)
BRICK_DIR = "/srv/bricks/moodledata"
#: glusterd's management port
GLUSTERD_PORT = 24007
#: seconds a stat of the mount may take before it counts as not answering
STAT_TIMEOUT_S = 3.0


def brick_spec(host: LabHost) -> str:
    return f"{host.address}:{BRICK_DIR}"


def start_glusterd(host: LabHost, paths: LabPaths, wait: float) -> str:
    """glusterd with its state in the host's own /var/lib/glusterd and its log in the lab's
    log dir; the brick directory made on the host's own disk. Ready when 24007 answers."""
    daemon = DAEMONS["glusterd"]
    if running_pid(daemon):
        return "glusterd: already running"
    log = paths.log(host.name) / daemon.log
    for d in ("/var/lib/glusterd", "/var/log/glusterfs", "/run/gluster", BRICK_DIR):
        os.makedirs(d, exist_ok=True)
    spawn(["/usr/sbin/glusterd", "--pid-file", daemon.pidfile, "--log-file", str(log)], log, wait=True)
    wait_for(f"{host.name}: glusterd", lambda: running_pid(daemon) is not None
             and port_open(host.address, GLUSTERD_PORT), wait, log)
    return "glusterd: started"


def mount_entry(mountinfo_text: str, mount_point: str = MOUNT_POINT) -> tuple[str, str] | None:
    """(file system type, mount options) of what is mounted at ``mount_point`` in a mount
    table (``/proc/self/mountinfo`` lines; the last mount there wins, as the kernel shows it),
    or None. Pure."""
    found = None
    for line in mountinfo_text.splitlines():
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) >= 6 and fields[4] == mount_point and right:
            found = (right.split()[0], fields[5])
    return found


def mount_fstype(mount_point: str = MOUNT_POINT, mountinfo: str = "/proc/self/mountinfo") -> str | None:
    """The file system type mounted at ``mount_point`` in this host's mount table, or None."""
    try:
        entry = mount_entry(Path(mountinfo).read_text(), mount_point)
    except OSError:
        return None
    return entry[0] if entry else None


def judge_mount(mountinfo_text: str, stat_ok: bool, mount_point: str = MOUNT_POINT) -> str:
    """One web node's mount in one word or two (pure): ``mounted`` (the volume, read-write,
    answering), ``not mounted``, ``not glusterfs (TYPE)``, ``read-only``, ``not answering``."""
    entry = mount_entry(mountinfo_text, mount_point)
    if entry is None:
        return "not mounted"
    fstype, options = entry
    if fstype != "fuse.glusterfs":
        return f"not glusterfs ({fstype})"
    if "ro" in options.split(","):
        return "read-only"
    return "mounted" if stat_ok else "not answering"


def stat_answers(mount_point: str = MOUNT_POINT, timeout: float = STAT_TIMEOUT_S) -> bool:
    """Does a stat of the mount answer within ``timeout``? (in a child: a hung FUSE request
    blocks its caller, and the child can be killed where this process could not be)"""
    try:
        return subprocess.run(["stat", "-c", "%i", mount_point], capture_output=True,
                              timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def mount_argv(servers: Sequence[LabHost], log: Path, pidfile: str) -> list[str]:
    """The FUSE client (what mount.glusterfs runs), every file server a volfile server: the
    mount comes up while any one of them answers."""
    argv = ["/usr/sbin/glusterfs", "--process-name", "fuse"]
    argv += [f"--volfile-server={h.address}" for h in servers]
    return argv + [f"--volfile-id={VOLUME}", f"--log-file={log}", f"--pid-file={pidfile}", MOUNT_POINT]


def start_mount(topo: Topology, host: LabHost, paths: LabPaths, wait: float) -> str:
    """Mount the shared volume at MOUNT_POINT; ready when it is fuse.glusterfs there and a
    stat of it answers."""
    daemon = DAEMONS["gluster-mount"]
    if running_pid(daemon) and mount_fstype() == "fuse.glusterfs":
        return "gluster-mount: already mounted"
    log = paths.log(host.name) / daemon.log
    os.makedirs(MOUNT_POINT, exist_ok=True)
    if mount_fstype() == "fuse.glusterfs":  # a client that died left its mount behind
        subprocess.run(["umount", "-l", MOUNT_POINT], capture_output=True, timeout=10)
    spawn(mount_argv(topo.with_role("fileserver"), log, daemon.pidfile), log, wait=True)
    wait_for(f"{host.name}: {VOLUME} mounted at {MOUNT_POINT}",
             lambda: mount_fstype() == "fuse.glusterfs" and stat_answers(), wait, log,
             interval=0.1)
    return f"gluster-mount: {VOLUME} mounted at {MOUNT_POINT}"


def stop_mount(host: LabHost, kill: bool = False) -> str:
    """Unmount (lazily: a hung mount must not hang the stop) and end the client."""
    daemon = DAEMONS["gluster-mount"]
    pid = running_pid(daemon)
    if mount_fstype() == "fuse.glusterfs":
        proc = subprocess.run(["umount", "-l", MOUNT_POINT], capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            raise LabError(f"{host.name}: umount -l {MOUNT_POINT} exited {proc.returncode}: {proc.stderr.strip()}")
    if pid is None:
        return "gluster-mount: not running"
    try:  # the client usually exits by itself once its mount is gone: nothing left to signal
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + daemon.stop_timeout_s
        while running_pid(daemon) is not None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    except ProcessLookupError:
        pass
    return "gluster-mount: unmounted"
