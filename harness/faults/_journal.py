"""The fault journal: written (and fsynced) *before* a fault touches a host.

If the run dies at any point (exception, Ctrl-C, SIGKILL of pytest, the supervisor reboots),
``journal.jsonl`` in the run directory still says which faults may be in force, with enough
to rebuild and heal them (`harness heal`). One JSON object a line:

``{"fault_id": "f3", "name": "partition", "params": {...}, "targets": [...],
   "state": "injecting", "time": 1764030000.1, "cluster_file": "/path/cluster.yml",
   "runtime": {...}}``

States: ``injecting`` (before the first command), ``injected``, ``healed``. The last record of
a fault id wins; a fault is pending until a ``healed`` record follows.

The run's child processes on this machine (Locust) are journaled here too, so `harness heal`
after a crash finds a survivor: ``{"kind": "child", "child_id": "c1", "name": "locust",
"state": "running", "pid": ..., "start_time": ..., "boot_id": ..., "pgid": ..., "command":
[...], "time": ...}``; a ``stopped`` (or ``gone``) record of the same id closes it
(harness.faults._children). Fault readers never see these records.

Reading never gives up on the whole file for one bad line: a line that is not UTF-8, not
JSON, or not a fault record is skipped and reported (:class:`JournalProblem`: line number and
why), so every readable record can still be healed; ``harness heal`` prints the problems and
exits 1. Only a file with no readable record and some bad line is refused as a whole.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FaultError
from ..history import NEMESIS
from ._registry import get_fault
from .base import error_text

if TYPE_CHECKING:
    from ..cluster import Cluster
    from ..history import HistoryRecorder
    from .base import Fault

JOURNAL_FILE = "journal.jsonl"
STATES: frozenset[str] = frozenset({"injecting", "injected", "healed"})
#: a child process record (``"kind": "child"``): running, then stopped (normal end or heal)
#: or gone (heal found it dead, or its pid held by another process)
CHILD = "child"
CHILD_STATES: frozenset[str] = frozenset({"running", "stopped", "gone"})


class Journal:
    """Append-only, fsynced JSONL journal of fault states in ``run_dir/journal.jsonl``."""

    def __init__(self, run_dir: str | Path, *, cluster_file: str | None = None) -> None:
        path = Path(run_dir)
        if path.name == JOURNAL_FILE:
            path = path.parent
        self.run_dir = path
        self.path = path / JOURNAL_FILE
        self.cluster_file = cluster_file
        self._lock = threading.Lock()

    # ---- writing ------------------------------------------------------------------------
    def new_id(self) -> str:
        """A fault id unused in this journal (``f1``, ``f2``, ...; continues after a crash)."""
        with self._lock:
            highest = 0
            for rec in self._read():
                fid = str(rec.get("fault_id", ""))
                if fid.startswith("f") and fid[1:].isdigit():
                    highest = max(highest, int(fid[1:]))
            return f"f{highest + 1}"

    def write(self, fault_id: str, fault: Fault | dict[str, Any], state: str, **extra: Any) -> dict[str, Any]:
        """Append one record and fsync it before returning (the point of a journal)."""
        if state not in STATES:
            raise FaultError(f"journal {self.path}: state must be one of {sorted(STATES)}, not {state!r}")
        desc = fault if isinstance(fault, dict) else fault.describe()
        record: dict[str, Any] = {
            "fault_id": fault_id,
            "name": desc["name"],
            "params": desc.get("params", {}),
            "targets": desc.get("targets", []),
            "state": state,
            "time": time.time(),
            "cluster_file": desc.get("cluster_file", self.cluster_file),
            "runtime": desc.get("runtime", {}),
        }
        record.update(extra)
        self._append(record)
        return record

    def new_child_id(self) -> str:
        """A child id unused in this journal (``c1``, ``c2``, ...)."""
        with self._lock:
            highest = 0
            for rec in self._scan()[0]:
                cid = str(rec.get("child_id", "")) if rec.get("kind") == CHILD else ""
                if cid.startswith("c") and cid[1:].isdigit():
                    highest = max(highest, int(cid[1:]))
            return f"c{highest + 1}"

    def write_child(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append one child record (harness.faults._children.child_record) and fsync it."""
        rec = {**record, "kind": CHILD, "time": time.time()}
        problem = _child_problem(rec)
        if problem is not None:
            raise FaultError(f"journal {self.path}: bad child record: {problem}")
        self._append(rec)
        return rec

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str) + "\n"
        with self._lock:
            new_dir = not self.run_dir.exists()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            new_file = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                data = line.encode("utf-8")
                if _ends_torn(fd):  # a crash cut the last write short: start a line of our own
                    data = b"\n" + data
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if new_file or new_dir:
                _fsync_dir(self.run_dir)

    # ---- reading ------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Every record in file order."""
        with self._lock:
            return self._read()

    def latest(self) -> dict[str, dict[str, Any]]:
        """fault_id -> its newest record (runtime facts carried over from earlier records)."""
        out: dict[str, dict[str, Any]] = {}
        for rec in self.records():
            fid = rec.get("fault_id")
            if not isinstance(fid, str):
                continue
            prev = out.get(fid)
            merged = dict(rec)
            if prev is not None:
                runtime = dict(prev.get("runtime") or {})
                runtime.update(rec.get("runtime") or {})
                merged["runtime"] = runtime
                if not merged.get("cluster_file"):
                    merged["cluster_file"] = prev.get("cluster_file")
            out[fid] = merged
        return out

    def pending(self) -> list[dict[str, Any]]:
        """Faults not healed, in the order they were first journaled."""
        return [rec for rec in self.latest().values() if rec.get("state") != "healed"]

    def children(self) -> list[dict[str, Any]]:
        """Every child record in file order."""
        with self._lock:
            return [rec for rec in self._scan()[0] if rec.get("kind") == CHILD]

    def pending_children(self) -> list[dict[str, Any]]:
        """Children whose newest record says running, in the order they were started."""
        latest: dict[str, dict[str, Any]] = {}
        for rec in self.children():
            latest[rec["child_id"]] = rec
        return [rec for rec in latest.values() if rec["state"] == "running"]

    def problems(self) -> list[JournalProblem]:
        """The lines that are not readable fault records (skipped by every other reader)."""
        with self._lock:
            return self._scan()[1]

    def _read(self) -> list[dict[str, Any]]:
        """The fault records (child records apart)."""
        return [rec for rec in self._scan()[0] if rec.get("kind") != CHILD]

    def _scan(self) -> tuple[list[dict[str, Any]], list[JournalProblem]]:
        """Readable records and problem lines; FaultError naming the file when it cannot be
        opened, or when no line at all is a record (not a journal: binary, another format)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            raise FaultError(f"journal {self.path}: cannot read: {exc.strerror or exc}") from exc
        out: list[dict[str, Any]] = []
        problems: list[JournalProblem] = []
        lines = data.splitlines(keepends=True)
        for lineno, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            parsed = _parse_line(raw, last=lineno == len(lines))
            if isinstance(parsed, str):
                problems.append(JournalProblem(self.path, lineno, parsed))
            else:
                out.append(parsed)
        if problems and not out:
            first = problems[0]
            raise FaultError(f"journal {self.path}: not a fault journal: no line is a readable record "
                             f"(line {first.line}: {first.reason})")
        return out, problems

    def __repr__(self) -> str:
        return f"Journal({str(self.run_dir)!r})"


def _ends_torn(fd: int) -> bool:
    """True when the file is not empty and its last byte is not a newline."""
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _fsync_dir(path: Path) -> None:
    """Make a newly created file's directory entry durable too."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class JournalProblem:
    """One line of a journal that could not be read as a fault record."""

    path: Path
    line: int
    reason: str

    def text(self) -> str:
        return f"{self.path}:{self.line}: unreadable record: {self.reason}"


