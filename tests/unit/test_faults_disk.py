"""disk-full: the exact commands, the size from df, the guard against a big filesystem, heal."""

from __future__ import annotations

import pytest

from harness.cluster import Cluster
from harness.errors import FaultError
from harness.faults import get_fault
from harness.faults.disk import parse_df_avail
from harness.inventory._model import Host, Inventory
from harness.testing import FakeCluster

DF = ("Filesystem     1-blocks      Used Available Capacity Mounted on\n"
      "tmpfs         268435456  10485760 257949696       4% /srv/bricks\n")


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def cluster(fake: FakeCluster) -> Cluster:
    inv = Inventory(name="t", hosts={"fs1": Host("fs1", "198.18.0.41", ("fileserver",))})
    return Cluster(inv, transport_factory=lambda host: fake(host.name))


def test_fills_to_leave_bytes_and_heal_deletes_only_its_file(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("fs1").on(r"^df ", (0, DF, ""))
    f = get_fault("disk-full")(cluster, host="fs1", path="/srv/bricks/", leave_bytes=1048576)
    f.inject()
    f.heal()
    # all but the last 8 MiB allocated, those written until the filesystem is full
    assert t.commands == ["df -P -B1 /srv/bricks/", "fallocate -l 248512512 /srv/bricks/.harness-disk-full",
                          "dd if=/dev/zero of=/srv/bricks/.harness-disk-full bs=65536 count=128 oflag=append "
                          "conv=notrunc status=none",
                          "rm -f /srv/bricks/.harness-disk-full"]
    assert f.describe()["runtime"]["fill_bytes"] == 257949696 - 1048576


def test_a_filesystem_bigger_than_the_guard_is_refused_before_anything_is_written(cluster: Cluster,
                                                                                   fake: FakeCluster) -> None:
    t = fake("fs1").on(r"^df ", (0, DF, ""))
    f = get_fault("disk-full")(cluster, host="fs1", path="/srv/bricks", max_fill_bytes=1000)
    with pytest.raises(FaultError, match="fs1:/srv/bricks: filling it takes 257949696 bytes, more than max_fill_bytes 1000"):
        f.inject()
    f.heal()  # nothing was touched: nothing to delete
    assert t.commands == ["df -P -B1 /srv/bricks"]


@pytest.mark.parametrize(("params", "message"), [
    ({"path": "/"}, "must be an absolute directory other than /"),
    ({"path": "srv"}, "must be an absolute directory"),
    ({"path": "/srv/../etc"}, "must be an absolute directory"),
    ({"path": "/srv; rm -rf /"}, "must be an absolute directory"),
    ({"path": "/srv", "leave_bytes": -1}, "'leave_bytes' must be >= 0"),
    ({"path": "/srv", "size": 1}, "unknown parameter"),
    ({"path": "/srv", "host": "nohost"}, "nohost"),
])
def test_bad_parameters_are_one_clear_error(cluster: Cluster, params: dict, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        get_fault("disk-full")(cluster, **{"host": "fs1", **params})


def test_df_output_without_a_data_line_is_an_error() -> None:
    assert parse_df_avail(DF) == 257949696
    with pytest.raises(FaultError, match="no data line"):
        parse_df_avail("Filesystem 1-blocks Used Available\n")


def test_a_filesystem_almost_full_already_is_topped_up_by_writing_alone(cluster: Cluster, fake: FakeCluster) -> None:
    df = DF.replace("257949696", "100000")
    t = fake("fs1").on(r"^df ", (0, df, "")).on(r"^dd ", (1, "", "dd: error writing: No space left on device"))
    f = get_fault("disk-full")(cluster, host="fs1", path="/srv/bricks")
    f.inject()  # dd's ENOSPC is the point, not an error
    assert t.commands == ["df -P -B1 /srv/bricks", "dd if=/dev/zero of=/srv/bricks/.harness-disk-full bs=65536 "
                          "count=2 oflag=append conv=notrunc status=none"]
