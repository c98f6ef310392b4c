"""Journals heal every readable record and report the unreadable ones (line number and why).

`harness heal` exit codes: 0 all healed, 1 a heal failed or a line is unreadable, 2 bad usage
or a journal that cannot be read at all (one line naming the file, no traceback).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import cli
from harness.cluster import Cluster
from harness.errors import FaultError
from harness.faults import Journal, Nemesis, _children, _cli, child_record
from harness.history import HistoryRecorder
from harness.inventory._model import Host, Inventory
from harness.testing import FakeCluster

CLUSTER_YML = """\
name: t
hosts:
  dir1: {address: 198.18.0.11, roles: [director]}
  web1: {address: 198.18.0.21, roles: [web]}
  web2: {address: 198.18.0.22, roles: [web]}
"""


def record(fid: str, host: str, state: str = "injecting", **extra: object) -> dict[str, object]:
    return {"fault_id": fid, "name": "link-down", "params": {"host": host, "interface": "eth0"},
            "targets": [host], "state": state, "time": 1.0, "cluster_file": None, "runtime": {}, **extra}


def line(rec: dict[str, object]) -> bytes:
    return (json.dumps(rec) + "\n").encode()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCluster:
    f = FakeCluster()
    monkeypatch.setattr(_cli, "TRANSPORT_FACTORY", lambda host: f(host.name))
    return f


def run_dir(tmp_path: Path, *chunks: bytes) -> Path:
    (tmp_path / "cluster.yml").write_text(CLUSTER_YML)
    run = tmp_path / "run"
    run.mkdir()
    (run / "journal.jsonl").write_bytes(b"".join(chunks))
    return run


def heal(tmp_path: Path, run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["heal", "--journal", str(run), "--cluster", str(tmp_path / "cluster.yml")])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_corrupt_line_in_the_middle_no_longer_blocks_the_others(
    tmp_path: Path, fake: FakeCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_dir(tmp_path, line(record("f1", "web1")), b'{"fault_id": "f2", oops}\n', line(record("f3", "web2")))
    code, out, err = heal(tmp_path, run, capsys)
    assert code == 1
    assert fake("web1").commands == ["ip link set eth0 up"] and fake("web2").commands == ["ip link set eth0 up"]
    assert "f1 link-down on web1: healed" in out and "f3 link-down on web2: healed" in out
    assert f"{run / 'journal.jsonl'}:2: unreadable record: not JSON: Expecting property name enclosed in " \
           "double quotes (column 20)" in out
    assert "1 journal line(s) unreadable" in err and "Traceback" not in out + err


def test_a_line_that_is_not_utf8_is_reported_with_its_byte(
    tmp_path: Path, fake: FakeCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_dir(tmp_path, line(record("f1", "web1")), b'{"fault_id": "f2\xff"}\n')
    code, out, _ = heal(tmp_path, run, capsys)
    assert code == 1 and fake("web1").commands == ["ip link set eth0 up"]
    assert "journal.jsonl:2: unreadable record: not UTF-8 (byte 0xff at column 17)" in out


def test_a_truncated_last_line_is_reported_as_cut_short_and_the_rest_healed(
    tmp_path: Path, fake: FakeCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_dir(tmp_path, line(record("f1", "web1")), b'{"fault_id": "f2", "na')
    code, out, _ = heal(tmp_path, run, capsys)
    assert code == 1 and fake("web1").commands == ["ip link set eth0 up"]
    assert "journal.jsonl:2: unreadable record: cut short: the record ends mid-way" in out
    # the heal's own record starts a new line: it is not glued onto the torn one
    j = Journal(run)
    assert [r["state"] for r in j.records()] == ["injecting", "healed"]
    assert [(p.line, p.reason.split(":")[0]) for p in j.problems()] == [(2, "cut short")]
    assert j.pending() == []


def test_write_after_a_torn_tail_starts_its_own_line(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.path.write_bytes(b'{"fault_id": "f1", "name": "link-')
    j.write("f2", record("f2", "web1"), "injecting")
    assert j.path.read_bytes().startswith(b'{"fault_id": "f1", "name": "link-\n{"fault_id": "f2"')
    assert [r["fault_id"] for r in j.pending()] == ["f2"]
    assert [p.line for p in j.problems()] == [1]


@pytest.mark.parametrize(("bad", "why"), [
    (b'["f2", "link-down"]\n', "a JSON list, not a record object"),
    (b'{"name": "link-down", "state": "injected"}\n', "'fault_id' must be a string, not None"),
    (b'{"fault_id": "f2", "state": "injected"}\n', "'name' must be a string, not None"),
    (json.dumps(record("f2", "web2", state="frozen")).encode() + b"\n",
     "state 'frozen' is not one of healed, injected, injecting"),
    (json.dumps({**record("f2", "web2"), "params": ["web2"]}).encode() + b"\n", "'params' must be an object"),
    (json.dumps({**record("f2", "web2"), "targets": "web2"}).encode() + b"\n", "'targets' must be a list"),
    (json.dumps({**record("f2", "web2"), "targets": [2]}).encode() + b"\n", "'targets' must hold host names"),
    (json.dumps({**record("f2", "web2"), "runtime": 5}).encode() + b"\n", "'runtime' must be an object"),
    (b"[" * 100000 + b"\n", "not JSON"),
])
def test_lines_that_are_json_but_not_a_fault_record_are_reported(
    tmp_path: Path, fake: FakeCluster, capsys: pytest.CaptureFixture[str], bad: bytes, why: str
) -> None:
    run = run_dir(tmp_path, line(record("f1", "web1")), bad)
    code, out, _ = heal(tmp_path, run, capsys)
    assert code == 1 and "f1 link-down on web1: healed" in out
    assert f"journal.jsonl:2: unreadable record: {why}" in out


def test_nothing_pending_but_unreadable_lines_still_exits_1(
    tmp_path: Path, fake: FakeCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_dir(tmp_path, line(record("f1", "web1", "healed")), b"garbage\n")
    code, out, _ = heal(tmp_path, run, capsys)
    assert code == 1 and fake.transports == {}
    assert "nothing to heal among the readable records" in out and "journal.jsonl:2: unreadable" in out


def test_a_clean_journal_still_exits_0(tmp_path: Path, fake: FakeCluster, capsys: pytest.CaptureFixture[str]) -> None:
    run = run_dir(tmp_path, line(record("f1", "web1")))
    assert heal(tmp_path, run, capsys)[0] == 0
    assert heal(tmp_path, run, capsys)[:2] == (0, f"{run / 'journal.jsonl'}: nothing to heal\n")


@pytest.mark.parametrize("content", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",  # not UTF-8 at all
    b'{"outcome": "passed", "checks": []}\n',  # JSON, but a result.json
    b"name: t\nhosts: {}\n",  # YAML
])
def test_a_file_that_is_no_journal_at_all_is_one_line_naming_it_exit_2(
    tmp_path: Path, fake: FakeCluster, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    run = run_dir(tmp_path, content)
    code, out, err = heal(tmp_path, run, capsys)
    assert code == 2 and out == "" and fake.transports == {}
    assert err.startswith(f"harness: error: journal {run / 'journal.jsonl'}: not a fault journal: "
                          "no line is a readable record (line 1: ")
    assert len(err.splitlines()) == 1


def test_an_unreadable_journal_dir_or_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["heal", "--journal", str(tmp_path / "nope")]) == 2
    assert "no journal.jsonl here" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "journal.jsonl").mkdir()  # a directory where the file should be
    assert cli.main(["heal", "--journal", str(tmp_path / "run")]) == 2


def test_nemesis_heal_all_heals_the_readable_and_raises_for_the_unreadable(tmp_path: Path) -> None:
    fake = FakeCluster()
    (tmp_path / "journal.jsonl").write_bytes(line(record("f1", "web1")) + b"\xff\xfe\n" + line(record("f2", "web2")))
    inv = Inventory(name="t", hosts={n: Host(n, a, ("web",)) for n, a in
                                     (("web1", "198.18.0.21"), ("web2", "198.18.0.22"))})
    n = Nemesis(Cluster(inv, transport_factory=lambda host: fake(host.name)), HistoryRecorder(), Journal(tmp_path))
    with pytest.raises(FaultError, match=r"journal.jsonl:2: unreadable record: not UTF-8 \(byte 0xff at column 1\)"):
        n.heal_all()
    assert fake("web1").commands == ["ip link set eth0 up"] and fake("web2").commands == ["ip link set eth0 up"]
    assert Journal(tmp_path).pending() == []


def test_the_default_search_skips_a_directory_it_cannot_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "reports" / "run-2"
    good.mkdir(parents=True)
    (good / "journal.jsonl").write_bytes(line(record("f1", "web1")))
    locked = tmp_path / "reports" / "run-1"
    locked.mkdir()
    real = Path.iterdir

    def iterdir(self: Path) -> Iterator[Path]:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    assert _cli.newest_journal_dir(tmp_path / "reports") == good


# ---- child processes (Locust) journaled by the run, stopped by `harness heal` ---------------
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)"]


@pytest.fixture
def survivors() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Children a test starts as stand-ins for a crashed run's Locust; killed and reaped after."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def journal_child(run: Path, proc: subprocess.Popen[bytes], **override: object) -> Journal:
    journal = Journal(run)
    journal.write_child({**child_record(journal.new_child_id(), "locust", proc.pid, proc.args), **override})  # type: ignore[arg-type]
    return journal


def heal_only(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`harness heal` with no cluster file: stopping children needs none."""
    code = cli.main(["heal", "--journal", str(run)])
    out, err = capsys.readouterr()
    return code, out, err


