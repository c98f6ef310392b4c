"""The acceptance flow's plan and its 'took effect' callbacks, without a cluster."""

from __future__ import annotations

import pytest

from harness import acceptance
from harness.acceptance import (
    FaultContext,
    FaultPlan,
    FaultRun,
    backend_out_of_pool,
    db_node_left,
    director_failover_under_load,
    directors_split,
    longest_outage_in_phases,
    vip_moved_away,
)
from harness.budgets import FailoverBound, director_budget_from_configs
from harness.checkers import CheckResult, Validity
from harness.errors import HarnessError
from harness.inventory._model import Host, Inventory, Slo
from harness.scenario import SloLine, assert_slo
from harness.workload import WorkloadSpec


def test_a_plan_defaults_to_the_acceptance_workload_and_bounds_every_phase():
    plan = FaultPlan("kill-process")
    assert plan.workload == WorkloadSpec.acceptance()
    assert (plan.steady_s, plan.until_timeout_s, plan.observe_s, plan.settle_s) == (5.0, 30.0, 6.0, 3.0)
    assert plan.bound_s(60.0) == 5 + 30 + 6 + 60 + 3 + 60
    assert FaultPlan(None, steady_s=15, observe_s=0).bound_s(10.0) == 15 + 30 + 0 + 10 + 3 + 60


class _Cluster:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory


class _Scenario:
    def __init__(self, inventory: Inventory) -> None:
        self.cluster = _Cluster(inventory)


def _ctx(holder: str = "dir1") -> FaultContext:
    hosts = {f"db{i}": Host(f"db{i}", f"198.18.0.3{i}", ("db",)) for i in (1, 2, 3)}
    return FaultContext(_Scenario(Inventory("t", hosts, {})), holder, ["dir2"])  # type: ignore[arg-type]  # only .cluster.inventory is read


