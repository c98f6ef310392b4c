"""A scenario's history in memory or on disk only (long runs): the same verdicts either way."""

from __future__ import annotations

from pathlib import Path

from harness.checkers import CheckConfig, run_all
from harness.cluster import Cluster
from harness.history import HistoryFile, load_history
from harness.inventory import Host, Inventory
from harness.scenario import Scenario
from harness.testing import FakeCluster


def scenario(directory: Path, *, in_memory: bool) -> Scenario:
    inv = Inventory(name="t", hosts={"dir1": Host("dir1", "198.18.0.11", ("director",))})
    fakes = FakeCluster()
    return Scenario(Cluster(inv, transport_factory=lambda host: fakes(host.name)), directory, history_in_memory=in_memory)


def record_an_outage(sc: Scenario) -> None:
    h = sc.history
    for k in range(30):
        h.record("vip-probe-web", "get", "fail" if 10 <= k < 20 else "ok", 200, latency_ms=1.0)
        if k == 9:
            h.record("nemesis", "kill", "ok", {"fault_id": "f1"}, invoke_value={"fault_id": "f1"})
        if k == 21:
            h.record("nemesis", "heal", "ok", {"fault_id": "f1"}, invoke_value={"fault_id": "f1"})


def test_a_streamed_history_is_not_kept_in_memory_and_checks_read_the_file(tmp_path):
    cfg = CheckConfig(max_outage_s=60.0)
    streamed = scenario(tmp_path / "streamed", in_memory=False)
    record_an_outage(streamed)
    assert streamed.history.ops() == []  # nothing held: 685 B an op over a night adds up
    assert isinstance(streamed.ops(), HistoryFile)
    checks = streamed.check(cfg)
    on_disk = load_history(tmp_path / "streamed" / "history.jsonl")
    assert len(on_disk) == 64 and list(streamed.ops()) == on_disk
    assert [c.to_dict() for c in checks.values()] == [r.to_dict() for r in run_all(on_disk, cfg)]
    assert checks["availability"].counts["outages"] == 1 and checks["availability"].counts["failed"] == 10

    kept = scenario(tmp_path / "kept", in_memory=True)
    record_an_outage(kept)
    assert kept.ops() == load_history(tmp_path / "kept" / "history.jsonl")
    assert kept.check(cfg)["availability"].counts["failed"] == 10
    streamed.close()
    kept.close()
