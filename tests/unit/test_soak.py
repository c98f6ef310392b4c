"""The soak schedule (pure): deterministic per seed, bounded by the duration, valid targets."""

from __future__ import annotations

import math

import pytest

from harness.inventory._model import Database, Domain, Host, Hypervisor, Inventory, Service, Vip
from harness.soak import (
    CATALOGUE,
    DEFAULT_OVERHEAD_S,
    SoakError,
    SoakStep,
    available_kinds,
    build_schedule,
    effect_problems,
    nines,
    step_failover_s,
)


def _svc(name: str) -> Service:
    return Service(name, "command", start=f"start {name}", stop=f"stop {name}", process=name)


def inventory(*, domains: bool = True, webs: int = 3, dbs: int = 3, directors: int = 2, kind: str = "galera") -> Inventory:
    hosts: dict[str, Host] = {
        "sup": Host("sup", "10.0.0.1", ("hypervisor",), transport="local", hypervisor=Hypervisor("lab", "/tmp/lab")),
    }
    dom = (lambda n: Domain(n, "sup")) if domains else (lambda n: None)
    for i in range(1, directors + 1):
        n = f"dir{i}"
        hosts[n] = Host(n, f"10.0.0.1{i}", ("director",), services={"keepalived": _svc("keepalived"), "haproxy": _svc("haproxy")}, domain=dom(n))
    for i in range(1, webs + 1):
        n = f"web{i}"
        hosts[n] = Host(n, f"10.0.0.2{i}", ("web",), services={"apache": _svc("apache2")}, domain=dom(n))
    for i in range(1, dbs + 1):
        n = f"db{i}"
        hosts[n] = Host(n, f"10.0.0.3{i}", ("db",), services={"mariadb": _svc("mariadbd")}, domain=dom(n))
    vips = {"web": Vip("web", "10.0.0.100", 80, "http"), "db": Vip("db", "10.0.0.101", 3306, "mysql")}
    return Inventory("t", hosts, vips, Database(kind=kind))  # type: ignore[arg-type]


def test_same_seed_and_inventory_give_the_same_schedule():
    inv = inventory()
    a = build_schedule(42, 3600, inv)
    b = build_schedule(42, 3600, inventory())
    assert a == b
    assert len(a) >= 10


def test_a_different_seed_gives_a_different_schedule():
    inv = inventory()
    a = build_schedule(42, 3600, inv)
    assert any(build_schedule(s, 3600, inv) != a for s in (43, 44))
    assert build_schedule(43, 3600, inv) != a


@pytest.mark.parametrize("duration", [60.0, 180.0, 1800.0, 8 * 3600.0])
def test_planned_time_fits_in_the_duration(duration):
    steps = build_schedule(7, duration, inventory(), steady_s=(10, 20), fault_s=(6, 12))
    end = max((s.planned_start_s + s.planned_s + DEFAULT_OVERHEAD_S for s in steps), default=0.0)
    assert end <= duration + 0.2  # rounding of the planned offsets to 0.1 s
    total = sum(s.planned_s + DEFAULT_OVERHEAD_S for s in steps)
    assert total <= duration + 0.5
    for s in steps:
        assert 10 <= s.steady_s <= 20 and 6 <= s.fault_s <= 12
    # the schedule is not needlessly short: one more step could not have fitted
    assert duration - total < 20 + 12 + DEFAULT_OVERHEAD_S


def test_too_short_a_soak_has_no_step():
    assert build_schedule(1, 30, inventory(), steady_s=(10, 20), fault_s=(6, 12)) == []


def test_targets_exist_and_match_the_role():
    inv = inventory()
    steps = build_schedule(3, 4 * 3600, inv)
    seen = set()
    for s in steps:
        seen.add(s.kind)
        if s.resolve == "vip-holder":
            assert s.target is None and "VIP holder" in s.target_text
            params = s.fault_params("dir2")
            assert params["host"] == "dir2"
        elif s.kind == "partition-directors":
            assert s.params == {"a": ["dir1"], "b": ["dir2"]}
        else:
            assert s.target in inv.hosts and inv.host(s.target).has_role(s.role)
            assert s.params["host"] == s.target
        if s.kind in ("kill-apache", "freeze-apache"):
            assert s.params["process"] == "apache" and s.params["tree"] is True
        assert s.fault == CATALOGUE[s.kind].fault
    assert seen == set(CATALOGUE), "a 4 h soak should cover every kind of the catalogue"
    # web targets vary with the seed's draws, not always the first node
    assert len({s.target for s in steps if s.kind == "kill-apache"}) > 1


