"""The soak's catalogue of fault kinds and its seeded schedule, pure.

``build_schedule``: a seed, a duration and an inventory give a list of :class:`SoakStep`
(steady period, fault kind, target, how long the fault is held), drawn from :data:`CATALOGUE`
restricted to the kinds whose targets exist in the inventory. Each kind also says how to see
that its fault took effect (``harness.fault_effects``; :func:`effect_problems`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .. import fault_effects
from ..errors import HarnessError
from ..invariants import Sample
from ..inventory._model import Inventory
from ..transport.supervisor import SupervisorIdentity, supervisor_reason

#: the service keys a web node's Apache may carry in a cluster file
APACHE_KEYS = ("apache", "apache2", "httpd")
#: a step's planned cost beyond its steady and fault holds: heal, audit, sampling
DEFAULT_OVERHEAD_S = 20.0


class SoakError(HarnessError):
    """A soak schedule could not be built (bad duration, range or catalogue name)."""


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Plan:
    """Where a fault kind strikes: a host (or None: resolved at run time) and fixed params."""

    target: str | None
    target_text: str
    params: dict[str, Any]


Effect = Callable[["SoakStep", str, Sample, Inventory], list[str]]


@dataclass(frozen=True)
class FaultKind:
    """One entry of the soak catalogue: a harness.faults fault aimed at a kind of host."""

    name: str
    fault: str  # the name in harness.faults
    tier: str  # director | web | db | network: which failover budget applies
    role: str
    #: the eligible hosts in an inventory; an empty list means the kind is not available
    candidates: Callable[[Inventory], list[str]]
    #: a Plan for one step, from the eligible hosts and the schedule's generator
    plan: Callable[[Inventory, list[str], random.Random], Plan]
    #: why the fault of a step has not visibly taken effect yet (harness.fault_effects), from
    #: the step, the web VIP holder before it, a state sample and the inventory
    effect: Effect
    #: resolved at run time ("vip-holder": the director holding the web VIP), else None
    resolve: str | None = None


#: the identity the schedule can judge without looking at this machine (it stays pure): the
#: loopback addresses and names; a host at one of the supervisor's interface addresses is
#: refused by the fault itself when its step starts (harness.faults.base)
_PURE_SUPERVISOR = SupervisorIdentity(frozenset(), "")


def _names(inv: Inventory, role: str) -> list[str]:
    """Hosts of ``role`` a fault may target: never the supervisor (transport-local, or reached
    over SSH at a loopback address or name): faults refuse those without ``allow_local``."""
    return sorted(h.name for h in inv.with_role(role)
                  if h.transport != "local" and supervisor_reason(h.address, _PURE_SUPERVISOR) is None)


def _apache_key(inv: Inventory, host: str) -> str | None:
    services = inv.host(host).services
    return next((k for k in APACHE_KEYS if k in services), None)


def _web_with_apache(inv: Inventory) -> list[str]:
    webs = [n for n in _names(inv, "web") if _apache_key(inv, n)]
    return webs if len(webs) >= 2 else []  # one web node down must leave another serving


def _directors_pair(inv: Inventory) -> list[str]:
    directors = [n for n in _names(inv, "director") if "keepalived" in inv.host(n).services]
    return directors if len(directors) >= 2 else []


def _director_domains(inv: Inventory) -> list[str]:
    ds = _directors_pair(inv)
    return ds if ds and all(inv.host(d).domain is not None for d in ds) else []


def _web_domains(inv: Inventory) -> list[str]:
    webs = _names(inv, "web")
    return [w for w in webs if inv.host(w).domain is not None] if len(webs) >= 2 else []


def _galera_nodes(inv: Inventory) -> list[str]:
    dbs = _names(inv, "db")
    # a Galera node may die only if the rest keep quorum
    return dbs if inv.database.kind == "galera" and len(dbs) >= 3 else []


def _vip_holder_plan(inv: Inventory, hosts: list[str], rng: random.Random) -> Plan:
    return Plan(None, "role director, the web VIP holder", {})


def _apache_plan(inv: Inventory, hosts: list[str], rng: random.Random) -> Plan:
    host = rng.choice(hosts)
    return Plan(host, host, {"host": host, "process": _apache_key(inv, host), "tree": True})


def _host_plan(inv: Inventory, hosts: list[str], rng: random.Random) -> Plan:
    host = rng.choice(hosts)
    return Plan(host, host, {"host": host})


def _partition_plan(inv: Inventory, hosts: list[str], rng: random.Random) -> Plan:
    a, b = hosts[:1], hosts[1:]
    return Plan(None, f"{', '.join(a)} | {', '.join(b)}", {"a": a, "b": b})


def _vip_moved(step: SoakStep, holder_before: str, sample: Sample, inv: Inventory) -> list[str]:
    return fault_effects.vip_moved_away(sample, holder_before)


def _backend_out(step: SoakStep, holder_before: str, sample: Sample, inv: Inventory) -> list[str]:
    return fault_effects.backend_out_of_pool(sample, step.target or "", holder_before)


def _db_node_left(step: SoakStep, holder_before: str, sample: Sample, inv: Inventory) -> list[str]:
    return fault_effects.db_node_left(sample, step.target or "", len(inv.with_role("db")))


def _directors_split(step: SoakStep, holder_before: str, sample: Sample, inv: Inventory) -> list[str]:
    return fault_effects.directors_split(sample)


CATALOGUE: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind("director-failure", "director-failure", "director", "director", _directors_pair, _vip_holder_plan,
                  _vip_moved, "vip-holder"),
        FaultKind("kill-apache", "kill-process", "web", "web", _web_with_apache, _apache_plan, _backend_out),
        FaultKind("db-node-failure", "db-node-failure", "db", "db", _galera_nodes, _host_plan, _db_node_left),
        FaultKind("partition-directors", "partition", "network", "director", _directors_pair, _partition_plan,
                  _directors_split),
        FaultKind("domain-destroy-web", "domain-destroy", "web", "web", _web_domains, _host_plan, _backend_out),
        FaultKind("domain-destroy-director", "domain-destroy", "director", "director", _director_domains,
                  _vip_holder_plan, _vip_moved, "vip-holder"),
        FaultKind("freeze-apache", "freeze", "web", "web", _web_with_apache, _apache_plan, _backend_out),
    )
}
DEFAULT_CATALOGUE: tuple[str, ...] = tuple(CATALOGUE)


@dataclass(frozen=True)
class SoakStep:
    """One planned step: hold steady, then inject ``fault`` on ``target`` for ``fault_s``."""

    index: int  # 1, 2, ...
    kind: str  # catalogue name, e.g. "kill-apache"
    fault: str  # harness.faults name, e.g. "kill-process"
    tier: str
    role: str
    target: str | None  # a host name, or None when resolved at run time
    target_text: str  # what the report shows: "web2", "role director, the web VIP holder"
    resolve: str | None
    params: dict[str, Any]
    steady_s: float
    fault_s: float
    planned_start_s: float  # offset of the steady period in the planned schedule

    @property
    def planned_s(self) -> float:
        return self.steady_s + self.fault_s

    def fault_params(self, vip_holder: str | None = None) -> dict[str, Any]:
        """Parameters for harness.faults; ``vip_holder`` fills a run-time target."""
        if self.resolve == "vip-holder":
            if not vip_holder:
                raise SoakError(f"step {self.index} {self.kind}: the web VIP holder is not known")
            return {**self.params, "host": vip_holder}
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def available_kinds(inventory: Inventory, catalogue: Iterable[str] = DEFAULT_CATALOGUE) -> list[str]:
    """The catalogue names whose targets exist in ``inventory`` (in catalogue order)."""
    out = []
    for name in catalogue:
        kind = CATALOGUE.get(name)
        if kind is None:
            raise SoakError(f"catalogue: unknown fault kind {name!r} (known: {', '.join(CATALOGUE)})")
        if kind.candidates(inventory):
            out.append(name)
    return out


def _check_range(name: str, r: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = float(r[0]), float(r[1])
    except (TypeError, ValueError, IndexError):
        raise SoakError(f"{name}: expected (min, max) seconds, not {r!r}") from None
    if not (0 < lo <= hi) or not math.isfinite(hi):
        raise SoakError(f"{name}: expected 0 < min <= max, not {r!r}")
    return lo, hi


def build_schedule(
    seed: int,
    duration_s: float,
    inventory: Inventory,
    *,
    catalogue: Sequence[str] = DEFAULT_CATALOGUE,
    steady_s: tuple[float, float] = (20.0, 60.0),
    fault_s: tuple[float, float] = (8.0, 20.0),
    overhead_s: float = DEFAULT_OVERHEAD_S,
    max_steps: int = 10000,
) -> list[SoakStep]:
    """A deterministic schedule for ``seed``: steps whose planned time (steady + fault +
    ``overhead_s`` for heal and audit) fits in ``duration_s``.

    Kinds are dealt from a shuffled deck of the available kinds, reshuffled when empty, so
    even a short soak covers the catalogue before repeating a kind.
    """
    if not (isinstance(duration_s, (int, float)) and duration_s > 0 and math.isfinite(duration_s)):
        raise SoakError(f"duration_s: expected a positive number of seconds, not {duration_s!r}")
    st = _check_range("steady_s", steady_s)
    ft = _check_range("fault_s", fault_s)
    if overhead_s < 0:
        raise SoakError(f"overhead_s: expected >= 0, not {overhead_s!r}")
    kinds = available_kinds(inventory, catalogue)
    if not kinds:
        raise SoakError(
            f"{inventory.source}: no fault kind of the catalogue ({', '.join(catalogue)}) has its targets in the inventory"
        )
    rng = random.Random(seed)
    deck: list[str] = []
    steps: list[SoakStep] = []
    t = 0.0
    while len(steps) < max_steps:
        steady = round(rng.uniform(*st), 1)
        hold = round(rng.uniform(*ft), 1)
        if t + steady + hold + overhead_s > duration_s:
            break
        if not deck:
            deck = list(kinds)
            rng.shuffle(deck)
            if steps and len(deck) > 1 and deck[-1] == steps[-1].kind:
                deck[0], deck[-1] = deck[-1], deck[0]  # no kind twice in a row across decks
        name = deck.pop()
        kind = CATALOGUE[name]
        plan = kind.plan(inventory, kind.candidates(inventory), rng)
        steps.append(
            SoakStep(len(steps) + 1, name, kind.fault, kind.tier, kind.role, plan.target, plan.target_text,
                     kind.resolve, plan.params, steady, hold, round(t, 1))
        )
        t += steady + hold + overhead_s
    return steps


def effect_problems(step: SoakStep, holder_before: str, sample: Sample, inventory: Inventory) -> list[str]:
    """Why the fault of ``step`` has not visibly taken effect yet (empty: it has)."""
    kind = CATALOGUE.get(step.kind)
    return kind.effect(step, holder_before, sample, inventory) if kind is not None else []