def _parse_line(raw: bytes, *, last: bool) -> dict[str, Any] | str:
    """A fault record from one journal line, or why it is not one (pure)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or (last and not raw.endswith(b"\n")):
            return "cut short: the record ends mid-way (a write interrupted by a crash?)"
        return f"not JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return "not JSON: nested too deep"
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, not a record object"
    if rec.get("kind") == CHILD:
        return _child_problem(rec) or rec
    for key, kind, what in (("fault_id", str, "a string"), ("name", str, "a string"), ("state", str, "a string")):
        if not isinstance(rec.get(key), kind) or not rec[key]:
            return f"{key!r} must be {what}, not {rec.get(key)!r}"
    if rec["state"] not in STATES:
        return f"state {rec['state']!r} is not one of {', '.join(sorted(STATES))}"
    for key, kinds, what in (("params", (dict,), "an object"), ("runtime", (dict,), "an object"),
                             ("targets", (list,), "a list")):
        if rec.get(key) is not None and not isinstance(rec[key], kinds):
            return f"{key!r} must be {what}, not {rec[key]!r}"
    if not all(isinstance(t, str) for t in rec.get("targets") or []):
        return f"'targets' must hold host names, not {rec['targets']!r}"
    return rec


def _child_problem(rec: dict[str, Any]) -> str | None:
    """Why a ``"kind": "child"`` record is not one, or None (pure)."""
    for key in ("child_id", "name", "state"):
        if not isinstance(rec.get(key), str) or not rec[key]:
            return f"child {key!r} must be a string, not {rec.get(key)!r}"
    if rec["state"] not in CHILD_STATES:
        return f"child state {rec['state']!r} is not one of {', '.join(sorted(CHILD_STATES))}"
    pid = rec.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid < 2:  # 0 is our own group, 1 init
        return f"child 'pid' must be a process id above 1, not {pid!r}"
    for key in ("start_time", "pgid"):
        value = rec.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return f"child {key!r} must be a whole number, not {value!r}"
    if not isinstance(rec.get("command"), list) or not all(isinstance(a, str) for a in rec["command"]):
        return f"child 'command' must be a list of strings, not {rec.get('command')!r}"
    if rec.get("boot_id") is not None and not isinstance(rec["boot_id"], str):
        return f"child 'boot_id' must be a string, not {rec['boot_id']!r}"
    return None


@dataclass(frozen=True)
class HealOutcome:
    """What `heal_journal` did for one pending fault."""

    fault_id: str
    name: str
    targets: list[str]
    healed: bool
    error: str | None = None

    def line(self) -> str:
        result = "healed" if self.healed else f"FAILED: {self.error}"
        return f"{self.fault_id} {self.name} on {', '.join(self.targets) or '-'}: {result}"


def heal_journal(journal: Journal, cluster: Cluster, *, history: HistoryRecorder | None = None) -> list[HealOutcome]:
    """Heal every fault ``journal`` lists as pending (newest first); never raises for a
    failed heal, it is reported in the outcome (and the fault stays pending).

    ``history``, when given, receives the ``nemesis``/``heal`` operations like a live run's.
    """
    outcomes: list[HealOutcome] = []
    for rec in reversed(journal.pending()):
        fid = str(rec.get("fault_id"))
        name = str(rec.get("name"))
        targets = [str(t) for t in rec.get("targets") or []]
        op = history.invoke(NEMESIS, "heal", {"fault_id": fid, "fault": name}) if history else None
        try:
            fault = get_fault(name).from_journal(cluster, rec)
            fault.heal()
        except Exception as exc:
            text = error_text(exc)
            if op is not None:
                op.info({"fault_id": fid}, error=text)
            outcomes.append(HealOutcome(fid, name, targets, False, text))
            continue
        journal.write(fid, fault, "healed", healed_by="harness heal")
        if op is not None:
            op.ok({"fault_id": fid})
        outcomes.append(HealOutcome(fid, name, targets, True))
    return outcomes
