"""Nemesis, journal, registry and `harness heal`: records, heals always, crashed-run replay."""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

import pytest

from harness.cluster import Cluster
from harness.errors import FaultError, TransportError
from harness.faults import FAULTS, Journal, Nemesis, Terminated, _cli, get_fault, heal_journal
from harness.history import HistoryRecorder, load_history
from harness.inventory._model import Host, Inventory, Service
from harness.testing import FakeCluster

CLUSTER_YML = """\
name: t
hosts:
  dir1:
    address: 198.18.0.11
    roles: [director]
  dir2:
    address: 198.18.0.12
    roles: [director]
  web1:
    address: 198.18.0.21
    roles: [web]
    services:
      apache: {manager: sysv, name: apache2, process: apache2}
"""


def inventory() -> Inventory:
    return Inventory(name="t", hosts={
        "dir1": Host("dir1", "198.18.0.11", ("director",)),
        "dir2": Host("dir2", "198.18.0.12", ("director",)),
        "web1": Host("web1", "198.18.0.21", ("web",), services={
            "apache": Service("apache", "sysv", sysv_name="apache2", process="apache2")}),
    })


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def nemesis(fake: FakeCluster, tmp_path: Path) -> Nemesis:
    cluster = Cluster(inventory(), transport_factory=lambda host: fake(host.name))
    return Nemesis(cluster, HistoryRecorder(tmp_path / "history.jsonl"), Journal(tmp_path))


def ops(n: Nemesis) -> list[tuple[str, str, object]]:
    return [(o.type, o.f, o.value) for o in n.history.ops()]


def test_registry_lazy_and_unknown_name() -> None:
    assert "partition" in FAULTS and len(FAULTS) == 18
    assert get_fault("link-down").name == "link-down"
    with pytest.raises(FaultError, match=r"^Unknown fault 'x' \(known: bandwidth, blackhole, brick-kill, db-node-failure, .*stop-service\)$"):
        get_fault("x")
    assert FAULTS.get("x") is None


def test_every_fault_class_has_its_registered_name_and_summary() -> None:
    for name in FAULTS:
        cls = FAULTS[name]
        assert cls.name == name and cls.summary


def test_fault_context_records_invoke_ok_and_heal(nemesis: Nemesis, fake: FakeCluster, tmp_path: Path) -> None:
    with nemesis.fault("link-down", host="dir1", interface="eth1") as f:
        assert f.fault_id == "f1"
        assert fake("dir1").commands == ["ip link set eth1 down"]
    assert fake("dir1").commands[-1] == "ip link set eth1 up"
    assert ops(nemesis) == [
        ("invoke", "link-down", {"fault_id": "f1", "targets": ["dir1"], "host": "dir1",
                                 "interface": "eth1", "auto_heal_s": None}),
        ("ok", "link-down", {"fault_id": "f1"}),
        ("invoke", "heal", {"fault_id": "f1", "fault": "link-down"}),
        ("ok", "heal", {"fault_id": "f1"}),
    ]
    nemesis.history.close()
    on_disk = load_history(tmp_path / "history.jsonl")
    assert [o.process for o in on_disk] == ["nemesis"] * 4


