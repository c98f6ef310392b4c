"""The lab's file tier (issue 12, first slice): GlusterFS replica 3 arbiter 1 on fs1-fs3, mounted
by every web node at /srv/moodledata, on a lab of its own (``--file-tier gluster``).

- shared: a file written through web1's mount is read back on web2 and web3 with the same
  checksum, and sits on both data bricks (fs1, fs2); the arbiter (fs3) has its name only;
- own disks: a file on web1's local /srv (beside the mount) is not on web2;
- a brick killed: fs1's glusterfsd SIGKILLed while web1 writes through the mount: no write
  fails, the longest write stall is measured; after the brick is started again the heal
  backlog reaches zero (the self-heal time), and every file written meanwhile is on fs1's
  brick with its checksum;
- a file server frozen: fs1 paused (every process stopped, connections left open) while web1
  writes: the stall is bounded by network.ping-timeout; the heal after it by cluster.heal-timeout;
- a file server destroyed (the power-cord pull) and started again: the same stall, and its
  brick heals once glusterd is back from the host's own disk;
- a brick's disk full: fs1's brick filesystem (a small ext4 of its own) filled while web1
  writes: the writes go on (fs2 and the arbiter make the quorum), what was written meanwhile is
  not on fs1's brick until the space is freed, then self-heal puts it there;
- at the end the lab is torn down with nothing left: namespaces, processes, mounts.

Every command against the mount runs with a timeout (a hung FUSE mount must not hang the test).
The FIGURE lines are the measurements docs/lab-measurements.md records.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.inventory import load_inventory
from harness.lab import Lab
from harness.lab._file_tier import HEAL_TIMEOUT_S, PING_TIMEOUT_S, cli, heal_backlog, volume_bricks
from harness.lab._gluster import BRICK_DIR, BRICK_FS, BRICK_FS_MB, MOUNT_POINT, VOLUME
from harness.lab._preflight import missing_packages, missing_packages_message
from harness.parsers.gluster import heal_pending, parse_heal_info

from .conftest import own_lab, own_lab_marks, wait_until


def _gluster_missing() -> str | None:
    pkgs = [p for p in missing_packages(file_tier="gluster") if p not in missing_packages()]
    return missing_packages_message(pkgs).splitlines()[0] if pkgs else None


pytestmark = own_lab_marks("storage lab", also=_gluster_missing)

NAME, SUBNET = "gl", "198.18.64.0/24"
WEBS = ("web1", "web2", "web3")
WRITER = (Path(__file__).with_name("storage_writer.py")).read_text()
#: seconds any one command against the mount may take (inside the host: `timeout -s KILL`)
MOUNT_CMD_S = 10
#: the writer's pace: one 4 KiB file, fsynced, every WRITE_INTERVAL_S
WRITE_INTERVAL_S = 0.05
#: a self-heal of a few hundred small files must be over within this (measured 8-13 s)
HEAL_BOUND_S = 120.0
#: how long fs1 stays frozen: well beyond the ping timeout, so the client gives up on it
FREEZE_S = PING_TIMEOUT_S + 7


def _say(msg: str) -> None:
    sys.stderr.write(f"storage: {msg}\n")


def _figure(msg: str) -> None:
    sys.stdout.write(f"\nFIGURE {msg}\n")
    sys.stdout.flush()


def _our_processes(state_dir: Path) -> list[str]:
    """Processes on the machine whose command line names the lab's state dir (glusterd, the
    bricks and FUSE clients log there): none may outlive `lab down`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(state_dir) + "/" in cmd and ("gluster" in cmd):
            found.append(f"{pid} {cmd[:120]}")
    return found


@pytest.fixture(scope="module")
def fs_lab() -> Iterator[Lab]:
    lab = Lab(NAME, SUBNET, directors="haproxy", file_tier="gluster")
    yield from own_lab(lab, _say, "storage")
    # own_lab tore it down and found no netns, link or state dir; the file tier's own leftovers:
    assert not [line for line in Path("/proc/mounts").read_text().splitlines() if VOLUME in line]
    assert not [n for n in os.popen("ip netns list").read().split() if n.startswith(lab.topo.netns_prefix)]
    assert _our_processes(lab.state_dir) == []


