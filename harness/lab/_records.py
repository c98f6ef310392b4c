"""What one look at the lab found: typed records, no I/O.

``LabStatus`` is what `harness lab status` prints and `--json` emits (``to_dict``); its field
order and shapes are a public format (the `state` samples of docs/history.md). The per-host
records are what each probe of `_status` returns before it is folded into a ``LabStatus``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LabStatus:
    """One look at the lab. Shapes follow the `state` samples of docs/history.md."""

    name: str
    state_dir: str
    built: bool
    hosts: dict[str, str] = field(default_factory=dict)  # host -> running | paused | shutoff
    vrrp: dict[str, dict[str, str]] = field(default_factory=dict)
    vip_holders: dict[str, list[str]] = field(default_factory=dict)
    backends: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    web: dict[str, str] = field(default_factory=dict)  # web host -> "200 web1" or error
    db: dict[str, dict[str, Any]] = field(default_factory=dict)
    ssh: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    directors: str = "haproxy"  # what the directors are: haproxy (namespaces) | lvs (UML guests)
    ipvs: dict[str, str] = field(default_factory=dict)  # LVS director -> `ipvsadm -Ln` table
    #: the file tier (empty without one): file server -> brick online | offline, web node ->
    #: its mount (mounted | not mounted | read-only | not answering | not glusterfs (TYPE))
    storage: dict[str, str] = field(default_factory=dict)
    #: the auth tier (empty without one): ldap host -> {"slapd": up | down, "pid": its PID as
    #: the host sees it (None: not running), "context_csn": [the suffix's contextCSN values]}
    ldap: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.built and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


@dataclass(frozen=True)
class DirectorStatus:
    """One director as it sees itself: VRRP state per instance, which VIPs it holds, the
    backends it forwards to (name -> server -> state), its IPVS table (None: not an IPVS
    director) and what went wrong asking it ("" when nothing did)."""

    vrrp: dict[str, str] = field(default_factory=dict)
    vips_held: dict[str, bool] = field(default_factory=dict)
    backends: dict[str, dict[str, str]] = field(default_factory=dict)
    ipvs_table: str | None = None
    error: str = ""


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP GET without redirects: status (None when no answer), headers, body, error."""

    status: int | None
    headers: dict[str, str]
    body: str
    error: str = ""


#: the clustercheck figures `lab status` keeps per db node
DB_FIELDS = ("wsrep_cluster_size", "wsrep_cluster_status", "wsrep_local_state_comment", "wsrep_ready")
