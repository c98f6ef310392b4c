"""The self-heal backlog sampler on captured `gluster volume heal VOL info` output (the lab's
own, tests/unit/test_lab_storage.py), and the workload's list of acknowledged uploads."""

from __future__ import annotations

import pytest

from harness.checkers import Validity
from harness.checkers.storage import storage_convergence
from harness.errors import ProbeError, TransportError
from harness.history import HistoryRecorder
from harness.probes.storage_heal import HealBacklogProbe
from harness.testing import FakeTransport
from harness.workload import acknowledged_uploads

from .test_lab_storage import HEAL_DOWN

HEAL_DONE = "\n".join("Number of entries: 0" if line.startswith("Number") else
                      ("Status: Connected" if line.startswith("Status") else line) for line in HEAL_DOWN.splitlines())


def _probe(*servers: FakeTransport) -> tuple[HealBacklogProbe, HistoryRecorder]:
    h = HistoryRecorder()
    return HealBacklogProbe(h, {s.host: s for s in servers}, "moodledata", rate_hz=10, max_count=1,
                            max_duration_s=1), h


def test_a_brick_that_does_not_answer_is_unknown_not_zero_and_the_next_server_is_asked() -> None:
    fs1 = FakeTransport("fs1", [(r"volume heal", TransportError("fs1", "connection refused"))])
    fs2 = FakeTransport("fs2", [(r"volume heal moodledata info", (0, HEAL_DOWN, ""))])
    probe, h = _probe(fs1, fs2)
    assert probe.sample() is None
    ok = [o for o in h.ops() if o.type == "ok"]
    assert ok[0].value == {"pending": None} and ok[0].extra["host"] == "fs2"
    assert ok[0].extra["bricks"]["198.18.64.42:/srv/bricks/moodledata"] == 176
    assert fs2.commands[0].startswith("timeout -k 1 10 gluster --mode=script volume heal moodledata info")


def test_no_server_answering_is_a_fail_naming_each() -> None:
    fs1 = FakeTransport("fs1", [(r"volume heal", (1, "", "Volume moodledata does not exist"))])
    fs2 = FakeTransport("fs2", [(r"volume heal", (0, "garbage", ""))])
    probe, h = _probe(fs1, fs2)
    assert probe.sample() is None
    failed = [o for o in h.ops() if o.type == "fail"]
    assert "fs1: exit 1: Volume moodledata does not exist" in failed[0].extra["error"]
    assert "fs2:" in failed[0].extra["error"]


def test_samples_judged_by_storage_convergence() -> None:
    answers = iter([HEAL_DOWN, HEAL_DOWN, HEAL_DONE, HEAL_DONE])
    fs2 = FakeTransport("fs2", [(r"volume heal", lambda *_: (0, next(answers), ""))])
    probe, h = _probe(fs2)
    fault = h.invoke("nemesis", "domain-destroy", {"fault_id": "f1"})
    fault.ok({"fault_id": "f1"})
    probe.sample()
    heal = h.invoke("nemesis", "heal", {"fault_id": "f1", "fault": "domain-destroy"})
    heal.ok({"fault_id": "f1"})
    assert [probe.sample() for _ in range(3)] == [None, 0, 0]
    result = storage_convergence(h.ops(), max_s=30)
    assert result.valid is Validity.VALID and result.counts["converged_s"] is not None


def test_bad_volume_names_are_refused() -> None:
    with pytest.raises(ProbeError, match="must be a plain name"):
        HealBacklogProbe(HistoryRecorder(), {"fs1": FakeTransport("fs1")}, "vol; rm -rf /", max_count=1,
                         max_duration_s=1)


def test_acknowledged_uploads_are_the_ok_ones_in_order() -> None:
    h = HistoryRecorder()
    for n, outcome in enumerate(("ok", "info", "fail", "ok")):
        op = h.invoke("locust-student001", "upload", {"user": "student001", "path": f"filedir/aa/bb/{n}"})
        getattr(op, outcome)(200)
    post = h.invoke("locust-student001", "post", {"user": "student001", "key": "k"})
    post.ok(200)
    assert acknowledged_uploads(h.ops()) == ["filedir/aa/bb/0", "filedir/aa/bb/3"]
