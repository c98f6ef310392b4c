"""What the transactional probes (``txn.py``) share: sessions, bounds, the honest outcome.

See ``txn.py`` for the workloads and the history they write; here is the part that does not
depend on the workload: the session set-up (isolation level, ``wsrep_sync_wait``), one
operation's phases (connect, body, commit) and their classification, new process numbers
after an ``info``, and the final read of every node.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

import pymysql

from ..errors import ProbeError
from ..history import HistoryRecorder
from ..inventory._model import Inventory
from ._base import Schedule, call_guard
from .ledger import Ledger, _ms, _Stopped, classify_write_error

#: ``database.isolation`` spelling -> SQL
ISOLATION_LEVELS: dict[str, str] = {
    "read-committed": "READ COMMITTED",
    "repeatable-read": "REPEATABLE READ",
    "serializable": "SERIALIZABLE",
}


def classify_txn_error(exc: BaseException, *, phase: str, writes: bool) -> tuple[str, str]:
    """Completion type (``fail`` or ``info``) and error text for a failed transaction.

    ``phase`` is ``connect`` (opening the connection and setting the session up: nothing of
    the transaction was sent), ``body`` (START TRANSACTION and the statements, before COMMIT
    was handed to the driver) or ``commit``. ``writes`` is False for a read-only transaction.
    """
    if phase not in ("connect", "body", "commit"):
        raise ProbeError(f"classify_txn_error: phase {phase!r} is not connect, body or commit")
    if phase == "connect":
        return classify_write_error(exc, sent=False)
    text = f"{type(exc).__name__}: {exc}"
    if not writes:
        return "fail", f"read-only: {text}"
    if phase == "body":
        # no COMMIT reached the server: the transaction is rolled back (error packet, or the
        # connection this probe closes after any error); autocommit never applies inside it
        return "fail", f"before commit: {text}"
    kind, text = classify_write_error(exc, sent=True)
    return kind, f"commit: {text}"


class _TxnProbe(Ledger):
    """What both workloads share with the ledger: connections that stop() can cut, the count
    and time bounds, the schedule per worker. Subclasses implement ``_one(w, conn)``.

    A subclass of :class:`Ledger` only for its connection handling (``_connect`` polls the stop
    flag, ``_on_stop`` shuts in-flight sockets); the ledger's own table and reads are not used.
    """

    prefix = "txn"

    def __init__(self, history: HistoryRecorder, host: str, port: int, user: str, password: str | None,
                 database: str, *, targets: Mapping[str, tuple[str, int]] | None = None,
                 isolation: str | None = None, wsrep_sync_wait: int | None = None, **kwargs: Any) -> None:
        super().__init__(history, host, port, user, password, database, **kwargs)
        self.name = f"{self.prefix} ({host}:{port})" if not targets else f"{self.prefix} (multi-writer)"
        if isolation is not None and isolation not in ISOLATION_LEVELS:
            raise ProbeError(f"{self.name}: isolation {isolation!r} is not one of {', '.join(ISOLATION_LEVELS)}")
        if wsrep_sync_wait is not None and (isinstance(wsrep_sync_wait, bool) or not isinstance(wsrep_sync_wait, int)
                                            or not 0 <= wsrep_sync_wait <= 15):
            raise ProbeError(f"{self.name}: wsrep_sync_wait must be an integer 0..15, not {wsrep_sync_wait!r}")
        self.isolation = isolation
        self.wsrep_sync_wait = wsrep_sync_wait
        #: worker w writes to targets[w % len]: the VIP by default, every node with ``targets``
        self.targets: list[tuple[str | None, str, int]] = (
            [(name, h, p) for name, (h, p) in targets.items()] if targets else [(None, host, port)])
        #: process numbers: worker w starts as ``w``; a fresh one after each info and per final read
        self._next_process = self.workers

    @classmethod
    def for_inventory(cls, history: HistoryRecorder, inventory: Inventory, *, run_id: str,
                      vip: str = "db", multi_writer: bool = False, **kwargs: Any) -> Any:
        """Through the inventory's DB VIP, or (``multi_writer``) one client per db node."""
        v = inventory.vip(vip)
        db = inventory.database
        if multi_writer:
            kwargs["targets"] = {h.name: (h.address, db.port) for h in inventory.with_role("db")}
            kwargs.setdefault("workers", len(kwargs["targets"]))
        return cls(history, v.address, v.port, db.user, inventory.db_password(), db.name, run_id=run_id, **kwargs)

    # -- sessions ----------------------------------------------------------------------------
    def _session(self, w: int) -> tuple[pymysql.connections.Connection, str]:
        """A connection for worker ``w`` with the session set up; its node's name."""
        label, host, port = self.targets[w % len(self.targets)]
        conn = self._connect(host, port, register=w)
        try:
            with conn.cursor() as cur:
                if self.isolation is not None:
                    cur.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {ISOLATION_LEVELS[self.isolation]}")
                if self.wsrep_sync_wait is not None:
                    cur.execute(f"SET SESSION wsrep_sync_wait = {int(self.wsrep_sync_wait)}")
                cur.execute("SELECT @@hostname")
                row = cur.fetchone()
        except BaseException:
            with contextlib.suppress(pymysql.err.Error, OSError):
                conn.close()
            raise
        node = label or (str(row[0]) if row else host)
        return conn, node

    def ensure_table(self) -> None:
        try:
            conn = self._connect(self.host, self.port, honour_stop=False)
        except (pymysql.err.MySQLError, OSError) as exc:
            raise ProbeError(f"{self.name}: cannot connect to create table {self.table!r}: {exc}") from exc
        try:
            with conn.cursor() as cur:
                cur.execute(self._create_sql())
        except pymysql.err.MySQLError as exc:
            raise ProbeError(f"{self.name}: CREATE TABLE {self.table!r} failed: {exc}") from exc
        finally:
            conn.close()

    def _create_sql(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self) -> None:
        for _, host, _ in self.targets:
            call_guard(self.name, self.guard, host)
        call_guard(self.name, self.guard, self.host)
        self.ensure_table()

    # -- workers -----------------------------------------------------------------------------
    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        start = time.monotonic()
        return [(f"{self.prefix}-{w}", functools.partial(self._worker, w, start)) for w in range(self.workers)]

    def _worker(self, w: int, start: float) -> None:
        t_end = start + self.max_duration_s
        sched = Schedule(self.rate_hz / self.workers, start + w / self.rate_hz, t_end)
        state = _Session(process=w)
        try:
            while not self.stopping:
                due = self.next_slot(sched, t_end)
                if due is None:
                    break
                if not self._claim():
                    break
                sched.advance()
                self._attempt(w, state)
        finally:
            with self._count_lock:
                self.skipped += sched.skipped
            state.drop()
            self._inflight.pop(w, None)

    def _attempt(self, w: int, s: _Session) -> None:
        """One operation: invoke, run, complete; the session survives only an ``ok``/clean fail."""
        f, value, writes = self._next_op(w)
        op = self.history.invoke(f"{self.prefix}-{s.process}", f, value)
        t0 = time.monotonic()
        phase = "connect"
        try:
            if s.conn is None:
                s.conn, s.node = self._session(w)
            else:
                self._inflight[w] = s.conn._sock
            phase = "body"
            result, commit = self._body(s.conn, value)
            if commit:
                phase = "commit"
                s.conn.commit()  # COMMIT
            else:  # the body refused (insufficient funds): roll back, nothing was written
                phase = "rollback"
                with contextlib.suppress(pymysql.err.Error, OSError):
                    s.conn.rollback()
        except _Stopped as exc:
            self._count("fail")
            op.fail(value, latency_ms=_ms(t0), error=str(exc), node=s.node)
            s.drop()
            return
        except Exception as exc:  # noqa: BLE001 - every driver/socket error is classified
            kind, text = classify_txn_error(exc, phase=phase if phase != "rollback" else "body", writes=writes)
            if self.stopping and kind == "info":
                text = f"{self.prefix} stopped while in flight: {text}"
            self._count(kind)
            getattr(op, kind)(value, latency_ms=_ms(t0), error=text, node=s.node)
            s.drop()
            if kind == "info":
                s.process = self._new_process()  # Jepsen: an unknown outcome ends the process
            return
        except BaseException as exc:
            op.info(value, latency_ms=_ms(t0), error=f"{type(exc).__name__}: {exc}", node=s.node)
            s.drop()
            raise
        finally:
            self._inflight.pop(w, None)
        if phase == "rollback":
            self._count("fail")
            op.fail(value, latency_ms=_ms(t0), error=str(result), node=s.node)
            return
        self._count("ok")
        op.ok(result, latency_ms=_ms(t0), node=s.node)

    def _new_process(self) -> int:
        with self._count_lock:
            n = self._next_process
            self._next_process += 1
            return n

    def _next_op(self, w: int) -> tuple[str, Any, bool]:  # pragma: no cover - abstract
        """(f, invoke value, writes?) of the next operation of worker ``w``."""
        raise NotImplementedError

    def _body(self, conn: pymysql.connections.Connection, value: Any) -> tuple[Any, bool]:  # pragma: no cover
        """Run START TRANSACTION and the statements; (completion value, commit?)."""
        raise NotImplementedError

    # -- the ledger's reads do not apply -------------------------------------------------------
    def wait_for_convergence(self, nodes: Mapping[str, tuple[str, int]], *, timeout_s: float = 30.0,
                             interval_s: float = 0.5) -> bool:
        """True once every node answers the same, non-changing :meth:`snapshot` (bounded; not recorded)."""
        deadline = time.monotonic() + timeout_s
        previous: list[Any] | None = None
        while time.monotonic() < deadline:
            try:
                current = [self.snapshot(h, p) for h, p in nodes.values()]
            except (pymysql.err.MySQLError, OSError, _Stopped):
                current = None
            if current is not None and all(c == current[0] for c in current) and current == previous:
                return True
            previous = current
            time.sleep(interval_s)
        return False

    def snapshot(self, host: str, port: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read_conn(self, host: str, port: int) -> pymysql.connections.Connection:
        conn = self._connect(host, port, honour_stop=False)
        with conn.cursor() as cur:
            try:  # Galera: read only after this node applied everything it has received
                cur.execute("SET SESSION wsrep_sync_wait = 1")
            except pymysql.err.MySQLError as exc:
                if not (exc.args and exc.args[0] == 1193):  # unknown variable: not Galera
                    conn.close()
                    raise
        return conn

    def _final_op(self) -> tuple[str, Any]:  # pragma: no cover - abstract
        """(f, invoke value) of one node's final read."""
        raise NotImplementedError

    def _final_value(self, snap: Any) -> Any:  # pragma: no cover - abstract
        """The ``ok`` completion value of a final read from its :meth:`snapshot`."""
        raise NotImplementedError

    def final_read(self, nodes: Mapping[str, tuple[str, int]], *, wait_s: float = 30.0,
                   retry_interval_s: float = 0.5) -> dict[str, Any]:
        """One read-only transaction per node, directly (after the workers stopped).

        Recorded as an ordinary operation of the workload (list-append ``txn`` reading every
        key this run used, bank ``read``) by a fresh process with ``node`` set: the checker
        sees the state each node converged to, so an acknowledged write missing there shows.
        ``fail`` when the node never answered within ``wait_s`` (a read has no side effect).
        Returns node -> :meth:`snapshot` (None for a node that never answered).
        """
        results: dict[str, Any] = {}
        for name, (host, port) in nodes.items():
            f, value = self._final_op()
            op = self.history.invoke(f"{self.prefix}-{self._new_process()}", f, value, node=name)
            t0 = time.monotonic()
            deadline = t0 + wait_s
            last = "no attempt"
            while True:
                try:
                    snap = self.snapshot(host, port)
                except (pymysql.err.MySQLError, OSError, _Stopped) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    results[name] = snap
                    op.ok(self._final_value(snap), latency_ms=_ms(t0), node=name)
                    break
                if time.monotonic() + retry_interval_s >= deadline:
                    results[name] = None
                    op.fail(value, latency_ms=_ms(t0), node=name, error=f"no answer within {wait_s:g}s: {last}")
                    break
                time.sleep(retry_interval_s)
        return results


class _Session:
    """A worker's connection, the node it reached, and its current process number."""

    def __init__(self, process: int) -> None:
        self.process = process
        self.conn: pymysql.connections.Connection | None = None
        self.node: str | None = None

    def drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(pymysql.err.Error, OSError):  # already closed by the driver
                self.conn.close()
        self.conn = None