def test_journal_written_before_inject_and_states(nemesis: Nemesis, fake: FakeCluster, tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def at_inject(line: str) -> tuple[int, str, str]:
        seen.append([json.loads(x)["state"] for x in (tmp_path / "journal.jsonl").read_text().splitlines()])
        return (0, "", "")

    fake("dir1").on(r"down$", at_inject)
    fid = nemesis.inject("link-down", host="dir1", interface="eth1")
    assert seen == [["injecting"]]  # on disk before the command ran
    nemesis.heal(fid)
    recs = [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert [r["state"] for r in recs] == ["injecting", "injected", "healed"]
    assert recs[0]["name"] == "link-down" and recs[0]["targets"] == ["dir1"]
    assert recs[0]["params"] == {"host": "dir1", "interface": "eth1", "auto_heal_s": None}
    assert {"fault_id", "time", "cluster_file"} <= set(recs[0])
    assert nemesis.journal.pending() == []


def test_keyboard_interrupt_inside_fault_heals_and_propagates(nemesis: Nemesis, fake: FakeCluster) -> None:
    with pytest.raises(KeyboardInterrupt):
        with nemesis.fault("partition", a=["dir1"], b=["dir2"]):
            raise KeyboardInterrupt
    for host in ("dir1", "dir2"):
        assert fake(host).commands[-1] == "nft 'add table inet harness_partition; delete table inet harness_partition'"
    assert [t for t, f, _ in ops(nemesis)] == ["invoke", "ok", "invoke", "ok"]
    assert nemesis.active == {} and nemesis.journal.pending() == []


def test_failing_assertion_inside_fault_still_heals(nemesis: Nemesis, fake: FakeCluster) -> None:
    with pytest.raises(AssertionError):
        with nemesis.fault("link-down", host="dir1", interface="eth1"):
            raise AssertionError("VIP lost")
    assert fake("dir1").commands[-1] == "ip link set eth1 up"


def test_failed_inject_is_recorded_and_partially_healed(nemesis: Nemesis, fake: FakeCluster) -> None:
    # dir1 blocked, then dir2 unreachable mid-inject: dir1 must be unblocked again
    fake("dir2").on(r"^nft 'add table inet harness_partition; delete table inet harness_partition; add",
                    TransportError("dir2", "connection reset"))
    with pytest.raises(TransportError):
        nemesis.inject("partition", a=["dir1"], b=["dir2"])
    assert fake("dir1").commands[-1] == "nft 'add table inet harness_partition; delete table inet harness_partition'"
    types = [(t, f) for t, f, _ in ops(nemesis)]
    assert types == [("invoke", "partition"), ("info", "partition"), ("invoke", "heal"), ("ok", "heal")]
    assert nemesis.history.ops()[1].extra["error"] == "dir2: connection reset"


def test_inject_failing_before_any_change_is_fail_and_not_pending(nemesis: Nemesis, fake: FakeCluster) -> None:
    fake("web1").on(r"^pidof", (1, "", ""))
    with pytest.raises(FaultError, match="no process 'apache2' running on host 'web1'"):
        nemesis.inject("kill-process", host="web1", process="apache")
    assert [(t, f) for t, f, _ in ops(nemesis)] == [("invoke", "kill-process"), ("fail", "kill-process")]
    assert nemesis.journal.pending() == []


def test_failed_heal_recorded_others_still_healed_one_error(nemesis: Nemesis, fake: FakeCluster) -> None:
    a = nemesis.inject("link-down", host="dir1", interface="eth1")
    b = nemesis.inject("link-down", host="dir2", interface="eth1")
    fake("dir2").on(r"up$", TransportError("dir2", "connection timed out"))
    with pytest.raises(FaultError, match=r"^1 heal\(s\) failed: f2 link-down \['dir2'\]: dir2: connection timed out$"):
        nemesis.heal_all()
    assert fake("dir1").commands[-1] == "ip link set eth1 up"  # healed although dir2 failed first
    heal_ops = [(o.type, o.value, o.extra.get("error")) for o in nemesis.history.ops() if o.f == "heal"]
    assert heal_ops == [
        ("invoke", {"fault_id": b, "fault": "link-down"}, None),
        ("info", {"fault_id": b}, "dir2: connection timed out"),
        ("invoke", {"fault_id": a, "fault": "link-down"}, None),
        ("ok", {"fault_id": a}, None),
    ]
    assert [r["fault_id"] for r in nemesis.journal.pending()] == [b]
    fake("dir2")._rules.clear()
    assert nemesis.heal_all() == [b]
    assert nemesis.heal_all() == []  # idempotent: nothing left, nothing recorded
    assert len([o for o in nemesis.history.ops() if o.f == "heal"]) == 6


def test_heal_all_at_setup_heals_what_an_earlier_run_journaled(fake: FakeCluster, tmp_path: Path) -> None:
    old = Journal(tmp_path)
    old.write("f1", {"name": "link-down", "params": {"host": "dir1", "interface": "eth1"}, "targets": ["dir1"]},
              "injecting")
    cluster = Cluster(inventory(), transport_factory=lambda host: fake(host.name))
    n = Nemesis(cluster, HistoryRecorder(), Journal(tmp_path))
    with n.running():
        assert fake("dir1").commands == ["ip link set eth1 up"]
        assert n.inject("link-down", host="dir2", interface="eth0") == "f2"  # ids continue
    assert fake("dir2").commands == ["ip link set eth0 down", "ip link set eth0 up"]


def test_sigterm_inside_running_heals_and_restores_handler(nemesis: Nemesis, fake: FakeCluster) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with nemesis.running():
            nemesis.inject("link-down", host="dir1", interface="eth1")
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100):  # the handler runs between bytecodes; bounded
                pass
    assert fake("dir1").commands[-1] == "ip link set eth1 up"
    assert signal.getsignal(signal.SIGTERM) is before


def test_journal_torn_last_line_is_ignored(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.write("f1", {"name": "freeze", "params": {}, "targets": ["web1"]}, "injecting")
    with open(j.path, "a") as fh:
        fh.write('{"fault_id": "f2", "na')
    assert [r["fault_id"] for r in j.pending()] == ["f1"]
    assert j.new_id() == "f2"


# ---- harness heal --------------------------------------------------------------------------
def crashed_run(tmp_path: Path) -> tuple[Path, Path]:
    cluster_file = tmp_path / "cluster.yml"
    cluster_file.write_text(CLUSTER_YML)
    run = tmp_path / "reports" / "run-1"
    j = Journal(run, cluster_file=str(cluster_file))
    j.write("f1", {"name": "partition", "params": {"a": ["dir1"], "b": ["dir2"]}, "targets": ["dir1", "dir2"]},
            "injecting")
    j.write("f2", {"name": "link-down", "params": {"host": "web1", "interface": "eth0"}, "targets": ["web1"]},
            "injecting")
    j.write("f2", {"name": "link-down", "params": {"host": "web1", "interface": "eth0"}, "targets": ["web1"]},
            "injected")
    j.write("f3", {"name": "link-down", "params": {"host": "dir1", "interface": "eth9"}, "targets": ["dir1"]},
            "healed")
    return run, cluster_file


def heal_args(**kw: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    _cli.register(parser.add_subparsers())
    argv = ["heal"] + [x for k, v in kw.items() for x in (f"--{k}", str(v))]
    return parser.parse_args(argv)


def test_harness_heal_replays_a_crashed_run(tmp_path: Path, fake: FakeCluster, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    run, _ = crashed_run(tmp_path)
    monkeypatch.setattr(_cli, "TRANSPORT_FACTORY", lambda host: fake(host.name))
    monkeypatch.chdir(tmp_path)  # default: newest run dir under ./reports
    args = heal_args()
    assert args.func(args) == 0
    assert fake("web1").commands == ["ip link set eth0 up"]
    assert fake("dir1").commands == ["command -v nft >/dev/null 2>&1",
                                     "nft 'add table inet harness_partition_probe; delete table inet harness_partition_probe'",
                                     "nft 'add table inet harness_partition; delete table inet harness_partition'"]
    assert "dir9" not in fake.transports and fake("dir1").commands[-1].startswith("nft")
    out = capsys.readouterr().out
    assert "f2 link-down on web1: healed" in out and "f1 partition on dir1, dir2: healed" in out
    assert out.index("f2 link-down") < out.index("f1 partition")  # newest first
    assert Journal(run).pending() == []
    assert args.func(args) == 0 and "nothing to heal" in capsys.readouterr().out


def test_harness_heal_exit_1_when_a_heal_fails(tmp_path: Path, fake: FakeCluster, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run, cluster_file = crashed_run(tmp_path)
    fake("web1").on(r"^ip link", TransportError("web1", "connection timed out"))
    monkeypatch.setattr(_cli, "TRANSPORT_FACTORY", lambda host: fake(host.name))
    args = heal_args(journal=run, cluster=cluster_file)
    assert args.func(args) == 1
    assert "f2 link-down on web1: FAILED: web1: connection timed out" in capsys.readouterr().out
    assert [r["fault_id"] for r in Journal(run).pending()] == ["f2"]


def test_heal_journal_records_into_a_history(tmp_path: Path, fake: FakeCluster) -> None:
    run, _ = crashed_run(tmp_path)
    cluster = Cluster(inventory(), transport_factory=lambda host: fake(host.name))
    h = HistoryRecorder()
    outcomes = heal_journal(Journal(run), cluster, history=h)
    assert [(o.fault_id, o.healed) for o in outcomes] == [("f2", True), ("f1", True)]
    assert [(o.type, o.f) for o in h.ops()] == [("invoke", "heal"), ("ok", "heal")] * 2


def test_harness_faults_lists_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.cmd_faults(argparse.Namespace()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 18 and lines[0].startswith("bandwidth ")
