"""director-failure, db-node-failure (galera, ndb), domain faults: commands and heals."""

from __future__ import annotations

import shlex
import sys

import pytest

from harness.cluster import Cluster
from harness.errors import FaultError
from harness.faults import get_fault
from harness.inventory._model import Database, Domain, Host, Hypervisor, Inventory, Service, Vip
from harness.testing import FakeCluster


def inventory(db_kind: str = "galera") -> Inventory:
    ka = Service("keepalived", "command", start="keepalived -f /etc/k.conf -p /run/k.pid",
                 stop="kill $(cat /run/k.pid)", pidfile="/run/k.pid", process="keepalived")
    return Inventory(
        name="t",
        database=Database(kind=db_kind),  # type: ignore[arg-type]
        vips={"web": Vip("web", "198.18.0.100", 80), "db": Vip("db", "198.18.0.101", 3306)},
        hosts={
            "dir1": Host("dir1", "198.18.0.11", ("director",), services={
                "keepalived": ka,
                "haproxy": Service("haproxy", "systemd", unit="haproxy.service", process="haproxy"),
            }, domain=Domain("dir1-vm", "dom0a")),
            "dir2": Host("dir2", "198.18.0.12", ("director",), services={
                "keepalived": Service("keepalived", "sysv", sysv_name="keepalived", process="keepalived"),
            }, domain=Domain("dir2", "dom0v")),
            "web1": Host("web1", "198.18.0.21", ("web",), domain=Domain("web1", "lab")),
            "db1": Host("db1", "198.18.0.31", ("db",), ndb_node_id=2, services={
                "mariadb": Service("mariadb", "systemd", unit="mariadb.service", process="mariadbd"),
                "ndbd": Service("ndbd", "command", start="ndbd --ndb-nodeid=2", stop="true", process="ndbd"),
            }),
            "mgm1": Host("mgm1", "198.18.0.40", ("mgm",)),
            "dom0a": Host("dom0a", "10.0.0.2", ("hypervisor",), hypervisor=Hypervisor("xl")),
            "dom0v": Host("dom0v", "10.0.0.3", ("hypervisor",), hypervisor=Hypervisor("virsh")),
            "lab": Host("lab", "127.0.0.1", ("hypervisor",), transport="local",
                        hypervisor=Hypervisor("lab", state_dir="/tmp/lab state")),
        },
    )


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


def make(fake: FakeCluster, kind: str = "galera") -> Cluster:
    return Cluster(inventory(kind), transport_factory=lambda host: fake(host.name))


# ---- director-failure --------------------------------------------------------------------
def test_director_failure_crashes_keepalived_and_haproxy_in_one_line(fake: FakeCluster) -> None:
    t = fake("dir1")
    t.on(r"cat /run/k.pid", (0, "100\n", ""))
    t.on(r"^pidof haproxy", (0, "200\n", ""))
    t.on(r"^ps -e", (0, "100 1\n101 100\n200 1\n201 200\n", ""))
    f = get_fault("director-failure")(make(fake), host="dir1")
    f.inject()
    assert t.commands[-1] == "kill -STOP 101 100 201 200; kill -KILL 101 100 201 200"


def test_director_failure_heal_removes_leftover_vip_then_restarts(fake: FakeCluster) -> None:
    t = fake("dir1")
    states = {"alive": True}
    t.on(r"cat /run/k.pid", lambda line: (0, "100\n", "") if states["alive"] else (1, "", ""))
    t.on(r"^pidof haproxy", (0, "200\n", ""))
    t.on(r"^ps -e", (0, "100 1\n200 1\n", ""))
    t.on(r"^ip -o addr show to 198.18.0.100",
         (0, "3: eth0@if12    inet 198.18.0.100/32 scope global eth0\\       valid_lft forever\n", ""))
    t.on(r"^systemctl is-active", (3, "", ""))
    f = get_fault("director-failure")(make(fake), host="dir1")
    f.inject()
    states["alive"] = False
    n = len(t.commands)
    f.heal()
    assert t.commands[n:] == [
        "kill -0 \"$(cat /run/k.pid 2>/dev/null)\" 2>/dev/null",
        "ip -o addr show to 198.18.0.100",
        "ip addr del 198.18.0.100/32 dev eth0",
        "ip -o addr show to 198.18.0.101",
        "systemctl is-active --quiet haproxy.service",
        "systemctl start haproxy.service",
        "kill -0 \"$(cat /run/k.pid 2>/dev/null)\" 2>/dev/null",
        "keepalived -f /etc/k.conf -p /run/k.pid",
    ]


