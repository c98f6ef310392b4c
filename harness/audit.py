"""Cluster invariants checked on one state sample (Pacemaker CTS's audits), pure.

Used between steps of acceptance tests and soak runs: after a heal the cluster must come back
to exactly this. Expectations come from the inventory, not from the sample itself, so a host
that vanished from every answer is still missed.
"""

from __future__ import annotations

from typing import Any

from .inventory._model import Inventory


def vip_holders(sample: dict[str, Any], vip: str = "web") -> list[str]:
    """The hosts a state sample found holding ``vip``, sorted, each once."""
    return sorted(set((sample.get("vip_holders") or {}).get(vip) or []))


def audit_state(sample: dict[str, Any], inventory: Inventory, *, require_backends: bool = True) -> list[str]:
    """Problems in ``sample`` (a StateSampler sample, docs/history.md); empty means steady.

    - every host answered; one VRRP MASTER per instance; each VIP on exactly one director;
    - every balancer backend UP on the director holding the VIPs (if ``require_backends``);
    - Galera: every db host Synced, Primary, ready, with cluster size = number of db hosts.
    """
    problems: list[str] = []
    unreachable = sample.get("unreachable") or []
    if unreachable:
        problems.append(f"unreachable: {', '.join(sorted(map(str, unreachable)))}")

    vrrp = sample.get("vrrp") or {}
    instances: dict[str, list[str]] = {}
    for host, states in vrrp.items():
        if isinstance(states, dict):
            for inst, state in states.items():
                instances.setdefault(inst, [])
                if state == "MASTER":
                    instances[inst].append(host)
    for inst, masters in sorted(instances.items()):
        if len(masters) != 1:
            problems.append(f"VRRP {inst}: {len(masters)} MASTER(s) {sorted(masters)}")

    holders = sample.get("vip_holders") or {}
    for vip in sorted(inventory.vips):
        held = vip_holders(sample, vip)
        if len(held) != 1:
            problems.append(f"VIP {vip} ({inventory.vips[vip].address}) held by {len(held)} host(s) {held}")

    if require_backends:
        backends = sample.get("backends") or {}
        web_holder = (holders.get("web") or [None])[0]
        for director, pools in sorted(backends.items()):
            if web_holder is not None and director != web_holder:
                continue
            for pool, servers in sorted((pools or {}).items()):
                down = sorted(s for s, st in (servers or {}).items() if not str(st).upper().startswith("UP"))
                if down:
                    problems.append(f"{director} backend {pool}: not UP: {', '.join(down)}")
                # LVS (keepalived) removes a failed real server from the table instead of
                # marking it DOWN: a member of the tier missing from its pool is out too
                if pool in ("web", "db"):
                    missing = sorted(h.name for h in inventory.with_role(pool) if h.name not in (servers or {}))
                    if missing:
                        problems.append(f"{director} backend {pool}: not in the table: {', '.join(missing)}")

    if inventory.database.kind == "galera":
        db_hosts = [h.name for h in inventory.with_role("db")]
        db = sample.get("db") or {}
        for name in db_hosts:
            d = db.get(name)
            if not isinstance(d, dict) or not d:
                if name not in unreachable:
                    problems.append(f"db {name}: no wsrep status")
                continue
            state = d.get("wsrep_local_state_comment")
            if state != "Synced":
                problems.append(f"db {name}: wsrep_local_state_comment={state}")
            if d.get("wsrep_cluster_status", "Primary") != "Primary":
                problems.append(f"db {name}: wsrep_cluster_status={d.get('wsrep_cluster_status')}")
            if d.get("wsrep_ready", "ON") != "ON":
                problems.append(f"db {name}: wsrep_ready={d.get('wsrep_ready')}")
            size = d.get("wsrep_cluster_size")
            try:
                size_i = int(size) if size is not None else None
            except (TypeError, ValueError):
                size_i = None
            if size_i is not None and size_i < len(db_hosts):
                problems.append(f"db {name}: wsrep_cluster_size={size_i} < {len(db_hosts)}")
    return problems
