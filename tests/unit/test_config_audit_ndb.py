"""The audit's NDB rules, on ``ndb_mgm -e show`` / ``ndb_config`` outputs as MySQL NDB 8.0 prints them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config_audit import Severity, exit_status
from harness.config_audit.ndb import ndb_findings, parse_no_of_replicas
from harness.errors import ParseError
from harness.parsers.ndb_mgm import parse_show

SAMPLES = Path(__file__).parent / "samples"

SOUND = """Connected to Management Server at: 198.18.0.40:1186
Cluster Configuration
---------------------
[ndbd(NDB)]\t2 node(s)
id=2\t@198.18.0.31  (mysql-8.0.35 ndb-8.0.35, Nodegroup: 0, *)
id=3\t@198.18.0.32  (mysql-8.0.35 ndb-8.0.35, Nodegroup: 0)

[ndb_mgmd(MGM)]\t1 node(s)
id=1\t@198.18.0.40  (mysql-8.0.35 ndb-8.0.35)

[mysqld(API)]\t2 node(s)
id=50\t@198.18.0.31  (mysql-8.0.35 ndb-8.0.35)
id=51\t@198.18.0.32  (mysql-8.0.35 ndb-8.0.35)
"""
#: two data nodes, each its own node group: what NoOfReplicas=1 looks like in `show`
ONE_REPLICA = SOUND.replace("Nodegroup: 0)", "Nodegroup: 1)")
#: the management node's line when it has been stopped (another mgm host ran the client)
NO_MGM = SOUND.replace("id=1\t@198.18.0.40  (mysql-8.0.35 ndb-8.0.35)",
                       "id=1 (not connected, accepting connect from 198.18.0.40)")


def rules(found: list) -> list[str]:
    return sorted(f.rule for f in found)


def test_a_sound_two_replica_cluster_audits_clean() -> None:
    assert ndb_findings("mgm1", parse_show(SOUND), replicas=2, declared={"db1": 2, "db2": 3}) == []
    assert ndb_findings("mgm1", parse_show(SOUND)) == []  # replicas read from the node groups
    assert parse_no_of_replicas("2\n2\n") == 2 and parse_no_of_replicas("2 2") == 2


def test_no_of_replicas_1_is_critical_from_the_config_or_the_node_groups() -> None:
    found = ndb_findings("mgm1", parse_show(SOUND), replicas=1)
    assert rules(found) == ["ndb-single-replica"] and found[0].severity is Severity.CRITICAL
    assert found[0].evidence[0].text == "NoOfReplicas 1"
    found = ndb_findings("mgm1", parse_show(ONE_REPLICA))
    assert rules(found) == ["ndb-single-replica"] and exit_status(found) == 1


def test_a_data_node_not_connected_or_not_started_is_critical() -> None:
    # the captured sample: node 3 starting, node 4 not connected
    found = ndb_findings("mgm1", parse_show((SAMPLES / "ndb_mgm_show.txt").read_text()), replicas=3)
    assert rules(found) == ["ndb-data-node-down", "ndb-data-node-down"]
    assert "data node 3 (198.18.0.32) is starting" in found[0].message
    assert found[1].evidence[0].text == "id=4 (not connected, accepting connect from 198.18.0.33)"


def test_no_management_node_connected_means_no_arbitrator_a_warning() -> None:
    found = ndb_findings("mgm1", parse_show(NO_MGM), replicas=2)
    assert rules(found) == ["ndb-no-arbitrator"] and found[0].severity is Severity.WARNING


def test_a_data_node_of_the_cluster_file_the_management_server_lacks_is_critical() -> None:
    found = ndb_findings("mgm1", parse_show(SOUND), replicas=2, declared={"db1": 2, "db3": 4})
    assert rules(found) == ["ndb-node-unknown"] and "db3" in found[0].message


def test_ndb_config_output_that_is_not_one_number_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="NoOfReplicas"):
        parse_no_of_replicas("Unable to connect to management server\n")
    with pytest.raises(ParseError, match="different NoOfReplicas"):
        parse_no_of_replicas("2\n1\n")


def test_the_audit_asks_the_mgm_host_and_an_unreachable_one_is_a_finding() -> None:
    from harness.cluster import Cluster
    from harness.config_audit import audit_cluster
    from harness.errors import TransportError
    from harness.inventory import Database, Host, Inventory
    from harness.testing import FakeCluster

    inv = Inventory("t", {"mgm1": Host("mgm1", "198.18.0.40", ("mgm",)),
                          "db1": Host("db1", "198.18.0.31", ("db",), ndb_node_id=2),
                          "db2": Host("db2", "198.18.0.32", ("db",), ndb_node_id=3)},
                    database=Database(kind="ndb"))
    fake = FakeCluster()
    fake("mgm1").on(r"^ndb_mgm -e show$", (0, SOUND, "")).on(r"^ndb_config ", (0, "1\n1\n", ""))
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: fake(h.name)))
    assert rules(found) == ["ndb-single-replica"]
    down = FakeCluster()
    down("mgm1").on(r"^ndb_mgm ", TransportError("mgm1", "connection refused"))
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: down(h.name)))
    assert rules(found) == ["host-unreadable"] and exit_status(found) == 3
