"""Journals heal every readable record and report the unreadable ones (line number and why).

`harness heal` exit codes: 0 all healed, 1 a heal failed or a line is unreadable, 2 bad usage
or a journal that cannot be read at all (one line naming the file, no traceback).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import cli
from harness.cluster import Cluster
from harness.errors import FaultError
from harness.faults import Journal, Nemesis, _cli
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