def sh(lab: Lab, host: str, script: str, *args: str, input: str | None = None) -> tuple[int, str]:
    """``script`` under ``sh -c`` on ``host``, killed after MOUNT_CMD_S: (exit status, stdout)."""
    proc = lab.exec(host, ["timeout", "-s", "KILL", str(MOUNT_CMD_S), "sh", "-c", script, "sh", *args],
                    timeout=MOUNT_CMD_S + 10, input=input)
    return proc.returncode, proc.stdout


def sha256(lab: Lab, host: str, path: str) -> str | None:
    """The file's sha256 on ``host``, None if it has no such file."""
    rc, out = sh(lab, host, 'test -f "$1" || exit 3; sha256sum "$1"', path)
    assert rc in (0, 3), f"{host}: sha256sum {path} exited {rc}"
    return out.split()[0] if rc == 0 else None


def size(lab: Lab, host: str, path: str) -> int | None:
    rc, out = sh(lab, host, 'test -f "$1" || exit 3; stat -c %s "$1"', path)
    return int(out) if rc == 0 else None


def test_the_cluster_file_has_the_storage_section_and_the_file_servers(fs_lab: Lab) -> None:
    inv = load_inventory(fs_lab.inventory_path)
    assert inv.storage is not None
    assert (inv.storage.kind, inv.storage.volume, inv.storage.mount_point) == ("glusterfs", VOLUME, MOUNT_POINT)
    assert [h.name for h in inv.with_role("fileserver")] == ["fs1", "fs2", "fs3"]
    assert "glusterd" in inv.host("fs1").services and "gluster-mount" in inv.host("web1").services
    # the health command answers on a file server, as the harness would run it
    assert inv.storage.health
    rc, _ = sh(fs_lab, "fs2", inv.storage.health)
    assert rc == 0


def test_the_audit_finds_moodles_dataroot_shared_on_every_web_node(fs_lab: Lab) -> None:
    """The same lab without a file tier has web-dataroot-local on every node (tests/lab/test_lab.py)."""
    from harness.cluster import Cluster
    from harness.config_audit import audit_cluster
    from harness.config_audit._cli import render_table

    cluster = Cluster(load_inventory(fs_lab.inventory_path))
    try:
        found = audit_cluster(cluster)
    finally:
        cluster.close()
    assert not [f for f in found if f.rule.startswith("web-")], render_table(found)


def test_a_file_written_through_web1s_mount_is_on_every_web_node_and_both_data_bricks(fs_lab: Lab) -> None:
    name = f"shared-{uuid.uuid4().hex}"
    path = f"{MOUNT_POINT}/{name}"
    content = os.urandom(48 * 1024).hex()
    rc, _ = sh(fs_lab, "web1", 'cat > "$1"', path, input=content)
    assert rc == 0
    want = sha256(fs_lab, "web1", path)
    assert want is not None
    for web in WEBS[1:]:
        assert sha256(fs_lab, web, path) == want, f"{web} reads another {path}"
    for fs in ("fs1", "fs2"):
        assert sha256(fs_lab, fs, f"{BRICK_DIR}/{name}") == want, f"{fs}'s brick lacks {name}"
    # the arbiter keeps the name and metadata only
    assert size(fs_lab, "fs3", f"{BRICK_DIR}/{name}") == 0
    # and the web node's own disk under the mount does not have it: it is the volume's
    assert not (fs_lab.paths.host_dir("web1") / "disk" / "srv" / "moodledata" / name).exists()


def test_a_file_on_web1s_local_srv_is_not_on_web2(fs_lab: Lab) -> None:
    path = f"/srv/local-{uuid.uuid4().hex}"
    rc, _ = sh(fs_lab, "web1", 'printf web1 > "$1"', path)
    assert rc == 0
    assert sha256(fs_lab, "web1", path) is not None
    assert sha256(fs_lab, "web2", path) is None, "web2 sees web1's local /srv"
    assert sha256(fs_lab, "web2", f"{MOUNT_POINT}/{Path(path).name}") is None


