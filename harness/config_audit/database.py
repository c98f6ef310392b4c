"""Rules over the Galera nodes' own variables and status (pure).

Read from each node (``SHOW GLOBAL VARIABLES`` / ``SHOW GLOBAL STATUS``): whether every node
is in one Primary component, whether an even node count can lose quorum to a clean split,
whether the durability and causality settings keep what the cluster file declares, whether the
gcache can feed a node back by IST after a failover window, and whether the nodes agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..parsers.wsrep import parse_provider_options
from ._model import Evidence, Finding, Severity

CONFIRM_KILL = "tests/availability/test_database.py::test_database_node_killed_site_and_writes_go_on"
CONFIRM_POWER = "tests/reliability/test_transactions.py::test_transactions_kept_through_a_whole_tier_power_loss"
CONFIRM_PARTITION = "tests/reliability/test_transactions.py::test_transactions_kept_when_the_database_writer_is_partitioned"
#: settings the nodes must share (a node with other durability or causality is a different database)
COMPARED = ("innodb_flush_log_at_trx_commit", "sync_binlog", "wsrep_sync_wait", "transaction_isolation",
            "wsrep_cluster_name", "wsrep_slave_threads")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)B?$", re.I)


def parse_size_bytes(text: str) -> int | None:
    """Galera sizes (``128M``, ``1G``, ``134217728``) in bytes; None when not a size."""
    m = _SIZE.match(text.strip())
    if m is None:
        return None
    unit = m.group(2).upper()
    factor = 1024 ** ("KMGT".index(unit) + 1) if unit else 1
    return int(float(m.group(1)) * factor)


@dataclass(frozen=True)
class DbNode:
    """One database node's global variables and status, as it answered."""

    host: str
    variables: Mapping[str, str]
    status: Mapping[str, str]


def _ev(n: DbNode, name: str, value: object) -> Evidence:
    return Evidence(n.host, "SHOW GLOBAL VARIABLES" if name in n.variables else "SHOW GLOBAL STATUS", None,
                    f"{name} = {value}")


