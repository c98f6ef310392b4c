"""Did the fault take effect? Checks over one state sample, pure.

Each returns why the fault has *not* visibly taken effect yet (an empty list: it has), so it
can be handed to ``Scenario.wait_until``. The acceptance flows (``harness.acceptance``) and the
soak (``harness.soak``) both observe their faults through these.
"""

from __future__ import annotations

from typing import Any

from .invariants import Sample, masters, vip_holders


def vip_moved_away(sample: Sample, holder_before: str, vip: str = "web") -> list[str]:
    """Another director holds ``vip`` than ``holder_before``.

    A crashed (kill -9) MASTER keeps the VIP on its interface until healed (two MACs answer
    ARP, docs/lab-measurements.md), so the old holder may still be listed: what counts is a
    new one.
    """
    holders = vip_holders(sample, vip)
    if any(h != holder_before for h in holders):
        return []
    return [f"{vip} VIP held by {holders or 'nobody'} (was {holder_before})"]


def backend_out_of_pool(sample: Sample, node: str, director: str) -> list[str]:
    """``director``'s balancer no longer sends to ``node``: HAProxy marks it DOWN (every pool
    listing it says so), LVS (keepalived) removes it from the IPVS table (no pool lists it)."""
    pools = [p for p in ((sample.get("backends") or {}).get(director) or {}).values() if isinstance(p, dict)]
    serving = [p for p in pools if node in p]
    if pools and all(not str(p[node]).upper().startswith("UP") for p in serving):
        return []
    return [f"{node} still {[p.get(node) for p in serving] or 'unknown'} on {director}"]


def db_node_left(sample: Sample, node: str, cluster_size: int) -> list[str]:
    """The other database nodes report a cluster smaller than ``cluster_size``: ``node`` is
    out of the Galera membership."""
    db: dict[str, Any] = sample.get("db") or {}
    sizes = {int(d.get("wsrep_cluster_size", 0) or 0) for n, d in db.items() if n != node and isinstance(d, dict)}
    if sizes and max(sizes) < cluster_size:
        return []
    return [f"the other nodes still report cluster size {sorted(sizes)}"]


def directors_split(sample: Sample) -> list[str]:
    """At least two directors are MASTER (of some VRRP instance): the partition split them."""
    both = set(masters(sample))
    return [] if len(both) >= 2 else [f"MASTER on {sorted(both)} only"]