def test_director_failure_lvs_only_keepalived_and_role_checked(fake: FakeCluster) -> None:
    t = fake("dir2")
    t.on(r"^pidof keepalived", (0, "10 11 12\n", ""))
    t.on(r"^ps -e", (0, "10 1\n11 10\n12 10\n", ""))
    f = get_fault("director-failure")(make(fake), host="dir2")
    assert f.balancer is None
    f.inject()
    assert t.commands[-1] == "kill -STOP 11 12 10; kill -KILL 11 12 10"
    with pytest.raises(FaultError, match="host 'web1' is not a director"):
        get_fault("director-failure")(make(fake), host="web1")


def test_director_failure_refuses_when_keepalived_not_running(fake: FakeCluster) -> None:
    f = get_fault("director-failure")(make(fake), host="dir2")
    with pytest.raises(FaultError, match="keepalived is not running on host 'dir2'"):
        f.inject()
    f.heal()
    assert fake("dir2").commands == ["pidof keepalived 2>/dev/null || pgrep -x keepalived"]


# ---- db-node-failure ---------------------------------------------------------------------
def _instant(f: object) -> None:
    clock = {"t": 0.0}
    f._clock = lambda: clock["t"]  # type: ignore[attr-defined]
    f._sleep = lambda s: clock.__setitem__("t", clock["t"] + s)  # type: ignore[attr-defined]


def test_galera_kill_and_heal_waits_for_synced(fake: FakeCluster) -> None:
    t = fake("db1")
    t.on(r"^pidof mariadbd", (0, "555\n", ""))
    t.on(r"^systemctl is-active", (3, "", ""))
    states = iter(["Joining: receiving State Transfer", "Joined", "Synced"])
    t.on(r"^mysql ", lambda line: (0, f"wsrep_ready\tON\nwsrep_local_state_comment\t{next(states)}\n", ""))
    f = get_fault("db-node-failure")(make(fake), host="db1", poll_s=0.5)
    _instant(f)
    f.inject()
    assert t.commands[-1] == "kill -KILL 555"
    f.heal()
    assert t.commands[-5:] == [
        "systemctl is-active --quiet mariadb.service",
        "systemctl start mariadb.service",
        "mysql -N -B -e 'SHOW STATUS LIKE '\"'\"'wsrep%'\"'\"''",
        "mysql -N -B -e 'SHOW STATUS LIKE '\"'\"'wsrep%'\"'\"''",
        "mysql -N -B -e 'SHOW STATUS LIKE '\"'\"'wsrep%'\"'\"''",
    ][-5:]


def test_galera_heal_timeout_is_bounded_and_names_last_state(fake: FakeCluster) -> None:
    t = fake("db1")
    t.on(r"^pidof mariadbd", (0, "555\n", ""))
    t.on(r"^systemctl is-active", (3, "", ""))
    t.on(r"^mysql ", (1, "", "ERROR 2002 (HY000): Can't connect"))
    f = get_fault("db-node-failure")(make(fake), host="db1", timeout_s=10, poll_s=1,
                                     mysql_options=["--socket=/run/db 1.sock"])
    _instant(f)
    f.inject()
    with pytest.raises(FaultError, match="(?s)host 'db1' not Synced after 10 s \\(last: error: .*Can't connect"):
        f.heal()
    polls = [c for c in t.commands if c.startswith("mysql")]
    assert 10 <= len(polls) <= 12
    assert polls[0].startswith("mysql -N -B '--socket=/run/db 1.sock' -e ")


def test_ndb_stop_via_mgm_and_heal_restarts_ndbd_and_waits_started(fake: FakeCluster) -> None:
    mgm, node = fake("mgm1"), fake("db1")
    status = iter(["Node 2: starting (Last completed phase 4) (mysql-8.0.35 ndb-8.0.35)",
                   "Node 2: started (mysql-8.0.35 ndb-8.0.35)"])
    mgm.on(r"ALL STATUS", lambda line: (0, "Connected to Management Server at: x:1186\n" + next(status) + "\n", ""))
    f = get_fault("db-node-failure")(make(fake, "ndb"), host="db1", mode="stop")
    _instant(f)
    f.inject()
    assert mgm.commands == ["ndb_mgm -e '2 STOP'"]
    node.on(r"^pidof ndbd", (1, "", ""))
    f.heal()
    assert node.commands[-2:] == ["pidof ndbd 2>/dev/null || pgrep -x ndbd", "ndbd --ndb-nodeid=2"]
    assert mgm.commands[1:] == ["ndb_mgm -e 'ALL STATUS'", "ndb_mgm -e 'ALL STATUS'"]


