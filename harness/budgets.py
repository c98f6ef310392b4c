"""How long a failover may take: the cluster's own timers (keepalived, Galera), and the user's promise.

The acceptance tests and the soak bound each outage by these plus the SLO's
``failover_margin_s``: a BACKUP director's takeover from its keepalived.conf, a database
node's silent death from the Galera timers it reports.

A budget read from the configuration says how slow the cluster is *allowed* to be, not how
slow the user may accept: a director pair set to ``advert_int 3`` has a budget of ~10 s and
passes a 9 s outage by construction. So a director failover is also held to the cluster
file's absolute promise (``slo.director_failover_s``): :class:`FailoverBound` is VALID only
within both, and refuses up front, before any fault, when the configuration's own budget
already exceeds the promise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pymysql

from .checkers import CheckResult, Validity
from .cluster import Cluster
from .errors import HarnessError
from .inventory._model import Slo
from .parsers.keepalived_conf import failover_budget_s, parse_keepalived_conf, skew_time_s
from .parsers.wsrep import galera_stall_budget_s, parse_provider_options

DEFAULT_KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"
#: the name of the verdict a director failover test adds to its checks (result.json, report)
DIRECTOR_FAILOVER_CHECK = "director_failover"


def _secs(value: float) -> str:
    """Seconds as a reader wants them in a message: milliseconds at most (0.596, 4.5, 5)."""
    return f"{round(value, 3):g}"


@dataclass(frozen=True)
class DirectorBudget:
    """The slowest takeover a director's keepalived.conf allows, and the setting behind it."""

    budget_s: float
    host: str
    path: str
    instance: str
    advert_int: float
    skew_s: float
    preempt_delay: float

    @property
    def setting(self) -> str:
        """Where the budget comes from, for a message a reader can act on."""
        delay = f" + preempt_delay {self.preempt_delay:g}" if self.preempt_delay else ""
        return (f"{self.host}:{self.path} vrrp_instance {self.instance}: advert_int {self.advert_int:g} "
                f"(3 x {self.advert_int:g} + skew {self.skew_s:.3f}{delay} = {self.budget_s:.3f} s)")


def director_budget_from_configs(configs: Iterable[tuple[str, str, str]]) -> DirectorBudget:
    """Pure: the largest VRRP takeover budget over ``(host, path, keepalived.conf text)``:
    3 x advert_int + skew + preempt_delay of the slowest instance (the first one on a tie)."""
    worst: DirectorBudget | None = None
    for host, path, text in configs:
        conf = parse_keepalived_conf(text, source=f"{host}:{path}")
        for inst in conf.vrrp_instances.values():
            b = DirectorBudget(failover_budget_s(inst), host, path, inst.name, inst.advert_int,
                               skew_time_s(inst), inst.preempt_delay)
            if worst is None or b.budget_s > worst.budget_s:
                worst = b
    if worst is None:
        raise HarnessError("no vrrp_instance found in any director's keepalived configuration")
    return worst


def read_director_configs(cluster: Cluster) -> list[tuple[str, str, str]]:
    """``(host, path, text)`` of each director's keepalived.conf (``services.keepalived.config``,
    else the Debian path), read over its transport."""
    configs: list[tuple[str, str, str]] = []
    for host in cluster.inventory.with_role("director"):
        svc = host.services.get("keepalived")
        path = (svc.config if svc and svc.config else None) or DEFAULT_KEEPALIVED_CONF
        configs.append((host.name, path, cluster.transport(host.name).check_output(["cat", path])))
    return configs


def director_failover_budget(cluster: Cluster) -> DirectorBudget:
    """Each director's keepalived.conf and the slowest takeover it allows."""
    return director_budget_from_configs(read_director_configs(cluster))


def director_failover_budget_s(cluster: Cluster) -> float:
    """The longest time a BACKUP may take to take over, from each director's keepalived.conf:
    3 x advert_int + skew + preempt_delay, maximised over every VRRP instance."""
    return director_failover_budget(cluster).budget_s


