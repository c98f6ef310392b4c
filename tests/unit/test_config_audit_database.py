"""The audit's Galera rules on node variables and status as MariaDB 10.11 reports them."""

from __future__ import annotations

from harness.config_audit import Severity, exit_status
from harness.config_audit.database import DbNode, galera_findings, parse_size_bytes

OPTIONS = "base_port = 4567; evs.suspect_timeout = PT3S; gcache.size = 64M; pc.weight = 1"


def node(host: str, **over: str) -> DbNode:
    variables = {"innodb_flush_log_at_trx_commit": "1", "sync_binlog": "0", "log_bin": "OFF", "wsrep_sync_wait": "0",
                 "transaction_isolation": "REPEATABLE-READ", "wsrep_cluster_name": "hlab-default",
                 "wsrep_slave_threads": "1", "wsrep_provider_options": OPTIONS}
    status = {"wsrep_cluster_size": "3", "wsrep_cluster_status": "Primary", "wsrep_replicated_bytes": "6000000",
              "wsrep_received_bytes": "6000000", "Uptime": "1200"}
    for k, v in over.items():
        (variables if k in variables else status)[k] = v
    return DbNode(host, variables, status)


def three(**over: str) -> list[DbNode]:
    return [node("db1", **over), node("db2"), node("db3")]


def rules(found: list) -> list[str]:
    return sorted(f.rule for f in found)


def test_a_sound_three_node_cluster_audits_clean() -> None:
    assert galera_findings(three(), expected_nodes=3, declared_sync_wait=0, window_s=600) == []
    assert parse_size_bytes("64M") == 64 * 2**20 and parse_size_bytes("134217728") == 134217728
    assert parse_size_bytes("1.5G") == int(1.5 * 2**30) and parse_size_bytes("lots") is None


def test_a_node_out_of_the_cluster_or_not_primary_is_critical() -> None:
    found = galera_findings(three(wsrep_cluster_size="2"), expected_nodes=3)
    assert rules(found) == ["db-cluster-size"] and "wsrep_cluster_size 2, the cluster file has 3" in found[0].message
    found = galera_findings(three(wsrep_cluster_status="non-Primary"), expected_nodes=3)
    assert rules(found) == ["db-not-primary"] and found[0].severity is Severity.CRITICAL


def test_relaxed_durability_and_a_sync_wait_other_than_declared_are_warnings_and_nodes_disagree() -> None:
    found = galera_findings(three(innodb_flush_log_at_trx_commit="0"), expected_nodes=3)
    assert rules(found) == ["db-durability-relaxed", "db-settings-differ"]
    assert found[0].evidence[0].text == "innodb_flush_log_at_trx_commit = 0"
    found = galera_findings(three(), expected_nodes=3, declared_sync_wait=1)
    assert rules(found) == ["db-sync-wait-differs"] * 3 and exit_status(found) == 1


def test_an_even_cluster_without_arbitrator_or_weights_may_stop_on_a_clean_split() -> None:
    two = [node("db1", wsrep_cluster_size="2"), node("db2", wsrep_cluster_size="2")]
    assert rules(galera_findings(two, expected_nodes=2)) == ["db-even-without-arbitrator"]
    # with garbd the size counts it too: these nodes see 2 of 3 members, one is missing
    assert rules(galera_findings(two, expected_nodes=2, arbitrators=1)) == ["db-cluster-size", "db-cluster-size"]
    weighted = [node("db1", wsrep_cluster_size="2", wsrep_provider_options=OPTIONS.replace("pc.weight = 1", "pc.weight = 2")),
                node("db2", wsrep_cluster_size="2")]
    assert galera_findings(weighted, expected_nodes=2) == []


def test_a_gcache_smaller_than_the_writes_of_the_window_is_a_warning() -> None:
    # 12 MB in 1200 s = 10 KB/s: 64 MiB holds ~6700 s; a 2 h window needs more
    assert galera_findings(three(), expected_nodes=3, window_s=3600) == []
    found = galera_findings(three(), expected_nodes=3, window_s=7200)
    assert rules(found) == ["db-gcache-small"] * 3
    assert "gcache.size 64M holds 6711 s" in found[0].message and "rejoins by a full SST" in found[0].message
    young = [node(h, Uptime="30") for h in ("db1", "db2", "db3")]
    assert galera_findings(young, expected_nodes=3, window_s=7200) == []  # too new to tell a rate


def test_sync_binlog_below_a_declared_strict_durability_is_a_warning() -> None:
    # MariaDB's defaults: sync_binlog 0; the lab's galera.cnf has log_bin OFF (no binlog to flush)
    assert galera_findings(three(), expected_nodes=3, declared_durability="strict") == []  # log_bin OFF
    binlog = [node(h, log_bin="ON") for h in ("db1", "db2", "db3")]
    found = galera_findings(binlog, expected_nodes=3, declared_durability="strict")
    assert rules(found) == ["db-binlog-below-declared"] * 3
    assert [e.text for e in found[0].evidence] == ["sync_binlog = 0", "log_bin = ON"]
    assert galera_findings(binlog, expected_nodes=3) == []  # nothing declared: not judged
    assert galera_findings(binlog, expected_nodes=3, declared_durability="relaxed") == []
    off = [node(h, log_bin="OFF") for h in ("db1", "db2", "db3")]
    assert galera_findings(off, expected_nodes=3, declared_durability="strict") == []
    synced = [node(h, log_bin="ON", sync_binlog="1") for h in ("db1", "db2", "db3")]
    assert galera_findings(synced, expected_nodes=3, declared_durability="strict") == []


def test_a_declared_relaxed_durability_makes_the_lagging_flush_information() -> None:
    found = galera_findings([node(h, innodb_flush_log_at_trx_commit="2") for h in ("db1", "db2", "db3")],
                            expected_nodes=3, declared_durability="relaxed")
    assert rules(found) == ["db-durability-relaxed"] * 3 and found[0].severity is Severity.INFO
    assert exit_status(found) == 0
