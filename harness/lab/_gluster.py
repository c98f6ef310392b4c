"""The file tier's daemons, run INSIDE a lab host: glusterd on a file server, the FUSE mount of
the shared volume on a web node (what `hostctl HOST start glusterd|gluster-mount` does).

A leaf under `_daemons`. The pool and the volume are made from the root namespace
(`_file_tier`); here a daemon is started and waited on until it answers, never slept on: glusterd
until it listens on 24007, the mount until the host's mount table has it as ``fuse.glusterfs``
and a ``stat`` of it answers within a timeout (a FUSE mount whose servers are gone hangs its
callers; no call here may hang with it).
"""

from __future__ import annotations

import json
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
#: each file server's brick filesystem: a small ext4 of its own, so that a brick's disk can
#: fill up (the disk-full fault) without filling the machine's. Its image lives on the host's
#: own disk (/var/lib), so it is kept across a destroy and start of the host, as a disk is
BRICK_FS = "/srv/bricks"
#: the brick filesystem's size: room for the lab's tests (a few thousand small files) and
#: nothing near the machine's free space; the image is sparse
BRICK_FS_MB = 256
#: where each file server keeps its brick: on that filesystem
BRICK_DIR = f"{BRICK_FS}/moodledata"
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
    mount_brick_fs(brick_image(paths, host))
    for d in ("/var/lib/glusterd", "/var/log/glusterfs", "/run/gluster", BRICK_DIR):
        os.makedirs(d, exist_ok=True)
    spawn(["/usr/sbin/glusterd", "--pid-file", daemon.pidfile, "--log-file", str(log)], log, wait=True)
    wait_for(f"{host.name}: glusterd", lambda: running_pid(daemon) is not None
             and port_open(host.address, GLUSTERD_PORT), wait, log)
    return "glusterd: started"


def brick_image(paths: LabPaths, host: LabHost) -> str:
    """The brick filesystem's image, as the host sees it: named after lab and host, because the
    kernel shows a loop device's backing file by the path it had in the host's mount namespace
    (teardown finds its own loop devices by that name)."""
    return f"/var/lib/{brick_image_name(paths.state_dir.name, host.name)}"


def brick_image_name(lab: str, host: str) -> str:
    return f"hlab-{lab}-{host}-bricks.img"


def our_loop_devices(losetup_json: str, lab: str, hosts: Sequence[str]) -> list[str]:
    """The loop devices backing a brick image of lab ``lab`` (pure, from
    ``losetup --list --json -O NAME,BACK-FILE``). Matched by the image's whole name, lab and
    host in it: another lab's images, or anything else, are never ours."""
    try:
        devices = json.loads(losetup_json or "{}").get("loopdevices") or []
    except (ValueError, AttributeError) as exc:
        raise LabError(f"losetup --json printed no JSON object: {losetup_json[:200]!r}") from exc
    names = {brick_image_name(lab, h) for h in hosts}
    found = []
    for dev in devices:
        back = str(dev.get("back-file") or "").removesuffix(" (deleted)")
        if os.path.basename(back) in names:
            found.append(str(dev.get("name")))
    return found


def lab_loop_devices(lab: str, hosts: Sequence[str]) -> list[str]:
    """The machine's loop devices (root namespace) backing a brick image of lab ``lab``."""
    try:
        proc = subprocess.run(["losetup", "--list", "--json", "-O", "NAME,BACK-FILE"], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"losetup --list: {exc}") from exc
    return our_loop_devices(proc.stdout if proc.returncode == 0 else "", lab, hosts)


def mount_brick_fs(image: str, mount_point: str = BRICK_FS, size_mb: int = BRICK_FS_MB) -> str:
    """The brick filesystem mounted at ``mount_point`` (in this host's own mount namespace, where
    it ends with the host: the loop device is released with it). A new host gets its image made
    (sparse file, ext4 without reserved blocks) under a temporary name, so an interrupted mkfs is
    redone, never mounted half made."""
    if mount_fstype(mount_point) == "ext4":
        return "brick filesystem: already mounted"
    if not os.path.exists(image):
        tmp = image + ".new"
        with open(tmp, "wb") as f:
            f.truncate(size_mb * 1024 * 1024)
        _run_checked(["mkfs.ext4", "-q", "-F", "-m", "0", "-L", "bricks", tmp], what=f"mkfs.ext4 {tmp}")
        os.rename(tmp, image)
    os.makedirs(mount_point, exist_ok=True)
    _run_checked(["mount", "-o", "loop,nosuid,nodev", image, mount_point], what=f"mount {image} {mount_point}")
    return f"brick filesystem: {image} mounted at {mount_point}"


def _run_checked(argv: list[str], what: str, timeout: float = 60.0) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{what}: no end within {timeout:.0f}s") from exc
    if proc.returncode != 0:
        raise LabError(f"{what} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")


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
