"""Did the fault take effect? Checks over one state sample, pure (and, for a director
failover, :func:`takeover`: when the standby took over, from the history).

Each returns why the fault has *not* visibly taken effect yet (an empty list: it has), so it
can be handed to ``Scenario.wait_until``. The acceptance flows (``harness.acceptance``) and the
soak (``harness.soak``) both observe their faults through these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .history import Op
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


def takeover(ops: Iterable[Op], holder_before: str, fault: str, vip: str = "web",
             probe_prefix: str = "vip-probe") -> dict[str, float | str | None] | None:
    """How long the standby took to take ``vip`` over after ``fault`` hit ``holder_before``,
    from the history alone (pure): the state samples around the takeover and the first web
    probe served after it, in seconds from the fault's completion (``ok``).

    Client-visible outage and takeover differ: a crashed keepalived on an LVS director leaves
    the kernel forwarding, so the probes see ~0 s whatever the standby does; this is the
    standby's side. ``takeover_s`` is the end of the first sample showing another director
    MASTER and holding the VIP (an upper bound), ``takeover_after_s`` the start of the last
    sample before it that did not (a lower bound): their gap is the sampling resolution;
    ``first_served_s`` the end of the first web probe served that started after that sample.
    None when the fault never completed ``ok`` or no sample saw a takeover.
    """
    t_fault: float | None = None
    sample_start: float | None = None
    last_not_yet: float | None = None
    seen: tuple[float, float, str] | None = None  # (sample start, sample end, new holder)
    served: float | None = None
    probe_start: dict[str, tuple[float, bool]] = {}
    for op in ops:
        if op.process.startswith("nemesis") and op.f == fault and op.type == "ok" and t_fault is None:
            t_fault = op.time
            continue
        if t_fault is None:
            continue
        if op.process == "state" and op.f == "sample":
            if op.type == "invoke":
                sample_start = op.time
            elif op.type == "ok" and sample_start is not None and seen is None and isinstance(op.value, dict):
                new = [h for h in vip_holders(op.value, vip) if h != holder_before and h in masters(op.value)]
                if new:
                    seen = (sample_start, op.time, new[0])
                elif sample_start >= t_fault:
                    last_not_yet = sample_start
        elif op.process.startswith(probe_prefix) and served is None:
            if op.type == "invoke":
                is_vip = isinstance(op.value, dict) and op.value.get("vip", vip) == vip
                probe_start[op.process] = (op.time, is_vip)
            else:
                start, is_vip = probe_start.pop(op.process, (-1.0, False))
                if op.type == "ok" and is_vip and seen is not None and start >= seen[1]:
                    served = op.time
    if t_fault is None or seen is None:
        return None
    return {
        "new_holder": seen[2],
        "takeover_after_s": round(max(0.0, (last_not_yet if last_not_yet is not None else t_fault) - t_fault), 3),
        "takeover_s": round(seen[1] - t_fault, 3),
        "first_served_s": round(served - t_fault, 3) if served is not None else None,
    }


def logged_takeover(ops: Iterable[Op], fault: str, transitions: Iterable[tuple[float, str, str]], *,
                    instance: str | None, vip: str = "web", probe_prefix: str = "vip-probe",
                    lead_s: float = 1.0) -> dict[str, float | str | None] | None:
    """The new holder's own account of the takeover (pure): its first ``MASTER`` transition of
    ``instance`` (any instance when None) from ``lead_s`` before the fault on, and the first
    ``vip`` probe served that started after it, in seconds from the fault's ``ok``.

    ``transitions`` are ``(history time, instance, state)`` of the new holder, already put on
    the history's clock. ``lead_s`` admits a transition a little before the fault's ``ok``: a
    killed MASTER's standby may move before the kill command returns. None when the fault never
    completed ``ok`` or no such transition was logged.
    """
    t_fault: float | None = None
    probe_start: dict[str, tuple[float, bool]] = {}
    probes: list[tuple[float, float]] = []  # (start, end) of served VIP probes after the fault
    for op in ops:
        if t_fault is None:
            if op.process.startswith("nemesis") and op.f == fault and op.type == "ok":
                t_fault = op.time
            elif op.process.startswith(probe_prefix) and op.type == "invoke":
                probe_start[op.process] = (op.time, isinstance(op.value, dict) and op.value.get("vip", vip) == vip)
            elif op.process.startswith(probe_prefix):
                probe_start.pop(op.process, None)
            continue
        if op.process.startswith(probe_prefix):
            if op.type == "invoke":
                probe_start[op.process] = (op.time, isinstance(op.value, dict) and op.value.get("vip", vip) == vip)
            else:
                start, is_vip = probe_start.pop(op.process, (-1.0, False))
                if op.type == "ok" and is_vip:
                    probes.append((start, op.time))
    if t_fault is None:
        return None
    master = [t for t, inst, state in transitions
              if state == "MASTER" and (instance is None or inst == instance) and t >= t_fault - lead_s]
    if not master:
        return None
    at = min(master)
    served = [end for start, end in probes if start >= at]
    return {
        "logged_takeover_s": round(at - t_fault, 3),
        "logged_first_served_s": round(min(served) - t_fault, 3) if served else None,
    }