def test_until_callbacks_read_the_sample_with_what_the_context_knows():
    ctx = _ctx()
    assert vip_moved_away(ctx, {"vip_holders": {"web": ["dir2"]}}) == []
    assert vip_moved_away(ctx, {"vip_holders": {"web": ["dir1"]}}) == ["web VIP held by ['dir1'] (was dir1)"]
    # the holder before the fault is the balancer that counts
    sample = {"backends": {"dir1": {"web": {"web1": "UP"}}, "dir2": {"web": {"web1": "UP", "web2": "UP"}}}}
    assert backend_out_of_pool("web2")(ctx, sample) == []
    assert backend_out_of_pool("web2")(_ctx("dir2"), sample) == ["web2 still ['UP'] on dir2"]
    # the cluster size to fall below is the inventory's db node count
    assert db_node_left("db3")(ctx, {"db": {"db1": {"wsrep_cluster_size": 2}}}) == []
    assert db_node_left("db3")(ctx, {"db": {"db1": {"wsrep_cluster_size": 3}}}) != []
    assert directors_split(ctx, {"vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "MASTER"}}}) == []


# -- a director failover against the promise and the keepalived budget ----------------------------
#: VRRPv3, the BACKUP at priority 100: advert_int 3 gives 3 x 3 + 156 x 3 / 256 = 10.828 s, 12.3 s
#: with the 1.5 s margin (the issue's run: a 9.0 s outage passed against that)
_KEEPALIVED = "global_defs {{\n    vrrp_version 3\n}}\nvrrp_instance VI_WEB {{\n    priority 100\n    advert_int {advert_int}\n}}\n"


def _bound(advert_int: float, promise_s: float | None) -> FailoverBound:
    budget = director_budget_from_configs([("dir2", "/etc/keepalived/keepalived.conf",
                                            _KEEPALIVED.format(advert_int=advert_int))])
    return FailoverBound.of(budget, Slo(failover_margin_s=1.5, director_failover_s=promise_s))


class _RecordingNemesis:
    def __init__(self) -> None:
        self.injected: list[tuple[str, dict[str, object]]] = []

    def inject(self, name: str, **params: object) -> str:
        self.injected.append((name, params))
        return f"f{len(self.injected)}"

    def heal(self, fault_id: str) -> None:
        self.injected.append(("heal", {"fault_id": fault_id}))


class _RecordingScenario:
    """Records every step the flow could take (steady wait, probes, load, samples, phases)."""

    def __init__(self) -> None:
        self.nemesis = _RecordingNemesis()
        self.checks: list[CheckResult] = []
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        def step(*args: object, **kwargs: object) -> None:
            self.calls.append(name)
            raise AssertionError(f"the flow called scenario.{name} on a refused run")
        return step


class _JudgedScenario(_RecordingScenario):
    """A scenario whose flow ran (faked): the verdict step reads its history and adds a line."""

    def __init__(self) -> None:
        super().__init__()
        # dir2 (the new holder) has no keepalived service in this file: no logged takeover
        self.cluster = _Cluster(Inventory("t", {"dir2": Host("dir2", "198.18.0.12", ("director",))}, {}))

    def ops(self) -> list[object]:
        return []

    def slo_line(self, *args: object) -> None:
        self.calls.append("slo_line")


def test_a_budget_above_the_promise_refuses_before_anything_is_injected():
    sc = _RecordingScenario()
    plan = FaultPlan("director-failure", lambda ctx: {"host": ctx.holder_before}, until=vip_moved_away)
    with pytest.raises(AssertionError) as info:
        director_failover_under_load(sc, plan, _bound(advert_int=3, promise_s=2.0))  # type: ignore[arg-type]
    message = str(info.value)
    assert "allows a takeover of 10.828 s, more than the promised slo.director_failover_s 2 s" in message
    assert "advert_int 3" in message and "Refused before injecting any fault" in message
    assert sc.nemesis.injected == [] and sc.calls == []  # no fault, no workload, not even a sample
    (verdict,) = sc.checks  # result.json and the report still say why
    assert verdict.checker == "director_failover" and verdict.valid is Validity.INVALID
    assert verdict.counts["refused_before_inject"] is True


def _fake_run(longest_outage_s: float) -> FaultRun:
    avail = CheckResult("availability", Validity.VALID, {"longest_outage_s": longest_outage_s})
    return FaultRun("director-failure", {"host": "dir1"}, "dir1", "dir2", 4.0, 1.0, {"availability": avail})


def test_a_failover_within_the_budget_but_above_the_promise_is_judged_invalid(monkeypatch):
    plans: list[FaultPlan] = []

    def fake_flow(scenario: object, plan: FaultPlan) -> FaultRun:
        plans.append(plan)
        return _fake_run(4.5)

    monkeypatch.setattr(acceptance, "fault_under_load", fake_flow)
    sc = _JudgedScenario()
    run = director_failover_under_load(sc, FaultPlan("director-failure"), _bound(advert_int=1, promise_s=4.0))  # type: ignore[arg-type]
    verdict = run.check("director_failover")
    assert verdict.valid is Validity.INVALID and "above the promise slo.director_failover_s 4 s" in verdict.message
    assert sc.checks == [verdict]
    assert plans[0].max_outage_s == 4.0  # the availability checker is held to the tighter bound too
    # the new holder's own log could not be read: reported as such, the verdict unchanged
    assert verdict.counts["logged_takeover_error"] == "dir2: no transitions command and no systemd unit for keepalived"
    assert verdict.counts["logged_takeover_s"] is None


def test_without_a_promise_the_flow_runs_on_the_budget_and_warns(monkeypatch):
    plans: list[FaultPlan] = []
    monkeypatch.setattr(acceptance, "fault_under_load", lambda sc, plan: plans.append(plan) or _fake_run(9.0))
    with pytest.warns(UserWarning, match="no director failover promise given"):
        run = director_failover_under_load(_JudgedScenario(), FaultPlan("director-failure"),  # type: ignore[arg-type]
                                           _bound(advert_int=3, promise_s=None))
    assert run.check("director_failover").valid is Validity.VALID  # today's behaviour, said out loud
    assert plans[0].max_outage_s == round(3 * 3 + 156 * 3 / 256 + 1.5, 3)


# the phases and outages of a db1 kill as one lab run recorded them (relative seconds)
_PHASES = [{"name": "steady", "start": 3.0, "end": 8.0}, {"name": "inject", "start": 9.95, "end": 10.05},
           {"name": "observe", "start": 10.05, "end": 19.6}, {"name": "heal", "start": 19.6, "end": 24.1},
           {"name": "recover", "start": 24.1, "end": None}]
_EVICTED = {"process": "vip-probe-web", "start": 10.02, "end": 14.29, "duration_s": 4.27, "failed": 47}
_REJOIN = {"process": "vip-probe-web", "start": 20.8, "end": 23.35, "duration_s": 2.55, "failed": 5}


def _availability(*outages: dict, counted: int | None = None) -> CheckResult:
    longest = max((o["duration_s"] for o in outages), default=0.0)
    return CheckResult("availability", Validity.VALID,
                       {"outages": len(outages) if counted is None else counted, "longest_outage_s": longest},
                       {"outages": list(outages)})


def test_the_longest_outage_is_taken_per_phase_so_a_fault_and_its_heal_are_bounded_apart():
    result = _availability(_EVICTED, _REJOIN)
    assert longest_outage_in_phases(result, _PHASES, ("inject", "observe")) == (4.27, _EVICTED)
    assert longest_outage_in_phases(result, _PHASES, ("heal", "recover")) == (2.55, _REJOIN)
    assert longest_outage_in_phases(_availability(_EVICTED), _PHASES, ("heal", "recover")) == (0.0, None)


def test_an_outage_left_out_of_the_examples_makes_every_phase_answer_the_overall_longest():
    # 12 outages counted, only the two kept: one of the missing may lie in the heal
    assert longest_outage_in_phases(_availability(_EVICTED, counted=12), _PHASES, ("heal",)) == (4.27, None)


def test_a_phase_never_marked_is_an_error_naming_it():
    with pytest.raises(HarnessError, match=r"no phase named rejoin was marked \(have: steady, inject"):
        longest_outage_in_phases(_availability(), _PHASES, ("rejoin",))


def test_assert_slo_names_the_figure_the_bound_and_the_evidence():
    over = SloLine("longest outage (db1 rejoining)", 7.087, 6.0, "s", Validity.INVALID)
    with pytest.raises(AssertionError, match=r"^longest outage \(db1 rejoining\): measured 7.087 s, bound <= 6.0 s; "
                                             r"outage \{'start': 20.8\}$"):
        assert_slo(over, "outage {'start': 20.8}")
    with pytest.raises(AssertionError, match=r"could not be measured \(bound 6.0 s\)$"):
        assert_slo(SloLine("x", None, 6.0, "s", Validity.UNKNOWN))
    assert_slo(SloLine("x", 4.0, 6.0, "s", Validity.VALID), "ignored when within")