def test_heal_stops_a_journaled_survivor_and_closes_its_record(
    tmp_path: Path, survivors: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    proc = subprocess.Popen(SLEEPER, start_new_session=True)  # as Locust: it leads its own group
    survivors.append(proc)
    journal_child(tmp_path, proc)
    code, out, _ = heal_only(tmp_path, capsys)
    assert code == 0
    assert f"  c1 locust pid {proc.pid}: stopped by SIGTERM to its process group\n" in out
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert Journal(tmp_path).pending_children() == []
    assert Journal(tmp_path).children()[-1]["stopped_by"] == "harness heal"
    assert heal_only(tmp_path, capsys)[:2] == (0, f"{tmp_path / 'journal.jsonl'}: nothing to heal\n")


def test_heal_kills_a_survivor_that_ignores_sigterm_after_a_bounded_wait(
    tmp_path: Path, survivors: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_children, "TERM_WAIT_S", 0.3)
    proc = subprocess.Popen(STUBBORN, stdout=subprocess.PIPE)
    survivors.append(proc)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"  # SIGTERM is ignored now
    journal_child(tmp_path, proc)
    t0 = time.monotonic()
    code, out, _ = heal_only(tmp_path, capsys)
    assert code == 0 and f"pid {proc.pid}: killed by SIGKILL after 0.3s of SIGTERM" in out
    assert proc.wait(timeout=5) == -signal.SIGKILL and time.monotonic() - t0 < 5


def test_heal_leaves_a_reused_pid_alone_and_says_so(
    tmp_path: Path, survivors: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    proc = subprocess.Popen(SLEEPER)  # holds the pid the journal names, but is not that process
    survivors.append(proc)
    real = _children.read_stat(proc.pid)
    assert real is not None
    journal_child(tmp_path, proc, start_time=real.starttime - 1)
    code, out, _ = heal_only(tmp_path, capsys)
    assert code == 0
    assert (f"c1 locust pid {proc.pid}: pid {proc.pid} is another process now (started at tick "
            f"{real.starttime}, the journaled one at {real.starttime - 1}): left alone") in out
    assert proc.poll() is None  # not signalled
    assert Journal(tmp_path).children()[-1]["state"] == "gone"


def test_a_child_already_gone_or_from_another_boot_is_not_signalled(
    tmp_path: Path, survivors: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    journal_child(tmp_path, done)
    done.wait(timeout=10)  # reaped: its pid is free
    alive = subprocess.Popen(SLEEPER)
    survivors.append(alive)
    journal_child(tmp_path, alive, boot_id="00000000-0000-0000-0000-000000000000")
    code, out, _ = heal_only(tmp_path, capsys)
    assert code == 0 and f"c2 locust pid {alive.pid}: gone: the machine rebooted since it started" in out
    assert f"c1 locust pid {done.pid}: already gone" in out or f"c1 locust pid {done.pid}: pid {done.pid} is another" in out
    assert alive.poll() is None and Journal(tmp_path).pending_children() == []


def test_child_records_are_no_fault_records_and_a_bad_one_is_reported_with_its_line(
    tmp_path: Path, fake: FakeCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {"kind": "child", "child_id": "c1", "name": "locust", "state": "running", "pid": 0, "command": []}
    run = run_dir(tmp_path, line(record("f1", "web1")), line(bad))
    assert [r["fault_id"] for r in Journal(run).pending()] == ["f1"] and Journal(run).pending_children() == []
    code, out, _ = heal(tmp_path, run, capsys)
    assert code == 1 and fake("web1").commands == ["ip link set eth0 up"]
    assert "journal.jsonl:2: unreadable record: child 'pid' must be a process id above 1, not 0" in out
    with pytest.raises(FaultError, match="bad child record: child state 'lost' is not one of gone, running, stopped"):
        Journal(run).write_child({**bad, "pid": 1234, "state": "lost"})
