"""The audit's file-tier rules, on ``gluster --xml volume info`` as GlusterFS 10 prints it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.config_audit import Severity, exit_status
from harness.config_audit.storage import gluster_findings
from harness.errors import ParseError
from harness.parsers.gluster import parse_volume_info

SAMPLES = Path(__file__).parent / "samples"
SOUND = (SAMPLES / "gluster_volume_info_replica3.xml").read_text()
SERVERS = {"fs1": "198.18.0.41", "fs2": "198.18.0.42", "fs3": "198.18.0.43"}
#: the CLI's answer for a volume it does not have (exit status 1)
MISSING = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>-1</opRet>
  <opErrno>30806</opErrno>
  <opErrstr>Volume moodledata does not exist</opErrstr>
</cliOutput>
"""


def volume(text: str = SOUND):
    return parse_volume_info(text)[0]


def rules(found: list) -> list[str]:
    return sorted(f.rule for f in found)


def test_the_lab_shaped_volume_parses_and_audits_clean() -> None:
    v = volume()
    assert (v.name, v.status, v.type, v.replica_count, v.arbiter_count) == ("moodledata", "Started", "Replicate", 3, 0)
    assert v.brick_hosts() == ["198.18.0.41", "198.18.0.42", "198.18.0.43"]
    assert gluster_findings("fs1", v, SERVERS) == []


def test_a_stopped_volume_is_critical() -> None:
    found = gluster_findings("fs1", volume(SOUND.replace("<statusStr>Started", "<statusStr>Stopped")), SERVERS)
    assert rules(found) == ["gluster-volume-not-started"] and found[0].severity is Severity.CRITICAL
    assert found[0].evidence[0].text == "Status: Stopped"


def test_a_volume_not_replicated_across_every_file_server_is_critical() -> None:
    # replica 2 over fs1, fs2 only: fs3 in the cluster file holds nothing
    two = SOUND.replace("<replicaCount>3", "<replicaCount>2")
    two = "\n".join(line for line in two.splitlines() if "198.18.0.43" not in line)
    found = gluster_findings("fs1", volume(two), SERVERS)
    assert rules(found) == ["gluster-brick-missing", "gluster-replica-count"]
    assert "fs3 (198.18.0.43) holds no brick" in next(f.message for f in found if f.rule == "gluster-brick-missing")
    assert exit_status(found) == 1
    # a plain distribute volume: each file on one server
    dist = SOUND.replace("<replicaCount>3", "<replicaCount>1").replace("<typeStr>Replicate", "<typeStr>Distribute")
    found = gluster_findings("fs1", volume(dist), SERVERS)
    assert rules(found) == ["gluster-replica-count"] and "keeps 1 copy of each file" in found[0].message


def test_a_distributed_replicated_volume_over_more_servers_than_copies_is_sound() -> None:
    """replica 2 over 4 servers, two replica sets (fs1+fs2, fs3+fs4): every file on two servers."""
    four = {**SERVERS, "fs4": "198.18.0.44"}
    bricks = "".join(f"<brick>{a}:/srv/bricks/moodledata<name>{a}:/srv/bricks/moodledata</name>"
                     "<isArbiter>0</isArbiter></brick>" for a in four.values())
    text = re.sub(r"<bricks>.*</bricks>", f"<bricks>{bricks}</bricks>", SOUND, flags=re.S)
    text = text.replace("<replicaCount>3", "<replicaCount>2").replace("<brickCount>3", "<brickCount>4")
    assert gluster_findings("fs1", volume(text), four) == []
    # three bricks at replica 2 is no whole number of sets: flagged
    three = text.replace(f"<brick>{four['fs4']}:/srv/bricks/moodledata<name>{four['fs4']}:/srv/bricks/moodledata"
                         "</name><isArbiter>0</isArbiter></brick>", "")
    assert "gluster-replica-count" in rules(gluster_findings("fs1", volume(three), four))


def test_a_brick_named_by_host_name_counts_for_that_server() -> None:
    named = SOUND.replace("198.18.0.42:", "fs2:")
    assert gluster_findings("fs1", volume(named), SERVERS) == []


def test_the_clis_failure_is_a_parse_error_with_its_message() -> None:
    with pytest.raises(ParseError, match="does not exist"):
        parse_volume_info(MISSING)


def test_the_audit_reads_the_volume_on_a_file_server_and_a_missing_volume_is_critical() -> None:
    from harness.cluster import Cluster
    from harness.config_audit import audit_cluster
    from harness.errors import TransportError
    from harness.inventory import Host, Inventory, Storage
    from harness.testing import FakeCluster

    inv = Inventory("t", {n: Host(n, a, ("fileserver",)) for n, a in SERVERS.items()},
                    storage=Storage("glusterfs", "moodledata", "/srv/moodledata"))
    fake = FakeCluster()
    fake("fs1").on(r"^gluster ", TransportError("fs1", "connection refused"))
    fake("fs2").on(r"^gluster --mode=script --xml volume info moodledata$",
                   (0, SOUND.replace("<replicaCount>3", "<replicaCount>2"), ""))
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: fake(h.name)))
    assert rules(found) == ["gluster-replica-count", "host-unreadable"]
    assert "fs3" not in fake.transports  # one answer is enough
    gone = FakeCluster()
    for name in SERVERS:
        gone(name).on(r"^gluster ", (1, MISSING, ""))
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: gone(h.name)))
    assert rules(found) == ["gluster-volume-missing"] and exit_status(found) == 1