@dataclass
class Writes:
    lines: list[dict[str, Any]]

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [w for w in self.lines if w["err"]]

    @property
    def longest_s(self) -> float:
        return max(w["s"] for w in self.lines)

    def during(self, t0: float, t1: float) -> list[dict[str, Any]]:
        return [w for w in self.lines if t0 <= w["t"] + w["s"] and w["t"] <= t1]


class Writer:
    """storage_writer.py in ``host`` for ``seconds``, in a thread of the test."""

    def __init__(self, lab: Lab, host: str, directory: str, seconds: float) -> None:
        self.out: dict[str, Any] = {}

        def run() -> None:
            try:
                self.out["proc"] = lab.exec(host, ["python3", "-c", WRITER, directory, str(seconds),
                                                   str(WRITE_INTERVAL_S)], timeout=seconds + 60)
            except Exception as exc:  # noqa: BLE001 (reported by result())
                self.out["error"] = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def result(self) -> Writes:
        self.thread.join()
        assert "error" not in self.out, f"writer: {self.out.get('error')}"
        proc = self.out["proc"]
        assert proc.returncode == 0, f"writer exited {proc.returncode}: {proc.stderr}"
        return Writes([json.loads(line) for line in proc.stdout.splitlines()])


def _wait_heal(lab: Lab, started: float, host: str = "fs2") -> float:
    """Poll the heal backlog until every brick answers with 0; seconds since ``started``. On a
    timeout the failure carries what the heal was stuck on (CI once: 120 s, not reproduced)."""
    last: dict[str, str] = {}

    def healed() -> bool:
        try:
            out = cli(lab, "volume", "heal", VOLUME, "info", host=host, timeout=20.0)
        except Exception as exc:  # noqa: BLE001 (a CLI call during the heal may time out: ask again)
            last["heal info"] = f"{type(exc).__name__}: {exc}"
            return False
        last["heal info"] = out
        return heal_pending(parse_heal_info(out)) == 0

    wait_until(f"{VOLUME}: heal backlog zero", healed, timeout=HEAL_BOUND_S, interval=0.5,
               evidence=lambda: _heal_evidence(lab, host, last))
    return time.monotonic() - started


def _heal_evidence(lab: Lab, host: str, last: dict[str, str]) -> str:
    """The last heal info, the volume's status and each file server's self-heal daemon log tail."""
    parts = [f"--- last `gluster volume heal {VOLUME} info` on {host}:\n{last.get('heal info', '(none)')[-3000:]}"]
    try:
        parts.append(f"--- gluster volume status:\n{cli(lab, 'volume', 'status', VOLUME, host=host, check=False)}")
    except Exception as exc:  # noqa: BLE001 (evidence for a failure already decided)
        parts.append(f"--- gluster volume status: {exc}")
    for fs in ("fs1", "fs2", "fs3"):
        rc, out = sh(lab, fs, "tail -n 25 /var/log/glusterfs/glustershd.log")
        parts.append(f"--- {fs}: glustershd.log (tail, rc {rc}):\n{out}")
    return "\n".join(parts)


def _all_on_brick(lab: Lab, host: str, directory: str, writes: Writes) -> None:
    rc, out = sh(lab, host, 'cd "$1" && sha256sum w*', f"{BRICK_DIR}/{directory}")
    assert rc == 0, f"{host}: no {directory} on its brick"
    on_brick = {line.split()[1]: line.split()[0] for line in out.splitlines()}
    missing = [w["n"] for w in writes.lines if on_brick.get(f"w{w['n']:05d}") != w["sha"]]
    assert missing == [], f"{host}'s brick lacks or has other content for writes {missing[:10]}"


