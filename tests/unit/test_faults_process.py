"""kill-process, stop-service, freeze: exact commands, heal idempotence, partial injects."""

from __future__ import annotations

import pytest

from harness.cluster import Cluster
from harness.errors import FaultError, TransportError
from harness.faults import get_fault
from harness.inventory._model import Host, Inventory, Service
from harness.testing import FakeCluster


def inventory() -> Inventory:
    keepalived = Service(
        name="keepalived", manager="command", start="keepalived -f /etc/k.conf -p /run/k.pid",
        stop="kill $(cat /run/k.pid)", pidfile="/run/k.pid", process="keepalived",
    )
    return Inventory(
        name="t",
        hosts={
            "dir1": Host("dir1", "198.18.0.11", ("director",), services={
                "keepalived": keepalived,
                "haproxy": Service("haproxy", "systemd", unit="haproxy.service", process="haproxy"),
            }),
            "web1": Host("web1", "198.18.0.21", ("web",), services={
                "apache": Service("apache", "sysv", sysv_name="apache2", process="apache2"),
            }),
        },
    )


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def cluster(fake: FakeCluster) -> Cluster:
    return Cluster(inventory(), transport_factory=lambda host: fake(host.name))


def test_kill_by_name_uses_pidof_then_kill_9(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("web1")
    t.on(r"^pidof apache2", (0, "301 302\n", ""))
    fault = get_fault("kill-process")(cluster, host="web1", process="apache")
    fault.inject()
    assert t.commands == ["pidof apache2 2>/dev/null || pgrep -x apache2", "kill -KILL 301 302"]
    assert fault.describe()["runtime"] == {"pids": [301, 302]}


def test_kill_quotes_odd_process_names(cluster: Cluster, fake: FakeCluster) -> None:
    inv = inventory()
    inv.hosts["web1"].services["odd"] = Service("odd", "command", start="x", stop="y", process="my daemon;rm")
    c = Cluster(inv, transport_factory=lambda host: fake(host.name))
    t = fake("web1")
    get_fault("kill-process")(c, host="web1", process="odd")
    with pytest.raises(FaultError, match="no process 'my daemon;rm' running on host 'web1'"):
        get_fault("kill-process")(c, host="web1", process="odd").inject()
    assert t.commands[0] == "pidof 'my daemon;rm' 2>/dev/null || pgrep -x 'my daemon;rm'"


def test_keepalived_crash_stops_children_then_kills(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir1")
    t.on(r"cat /run/k.pid", (0, "100\n", ""))
    t.on(r"^ps -e", (0, "  100     1\n  101   100\n  102   100\n  200     1\n", ""))
    fault = get_fault("kill-process")(cluster, host="dir1", process="keepalived")
    fault.inject()
    assert t.commands == [
        "p=\"$(cat /run/k.pid 2>/dev/null)\" && kill -0 \"$p\" 2>/dev/null && echo \"$p\"",
        "kill -STOP 100",  # the parent frozen before its tree is listed: no child forked after escapes
        "ps -e -o pid= -o ppid=",
        "kill -STOP 101 102 100; kill -KILL 101 102 100",
    ]


def test_tree_kill_includes_grandchildren(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("web1")
    t.on(r"^pidof", (0, "10\n", ""))
    t.on(r"^ps -e", (0, "10 1\n11 10\n12 11\n13 99\n", ""))
    get_fault("kill-process")(cluster, host="web1", process="apache2", tree=True).inject()
    assert t.commands[-3:] == ["kill -STOP 10", "ps -e -o pid= -o ppid=", "kill -STOP 12 11 10; kill -KILL 12 11 10"]


def test_heal_starts_service_per_manager_and_is_idempotent(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("web1")
    t.on(r"^pidof", (0, "301\n", ""))
    t.on(r"^service apache2 status", (3, "", "not running"))
    fault = get_fault("kill-process")(cluster, host="web1", process="apache2")
    fault.inject()
    fault.heal()
    assert t.commands[-2:] == ["service apache2 status", "service apache2 start"]
    n = len(t.commands)
    fault.heal()
    assert len(t.commands) == n  # second heal: no command


def test_heal_skips_start_when_already_running(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir1")
    t.on(r"^systemctl is-active", (0, "", ""))
    t.on(r"^pidof haproxy", (0, "5\n", ""))
    fault = get_fault("kill-process")(cluster, host="dir1", process="haproxy")
    fault.inject()
    fault.heal()
    assert t.commands[-1] == "systemctl is-active --quiet haproxy.service"
    assert not any(c.startswith("systemctl start") for c in t.commands)


def test_command_service_heal_runs_the_inventory_start_line(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir1")
    alive = iter([(0, "100\n", ""), (1, "", "")])  # found at inject, dead at heal
    t.on(r"cat /run/k.pid", lambda line: next(alive))
    t.on(r"^ps -e", (0, "100 1\n", ""))
    fault = get_fault("kill-process")(cluster, host="dir1", process="keepalived")
    fault.inject()
    fault.heal()
    assert t.commands[-1] == "keepalived -f /etc/k.conf -p /run/k.pid"


def test_heal_without_inject_is_a_noop(cluster: Cluster, fake: FakeCluster) -> None:
    get_fault("kill-process")(cluster, host="web1", process="apache2").heal()
    assert fake.transports == {} or fake("web1").commands == []


def test_heal_after_inject_failed_before_any_change_does_nothing(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("web1")
    t.on(r"^pidof", TransportError("web1", "connection timed out"))
    fault = get_fault("kill-process")(cluster, host="web1", process="apache2")
    with pytest.raises(TransportError):
        fault.inject()
    n = len(t.commands)
    fault.heal()
    assert len(t.commands) == n and fault.state == "healed"


def test_heal_after_kill_command_failed_still_restarts(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("web1")
    t.on(r"^pidof", (0, "301\n", ""))
    t.on(r"^kill -KILL", TransportError("web1", "connection reset"))
    t.on(r"^service apache2 status", (3, "", ""))
    fault = get_fault("kill-process")(cluster, host="web1", process="apache2")
    with pytest.raises(TransportError):
        fault.inject()
    fault.heal()
    assert t.commands[-1] == "service apache2 start"


def test_refuses_host_not_in_inventory(cluster: Cluster) -> None:
    with pytest.raises(FaultError, match="host 'web9' is not in the inventory"):
        get_fault("kill-process")(cluster, host="web9", process="apache2")


def test_refuses_unknown_service_naming_host(cluster: Cluster) -> None:
    with pytest.raises(FaultError, match="host 'web1' has no service or process 'nginx'.*services: apache"):
        get_fault("kill-process")(cluster, host="web1", process="nginx")


def test_refuses_unknown_and_mistyped_params(cluster: Cluster) -> None:
    with pytest.raises(FaultError, match=r"unknown parameter\(s\) procss"):
        get_fault("kill-process")(cluster, host="web1", process="apache2", procss="x")
    with pytest.raises(FaultError, match="'tree' must be bool"):
        get_fault("kill-process")(cluster, host="web1", process="apache2", tree="yes")
    with pytest.raises(FaultError, match="'process' is required"):
        get_fault("kill-process")(cluster, host="web1")


def test_stop_service_stops_then_starts(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("dir1")
    t.on(r"^systemctl is-active", (3, "", ""))
    fault = get_fault("stop-service")(cluster, host="dir1", service="haproxy")
    fault.inject()
    assert t.commands == ["systemctl stop haproxy.service"]
    fault.heal()
    assert t.commands[1:] == ["systemctl is-active --quiet haproxy.service", "systemctl start haproxy.service"]


def test_freeze_stops_and_heal_continues_recorded_and_current_pids(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("web1")
    answers = iter([(0, "7 8\n", ""), (0, "8 9\n", "")])
    t.on(r"^pidof", lambda line: next(answers))
    fault = get_fault("freeze")(cluster, host="web1", process="apache2")
    fault.inject()
    assert t.commands[-1] == "kill -STOP 7 8"
    fault.heal()
    assert t.commands[-1] == "kill -CONT 7 8 9"
    n = len(t.commands)
    fault.heal()
    assert len(t.commands) == n


def test_freeze_needs_no_service(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("web1")
    t.on(r"^pidof", (0, "44\n", ""))
    get_fault("freeze")(cluster, host="web1", process="cron").inject()
    assert t.commands[-1] == "kill -STOP 44"


def test_inject_twice_is_refused(cluster: Cluster, fake: FakeCluster) -> None:
    fake("web1").on(r"^pidof", (0, "44\n", ""))
    fault = get_fault("freeze")(cluster, host="web1", process="cron")
    fault.inject()
    with pytest.raises(FaultError, match="already injected"):
        fault.inject()


def test_a_crash_failing_after_the_freeze_thaws_the_parent_in_the_heal(cluster: Cluster, fake: FakeCluster) -> None:
    t = fake("web1")
    t.on(r"^pidof", (0, "10\n", ""))
    t.on(r"^ps -e", (1, "", "ps: broken"))
    fault = get_fault("kill-process")(cluster, host="web1", process="apache2", tree=True)
    with pytest.raises(TransportError, match="ps: broken"):
        fault.inject()
    assert "kill -STOP 10" in t.commands and not any("KILL" in c for c in t.commands)
    t.on(r"^service apache2 status", (0, "", ""))
    fault.heal()
    assert "kill -CONT 10" in t.commands  # not left frozen for good: it runs again
