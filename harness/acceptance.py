"""Standard acceptance flows: a fault under Moodle load with probes, then verdicts.

The acceptance tests (tests/availability, tests/reliability, tests/performance) are thin over
these: steady -> inject -> observe -> heal -> recover, with VIP probes, a SQL ledger through
the DB VIP and Locust Moodle users posting keyed forum messages, all in one history. The
verdicts come from the pure checkers; the bounds from the cluster file's SLOs and from the
directors' own keepalived configuration (the failover budget).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pymysql

from .audit import vip_holders
from .checkers import CheckConfig, CheckResult
from .cluster import Cluster
from .errors import HarnessError
from .parsers.keepalived_conf import failover_budget_s, parse_keepalived_conf
from .parsers.wsrep import galera_stall_budget_s, parse_provider_options
from .probes.ledger import db_nodes, read_back
from .scenario import Scenario

ParamsFor = Callable[["FaultContext"], dict[str, Any]]
Until = Callable[["FaultContext", dict[str, Any]], list[str]]


def director_failover_budget_s(cluster: Cluster) -> float:
    """The longest time a BACKUP may take to take over, from each director's keepalived.conf:
    3 x advert_int + skew + preempt_delay, maximised over every VRRP instance."""
    budgets: list[float] = []
    for host in cluster.inventory.with_role("director"):
        svc = host.services.get("keepalived")
        path = (svc.config if svc and svc.config else None) or "/etc/keepalived/keepalived.conf"
        text = cluster.transport(host.name).check_output(["cat", path])
        conf = parse_keepalived_conf(text, source=f"{host.name}:{path}")
        budgets += [failover_budget_s(i) for i in conf.vrrp_instances.values()]
    if not budgets:
        raise HarnessError("no vrrp_instance found in any director's keepalived configuration")
    return max(budgets)


def database_stall_budget_s(cluster: Cluster, guard: Callable[[str], Any] | None = None) -> float:
    """How long a silent database node death may stall writes (and so the site), from the
    Galera timers of the first node that answers (wsrep_provider_options)."""
    inv = cluster.inventory
    if inv.database.kind != "galera":
        raise HarnessError(f"{inv.source}: database.kind {inv.database.kind!r}: no stall budget known")
    errors = []
    for host in inv.with_role("db"):
        try:
            if guard is not None:
                guard(host.address)
            conn = pymysql.connect(host=host.address, port=inv.database.port, user=inv.database.user,
                                   password=inv.db_password(), connect_timeout=3, read_timeout=5)
            try:
                with conn.cursor() as cur:
                    cur.execute("SHOW GLOBAL VARIABLES LIKE 'wsrep_provider_options'")
                    row = cur.fetchone()
            finally:
                conn.close()
        except (pymysql.err.MySQLError, OSError) as exc:
            errors.append(f"{host.name}: {exc}")
            continue
        if row:
            return galera_stall_budget_s(parse_provider_options(row[1]))
    raise HarnessError("no database node told its wsrep_provider_options: " + "; ".join(errors))


@dataclass
class FaultContext:
    """What a params/until callback may look at: the scenario and the VIP holder before the fault."""

    scenario: Scenario
    holder_before: str
    others: list[str]

    @property
    def inventory(self) -> Any:
        return self.scenario.cluster.inventory


@dataclass
class FaultRun:
    """Figures of one fault-under-load run, for the assertions and the report."""

    fault: str
    params: dict[str, Any]
    holder_before: str
    holder_after_fault: str | None
    observe_s: float
    recovery_s: float | None
    checks: dict[str, CheckResult]
    load: dict[str, int] = field(default_factory=dict)
    samples_during_fault: list[dict[str, Any]] = field(default_factory=list)

    def check(self, name: str) -> CheckResult:
        try:
            return self.checks[name]
        except KeyError:
            raise HarnessError(f"no checker result {name!r} (have: {', '.join(self.checks)})") from None


def vip_moved_away(ctx: FaultContext, sample: dict[str, Any]) -> list[str]:
    """Observe until another director holds the web VIP.

    A crashed (kill -9) MASTER keeps the VIP on its interface until healed (LAB_NOTES: two
    MACs answer ARP), so the old holder may still be listed: what counts is a new one.
    """
    holders = vip_holders(sample)
    if any(h != ctx.holder_before for h in holders):
        return []
    return [f"web VIP held by {holders or 'nobody'} (was {ctx.holder_before})"]


def read_post_keys(scenario: Scenario, prefix: str, *, database: str = "moodle", table: str = "mdl_forum_posts",
                   wait_s: float = 30.0) -> None:
    """Final read of forum post subjects starting with ``prefix`` on every DB node directly.

    Recorded as ``posts-read-<node>`` / ``read`` so the ledger checker can judge posts made
    over HTTP like SQL ledger writes (acknowledged but missing = lost).
    """
    inv = scenario.cluster.inventory
    password = inv.db_password()
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def read(host: str, port: int) -> list[str]:
        if scenario.guard is not None:
            scenario.guard(host)
        conn = pymysql.connect(host=host, port=port, user=inv.database.user, password=password,
                               database=database, connect_timeout=3, read_timeout=10)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT subject FROM `{table}` WHERE subject LIKE %s", (like,))
                return [r[0] for r in cur.fetchall()]
        finally:
            conn.close()

    read_back(scenario.history, db_nodes(inv), read, process_prefix="posts-read-", wait_s=wait_s)


def fault_under_load(
    scenario: Scenario,
    fault: str | None,
    params: ParamsFor | None = None,
    *,
    pre_faults: Sequence[tuple[str, ParamsFor]] = (),
    until: Until | None = None,
    until_timeout_s: float = 30.0,
    observe_s: float = 6.0,
    steady_s: float = 5.0,
    settle_s: float = 3.0,
    load_users: int = 3,
    probe_rate_hz: float = 50.0,
    probe_timeout_s: float = 0.5,
    ledger_rate_hz: float = 20.0,
    with_load: bool = True,
    with_ledger: bool = True,
    max_outage_s: float | None = None,
    before_heal: Callable[[FaultContext], None] | None = None,
    load_env: dict[str, str] | None = None,
) -> FaultRun:
    """Run one fault under load and return the checked figures.

    steady (probes, ledger and Moodle users running) -> inject -> observe (until ``until`` says
    the fault took effect, then ``observe_s`` more) -> heal -> recover (until every audit passes)
    -> settle -> final reads -> checkers. Every phase is bounded; the nemesis heals on any exit.
    """
    sc = scenario
    slo = sc.cluster.inventory.slo
    sc.wait_steady(timeout_s=max(60.0, slo.recovery_s))
    bound_s = steady_s + until_timeout_s + observe_s + slo.recovery_s + settle_s + 60.0
    post_prefix = f"p{secrets.token_hex(4)}"
    # a short probe timeout keeps the measured outage close to the real one: after a power-cord
    # pull the probe in flight would otherwise hide the first success for up to its timeout
    sc.vip_probe("web", rate_hz=probe_rate_hz, max_duration_s=bound_s, timeout_s=probe_timeout_s)
    if "db" in sc.cluster.inventory.vips:
        sc.vip_probe("db", rate_hz=10.0, max_duration_s=bound_s, mode="tcp", timeout_s=probe_timeout_s)
    ledger = sc.ledger(workers=2, rate_hz=ledger_rate_hz, max_duration_s=bound_s) if with_ledger else None
    load = None
    if with_load:
        env = {"MOODLE_POST_KEY_PREFIX": post_prefix, "MOODLE_WAIT_MIN": "0.5", "MOODLE_WAIT_MAX": "1.5",
               "MOODLE_TIMEOUT": "10"}
        env.update(load_env or {})
        load = sc.load(users=load_users, spawn_rate=load_users, run_time_s=bound_s, env=env)

    with sc.phase("steady"):
        sc.hold(steady_s)
    holder = sc.vip_holder("web")
    directors = [h.name for h in sc.cluster.inventory.with_role("director")]
    ctx = FaultContext(sc, holder, [d for d in directors if d != holder])
    fault_params = params(ctx) if params is not None else {}
    samples: list[dict[str, Any]] = []
    fault_ids: list[str] = []
    with sc.phase("inject"):
        for name, pre_params in pre_faults:
            fault_ids.append(sc.nemesis.inject(name, **pre_params(ctx)))
        if fault is not None:
            fault_ids.append(sc.nemesis.inject(fault, **fault_params))
    t_inject = time.monotonic()
    with sc.phase("observe"):
        if until is not None:
            sc.wait_until(f"{fault or 'observation'} took effect", lambda s: (samples.append(s), until(ctx, s))[1],
                          timeout_s=until_timeout_s, interval_s=0.25)
        sc.hold(observe_s)
        after = sc.sample()
        samples.append(after)
        holders_after = [h for h in vip_holders(after) if h != holder] or vip_holders(after)
        if before_heal is not None:
            before_heal(ctx)
    observed = time.monotonic() - t_inject
    with sc.phase("heal"):
        for fid in reversed(fault_ids):
            sc.nemesis.heal(fid)
    with sc.phase("recover"):
        recovery_s = sc.wait_steady(timeout_s=slo.recovery_s)
        sc.hold(settle_s)

    load_figures: dict[str, int] = {}
    if load is not None:
        load.stop()
        load_figures = {"samples": load.samples, "failures": load.failures}
    sc.stop_probes()
    if ledger is not None:
        sc.finish_ledger(ledger)
    if with_load:
        read_post_keys(sc, post_prefix)

    config = CheckConfig.from_slo(
        slo, probe_prefix="vip-probe-web", max_outage_s=max_outage_s,
        posts_read_prefix="posts-read-" if with_load else None,
    )
    checks = sc.check(config)
    return FaultRun(fault or "none", fault_params, holder, holders_after[0] if len(holders_after) == 1 else None,
                    observed, recovery_s, checks, load_figures, samples)


def forced_relogins(scenario: Scenario) -> int:
    return sum(1 for op in scenario.ops() if op.type != "invoke" and op.f == "forced_relogin")


def error_rate_percent(scenario: Scenario, *, process_prefix: str = "locust-", phase: str | None = "observe",
                       outside_outages: list[tuple[float, float]] | None = None) -> float | None:
    """Share of failed client requests, optionally only inside one marked phase.

    ``outside_outages``: VIP outage windows (start, end); requests that started inside one are
    left out, because the outage itself is already bounded by the failover budget: what is
    left is the errors the failover should not have caused.
    """
    window = None
    if phase is not None:
        marks = [p for p in scenario.phases if p["name"] == phase]
        if marks:
            window = (marks[0]["start"], marks[0]["end"] or float("inf"))
    total = failed = 0
    for op in scenario.ops():
        if op.type == "invoke" or not op.process.startswith(process_prefix) or op.f == "forced_relogin":
            continue
        started = op.extra.get("t_start", op.time)
        if window and not (window[0] <= started <= window[1]):
            continue
        if outside_outages and any(a <= started <= b for a, b in outside_outages):
            continue
        total += 1
        failed += op.type != "ok"
    return None if total == 0 else 100.0 * failed / total


def outage_windows(run: FaultRun) -> list[tuple[float, float]]:
    """The VIP outage windows the availability checker found (start, end)."""
    return [(o["start"], o["end"]) for o in run.check("availability").examples.get("outages", [])]