@dataclass(frozen=True)
class FailoverBound:
    """What one director failover may cost: the user's promise beside the configuration's
    budget plus the SLO's margin. Pure: the verdict is VALID only within both."""

    budget: DirectorBudget
    margin_s: float
    #: ``slo.director_failover_s``; None: no promise given (the budget alone judges)
    promise_s: float | None

    @classmethod
    def of(cls, budget: DirectorBudget, slo: Slo) -> FailoverBound:
        return cls(budget, slo.failover_margin_s, slo.director_failover_s)

    @property
    def budget_bound_s(self) -> float:
        """The configuration's budget plus the margin (the probe's timeout, ARP, busy cores)."""
        return round(self.budget.budget_s + self.margin_s, 3)

    @property
    def bound_s(self) -> float:
        """The longest outage that passes: the smaller of the promise and budget + margin."""
        return self.budget_bound_s if self.promise_s is None else min(self.promise_s, self.budget_bound_s)

    def refusal(self) -> str | None:
        """Why the run must stop before injecting anything, or None: a configuration whose own
        takeover budget exceeds the promise cannot keep it, whatever the measurement says."""
        if self.promise_s is None or self.budget.budget_s <= self.promise_s:
            return None
        return (f"director failover: the directors' keepalived configuration allows a takeover of "
                f"{self.budget.budget_s:.3f} s, more than the promised slo.director_failover_s "
                f"{self.promise_s:g} s ({self.budget.setting}); lower advert_int (or preempt_delay) "
                f"or change the promise. Refused before injecting any fault")

    def note(self) -> str | None:
        """Said when no promise was given: the bound then moves with the configuration."""
        if self.promise_s is not None:
            return None
        return ("no director failover promise given (slo.director_failover_s or --slo director_failover_s=S): "
                f"judged against the keepalived budget + margin alone ({self.budget_bound_s:g} s), "
                "which a slow configuration raises")

    def counts(self, longest_outage_s: float | None) -> dict[str, Any]:
        return {"promise_s": self.promise_s, "budget_s": round(self.budget.budget_s, 3), "margin_s": self.margin_s,
                "budget_bound_s": self.budget_bound_s, "bound_s": self.bound_s,
                "longest_outage_s": longest_outage_s}

    def refused(self) -> CheckResult:
        """The verdict of a run refused up front: INVALID, nothing measured."""
        return CheckResult(DIRECTOR_FAILOVER_CHECK, Validity.INVALID,
                           {**self.counts(None), "refused_before_inject": True},
                           {"setting": [self.budget.setting]}, self.refusal() or "")

    def judge(self, longest_outage_s: float | None) -> CheckResult:
        """The longest web VIP outage against the promise and the budget + margin."""
        counts = {**self.counts(longest_outage_s), "refused_before_inject": False}
        examples: dict[str, list[Any]] = {"setting": [self.budget.setting]}
        refusal = self.refusal()
        if refusal is not None:
            return CheckResult(DIRECTOR_FAILOVER_CHECK, Validity.INVALID, counts, examples, refusal)
        if longest_outage_s is None:
            return CheckResult(DIRECTOR_FAILOVER_CHECK, Validity.UNKNOWN, counts, examples,
                               "no web VIP outage figure to judge (no probe results?)")
        over = []
        if self.promise_s is not None and longest_outage_s > self.promise_s:
            over.append(f"the promise slo.director_failover_s {self.promise_s:g} s")
        if longest_outage_s > self.budget_bound_s:
            over.append(f"the keepalived budget {self.budget.budget_s:.3f} s + margin {self.margin_s:g} s "
                        f"= {self.budget_bound_s:g} s")
        if over:
            return CheckResult(DIRECTOR_FAILOVER_CHECK, Validity.INVALID, counts, examples,
                               f"longest web VIP outage {_secs(longest_outage_s)} s is above " + " and ".join(over))
        note = self.note()
        if note is not None:
            return CheckResult(DIRECTOR_FAILOVER_CHECK, Validity.VALID, counts, examples,
                               f"longest web VIP outage {_secs(longest_outage_s)} s within the keepalived budget "
                               f"+ margin; {note}")
        return CheckResult(DIRECTOR_FAILOVER_CHECK, Validity.VALID, counts, examples,
                           f"longest web VIP outage {_secs(longest_outage_s)} s within both the promise "
                           f"{self.promise_s:g} s and the keepalived budget + margin {self.budget_bound_s:g} s")


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
                                   password=inv.db_password(), connect_timeout=3, read_timeout=5,
                                   write_timeout=5)
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
