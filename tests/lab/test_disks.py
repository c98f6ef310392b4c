"""Each lab host has its own disk (issue 12): what web1 writes to its local /tmp, /var/lib and
/srv is on web1 only, as on separate machines: not on web2, nor on the supervisor's file system
(the machine the lab runs on, or its `client` host), and still there on web1 afterwards.

Runs against the session lab (tests/lab/conftest.py), over SSH through the harness's cluster
transport, as the harness reaches any cluster.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import Cluster
from harness.inventory import load_inventory
from harness.lab import Lab
from harness.lab._netns import init_pid

from .conftest import wait_until

pytestmark = pytest.mark.lab

#: local places a misconfigured web node would keep sessions or uploads in
PLACES = ("/tmp", "/var/lib/php/sessions", "/srv", "/root")


@pytest.fixture(scope="module")
def cluster(lab: Lab) -> Iterator[Cluster]:
    os.environ["HARNESS_DB_PASSWORD"] = lab.db_password()
    c = Cluster(load_inventory(lab.inventory_path))
    yield c
    c.close()


def write(cluster: Cluster, host: str, path: str, text: str) -> None:
    cluster.run_expect(host, [0], ["sh", "-c", 'printf %s "$1" > "$2"', "sh", text, path])


def read(cluster: Cluster, host: str, path: str) -> str | None:
    """The file's content on ``host``, or None if it has no such file."""
    res = cluster.run_expect(host, [0, 1], ["sh", "-c", 'test -e "$1" || exit 1; cat "$1"', "sh", path])
    return res.stdout if res.exit_status == 0 else None


def test_a_file_written_on_web1s_local_disk_is_on_web1_only(lab: Lab, cluster: Cluster) -> None:
    name = f"hlab-disk-{uuid.uuid4().hex}"
    files = {place: f"{place}/{name}" for place in PLACES}
    try:
        for place, path in files.items():
            write(cluster, "web1", path, f"web1 {place}")
        for place, path in files.items():
            assert read(cluster, "web2", path) is None, f"web2 sees web1's {path}"
            assert read(cluster, "client", path) is None, f"the client host sees web1's {path}"
            assert not Path(path).exists(), f"the machine's own {place} has web1's {path}"
            # nor through the state dir every host sees: another host's disk is covered there
            backing = str(lab.paths.host_dir("web1") / "disk") + path
            assert read(cluster, "web2", backing) is None, f"web2 reaches web1's disk at {backing}"
        for place, path in files.items():
            assert read(cluster, "web1", path) == f"web1 {place}"
        # the disk is where the lab keeps it (gone with the state dir at `lab down`); /tmp is tmpfs
        disk = lab.paths.host_dir("web1") / "disk"
        assert (disk / "var/lib/php/sessions" / name).read_text() == "web1 /var/lib/php/sessions"
        assert (disk / "srv" / name).read_text() == "web1 /srv"
        assert (disk / "root" / name).read_text() == "web1 /root"
    finally:
        cluster.run_expect("web1", [0], ["rm", "-f", *files.values()])


def test_roots_home_on_a_host_is_its_own_not_the_machines(cluster: Cluster) -> None:
    """An SSH session's bash reads ~/.bashrc: the machine's (pyenv init) once hung every SSH
    command on every host. A file in the machine's /root is not in a host's."""
    marker = Path("/root") / f"hlab-home-{uuid.uuid4().hex}"
    marker.write_text("the machine's")
    try:
        assert read(cluster, "web1", str(marker)) is None, "web1's /root is the machine's"
        assert read(cluster, "db2", str(marker)) is None, "db2's /root is the machine's"
        if Path("/root/.bashrc").exists():
            assert read(cluster, "web1", "/root/.bashrc") is None
    finally:
        marker.unlink()


def test_the_php_session_dir_is_a_fresh_installs_and_the_package_database_is_read_only(cluster: Cluster) -> None:
    res = cluster.run_expect("web2", [0], ["stat", "-c", "%a %U", "/var/lib/php/sessions"])
    assert res.stdout.split() == ["1733", "root"]  # as Debian's php-common makes it: www-data may write
    res = cluster.run_expect("web2", [0, 1], ["sh", "-c", 'touch /var/lib/dpkg/hlab-probe 2>&1; echo "rc=$?"'])
    assert "Read-only file system" in res.stdout and "rc=1" in res.stdout
    res = cluster.run_expect("web2", [0], ["dpkg-query", "-W", "-f", "${Status}", "apache2"])
    assert res.stdout == "install ok installed"


def test_a_hosts_mounts_stay_inside_its_namespace(lab: Lab) -> None:
    """Every mount of web1 is private (nothing propagates to or from the machine), and none of
    them shows on the machine itself."""
    init = init_pid(lab._state(), "web1")
    assert init is not None
    host = [line.split() for line in Path(f"/proc/{init}/mountinfo").read_text().splitlines()]
    disk = str(lab.paths.host_dir("web1") / "disk")
    assert any(f[4] == "/var/lib" and f[3] == disk + "/var/lib" for f in host), "web1 has no /var/lib of its own"
    shared = [f[4] for f in host if any(opt.startswith(("shared:", "master:")) for opt in f[6:f.index("-")])]
    assert shared == []
    machine = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    state = str(lab.state_dir)
    assert [f[4] for f in machine if f[4] == state or f[4].startswith(state + "/") or f[3].startswith(state)] == []


def test_web1s_disk_outlives_a_power_cycle_and_its_tmp_does_not(lab: Lab, cluster: Cluster) -> None:
    name = f"hlab-disk-{uuid.uuid4().hex}"
    kept, lost = f"/var/lib/php/sessions/{name}", f"/tmp/{name}"
    write(cluster, "web1", kept, "on disk")
    write(cluster, "web1", lost, "in tmpfs")
    try:
        assert "destroyed" in lab.domain("destroy", "web1")
    finally:
        lab.domain("start", "web1")
    after = Cluster(load_inventory(lab.inventory_path))  # the old SSH connection died with the host
    try:
        assert read(after, "web1", kept) == "on disk"
        assert read(after, "web1", lost) is None
        after.run_expect("web1", [0], ["rm", "-f", kept])
    finally:
        after.close()
    wait_until("lab healthy after web1 start", lambda: lab.status().healthy, timeout=30)
