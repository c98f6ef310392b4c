"""The run's single history: every client operation and every fault, in recorded order.

Modelled on Jepsen: an operation is an ``invoke`` followed by one completion by the same
process, typed ``ok`` (it happened), ``fail`` (it certainly did not) or ``info`` (unknown).
Faults are recorded by the ``nemesis`` process in the same history, so fault windows and
client outcomes share one clock. The file format is the contract in docs/history.md.
"""

from __future__ import annotations

import gc
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from ._secrets import add_env_secrets, dumps_scrubbed
from .errors import HistoryError

_loads: Callable[[bytes], Any]  # both accept bytes (json.loads detects UTF-8)
_DecodeError: type[ValueError]
try:  # orjson parses ~4x faster: a day-long soak history is millions of lines
    from orjson import JSONDecodeError as _OrjsonDecodeError
    from orjson import loads as _orjson_loads

    _loads, _DecodeError = _orjson_loads, _OrjsonDecodeError
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _loads, _DecodeError = json.loads, json.JSONDecodeError

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: frozenset[str] = frozenset({"invoke", "ok", "fail", "info"})
COMPLETIONS: frozenset[str] = frozenset({"ok", "fail", "info"})
NEMESIS = "nemesis"
#: fields the scrubber leaves alone in history.jsonl: ops are paired and judged by them
_STRUCTURE: frozenset[str] = frozenset({"index", "time", "process", "type", "f"})


@dataclass(frozen=True, slots=True)
class Op:
    """One line of the history."""

    index: int
    time: float
    process: str
    type: str
    f: str
    value: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "value": self.value,
        }
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Op:
        known = ("index", "time", "process", "type", "f", "value")
        extra = {k: v for k, v in d.items() if k not in known}
        return cls(
            index=d["index"],
            time=d["time"],
            process=d["process"],
            type=d["type"],
            f=d["f"],
            value=d.get("value"),
            extra=extra,
        )


class OpenOperation:
    """Handle for an invoked operation; complete it exactly once."""

    def __init__(self, recorder: HistoryRecorder, invocation: Op) -> None:
        self.recorder = recorder
        self.invocation = invocation
        self.completion: Op | None = None

    def ok(self, value: Any = None, **extra: Any) -> Op:
        return self._complete("ok", value, extra)

    def fail(self, value: Any = None, **extra: Any) -> Op:
        return self._complete("fail", value, extra)

    def info(self, value: Any = None, **extra: Any) -> Op:
        return self._complete("info", value, extra)

    def _complete(self, type_: str, value: Any, extra: dict[str, Any]) -> Op:
        if self.completion is not None:
            raise HistoryError(
                f"operation {self.invocation.index} of {self.invocation.process!r} completed twice"
            )
        self.completion = self.recorder.complete(self.invocation.process, type_, value, **extra)
        return self.completion


