"""The storage probe on a real mount: a tmpfs this test mounts (root only), reached by two
"web nodes" through the local transport, as two web nodes reach one shared volume.

No cluster: the filesystem, the shell commands and their timeouts are the real ones.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.checkers import Validity
from harness.checkers.storage import lost_files
from harness.errors import ProbeError
from harness.history import HistoryRecorder
from harness.probes.storage import StorageProbe, parse_sha256sum
from harness.transport.local import LocalTransport

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: root only")


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "harness-test", str(mnt)], check=True, timeout=10)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False, timeout=10)


def _nodes() -> dict[str, LocalTransport]:
    return {"web1": LocalTransport("web1"), "web2": LocalTransport("web2")}


def test_parse_sha256sum_strips_the_mount_and_skips_temp_files() -> None:
    text = (f"{'a' * 64}  /m/harness-probe/r/web1-0\n{'b' * 64}  /m/harness-probe/r/web1-1.tmp\n"
            f"{'c' * 64} */m/harness-probe/r/web2-0\nsha256sum: /m/x: Permission denied\n")
    assert parse_sha256sum(text, "/m") == {"harness-probe/r/web1-0": "a" * 64, "harness-probe/r/web2-0": "c" * 64}


def test_bad_settings_are_refused() -> None:
    h = HistoryRecorder()
    base = {"run_id": "r", "max_count": 1, "max_duration_s": 1.0}
    with pytest.raises(ProbeError, match="mount must be an absolute path"):
        StorageProbe(h, _nodes(), "srv/data", **base)
    with pytest.raises(ProbeError, match="mount must be an absolute path"):
        StorageProbe(h, _nodes(), "/", **base)
    with pytest.raises(ProbeError, match="run_id 'a b'"):
        StorageProbe(h, _nodes(), "/srv", **{**base, "run_id": "a b"})
    with pytest.raises(ProbeError, match="no web node"):
        StorageProbe(h, {}, "/srv", **base)
    with pytest.raises(ProbeError, match="rate_hz"):
        StorageProbe(h, _nodes(), "/srv", rate_hz=float("inf"), **base)


@needs_root
def test_a_directory_that_is_not_mounted_is_one_clear_error_naming_host_and_path(tmp_path: Path) -> None:
    probe = StorageProbe(HistoryRecorder(), _nodes(), str(tmp_path), run_id="r", max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match=f"web1: {tmp_path} is not a mount point"):
        probe.start()


@needs_root
def test_a_read_only_or_wrong_filesystem_is_refused(mount: Path) -> None:
    probe = StorageProbe(HistoryRecorder(), _nodes(), str(mount), run_id="r", max_count=1, max_duration_s=1,
                         expect_fstype="fuse.glusterfs")
    with pytest.raises(ProbeError, match=f"web1: {mount} is tmpfs, not fuse.glusterfs"):
        probe.start()
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, timeout=10)
    probe = StorageProbe(HistoryRecorder(), _nodes(), str(mount), run_id="r", max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match="mounted read-only"):
        probe.start()


@needs_root
def test_writes_and_cross_node_reads_then_the_final_listing_judged(mount: Path) -> None:
    h = HistoryRecorder()
    probe = StorageProbe(h, _nodes(), str(mount), run_id="run1", rate_hz=10, max_count=5, max_duration_s=5)
    with probe:
        assert probe.join(timeout=20)
    assert probe.counts == {"ok": 10, "fail": 0, "info": 0}
    finals = probe.final_read()
    assert set(finals) == {"web1", "web2"} and all(f is not None and len(f) == 10 for f in finals.values())
    ops = h.ops()
    reads, asked = [], {}
    for o in ops:  # each ok read found the checksum its invocation expected
        if o.f == "read" and o.type == "invoke":
            asked[o.process] = o.value
        elif o.f == "read" and o.type == "ok":
            reads.append(o)
            assert o.value == asked[o.process], o
    assert reads
    assert {o.process for o in reads} == {"storage-probe-web1", "storage-probe-web2"}  # each read the other's files
    assert lost_files(ops).valid is Validity.VALID

    # the same files, one removed and one rewritten behind the probe's back: caught, by node
    files = sorted((mount / "harness-probe" / "run1").iterdir())
    files[0].unlink()
    files[1].write_text("corrupt")
    probe.final_read(["web2"])
    verdict = lost_files(h.ops())
    assert verdict.valid is Validity.INVALID
    assert verdict.examples["lost"][0] == {"node": "web2", "path": f"harness-probe/run1/{files[0].name}"}
    assert verdict.examples["corrupt"][0]["path"] == f"harness-probe/run1/{files[1].name}"


@needs_root
def test_a_write_that_hangs_is_cut_at_its_timeout_and_recorded_info(mount: Path) -> None:
    run_dir = mount / "harness-probe" / "hang"
    run_dir.mkdir(parents=True)
    os.mkfifo(run_dir / "web1-0.tmp")  # no reader: the write blocks, as on a hung FUSE mount
    h = HistoryRecorder()
    probe = StorageProbe(h, {"web1": LocalTransport("web1")}, str(mount), run_id="hang", rate_hz=10, max_count=1,
                         max_duration_s=5, timeout_s=0.5, reads=False)
    with probe:
        assert probe.join(timeout=10)
    done = [o for o in h.ops() if o.type != "invoke"]
    assert [o.type for o in done] == ["info"] and "exit 124" in done[0].extra["error"]


@needs_root
def test_final_read_checks_named_paths_too_and_refuses_escaping_ones(mount: Path) -> None:
    pool = mount / "filedir" / "ab" / "cd"
    pool.mkdir(parents=True)
    (pool / "abcdef").write_bytes(b"upload")
    h = HistoryRecorder()
    probe = StorageProbe(h, {"web1": LocalTransport("web1")}, str(mount), run_id="none", max_count=1, max_duration_s=1)
    listing = probe.final_read(paths=["filedir/ab/cd/abcdef", "filedir/ab/cd/missing"])["web1"]
    assert listing == {"filedir/ab/cd/abcdef": hashlib.sha256(b"upload").hexdigest()}
    with pytest.raises(ProbeError, match="not a plain relative path"):
        probe.final_read(paths=["filedir/../../etc/passwd"])
