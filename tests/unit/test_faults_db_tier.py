"""db-tier-power-loss: the kills, the recovery plan (positions, bootstrap node), the heal's
commands and record, on output captured from the lab (tests/unit/samples)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.cluster import Cluster
from harness.errors import FaultError
from harness.faults import Journal, Nemesis, get_fault
from harness.faults.db_tier import (
    DbTierPowerLoss,
    NodePosition,
    most_advanced,
    node_position,
    parse_datadir,
)
from harness.history import HistoryRecorder
from harness.inventory._model import Database, Host, Inventory, Service, Vip
from harness.testing import FakeCluster

SAMPLES = Path(__file__).parent / "samples"
GRASTATE_CRASHED = (SAMPLES / "grastate_after_sigkill.dat").read_text()
RECOVER_LOG = (SAMPLES / "wsrep_recover_lab.log").read_text()
PRINT_DEFAULTS = (SAMPLES / "my_print_defaults_lab.txt").read_text()
UUID = "f8466112-ee85-11f1-a99d-1e4e575ee95d"
DBS = ("db1", "db2", "db3")


def _lab_service(host: str) -> Service:
    return Service("mariadb", "command", start=f"/lab/hostctl {host} start mariadb",
                   stop=f"/lab/hostctl {host} stop mariadb", pidfile="/run/mysqld/mysqld.pid",
                   process="mariadbd", config=f"/lab/{host}/galera.cnf")


def inventory(manager: str = "command", kind: str = "galera") -> Inventory:
    def service(h: str) -> Service:
        if manager == "systemd":
            return Service("mariadb", "systemd", unit="mariadb.service", process="mariadbd")
        if manager == "sysv":
            return Service("mysql", "sysv", sysv_name="mysql", process="mariadbd")
        return _lab_service(h)
    hosts = {h: Host(h, f"198.18.11.{31 + i}", ("db",), services={"mariadb": service(h)}) for i, h in enumerate(DBS)}
    hosts["web1"] = Host("web1", "198.18.11.21", ("web",))
    return Inventory(name="t", database=Database(kind=kind),  # type: ignore[arg-type]
                     vips={"db": Vip("db", "198.18.11.101", 3306)}, hosts=hosts)


class Tier:
    """Fake db hosts: mariadbd up or down, a grastate, a recover log per node, wsrep states."""

    def __init__(self, fake: FakeCluster, seqnos: dict[str, int], manager: str = "command") -> None:
        self.fake = fake
        self.up = {h: True for h in DBS}
        self.synced_after: dict[str, int] = {h: 2 for h in DBS}  # wsrep queries after start before Synced
        self.queries = {h: 0 for h in DBS}
        self.starts: list[tuple[str, str]] = []
        for h in DBS:
            t = fake(h)
            t.on(r"cat /run/mysqld/mysqld.pid", lambda line, h=h: (0, "77\n", "") if self.up[h] else (1, "", ""))
            t.on(r"^pidof mariadbd", lambda line, h=h: (0, "77\n", "") if self.up[h] else (1, "", ""))
            t.on(r"^kill -KILL", lambda line, h=h: self._set(h, False))
            t.on(r"^systemctl is-active", lambda line, h=h: (0 if self.up[h] else 3, "", ""))
            t.on(r"^service mysql status", lambda line, h=h: (0 if self.up[h] else 3, "", ""))
            t.on(r"^my_print_defaults", (0, PRINT_DEFAULTS.replace("db2", h), ""))
            t.on(r"^cat .*/grastate\.dat", (0, GRASTATE_CRASHED, ""))
            t.on(r"--wsrep-recover", (0, RECOVER_LOG.replace(f"{UUID}:50", f"{UUID}:{seqnos[h]}"), ""))
            t.on(r"^sed -i", (0, "", ""))
            for start in (r"hostctl \S+ start mariadb", r"^galera_new_cluster", r"^systemctl start",
                          r"^service mysql (start|bootstrap)"):
                t.on(start, lambda line, h=h: self._start(h))
            t.on(r"^mysql ", lambda line, h=h: self._wsrep(h))

    def _start(self, h: str) -> tuple[int, str, str]:
        """A start: noted with the nodes already up and Synced (the join order)."""
        self.starts.append((h, ",".join(s for s in DBS if self.up[s] and self.queries[s] > self.synced_after[s])))
        return self._set(h, True)

    def _set(self, h: str, up: bool) -> tuple[int, str, str]:
        self.up[h] = up
        self.queries[h] = 0
        return 0, "", ""

    def _wsrep(self, h: str) -> tuple[int, str, str]:
        if not self.up[h]:
            return 1, "", "ERROR 2002 (HY000): Can't connect to local server through socket"
        self.queries[h] += 1
        state = "Synced" if self.queries[h] > self.synced_after[h] else "Joining: receiving State Transfer"
        status = "Primary" if state == "Synced" else "non-Primary"
        return 0, f"wsrep_ready\tON\nwsrep_local_state_comment\t{state}\nwsrep_cluster_status\t{status}\n", ""


def make(fake: FakeCluster, manager: str = "command") -> Cluster:
    return Cluster(inventory(manager), transport_factory=lambda host: fake(host.name))


def instant(f: Any, start_wall: float = 1000.0) -> list[float]:
    clock = {"t": 0.0}
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock["t"] += s

    f._clock = lambda: clock["t"]
    f._wall = lambda: start_wall + clock["t"]
    f._sleep = sleep
    return sleeps


# ---- pure parts ------------------------------------------------------------------------------
def test_datadir_and_positions_from_captured_output() -> None:
    assert parse_datadir(PRINT_DEFAULTS) == "/var/lib/harness-lab/txn/hosts/db2/mysql"
    assert parse_datadir("--user=mysql\n") is None
    crashed = node_position("db2", GRASTATE_CRASHED, None)
    assert (crashed.seqno, crashed.source) == (-1, "none")  # -1: --wsrep-recover needed
    assert node_position("db2", GRASTATE_CRASHED, RECOVER_LOG) == NodePosition("db2", UUID, 50, "wsrep-recover")
    clean = GRASTATE_CRASHED.replace("seqno:   -1", "seqno:   61").replace("safe_to_bootstrap: 0", "safe_to_bootstrap: 1")
    assert node_position("db1", clean, None) == NodePosition("db1", UUID, 61, "grastate", True)


def test_the_most_advanced_node_bootstraps_ties_by_safe_flag_then_host_order() -> None:
    p = [NodePosition("db1", UUID, 111, "wsrep-recover"), NodePosition("db2", UUID, 135, "wsrep-recover"),
         NodePosition("db3", UUID, 142, "wsrep-recover")]  # measured: durability 0, killed at once
    assert most_advanced(p).host == "db3"
    tie = [NodePosition("db1", UUID, 50, "x"), NodePosition("db2", UUID, 50, "x"), NodePosition("db3", UUID, 50, "x")]
    assert most_advanced(tie).host == "db1"
    tie[2] = NodePosition("db3", UUID, 50, "grastate", True)
    assert most_advanced(tie).host == "db3"
    other = "11111111-2222-3333-4444-555555555555"  # a node of another history never wins on seqno
    split = [NodePosition("db1", UUID, 5, "x"), NodePosition("db2", UUID, 4, "x"), NodePosition("db3", other, 900, "x")]
    assert most_advanced(split).host == "db1"


def test_bad_parameters_are_refused_before_any_command(fake: FakeCluster) -> None:
    c = make(fake)
    with pytest.raises(FaultError, match="'stagger_s' must be between 0 and 10"):
        get_fault("db-tier-power-loss")(c, stagger_s=11.0)
    with pytest.raises(FaultError, match="host 'web1' has no role db"):
        get_fault("db-tier-power-loss")(c, hosts=["db1", "web1"])
    ndb = Cluster(inventory(kind="ndb"), transport_factory=lambda host: fake(host.name))
    with pytest.raises(FaultError, match="needs a galera database"):
        get_fault("db-tier-power-loss")(ndb)
    assert fake.transports == {}


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


# ---- inject ----------------------------------------------------------------------------------
def test_inject_kills_every_node_at_once(fake: FakeCluster) -> None:
    tier = Tier(fake, {"db1": 1, "db2": 1, "db3": 1})
    f = get_fault("db-tier-power-loss")(make(fake))
    instant(f)
    f.inject()
    assert f.targets == list(DBS) and not any(tier.up.values())
    for h in DBS:
        assert fake(h).commands[-1] == "kill -KILL 77"
    assert set(f.runtime["killed_at"]) == set(DBS) and f.runtime["kill_spread_s"] == 0.0


def test_inject_staggered_kills_in_host_order_stagger_apart(fake: FakeCluster) -> None:
    Tier(fake, {"db1": 1, "db2": 1, "db3": 1})
    f = get_fault("db-tier-power-loss")(make(fake), stagger_s=0.4)
    sleeps = instant(f)
    f.inject()
    assert sleeps == [0.4, 0.4]
    assert f.runtime["killed_at"] == {"db1": 1000.0, "db2": 1000.4, "db3": 1000.8}
    assert f.runtime["kill_spread_s"] == pytest.approx(0.8)


def test_inject_refuses_when_a_node_is_already_down_and_kills_nothing(fake: FakeCluster) -> None:
    tier = Tier(fake, {"db1": 1, "db2": 1, "db3": 1})
    tier.up["db2"] = False
    f = get_fault("db-tier-power-loss")(make(fake))
    with pytest.raises(FaultError, match="no 'mariadbd' process running on host 'db2'; nothing killed"):
        f.inject()
    assert not any(c.startswith("kill") for h in DBS for c in fake(h).commands)
    f.heal()  # nothing touched: nothing to do
    assert not any("start" in c for h in DBS for c in fake(h).commands)


# ---- heal ------------------------------------------------------------------------------------
def test_heal_recovers_bootstraps_the_most_advanced_then_joins_the_rest(fake: FakeCluster) -> None:
    tier = Tier(fake, {"db1": 111, "db2": 135, "db3": 142})
    f = get_fault("db-tier-power-loss")(make(fake), poll_s=0.5)
    instant(f)
    f.inject()
    f.heal()
    assert all(tier.up.values())
    db3 = fake("db3").commands
    datadir = "/var/lib/harness-lab/txn/hosts/db3/mysql"
    recover = next(c for c in db3 if "--wsrep-recover" in c)
    assert "mariadbd --defaults-file=/lab/db3/galera.cnf --user=mysql --wsrep-recover" in recover
    i_sed = db3.index(f"sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' {datadir}/grastate.dat")
    i_start = db3.index("/lab/hostctl db3 start mariadb")
    assert i_sed < i_start
    assert not any(c.startswith("sed") for h in ("db1", "db2") for c in fake(h).commands)
    rec = f.healed
    assert rec is not None and rec["bootstrap"] == "db3"
    assert {h: p["seqno"] for h, p in rec["positions"].items()} == {"db1": 111, "db2": 135, "db3": 142}
    assert 0 < rec["down_s"] < rec["all_synced_s"]
    assert f.runtime["recovery"] == rec


def test_the_others_join_one_at_a_time_after_the_bootstrap_is_synced(fake: FakeCluster) -> None:
    tier = Tier(fake, {"db1": 9, "db2": 7, "db3": 8})
    f = get_fault("db-tier-power-loss")(make(fake), poll_s=0.5)
    instant(f)
    f.inject()
    f.heal()
    assert tier.starts == [("db1", ""), ("db2", "db1"), ("db3", "db1,db2")]


@pytest.mark.parametrize(("manager", "bootstrap"), [("systemd", "galera_new_cluster"),
                                                    ("sysv", "service mysql bootstrap")])
def test_bootstrap_follows_the_service_manager(fake: FakeCluster, manager: str, bootstrap: str) -> None:
    Tier(fake, {"db1": 3, "db2": 5, "db3": 4}, manager)
    f = get_fault("db-tier-power-loss")(make(fake, manager), poll_s=0.5, datadir="/var/lib/mysql")
    instant(f)
    f.inject()
    f.heal()
    assert bootstrap in fake("db2").commands
    assert "sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' /var/lib/mysql/grastate.dat" in fake("db2").commands
    assert not any(c.startswith("my_print_defaults") for h in DBS for c in fake(h).commands)
    recover = next(c for c in fake("db1").commands if "--wsrep-recover" in c)
    assert "--defaults-file" not in recover  # no config in the inventory: the host's my.cnf


def test_heal_after_a_half_done_heal_joins_the_rest_without_bootstrapping(fake: FakeCluster) -> None:
    tier = Tier(fake, {"db1": 1, "db2": 1, "db3": 1})
    f = get_fault("db-tier-power-loss")(make(fake), poll_s=0.5)
    instant(f)
    f.inject()
    tier._set("db2", True)
    tier.queries["db2"] = 5  # already Synced, Primary
    f.heal()
    assert f.healed is not None and f.healed["bootstrap"] is None and f.healed["primary_found"] == "db2"
    assert not any(c.startswith("sed") or "--wsrep-recover" in c for h in DBS for c in fake(h).commands)
    assert all(tier.up.values())


def test_a_node_never_synced_fails_the_heal_naming_it(fake: FakeCluster) -> None:
    tier = Tier(fake, {"db1": 1, "db2": 2, "db3": 1})
    tier.synced_after["db2"] = 10**6
    f = get_fault("db-tier-power-loss")(make(fake), poll_s=1.0, timeout_s=5.0)
    instant(f)
    f.inject()
    with pytest.raises(FaultError, match=r"host 'db2' not Synced after 5 s \(last: Joining"):
        f.heal()


def test_the_nemesis_heal_completion_carries_the_recovery_record(fake: FakeCluster, tmp_path: Path) -> None:
    Tier(fake, {"db1": 4, "db2": 4, "db3": 6})
    history = HistoryRecorder(tmp_path / "h.jsonl")
    n = Nemesis(make(fake), history, Journal(tmp_path))
    orig = DbTierPowerLoss.__init__

    def patched(self: DbTierPowerLoss, *a: Any, **kw: Any) -> None:
        orig(self, *a, **kw)
        instant(self)

    DbTierPowerLoss.__init__ = patched  # type: ignore[method-assign]
    try:
        fid = n.inject("db-tier-power-loss", poll_s=0.5)
        n.heal(fid)
    finally:
        DbTierPowerLoss.__init__ = orig  # type: ignore[method-assign]
    heal = [op for op in history.ops() if op.f == "heal" and op.type == "ok"]
    assert len(heal) == 1 and heal[0].value["fault_id"] == fid
    assert heal[0].value["healed"]["bootstrap"] == "db3" and heal[0].value["healed"]["down_s"] > 0


def test_a_journaled_power_loss_is_healed_by_a_rebuilt_fault(fake: FakeCluster) -> None:
    """`harness heal` after a crashed run: the record's runtime (first kill) survives, so the
    rebuilt fault still reports the down time; every db host counts as touched."""
    tier = Tier(fake, {"db1": 3, "db2": 8, "db3": 5})
    f = get_fault("db-tier-power-loss")(make(fake), poll_s=0.5)
    instant(f, start_wall=500.0)
    f.inject()
    record = {**f.describe(), "fault_id": "f9"}
    rebuilt = DbTierPowerLoss.from_journal(make(fake), record)
    instant(rebuilt, start_wall=560.0)
    rebuilt.heal()
    assert all(tier.up.values()) and rebuilt.touched == set(DBS)
    assert rebuilt.healed is not None and rebuilt.healed["bootstrap"] == "db2"
    assert rebuilt.healed["down_s"] >= 60.0  # from the first kill, recorded by the dead run