class HistoryRecorder:
    """Thread-safe, append-only recorder; optionally streams each op to a JSONL file.

    Streaming (line-buffered) means a crashed run still leaves a readable history. Each line
    is scrubbed of secrets as it is written (harness._secrets; the values of secret-named
    environment variables are registered when the file is opened); the ops kept in memory
    are not, so checkers see what happened and the file never holds a password.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        clock: Any = time.monotonic,
        keep_in_memory: bool = True,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._t0 = clock()
        self._ops: list[Op] = []
        self._keep = keep_in_memory
        self._open: dict[str, Op] = {}
        self._next_index = 0
        self.path = Path(path) if path is not None else None
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            add_env_secrets()
            self._file = open(self.path, "a", buffering=1, encoding="utf-8")

    @property
    def started_at(self) -> float:
        """The clock reading that is time 0 of this history."""
        return self._t0

    def now(self) -> float:
        """Seconds since the run started, on the history's clock."""
        return self._clock() - self._t0

    def _append(self, process: str, type_: str, f: str, value: Any, extra: dict[str, Any]) -> Op:
        # caller holds the lock
        op = Op(self._next_index, round(self.now(), 6), process, type_, f, value, extra)
        self._next_index += 1
        if self._keep:
            self._ops.append(op)
        if self._file is not None:
            self._file.write(dumps_scrubbed(op.to_dict(), keep=_STRUCTURE) + "\n")
        return op

    def invoke(self, process: str, f: str, value: Any = None, **extra: Any) -> OpenOperation:
        """Record an invocation; returns a handle to complete it."""
        with self._lock:
            if process in self._open:
                open_op = self._open[process]
                raise HistoryError(
                    f"process {process!r} invoked {f!r} while operation {open_op.index} "
                    f"({open_op.f!r}) is still open"
                )
            op = self._append(process, "invoke", f, value, extra)
            self._open[process] = op
        return OpenOperation(self, op)

    def complete(self, process: str, type_: str, value: Any = None, **extra: Any) -> Op:
        """Record the completion of ``process``'s open operation."""
        if type_ not in COMPLETIONS:
            raise HistoryError(f"completion type must be one of {sorted(COMPLETIONS)}, not {type_!r}")
        with self._lock:
            inv = self._open.pop(process, None)
            if inv is None:
                raise HistoryError(f"process {process!r} has no open operation to complete")
            return self._append(process, type_, inv.f, value, extra)

    @contextmanager
    def operation(self, process: str, f: str, value: Any = None, **extra: Any) -> Iterator[OpenOperation]:
        """Invoke; the body completes it. An exception, or no completion, records ``info``."""
        handle = self.invoke(process, f, value, **extra)
        try:
            yield handle
        except BaseException as exc:
            if handle.completion is None:
                handle.info(error=f"{type(exc).__name__}: {exc}")
            raise
        else:
            if handle.completion is None:
                handle.info(error="not completed")

    def record(self, process: str, f: str, type_: str, value: Any = None, **extra: Any) -> Op:
        """Record an invocation and its completion at once (for samples timed elsewhere)."""
        with self._lock:
            self._append(process, "invoke", f, extra.pop("invoke_value", None), {})
            return self._append(process, type_, f, value, extra)

    def ops(self) -> list[Op]:
        """A snapshot of the ops recorded so far (empty when not kept in memory)."""
        with self._lock:
            return list(self._ops)

    def open_processes(self) -> dict[str, Op]:
        with self._lock:
            return dict(self._open)

    def close(self) -> None:
        """Complete still-open operations as ``info`` and close the file."""
        with self._lock:
            for process in list(self._open):
                inv = self._open.pop(process)
                self._append(process, "info", inv.f, None, {"error": "history closed while open"})
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> HistoryRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_history(ops: Iterable[Op | dict[str, Any]], path: str | Path) -> None:
    """Write ops as JSONL (used by tests and benchmarks)."""
    with open(path, "w", encoding="utf-8") as fh:
        for op in ops:
            d = op.to_dict() if isinstance(op, Op) else op
            fh.write(json.dumps(d, default=str) + "\n")


def load_history(path: str | Path) -> list[Op]:
    """Read a history.jsonl (or RUN_DIR/history.jsonl), checking each line against the contract.

    Kept tight (one json.loads and one Op per line): a 24-hour soak is millions of lines.
    """
    with _gc_paused():
        return list(iter_history(path))


def history_path(path: str | Path) -> Path:
    """``path`` itself, or ``path/history.jsonl`` for a directory. A run directory of a whole
    session (one folder per test) is named as such, with the test folders that hold one."""
    p = Path(path)
    if not p.is_dir():
        return p
    inner = p / "history.jsonl"
    if not inner.exists():
        tests = sorted(d.name for d in p.iterdir() if (d / "history.jsonl").is_file())
        if tests:
            shown = ", ".join(tests[:3]) + (f" (+{len(tests) - 3} more)" if len(tests) > 3 else "")
            raise HistoryError(f"{p}: no history.jsonl here; it is a session's run directory: give one test's folder, e.g. {shown}")
    return inner