def test_every_kind_comes_before_any_repeats_and_none_twice_in_a_row():
    steps = build_schedule(11, 8 * 3600, inventory())
    kinds = available_kinds(inventory())
    assert {s.kind for s in steps[: len(kinds)]} == set(kinds)
    assert all(a.kind != b.kind for a, b in zip(steps, steps[1:], strict=False))  # pairs of neighbours: one shorter


def test_catalogue_is_filtered_by_the_inventory():
    no_domains = inventory(domains=False)
    kinds = available_kinds(no_domains)
    assert "domain-destroy-web" not in kinds and "domain-destroy-director" not in kinds
    assert {s.kind for s in build_schedule(5, 8 * 3600, no_domains)} == set(kinds)

    one_director = inventory(directors=1, domains=False)
    assert not {"director-failure", "partition-directors"} & set(available_kinds(one_director))

    one_web_two_db = inventory(webs=1, dbs=2, directors=1, domains=False)
    assert available_kinds(one_web_two_db) == []
    with pytest.raises(SoakError, match="no fault kind"):
        build_schedule(1, 3600, one_web_two_db)

    ndb = inventory(kind="ndb", domains=False)
    assert "db-node-failure" not in available_kinds(ndb)


def test_a_restricted_catalogue_is_honoured_and_unknown_names_are_refused():
    steps = build_schedule(9, 3600, inventory(), catalogue=("kill-apache", "db-node-failure"))
    assert {s.kind for s in steps} == {"kill-apache", "db-node-failure"}
    with pytest.raises(SoakError, match=r"unknown fault kind 'reboot'.*known: director-failure"):
        build_schedule(9, 3600, inventory(), catalogue=("reboot",))


@pytest.mark.parametrize("kwargs, match", [
    ({"duration_s": 0}, "duration_s"),
    ({"duration_s": math.inf}, "duration_s"),
    ({"steady_s": (5, 1)}, "steady_s"),
    ({"fault_s": (0, 3)}, "fault_s"),
])
def test_bad_arguments_name_the_field(kwargs, match):
    args = {"duration_s": 600.0, **kwargs}
    duration = args.pop("duration_s")
    with pytest.raises(SoakError, match=match):
        build_schedule(1, duration, inventory(), **args)


def test_step_is_json_ready():
    s = build_schedule(2, 600, inventory(), steady_s=(10, 20), fault_s=(6, 12))[0]
    d = s.to_dict()
    assert d["kind"] == s.kind and d["steady_s"] == s.steady_s and isinstance(d["params"], dict)


def test_nines():
    assert nines(99.95) == pytest.approx(3.301, abs=1e-3)
    assert nines(99.0) == pytest.approx(2.0)
    assert nines(100.0) == math.inf
    assert nines(None) is None
    assert nines(0.0) == 0.0


def test_step_failover_takes_the_longest_outage_overlapping_the_step():
    outages = [
        {"start": 5.0, "end": 5.2, "duration_s": 0.2},   # before the step
        {"start": 10.5, "end": 13.9, "duration_s": 3.4},  # the failover
        {"start": 19.0, "end": 19.4, "duration_s": 0.4},  # failback after the heal
        {"start": 40.0, "end": 45.0, "duration_s": 5.0},  # next step
    ]
    assert step_failover_s(outages, 10.0, 25.0) == 3.4
    assert step_failover_s(outages, 26.0, 30.0) == 0.0
    assert step_failover_s(outages, 4.0, 10.0) == 0.2


def _step(kind: str, target: str | None = None) -> SoakStep:
    k = CATALOGUE[kind]
    return SoakStep(1, kind, k.fault, k.tier, k.role, target, target or "x", k.resolve, {}, 10, 10, 0)


