"""The cluster invariants over one state sample, pure: what "steady" means, in one place.

A state sample (docs/history.md; the lab's ``LabStatus.to_dict()`` has the same keys) carries
``vrrp`` (host -> instance -> state), ``vip_holders`` (VIP -> hosts), ``backends`` (director
-> pool -> server -> state), ``db`` (node -> wsrep status) and ``unreachable`` (hosts). The
invariants, each a small function returning what violates it (structured, not worded):

- :func:`vrrp_without_one_master`: every VRRP instance has exactly one MASTER;
- :func:`vips_not_held_once`: every VIP is held by exactly one host;
- :func:`unreachable_hosts`: every host answered;
- :func:`pool_gaps`: every backend UP, every member of a tier in its pool's table;
- :func:`galera_findings`: every database node Synced, Primary, ready, full cluster size;
- :func:`takeover_gaps` (over the directors' keepalived configurations, not a sample): every
  director can take over every VIP (a VRRP instance carrying it; its virtual server where the
  pair balances with LVS), so a standby that would come up without the DB VIP is seen before
  a fault, not 14 s into one.

What must exist comes from an :class:`Expectations` record: built from the inventory for an
audit (:meth:`Expectations.from_inventory`), or learnt from a history by the recovery checker
(:func:`learn_expectations`). The callers (``harness.audit.audit_state``,
``harness.checkers.recovery.DefaultSteady``) word the findings as their reports always have.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .history import Op
from .inventory._model import Inventory
from .parsers.keepalived_conf import KeepalivedConfig

Sample = Mapping[str, Any]

#: the pools whose table must list every member of the tier of the same name (LVS removes a
#: failed real server from the IPVS table instead of marking it DOWN)
TIER_POOLS = ("web", "db")


class Source(enum.Enum):
    """Where the expectations come from, which decides how strictly a db node is read.

    INVENTORY: every db node of the cluster file must answer and say it is Synced (a missing
    ``wsrep_local_state_comment`` is a problem; a missing status or ready flag is taken as
    Primary / ON; an unreadable size is skipped; a size below the node count is a problem).
    HISTORY: only what the nodes reported in the run is known, so only the keys a node reports
    are judged (an arbitrator or an NDB node reports fewer), and the size must equal the
    largest one seen.
    """

    INVENTORY = "inventory"
    HISTORY = "history"


@dataclass(frozen=True)
class Expectations:
    """What a steady cluster has: VRRP instances, VIPs, db nodes and their cluster size."""

    source: Source
    #: VIP name -> address ("" when unknown, as when learnt from a history)
    vips: Mapping[str, str] = field(default_factory=dict)
    #: the VRRP instances that need one MASTER; None: every instance the sample reports
    instances: frozenset[str] | None = None
    #: the db nodes to judge, in the order problems are listed
    db_nodes: tuple[str, ...] = ()
    db_cluster_size: int | None = None
    #: pool name -> the hosts its table must list
    tier_members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_inventory(cls, inventory: Inventory) -> Expectations:
        """Everything the cluster file promises (db nodes only for Galera: its wsrep status)."""
        galera = inventory.database.kind == "galera"
        db = tuple(h.name for h in inventory.with_role("db")) if galera else ()
        return cls(
            Source.INVENTORY,
            vips={name: v.address for name, v in inventory.vips.items()},
            db_nodes=db,
            db_cluster_size=len(db) if galera else None,
            tier_members={pool: tuple(h.name for h in inventory.with_role(pool)) for pool in TIER_POOLS},
        )


def learn_expectations(ops: Iterable[Op], *, state_process: str = "state",
                       db_cluster_size: int | None = None) -> tuple[Expectations, int]:
    """Expectations from every state sample of a history (a fold), and how many samples it saw.

    Every instance, VIP and db node that appears in any sample is expected; the cluster size
    is ``db_cluster_size`` or the largest any node reported (so an arbitrator counts).
    """
    instances: set[str] = set()
    vips: set[str] = set()
    nodes: set[str] = set()
    size = 0
    samples = 0
    for op in ops:
        if op.process != state_process or op.type != "ok" or op.f != "sample" or not isinstance(op.value, dict):
            continue
        samples += 1
        v = op.value
        vrrp = v.get("vrrp")
        if isinstance(vrrp, dict):
            for inst in vrrp.values():
                if isinstance(inst, dict):
                    instances.update(inst)
        holders = v.get("vip_holders")
        if isinstance(holders, dict):
            vips.update(holders)
        db = v.get("db")
        if isinstance(db, dict):
            nodes.update(db)
            for node in db.values():
                if isinstance(node, dict):
                    s = node.get("wsrep_cluster_size")
                    try:
                        size = max(size, int(s)) if s is not None else size
                    except (TypeError, ValueError):
                        pass
    exp = Expectations(
        Source.HISTORY,
        vips=dict.fromkeys(sorted(vips), ""),
        instances=frozenset(instances),
        db_nodes=tuple(sorted(nodes)),
        db_cluster_size=db_cluster_size if db_cluster_size is not None else (size or None),
    )
    return exp, samples


# --------------------------------------------------------------------------- readings


def _section(sample: Sample, key: str) -> dict[str, Any]:
    value = sample.get(key)
    return value if isinstance(value, dict) else {}


def vip_holders(sample: Sample, vip: str = "web") -> list[str]:
    """The hosts a state sample found holding ``vip``, sorted, each once."""
    hosts = _section(sample, "vip_holders").get(vip)
    return sorted(set(hosts)) if isinstance(hosts, (list, tuple)) else []


def masters(sample: Sample) -> list[str]:
    """The hosts that are MASTER of at least one VRRP instance, in the sample's order."""
    return [h for h, insts in _section(sample, "vrrp").items() if isinstance(insts, dict) and "MASTER" in insts.values()]


