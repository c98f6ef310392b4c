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
    TakeoverGap,
    galera_findings,
    pool_gaps,
    unreachable_hosts,
    vip_holders,
    vips_not_held_once,
    vrrp_without_one_master,
)
from .inventory._model import Inventory

__all__ = ["audit_state", "takeover_problems", "vip_holders"]


def _db_problem(f: DbFinding) -> str:
    if f.key == NO_STATUS:
        return f"db {f.node}: no wsrep status"
    if f.key == SIZE:
        return f"db {f.node}: {SIZE}={f.value} < {f.want}"
    return f"db {f.node}: {f.key}={f.value}"  # STATE, CLUSTER_STATUS or READY


def audit_state(sample: Sample, inventory: Inventory, *, require_backends: bool = True) -> list[str]:
    """Problems in ``sample`` (a StateSampler sample, docs/history.md); empty means steady.

    - every host answered; one VRRP MASTER per instance; each VIP on exactly one director;
    - every balancer backend UP and every web / db node in its pool's table (LVS drops a
      failed real server) on *every* director that answered (if ``require_backends``): the
      standby must be ready to serve every VIP it may take over, not only the MASTER;
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
        # a director that did not answer is listed as unreachable above, not judged twice
        backends = dict(sample.get("backends") or {})
        # a pool one director balances, every director must: the standby takes it over too
        listed = {pool for pools in backends.values() for pool in (pools or {})}
        members = {pool: exp.tier_members.get(pool, ()) for pool in sorted(listed)}
        for gap in pool_gaps({"backends": backends}, members, require_pools=True):
            if gap.not_up:
                problems.append(f"{gap.director} backend {gap.pool}: not UP: {', '.join(gap.not_up)}")
            if gap.missing:
                problems.append(f"{gap.director} backend {gap.pool}: not in the table: {', '.join(gap.missing)}")
    problems += [_db_problem(f) for f in galera_findings(sample, exp)]
    return problems


def takeover_problems(gaps: list[TakeoverGap]) -> list[str]:
    """The takeover gaps of :func:`harness.invariants.takeover_gaps`, worded for a report."""
    words = {"vrrp": "no VRRP instance carries it", "virtual_server": "no virtual_server for it (LVS)"}
    return [f"{g.director} cannot take over VIP {g.vip} ({g.address}:{g.port}): {words.get(g.missing, g.missing)}"
            for g in gaps]