def test_writes_go_on_with_fs1s_brick_killed_and_the_brick_heals_when_restarted(fs_lab: Lab) -> None:
    directory = f"kill-{uuid.uuid4().hex[:8]}"
    fs1 = fs_lab.topo.host("fs1")
    writer = Writer(fs_lab, "web1", f"{MOUNT_POINT}/{directory}", seconds=10)
    time.sleep(2)
    pid = next(b.pid for b in volume_bricks(fs_lab) if b.host == fs1.address)
    assert pid, "fs1's brick has no pid in `gluster volume status`"
    killed = time.time()
    fs_lab.exec("fs1", ["kill", "-KILL", str(pid)], check=True)
    wait_until("fs1's brick offline", lambda: not next(b.online for b in volume_bricks(fs_lab)
                                                       if b.host == fs1.address), timeout=15)
    writes = writer.result()
    after = writes.during(killed, time.time())
    assert writes.failed == [], f"writes failed with fs1's brick down: {writes.failed[:3]}"
    assert len(after) > 20, f"only {len(after)} writes after the kill"
    stall = max(w["s"] for w in after)
    _figure(f"storage: fs1 brick SIGKILLed: {len(writes.lines)} writes through web1's mount, "
            f"{len(after)} after the kill, 0 failed, longest write stall {stall:.3f} s "
            f"(whole run {writes.longest_s:.3f} s)")
    # a killed brick closes its connections: the client does not wait for the ping timeout
    assert stall < PING_TIMEOUT_S
    backlog = heal_pending(heal_backlog(fs_lab, host="fs2"))
    assert backlog is None  # fs1's brick does not answer: the heal is not over, whatever fs2 says
    started = time.monotonic()
    cli(fs_lab, "volume", "start", VOLUME, "force", host="fs2")  # what restarts a dead brick
    wait_until("fs1's brick online", lambda: next(b.online for b in volume_bricks(fs_lab)
                                                  if b.host == fs1.address), timeout=30)
    heal_s = _wait_heal(fs_lab, started)
    _figure(f"storage: fs1 brick restarted (volume start force): heal backlog of {len(after)}+ files "
            f"written meanwhile reached zero in {heal_s:.1f} s")
    _all_on_brick(fs_lab, "fs1", directory, writes)


def test_writes_stall_at_most_the_ping_timeout_with_fs1_frozen_and_heal_after(fs_lab: Lab) -> None:
    directory = f"freeze-{uuid.uuid4().hex[:8]}"
    writer = Writer(fs_lab, "web1", f"{MOUNT_POINT}/{directory}", seconds=FREEZE_S + 6)
    time.sleep(2)
    frozen = time.time()
    fs_lab.domain("pause", "fs1")
    try:
        time.sleep(FREEZE_S)
    finally:
        fs_lab.domain("unpause", "fs1")
    started = time.monotonic()
    heal_s = _wait_heal(fs_lab, started)  # the writer goes on meanwhile, as Moodle would
    writes = writer.result()
    assert writes.failed == [], f"writes failed with fs1 frozen: {writes.failed[:3]}"
    stall = max(w["s"] for w in writes.during(frozen, time.time()))
    _figure(f"storage: fs1 frozen {FREEZE_S} s (ping-timeout {PING_TIMEOUT_S} s): "
            f"{len(writes.lines)} writes through web1's mount, 0 failed, longest write stall {stall:.3f} s")
    _figure(f"storage: after fs1's freeze the heal backlog reached zero {heal_s:.1f} s after the "
            f"unpause (heal-timeout {HEAL_TIMEOUT_S} s)")
    # the client gives up on the frozen brick after the ping timeout; measured 7.0-8.0 s at 5 s
    # (the ping timer's own period comes on top), never the 42 s default
    assert PING_TIMEOUT_S - 1 <= stall < PING_TIMEOUT_S + 6
    _all_on_brick(fs_lab, "fs1", directory, writes)


