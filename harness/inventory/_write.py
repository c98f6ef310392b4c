"""Write an Inventory back as a cluster file (the lab writes its ``cluster.yml`` this way)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from ._model import Inventory, Moodle, SshConfig


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def dump_inventory(inv: Inventory) -> dict[str, Any]:
    """The cluster-file dict for ``inv``; ``inventory_from_dict(dump_inventory(inv))`` equals ``inv``.

    The SSH settings most hosts share become the top-level defaults; each host keeps only
    the keys where it differs, so the written file stays readable.
    """
    ssh_counts = Counter(h.ssh for h in inv.hosts.values())
    base = ssh_counts.most_common(1)[0][0] if ssh_counts else SshConfig()
    base_d = asdict(base)
    out: dict[str, Any] = {"name": inv.name, "ssh": base_d}
    out["database"] = asdict(inv.database)
    out["vips"] = {
        n: {"address": v.address, "port": v.port, "protocol": v.protocol, "path": v.path}
        for n, v in inv.vips.items()
    }
    hosts: dict[str, Any] = {}
    for n, h in inv.hosts.items():
        hd: dict[str, Any] = {"address": h.address, "roles": list(h.roles)}
        diff = {k: v for k, v in asdict(h.ssh).items() if base_d[k] != v}
        if diff:
            hd["ssh"] = diff
        if h.transport != "ssh":
            hd["transport"] = h.transport
        if h.domain is not None:
            hd["domain"] = {"name": h.domain.name, "hypervisor": h.domain.hypervisor}
        if h.hypervisor is not None:
            hd["hypervisor"] = _drop_none({"kind": h.hypervisor.kind, "state_dir": h.hypervisor.state_dir})
        if h.ndb_node_id is not None:
            hd["ndb_node_id"] = h.ndb_node_id
        if h.services:
            hd["services"] = {
                sn: _drop_none({
                    "manager": s.manager, "unit": s.unit, "name": s.sysv_name, "start": s.start,
                    "stop": s.stop, "pidfile": s.pidfile, "process": s.process, "config": s.config,
                    "transitions": s.transitions,
                })
                for sn, s in h.services.items()
            }
        hosts[n] = hd
    out["hosts"] = hosts
    out["slo"] = {
        "availability_percent": inv.slo.availability_percent,
        "failover_margin_s": inv.slo.failover_margin_s,
        "max_error_rate_percent": inv.slo.max_error_rate_percent,
        "recovery_s": inv.slo.recovery_s,
        "web_failover_s": inv.slo.web_failover_s,
        **({"director_failover_s": inv.slo.director_failover_s} if inv.slo.director_failover_s is not None else {}),
        "latency_ms": {p: _drop_none(asdict(b)) for p, b in inv.slo.latency_ms.items()},
    }
    out["moodle"] = _moodle(inv.moodle)
    if inv.storage is not None:
        out["storage"] = _drop_none(asdict(inv.storage))
    if inv.directory is not None:
        out["directory"] = _drop_none(asdict(inv.directory))
    return out


def _moodle(m: Moodle) -> dict[str, Any]:
    a = m.accounts
    accounts: dict[str, Any] = (
        {"usernames": list(a.usernames)} if a.usernames
        else {"prefix": a.prefix, "digits": a.digits, "first": a.first, "count": a.count}
    )
    return _drop_none({
        "accounts": accounts, "password_env": m.password_env, "course_id": m.course_id, "forum_cmid": m.forum_cmid,
        "database": m.database, "table_prefix": m.table_prefix, "wait_s": {"min": m.wait_min_s, "max": m.wait_max_s},
        "timeout_s": m.timeout_s, "node_header": m.node_header,
    })


def inventory_to_yaml(inv: Inventory) -> str:
    header = f"# cluster file for {inv.name!r} (docs/cluster-file.md); written from {inv.source}\n"
    return header + yaml.safe_dump(dump_inventory(inv), sort_keys=False, default_flow_style=False)


def write_inventory(inv: Inventory, path: str | os.PathLike[str]) -> Path:
    """Write ``inv`` as a cluster file (atomically: a reader never sees half a file)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(inventory_to_yaml(inv), encoding="utf-8")
    os.replace(tmp, target)
    return target

