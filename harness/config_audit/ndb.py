"""Rules over an NDB cluster as its management server sees it (pure).

Read on a host with role ``mgm``: ``ndb_mgm -e show`` (every configured node, connected or
not) and ``ndb_config --type=ndbd --query=NoOfReplicas`` (the replica count of the data). One
replica is a cluster that loses data with any data node; a data node not connected is a node
group one failure from down; without an arbitrator a split of the data nodes cannot be decided
and the cluster shuts itself down.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..parsers import parse_error
from ..parsers.ndb_mgm import NdbNode
from ._model import Evidence, Finding, Severity

CONFIRM_NDB_KILL = "tests/availability/test_database.py::test_database_node_killed_site_and_writes_go_on"
SHOW = "ndb_mgm -e show"
CONFIG = "ndb_config --type=ndbd --query=NoOfReplicas"


def parse_no_of_replicas(text: str, command: str = CONFIG) -> int:
    """``ndb_config --query=NoOfReplicas`` (one value per data node, space- or line-separated)
    -> the replica count; ParseError when there is none or the data nodes disagree."""
    values = set(text.split())
    if not values or not all(v.isdigit() for v in values):
        raise parse_error(command, None, text.strip()[:200] or None, "expected one NoOfReplicas number per data node")
    if len(values) > 1:
        raise parse_error(command, None, text.strip()[:200], "the data nodes report different NoOfReplicas")
    return int(values.pop())


def _where(mgm: str, node: NdbNode) -> Evidence:
    shown = f"id={node.node_id} " + (f"@{node.address}" if node.connected else
                                    f"(not connected, accepting connect from {node.accepting_from or '?'})")
    return Evidence(mgm, SHOW, None, shown)


def ndb_findings(mgm: str, nodes: list[NdbNode], *, replicas: int | None = None,
                 declared: Mapping[str, int] | None = None) -> list[Finding]:
    """``mgm``: the host the outputs were read on; ``replicas``: NoOfReplicas (None: read
    from the node groups of the connected data nodes); ``declared``: cluster-file host ->
    ``ndb_node_id`` of its data nodes."""
    out: list[Finding] = []
    data = [n for n in nodes if n.kind == "ndbd"]
    for n in data:
        if not n.connected:
            out.append(Finding("ndb-data-node-down", Severity.CRITICAL,
                               f"data node {n.node_id} is not connected to the management server: its node group "
                               "runs without it, one more failure there stops the cluster",
                               (_where(mgm, n),), CONFIRM_NDB_KILL))
        elif n.status is not None:
            out.append(Finding("ndb-data-node-down", Severity.CRITICAL,
                               f"data node {n.node_id} ({n.address}) is {n.status}, not started: it serves no data",
                               (_where(mgm, n),), CONFIRM_NDB_KILL))
    evidence: tuple[Evidence, ...] = (Evidence(mgm, CONFIG, None, f"NoOfReplicas {replicas}"),)
    if replicas is None:
        groups: dict[int, int] = {}
        for n in data:
            if n.connected and n.nodegroup is not None:
                groups[n.nodegroup] = groups.get(n.nodegroup, 0) + 1
        unconnected = any(not n.connected for n in data)
        if groups and not unconnected and max(groups.values()) == 1:
            replicas = 1
            evidence = tuple(_where(mgm, n) for n in data)
    if replicas == 1:
        out.append(Finding("ndb-single-replica", Severity.CRITICAL,
                           "NoOfReplicas 1: each fragment of the data lives on one data node only; when any data "
                           "node dies its node group is gone and the cluster shuts down", evidence, CONFIRM_NDB_KILL))
    if data and not any(n.kind == "ndb_mgmd" and n.connected for n in nodes):
        out.append(Finding("ndb-no-arbitrator", Severity.WARNING,
                           "no management node connected: no arbitrator (the default ArbitrationRank holder) "
                           "decides a split of the data nodes; a partition that leaves no side a majority of node "
                           "groups shuts the cluster down",
                           tuple(_where(mgm, n) for n in nodes if n.kind == "ndb_mgmd")
                           or (Evidence(mgm, SHOW, None, "no [ndb_mgmd(MGM)] node"),), CONFIRM_NDB_KILL))
    known = {n.node_id for n in data}
    for host, node_id in sorted((declared or {}).items()):
        if node_id not in known:
            out.append(Finding("ndb-node-unknown", Severity.CRITICAL,
                               f"{host}: the cluster file names it data node {node_id}, which the management "
                               "server does not have: the faults and checks on it act on nothing",
                               (Evidence(mgm, SHOW, None, "data nodes " + ", ".join(str(i) for i in sorted(known))),
                                Evidence(host, text=f"ndb_node_id {node_id}")), CONFIRM_NDB_KILL))
    return out
