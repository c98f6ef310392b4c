"""Cluster invariants checked on one state sample against the inventory (Pacemaker CTS's audits), pure.

Used between steps of acceptance tests and soak runs: after a heal the cluster must come back
to exactly this. Expectations come from the inventory, not from the sample itself, so a host
that vanished from every answer is still missed. The invariants themselves live in
:mod:`harness.invariants`; this module words their findings the way audits always have
(tests, reports and soak results match these strings).
"""

from __future__ import annotations

from .invariants import (
    NO_STATUS,
    SIZE,
    DbFinding,
    Expectations,
    Sample,
    galera_findings,
    pool_gaps,
    unreachable_hosts,
    vip_holders,
    vips_not_held_once,
    vrrp_without_one_master,
)
from .inventory._model import Inventory

__all__ = ["audit_state", "vip_holders"]


def _db_problem(f: DbFinding) -> str:
    if f.key == NO_STATUS:
        return f"db {f.node}: no wsrep status"
    if f.key == SIZE:
        return f"db {f.node}: {SIZE}={f.value} < {f.want}"
    return f"db {f.node}: {f.key}={f.value}"  # STATE, CLUSTER_STATUS or READY


def audit_state(sample: Sample, inventory: Inventory, *, require_backends: bool = True) -> list[str]:
    """Problems in ``sample`` (a StateSampler sample, docs/history.md); empty means steady.

    - every host answered; one VRRP MASTER per instance; each VIP on exactly one director;
    - every balancer backend UP on the director holding the VIPs (if ``require_backends``),
      and every web / db node in its pool's table (LVS drops a failed real server);
    - Galera: every db host Synced, Primary, ready, with cluster size = number of db hosts.
    """
    exp = Expectations.from_inventory(inventory)
    problems: list[str] = []
    unreachable = unreachable_hosts(sample)
    if unreachable:
        problems.append(f"unreachable: {', '.join(sorted(unreachable))}")
    for inst, masters in vrrp_without_one_master(sample).items():
        problems.append(f"VRRP {inst}: {len(masters)} MASTER(s) {sorted(masters)}")
    for vip, held in vips_not_held_once(sample, exp.vips).items():
        problems.append(f"VIP {vip} ({exp.vips[vip]}) held by {len(held)} host(s) {held}")
    if require_backends:
        web_holder = ((sample.get("vip_holders") or {}).get("web") or [None])[0]
        for gap in pool_gaps(sample, exp.tier_members, director=web_holder):
            if gap.not_up:
                problems.append(f"{gap.director} backend {gap.pool}: not UP: {', '.join(gap.not_up)}")
            if gap.missing:
                problems.append(f"{gap.director} backend {gap.pool}: not in the table: {', '.join(gap.missing)}")
    problems += [_db_problem(f) for f in galera_findings(sample, exp)]
    return problems