def test_ndb_heal_starts_a_waiting_ndbd_via_mgm(fake: FakeCluster) -> None:
    mgm, node = fake("mgm1"), fake("db1")
    mgm.on(r"ALL STATUS", (0, "Node 2: started (mysql-8.0.35 ndb-8.0.35)\n", ""))
    node.on(r"^pidof ndbd", (0, "70\n", ""))
    node.on(r"^ps -e", (0, "70 1\n71 70\n", ""))
    f = get_fault("db-node-failure")(make(fake, "ndb"), host="db1")
    f.inject()
    assert node.commands[-1] == "kill -STOP 71 70; kill -KILL 71 70"
    f.heal()  # ndbd found running (angel restarted in no-start state): START it
    assert mgm.commands[0] == "ndb_mgm -e '2 START'"


def test_db_validation(fake: FakeCluster) -> None:
    with pytest.raises(FaultError, match="'stop' is not one of kill for galera"):
        get_fault("db-node-failure")(make(fake), host="db1", mode="stop")
    with pytest.raises(FaultError, match="host 'dir1' has no role db"):
        get_fault("db-node-failure")(make(fake), host="dir1")
    with pytest.raises(FaultError, match="host 'web1' has no ndb_node_id"):
        get_fault("db-node-failure")(make(fake, "ndb"), host="web1")


# ---- domains ------------------------------------------------------------------------------
XL_LIST_UP = "Name  ID   Mem VCPUs\tState\tTime(s)\nDomain-0  0  1024  2  r-----  10.0\ndir1-vm  3  512  1  -b----  1.0\n"
XL_LIST_DOWN = "Name  ID   Mem VCPUs\tState\tTime(s)\nDomain-0  0  1024  2  r-----  10.0\n"


def test_xl_destroy_heal_creates_from_config_once(fake: FakeCluster) -> None:
    hv = fake("dom0a")
    listing = iter([(0, XL_LIST_DOWN, "")])
    hv.on(r"^xl list", lambda line: next(listing))
    f = get_fault("domain-destroy")(make(fake), host="dir1")
    f.inject()
    f.heal()
    f.heal()
    assert hv.commands == ["xl destroy dir1-vm", "xl list", "xl create /etc/xen/dir1-vm.cfg"]


def test_xl_heal_from_journal_skips_start_when_running(fake: FakeCluster) -> None:
    hv = fake("dom0a")
    hv.on(r"^xl list", (0, XL_LIST_UP, ""))
    f = get_fault("domain-shutdown").from_journal(make(fake), {"params": {"host": "dir1", "config": "/srv/x.cfg"}})
    f.heal()
    assert hv.commands == ["xl list"]


def test_virsh_pause_resume(fake: FakeCluster) -> None:
    hv = fake("dom0v")
    hv.on(r"^virsh list", (0, " Id   Name   State\n----------------------\n 4    dir2   paused\n", ""))
    f = get_fault("domain-pause")(make(fake), host="dir2")
    f.inject()
    f.heal()
    assert hv.commands == ["virsh suspend dir2", "virsh list --all", "virsh resume dir2"]


def test_xl_shutdown_waits(fake: FakeCluster) -> None:
    get_fault("domain-shutdown")(make(fake), host="dir1").inject()
    assert fake("dom0a").commands == ["xl shutdown -w dir1-vm"]


def test_lab_domain_commands_run_on_the_supervisor(fake: FakeCluster) -> None:
    f = get_fault("domain-destroy")(make(fake), host="web1")
    f.inject()
    f.heal()
    assert fake("lab").commands == [
        f"{shlex.quote(sys.executable)} -m harness lab domain destroy web1 --state-dir '/tmp/lab state'",
        f"{shlex.quote(sys.executable)} -m harness lab domain start web1 --state-dir '/tmp/lab state'",
    ]


def test_domain_start_heal_is_noop_and_non_domain_refused(fake: FakeCluster) -> None:
    f = get_fault("domain-start")(make(fake), host="dir2")
    f.inject()
    f.heal()
    assert fake("dom0v").commands == ["virsh start dir2"]
    with pytest.raises(FaultError, match="host 'db1' is not a domain"):
        get_fault("domain-destroy")(make(fake), host="db1")