def test_effect_of_each_kind_is_read_from_a_state_sample():
    inv = inventory()
    moved = {"vip_holders": {"web": ["dir1", "dir2"]}}
    stuck = {"vip_holders": {"web": ["dir1"]}}
    assert effect_problems(_step("director-failure"), "dir1", moved, inv) == []
    assert effect_problems(_step("director-failure"), "dir1", stuck, inv)
    down = {"backends": {"dir1": {"web": {"web1": "UP", "web2": "DOWN"}}}}
    assert effect_problems(_step("kill-apache", "web2"), "dir1", down, inv) == []
    assert effect_problems(_step("freeze-apache", "web1"), "dir1", down, inv)
    shrunk = {"db": {"db1": {"wsrep_cluster_size": 2}, "db2": {"wsrep_cluster_size": 2}}}
    whole = {"db": {"db1": {"wsrep_cluster_size": 3}, "db2": {"wsrep_cluster_size": 3}}}
    assert effect_problems(_step("db-node-failure", "db3"), "dir1", shrunk, inv) == []
    assert effect_problems(_step("db-node-failure", "db3"), "dir1", whole, inv)
    both = {"vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "MASTER"}}}
    one = {"vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP"}}}
    assert effect_problems(_step("partition-directors"), "dir1", both, inv) == []
    assert effect_problems(_step("partition-directors"), "dir1", one, inv)


def test_a_soak_never_picks_a_host_the_harness_runs_on():
    inv = inventory()
    local_web = Host("web9", "127.0.0.1", ("web",), services={"apache": _svc("apache2")}, transport="local")
    inv = Inventory(name=inv.name, hosts={**inv.hosts, "web9": local_web}, vips=inv.vips, database=inv.database)
    targets = {s.target for s in build_schedule(5, 4 * 3600, inv)}
    assert "web9" not in targets and "web1" in targets


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "localhost"])
def test_a_soak_never_picks_a_host_reached_over_ssh_at_the_loopback(address):
    # on main only transport: local was skipped; a fault's own refusal then failed the step
    inv = inventory()
    loop_web = Host("web9", address, ("web",), services={"apache": _svc("apache2")})
    inv = Inventory(name=inv.name, hosts={**inv.hosts, "web9": loop_web}, vips=inv.vips, database=inv.database)
    targets = {s.target for s in build_schedule(5, 4 * 3600, inv)}
    assert "web9" not in targets and "web1" in targets


def _budget_scenario(promise_s: float | None, advert_int: int = 1):
    """A scenario whose directors' keepalived.conf comes from a fake transport (no DB hosts:
    the db budget cannot be read and is None)."""
    from types import SimpleNamespace

    from harness.cluster import Cluster
    from harness.inventory._model import Slo
    from harness.testing import FakeCluster

    conf = (f"vrrp_instance VI_WEB {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n"
            f"    priority 100\n    advert_int {advert_int}\n    virtual_ipaddress {{\n        198.18.0.100/24\n    }}\n}}\n")
    fake = FakeCluster()
    ka = {"keepalived": Service("keepalived", "command", start="k", stop="s", process="keepalived")}
    hosts = {d: Host(d, f"198.18.0.1{i}", ("director",), services=ka) for i, d in enumerate(("dir1", "dir2"), 1)}
    for d in hosts:
        fake(d).on(r"^cat /etc/keepalived/keepalived.conf$", (0, conf, ""))
    inv = Inventory("t", hosts, {"web": Vip("web", "198.18.0.100", 80, "http")},
                    slo=Slo(failover_margin_s=1.0, director_failover_s=promise_s))
    return SimpleNamespace(cluster=Cluster(inv, transport_factory=lambda h: fake(h.name)), guard=None)


def test_soak_director_steps_are_held_to_the_promise_and_partitions_to_the_timers():
    from harness.soak import failover_budgets

    # VRRPv2 advert_int 1, priority 100: 3 x 1 + (256 - 100) / 256 = 3.609 s, + 1 s margin
    assert failover_budgets(_budget_scenario(None)) == {"web": 3.0, "director": 4.609, "network": 4.609, "db": None}
    assert failover_budgets(_budget_scenario(4.0)) == {"web": 3.0, "director": 4.0, "network": 4.609, "db": None}
    # a promise the configuration cannot keep stops the soak before any fault, as a test is
    with pytest.raises(AssertionError, match="more than the promised slo.director_failover_s 2 s"):
        failover_budgets(_budget_scenario(2.0, advert_int=3))
