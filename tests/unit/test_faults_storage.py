"""brick-kill: the pid from glusterd's own volume status, the kill, heal's `start force` and
its bounded wait for the brick online; bad input named."""

from __future__ import annotations

from typing import Any

import pytest

from harness.cluster import Cluster
from harness.errors import FaultError
from harness.faults import get_fault
from harness.faults.storage import BrickKill
from harness.inventory._model import Host, Inventory, Storage
from harness.testing import FakeCluster


def status_xml(fs1_online: bool, fs1_pid: int) -> str:
    """``gluster --xml volume status moodledata`` as the CLI prints it (trimmed to what counts)."""
    def node(host: str, online: bool, pid: int) -> str:
        return (f"<node><hostname>{host}</hostname><path>/srv/bricks/moodledata</path>"
                f"<status>{int(online)}</status><port>N/A</port><pid>{pid}</pid></node>")
    return ("<?xml version=\"1.0\"?><cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/>"
            "<volStatus><volumes><volume><volName>moodledata</volName>"
            + node("198.18.0.41", fs1_online, fs1_pid) + node("198.18.0.42", True, 77)
            + "<node><hostname>Self-heal Daemon</hostname><path>localhost</path><status>1</status><pid>9</pid></node>"
            "</volume></volumes></volStatus></cliOutput>")


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def cluster(fake: FakeCluster) -> Cluster:
    inv = Inventory(name="t", hosts={"fs1": Host("fs1", "198.18.0.41", ("fileserver",)),
                                     "fs2": Host("fs2", "198.18.0.42", ("fileserver",)),
                                     "web1": Host("web1", "198.18.0.21", ("web",))},
                    storage=Storage(kind="glusterfs", volume="moodledata", mount_point="/srv/moodledata",
                                    health="gluster volume status moodledata"))
    return Cluster(inv, transport_factory=lambda host: fake(host.name))


@pytest.fixture
def instant(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A fake clock: each sleep moves it on, so the bounded wait is instant and countable."""
    now = [0.0]
    monkeypatch.setattr(BrickKill, "_clock", staticmethod(lambda: now[0]))
    monkeypatch.setattr(BrickKill, "_sleep", staticmethod(lambda s: now.__setitem__(0, now[0] + s)))
    return now


def test_kills_the_pid_glusterd_reports_for_this_host_and_heal_starts_it_and_waits(
        cluster: Cluster, fake: FakeCluster, instant: list[float]) -> None:
    answers = iter([status_xml(True, 4321), status_xml(False, -1), status_xml(False, -1), status_xml(True, 5555)])
    t = fake("fs1").on(r"volume status", lambda line: (0, next(answers), ""))
    f = get_fault("brick-kill")(cluster, host="fs1")
    f.inject()
    assert t.commands == ["gluster --mode=script --xml volume status moodledata", "kill -KILL 4321"]
    f.heal()
    assert t.commands[2:] == ["gluster --mode=script volume start moodledata force"] + \
        ["gluster --mode=script --xml volume status moodledata"] * 3
    runtime: dict[str, Any] = f.describe()["runtime"]
    assert runtime["pid"] == 4321 and runtime["restarted_pid"] == 5555
    assert runtime["brick"] == "198.18.0.41:/srv/bricks/moodledata"
    assert instant[0] == 2.0  # two polls waited on, not a fixed sleep


def test_a_brick_already_down_is_refused_and_nothing_is_killed(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("fs1").on(r"volume status", (0, status_xml(False, -1), ""))
    f = get_fault("brick-kill")(cluster, host="fs1")
    with pytest.raises(FaultError, match=r"brick 198.18.0.41:/srv/bricks/moodledata on host 'fs1' is not running"):
        f.inject()
    assert not any(c.startswith("kill") for c in t.commands)


def test_a_brick_that_never_comes_back_fails_the_heal_naming_host_and_last_state(
        cluster: Cluster, fake: FakeCluster, instant: list[float]) -> None:
    answers = iter([status_xml(True, 4321)])
    fake("fs1").on(r"volume status", lambda line: (0, next(answers, status_xml(False, -1)), ""))
    f = get_fault("brick-kill")(cluster, host="fs1", timeout_s=5)
    f.inject()
    with pytest.raises(FaultError, match=r"host 'fs1': brick of moodledata not online since `volume start force` after 5 s "
                                         r"\(last: brick 198.18.0.41:/srv/bricks/moodledata offline\)"):
        f.heal()
    assert instant[0] == 5.0


def test_a_host_without_a_brick_in_the_volume_is_named(cluster: Cluster, fake: FakeCluster) -> None:
    fake("fs2").on(r"volume status", (0, status_xml(True, 1).replace("198.18.0.42", "198.18.0.99"), ""))
    with pytest.raises(FaultError, match=r"on 'fs2' shows no brick of fs2 \(198.18.0.42\)"):
        get_fault("brick-kill")(cluster, host="fs2").inject()


@pytest.mark.parametrize(("params", "message"), [
    ({"host": "web1"}, "host 'web1' has no role fileserver"),
    ({"host": "fs1", "timeout_s": 0}, "'timeout_s' must be > 0"),
    ({"host": "fs1", "pid": 1}, "unknown parameter"),
    ({"host": "nohost"}, "nohost"),
])
def test_bad_parameters_are_named(cluster: Cluster, params: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultError, match=message):
        get_fault("brick-kill")(cluster, **params)