def _bad_line(p: Path, lineno: int, line: bytes, exc: Exception, ended: bool | None = None) -> HistoryError:
    """The one error for a line that does not parse: not UTF-8, cut short, or not JSON.
    ``ended``: whether the line had its newline (None: look for it at the end of ``line``)."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as u:
        return HistoryError(f"{p}:{lineno}: not UTF-8 (byte 0x{line[u.start]:02x} at column {u.start + 1})")
    if not (line.endswith(b"\n") if ended is None else ended):  # only the last line can lack one
        return HistoryError(f"{p}:{lineno}: truncated: the last line has no end (the writer stopped mid-line?)")
    return HistoryError(f"{p}:{lineno}: not JSON: {exc}")


def _bad_field(p: Path, lineno: int, d: dict[str, Any]) -> HistoryError | None:
    """None if the fields every reader relies on have their types, else the error naming the
    first that does not (a bool is not a number here; NaN and infinity are not times)."""
    index, t = d["index"], d["time"]
    if type(index) is not int:
        return HistoryError(f"{p}:{lineno}: field 'index': {index!r} is not an integer")
    if type(t) not in (int, float) or not math.isfinite(t):
        return HistoryError(f"{p}:{lineno}: field 'time': {t!r} is not a finite number")
    for name in ("process", "f"):
        if type(d[name]) is not str:
            return HistoryError(f"{p}:{lineno}: field {name!r}: {d[name]!r} is not a string")
    return None


_KNOWN_FIELDS = frozenset({"index", "time", "process", "type", "f", "value"})


def parse_line(line: bytes, path: Path, lineno: int, *, ended: bool | None = None) -> Op | None:
    """One line of a history.jsonl as an :class:`Op`, checked against the contract (None for a
    blank line), else the one HistoryError naming ``path`` and ``lineno``: not UTF-8, cut short
    (no newline: ``ended`` False, or None and ``line`` not ending in one), not JSON, not an
    object, a field missing or of the wrong type, an unknown ``type``. The one line checker:
    :func:`iter_history` and the report's fast scan (harness.report._scan) both use it."""
    try:
        d = _loads(line)
    except (_DecodeError, UnicodeDecodeError) as exc:
        if not line.strip():
            return None
        raise _bad_line(path, lineno, line, exc, ended) from None
    try:
        type_ = d["type"]
        op = Op(d["index"], d["time"], d["process"], type_, d["f"], d.get("value"),
                {k: v for k, v in d.items() if k not in _KNOWN_FIELDS} if len(d) > 6 or "value" not in d else {})
        bad = _bad_field(path, lineno, d)
    except KeyError as exc:
        raise HistoryError(f"{path}:{lineno}: missing field {exc.args[0]!r}") from None
    except TypeError:
        raise HistoryError(f"{path}:{lineno}: not a JSON object") from None
    if bad is not None:
        raise bad
    if type_ not in OP_TYPES:
        raise HistoryError(f"{path}:{lineno}: field 'type': {type_!r} is not one of {sorted(OP_TYPES)}")
    return op


def iter_history(path: str | Path) -> Iterator[Op]:
    """The ops of a history.jsonl one at a time, checked like :func:`load_history`: memory stays
    flat however long the history (a soak of several days). Opening fails on the first ``next``.

    Every way a line can break the contract is one HistoryError naming the file and line
    (:func:`parse_line`). Lines are read as bytes, so bad bytes are found on their line."""
    p = history_path(path)
    try:
        fh = open(p, "rb")
    except OSError as exc:
        raise HistoryError(f"{p}: cannot read history: {exc.strerror}") from exc
    parse = parse_line
    with fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, 1):
                op = parse(line, p, lineno)
                if op is not None:
                    yield op
        except OSError as exc:  # e.g. EIO, or a directory where the file should be
            raise HistoryError(f"{p}:{lineno + 1}: cannot read history: {exc.strerror or exc}") from exc


class HistoryFile:
    """A history.jsonl read as a collection of ops that is streamed anew on every iteration.

    The checkers iterate a history several times but never index it, so they can run on a
    soak's file directly instead of on a list of millions of ops in memory (685 B each).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = history_path(path)
        if not self.path.is_file():
            raise HistoryError(f"{self.path}: no history file")

    def __iter__(self) -> Iterator[Op]:
        return iter_history(self.path)

    def __repr__(self) -> str:
        return f"HistoryFile({str(self.path)!r})"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC for a bulk load: a million new objects and no cycles among them, so
    it would walk the growing list again and again (a third of the load time for 1M ops) and
    free nothing. The caller's GC state comes back, whatever happens."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def pair_operations(ops: Iterable[Op]) -> Iterator[tuple[Op, Op | None]]:
    """Yield (invocation, completion) pairs in invocation order; completion None if never completed."""
    pending: list[list[Any]] = []  # [invocation, completion or None], in invocation order
    slots: dict[str, list[Any]] = {}  # process -> its open pair
    for op in ops:
        if op.type == "invoke":
            slot = [op, None]
            slots[op.process] = slot
            pending.append(slot)
        else:
            done = slots.pop(op.process, None)
            if done is not None:
                done[1] = op
    for inv, comp in pending:
        yield inv, comp