# --------------------------------------------------------------------------- invariants


def vrrp_without_one_master(sample: Sample, instances: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Each VRRP instance (sorted) whose MASTER count is not one, with its MASTERs in the
    sample's host order. ``instances`` None: every instance any host reports."""
    vrrp = {h: insts for h, insts in _section(sample, "vrrp").items() if isinstance(insts, dict)}
    wanted = set(instances) if instances is not None else {i for insts in vrrp.values() for i in insts}
    out: dict[str, list[str]] = {}
    for inst in sorted(wanted):
        held = [h for h, insts in vrrp.items() if insts.get(inst) == "MASTER"]
        if len(held) != 1:
            out[inst] = held
    return out


def vips_not_held_once(sample: Sample, vips: Iterable[str]) -> dict[str, list[str]]:
    """Each VIP (sorted) not held by exactly one host, with its holders (sorted, each once)."""
    out: dict[str, list[str]] = {}
    for vip in sorted(vips):
        held = vip_holders(sample, vip)
        if len(held) != 1:
            out[vip] = held
    return out


def unreachable_hosts(sample: Sample) -> list[str]:
    """The hosts that did not answer, in the sample's order."""
    return [str(h) for h in sample.get("unreachable") or []]


@dataclass(frozen=True)
class PoolGap:
    """One balancer pool on one director that is not whole."""

    director: str
    pool: str
    #: server -> state, for servers listed but not UP (sorted by server)
    not_up: dict[str, str]
    #: tier members the table does not list at all (sorted)
    missing: tuple[str, ...]


def pool_gaps(sample: Sample, tier_members: Mapping[str, Iterable[str]], *, director: str | None = None,
              require_pools: bool = False) -> list[PoolGap]:
    """Pools (by director, then pool, sorted) with a server not UP or a tier member missing.

    ``director``: only that director's pools (the one holding the VIPs: the standby's view of
    its backends does not serve anyone); None: every director's. ``require_pools``: a pool of
    ``tier_members`` a director does not list at all counts as empty (every member missing);
    else only the pools a director lists are judged.
    """
    gaps: list[PoolGap] = []
    for name, pools in sorted(_section(sample, "backends").items()):
        if director is not None and name != director:
            continue
        listed_pools = dict(pools or {})
        if require_pools:
            listed_pools = {**{p: {} for p in tier_members}, **listed_pools}
        for pool, servers in sorted(listed_pools.items()):
            listed = servers or {}
            not_up = {s: str(st) for s, st in sorted(listed.items()) if not str(st).upper().startswith("UP")}
            missing = tuple(sorted(h for h in tier_members.get(pool, ()) if h not in listed))
            if not_up or missing:
                gaps.append(PoolGap(name, pool, not_up, missing))
    return gaps


@dataclass(frozen=True)
class DbFinding:
    """One database node not healthy: ``key`` is a wsrep status key, or ``status`` when the
    node gave no status at all; ``value`` what it reported, ``want`` what steady needs."""

    node: str
    key: str
    value: Any
    want: Any


STATE = "wsrep_local_state_comment"
CLUSTER_STATUS = "wsrep_cluster_status"
READY = "wsrep_ready"
SIZE = "wsrep_cluster_size"
NO_STATUS = "status"


def galera_findings(sample: Sample, exp: Expectations) -> list[DbFinding]:
    """Every db node of ``exp`` Synced, Primary, ready, with the full cluster size; how
    strictly a node is read depends on ``exp.source`` (see :class:`Source`)."""
    db = _section(sample, "db")
    if exp.source is Source.HISTORY:
        return [f for node in exp.db_nodes for f in _reported_findings(node, db.get(node), exp.db_cluster_size)]
    unreachable = set(unreachable_hosts(sample))
    out: list[DbFinding] = []
    for node in exp.db_nodes:
        d = db.get(node)
        if not isinstance(d, dict) or not d:
            if node not in unreachable:  # already a problem of its own
                out.append(DbFinding(node, NO_STATUS, d, "wsrep status"))
            continue
        if d.get(STATE) != "Synced":
            out.append(DbFinding(node, STATE, d.get(STATE), "Synced"))
        if d.get(CLUSTER_STATUS, "Primary") != "Primary":
            out.append(DbFinding(node, CLUSTER_STATUS, d.get(CLUSTER_STATUS), "Primary"))
        if d.get(READY, "ON") != "ON":
            out.append(DbFinding(node, READY, d.get(READY), "ON"))
        try:
            size = int(d[SIZE]) if d.get(SIZE) is not None else None
        except (TypeError, ValueError):
            size = None
        if size is not None and exp.db_cluster_size is not None and size < exp.db_cluster_size:
            out.append(DbFinding(node, SIZE, size, exp.db_cluster_size))
    return out


def _reported_findings(node: str, d: Any, cluster_size: int | None) -> list[DbFinding]:
    """Judge only the keys the node reports (expectations learnt from a history)."""
    if not isinstance(d, dict):
        return [DbFinding(node, NO_STATUS, d, "wsrep status")]
    out = [DbFinding(node, key, d[key], want) for key, want in ((STATE, "Synced"), (CLUSTER_STATUS, "Primary"), (READY, "ON"))
           if key in d and d[key] != want]
    if cluster_size is not None and SIZE in d:
        try:
            size = int(d[SIZE])
        except (TypeError, ValueError):
            size = -1
        if size != cluster_size:
            out.append(DbFinding(node, SIZE, d[SIZE], cluster_size))
    return out


@dataclass(frozen=True)
class TakeoverGap:
    """A director that could not take over ``vip`` (at ``address``, port ``port``) if the
    MASTER failed: ``missing`` is ``vrrp`` (no VRRP instance carries the address) or
    ``virtual_server`` (the other directors balance it with LVS, this one has no such
    virtual_server: it would hold the VIP and forward nothing)."""

    director: str
    vip: str
    address: str
    port: int
    missing: str


def takeover_gaps(configs: Mapping[str, KeepalivedConfig], vips: Mapping[str, tuple[str, int]]) -> list[TakeoverGap]:
    """Per director (sorted), then VIP (sorted): what keeps it from taking over that VIP.

    ``configs``: director -> its parsed keepalived.conf; ``vips``: VIP name -> (address, port).
    A VIP no director carries at all is a gap on every director (it can fail over nowhere).
    """
    balanced = {(vs.address, vs.port) for c in configs.values() for vs in c.virtual_servers}
    gaps: list[TakeoverGap] = []
    for director, conf in sorted(configs.items()):
        carried = {a for inst in conf.vrrp_instances.values() for a in inst.vips}
        served = {(vs.address, vs.port) for vs in conf.virtual_servers}
        for vip, (address, port) in sorted(vips.items()):
            if address not in carried:
                gaps.append(TakeoverGap(director, vip, address, port, "vrrp"))
            elif (address, port) in balanced and (address, port) not in served:
                gaps.append(TakeoverGap(director, vip, address, port, "virtual_server"))
    return gaps