def galera_findings(nodes: list[DbNode], *, expected_nodes: int, arbitrators: int = 0,
                    declared_sync_wait: int | None = None, window_s: float | None = None,
                    declared_durability: str | None = None) -> list[Finding]:
    """``expected_nodes``: db hosts in the cluster file; ``arbitrators``: garbd instances known;
    ``window_s``: how long a node may be away and still rejoin by IST (the failover window);
    ``declared_durability``: ``database.durability`` (``strict`` holds ``sync_binlog`` to 1
    where the binary log is on; ``relaxed`` makes a lagging redo-log flush information)."""
    out: list[Finding] = []
    for n in nodes:
        size = n.status.get("wsrep_cluster_size")
        if size is not None and size.isdigit() and int(size) < expected_nodes + arbitrators:
            out.append(Finding("db-cluster-size", Severity.CRITICAL,
                               f"{n.host}: wsrep_cluster_size {size}, the cluster file has {expected_nodes} db node(s)"
                               + (f" and {arbitrators} arbitrator(s)" if arbitrators else "")
                               + ": a node is out of the cluster, one more failure may lose quorum",
                               (_ev(n, "wsrep_cluster_size", size),), CONFIRM_KILL))
        state = n.status.get("wsrep_cluster_status")
        if state is not None and state != "Primary":
            out.append(Finding("db-not-primary", Severity.CRITICAL,
                               f"{n.host}: wsrep_cluster_status {state}: this node refuses every query",
                               (_ev(n, "wsrep_cluster_status", state),), CONFIRM_PARTITION))
        flush = n.variables.get("innodb_flush_log_at_trx_commit")
        if flush is not None and flush != "1":
            out.append(Finding("db-durability-relaxed",
                               Severity.INFO if declared_durability == "relaxed" else Severity.WARNING,
                               f"{n.host}: innodb_flush_log_at_trx_commit {flush}: a commit is acknowledged before "
                               "it is on disk; a power loss of the whole tier loses the last second of them (the "
                               "lab measured 2 of 164 and 7 of 157 acknowledged appends lost at 0)",
                               (_ev(n, "innodb_flush_log_at_trx_commit", flush),), CONFIRM_POWER))
        binlog = n.variables.get("sync_binlog")
        if (declared_durability == "strict" and binlog is not None and binlog != "1"
                and n.variables.get("log_bin", "ON").upper() in ("ON", "1")):
            out.append(Finding("db-binlog-below-declared", Severity.WARNING,
                               f"{n.host}: sync_binlog {binlog} with the binary log on, the cluster file declares "
                               "durability strict: a commit is acknowledged before its binlog event is on disk; "
                               "after a power loss of the whole tier the binlog lacks commits InnoDB has, and a "
                               "node or replica recovering from it diverges",
                               (_ev(n, "sync_binlog", binlog), _ev(n, "log_bin", n.variables.get("log_bin", "ON"))),
                               CONFIRM_POWER))
        wait = n.variables.get("wsrep_sync_wait")
        if declared_sync_wait is not None and wait is not None and wait != str(declared_sync_wait):
            out.append(Finding("db-sync-wait-differs", Severity.WARNING,
                               f"{n.host}: wsrep_sync_wait {wait}, the cluster file declares {declared_sync_wait}: "
                               "reads may not see the writes the checkers are told they see",
                               (_ev(n, "wsrep_sync_wait", wait),), CONFIRM_PARTITION))
        if window_s is not None:
            out.extend(_gcache(n, window_s))
    if expected_nodes % 2 == 0 and arbitrators == 0:
        weights = {n.host: parse_provider_options(n.variables.get("wsrep_provider_options", "")).get("pc.weight", "1")
                   for n in nodes}
        if len(set(weights.values())) <= 1:
            out.append(Finding("db-even-without-arbitrator", Severity.WARNING,
                               f"{expected_nodes} database nodes and no arbitrator or pc.weight: a partition into "
                               "two halves leaves neither with a majority, and both stop",
                               tuple(Evidence(h, "wsrep_provider_options", None, f"pc.weight = {w}")
                                     for h, w in sorted(weights.items())), CONFIRM_PARTITION))
    for name in COMPARED:
        values = {n.host: n.variables.get(name) for n in nodes if name in n.variables}
        if len(set(values.values())) > 1:
            out.append(Finding("db-settings-differ", Severity.WARNING,
                               f"{name} differs between database nodes: what a transaction gets depends on the "
                               "node serving it", tuple(Evidence(h, "SHOW GLOBAL VARIABLES", None, f"{name} = {v}")
                                                        for h, v in sorted(values.items())), CONFIRM_KILL))
    return out


def _gcache(n: DbNode, window_s: float) -> list[Finding]:
    """The gcache must hold what the cluster writes while a node is away for ``window_s``, or
    the node comes back by a full state transfer (the donor blocked, minutes on real data)."""
    size_text = parse_provider_options(n.variables.get("wsrep_provider_options", "")).get("gcache.size")
    written = n.status.get("wsrep_replicated_bytes")
    received = n.status.get("wsrep_received_bytes")
    uptime = n.status.get("Uptime")
    size = parse_size_bytes(size_text) if size_text else None
    if size is None or not (written and received and uptime) or not uptime.isdigit() or int(uptime) < 60:
        return []
    rate = (int(written) + int(received)) / int(uptime)
    needed = rate * window_s
    if needed <= size:
        return []
    return [Finding("db-gcache-small", Severity.WARNING,
                    f"{n.host}: gcache.size {size_text} holds {size / rate:.0f} s of this cluster's writes "
                    f"({rate / 1024:.0f} KiB/s on average since start); a node away {window_s:g} s needs "
                    f"{needed / 2**20:.0f} MiB, or it rejoins by a full SST", (_ev(n, "wsrep_provider_options",
                                                                              f"gcache.size = {size_text}"),),
                    CONFIRM_KILL)]