def test_writes_go_on_with_fs1_destroyed_and_its_brick_heals_after_it_boots(fs_lab: Lab) -> None:
    """The power-cord pull: fs1's whole host gone (its namespaces and veth deleted, so no
    connection of it is ever closed): the clients find out by the ping timeout, as for a freeze."""
    directory = f"destroy-{uuid.uuid4().hex[:8]}"
    writer = Writer(fs_lab, "web1", f"{MOUNT_POINT}/{directory}", seconds=FREEZE_S + 6)
    time.sleep(2)
    destroyed = time.time()
    fs_lab.domain("destroy", "fs1")
    try:
        time.sleep(FREEZE_S)
    finally:
        fs_lab.domain("start", "fs1")  # glusterd and its brick back from the host's own disk
    started = time.monotonic()
    heal_s = _wait_heal(fs_lab, started)
    writes = writer.result()
    assert writes.failed == [], f"writes failed with fs1 destroyed: {writes.failed[:3]}"
    stall = max(w["s"] for w in writes.during(destroyed, time.time()))
    _figure(f"storage: fs1 destroyed {FREEZE_S} s: {len(writes.lines)} writes through web1's mount, 0 failed, "
            f"longest write stall {stall:.3f} s; heal backlog zero {heal_s:.1f} s after `domain start fs1`")
    assert stall < PING_TIMEOUT_S + 6
    _all_on_brick(fs_lab, "fs1", directory, writes)
    assert fs_lab.status().storage["fs1"] == "brick online"


def test_writes_go_on_with_fs1s_brick_disk_full_and_its_brick_heals_when_space_is_freed(fs_lab: Lab) -> None:
    fill = f"{BRICK_FS}/.harness-disk-full"
    rc, out = sh(fs_lab, "fs1", 'df -P -B1 "$1" | tail -n 1', BRICK_FS)
    assert rc == 0 and out.split()[0].startswith("/dev/loop"), f"fs1's brick is not on a filesystem of its own: {out}"
    assert int(out.split()[1]) <= BRICK_FS_MB * 1024 * 1024
    directory = f"full-{uuid.uuid4().hex[:8]}"
    writer = Writer(fs_lab, "web1", f"{MOUNT_POINT}/{directory}", seconds=10)
    time.sleep(2)
    # as the disk-full fault fills it: all but 8 MiB allocated, the rest written up to ENOSPC
    rc, out = sh(fs_lab, "fs1", 'avail=$(df -P -B1 "$1" | awk \'END {print $4}\'); '
                 'fallocate -l $((avail - 8388608)) "$2" || exit 1; '
                 'dd if=/dev/zero of="$2" bs=65536 count=128 oflag=append conv=notrunc status=none; '
                 'df -P -B1 "$1" | awk \'END {print $4}\'', BRICK_FS, fill)
    filled = time.time()
    assert rc == 0, f"fs1: filling {BRICK_FS} failed: {out}"
    assert int(out.split()[-1]) < 1024 * 1024, f"fs1's brick filesystem still has {out} bytes free"
    try:
        writes = writer.result()
        after = writes.during(filled + 1, time.time())
        assert writes.failed == [], f"writes failed with fs1's brick disk full: {writes.failed[:3]}"
        assert len(after) > 20, f"only {len(after)} writes with the disk full"
        # the fault had its effect: what was written with fs1's disk full is not on its brick
        rc, listing = sh(fs_lab, "fs1", 'ls "$1" 2>/dev/null || true', f"{BRICK_DIR}/{directory}")
        on_fs1 = set(listing.split())
        missing = [w for w in after if f"w{w['n']:05d}" not in on_fs1]
        stall = max(w["s"] for w in after)
        _figure(f"storage: fs1's brick disk full: {len(writes.lines)} writes through web1's mount, "
                f"{len(after)} with the disk full, 0 failed, {len(missing)} of them not on fs1's brick, "
                f"longest write stall {stall:.3f} s")
        assert missing, "every write made with fs1's brick disk full is on that brick: the disk was not full"
    finally:
        rc, _ = sh(fs_lab, "fs1", 'rm -f "$1"', fill)
    assert rc == 0
    started = time.monotonic()
    heal_s = _wait_heal(fs_lab, started)
    _figure(f"storage: fs1's brick disk freed: heal backlog zero {heal_s:.1f} s after (heal-timeout {HEAL_TIMEOUT_S} s)")
    _all_on_brick(fs_lab, "fs1", directory, writes)
