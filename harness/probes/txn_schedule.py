"""Deterministic isolation schedules: transactions interleaved step by step, recorded as
list-append transactions (Hermitage's way of testing isolation, judged by Elle's checker).

A workload finds an anomaly only when two transactions happen to overlap the wrong way;
whether they do in a 30 s run is chance (at MariaDB's defaults the acceptance runs saw
G-single in one run of three). A schedule forces the overlap, so the same history comes out
every time the database behaves the same. :data:`LOST_UPDATE` (Adya's P4):

    T0: begin; append(k, 1); commit               (the key exists: its row can be locked)
    T1: begin; r(k)
    T2: begin; r(k)
    T1: append(k, 2); commit
    T2: append(k, 3); commit
    T3: begin; r(k); commit                       (the version order: [1 2 3])

Where a plain read takes no lock (MariaDB's REPEATABLE READ and READ COMMITTED) both commit:
both read [1] and appended, which Elle's checker reports as ``lost-update`` and as the cycle
T1 -ww-> T2 -rw-> T1 (``G-single``). At SERIALIZABLE InnoDB's reads take shared locks, the two
appends deadlock and one transaction fails (1213). Every step is bounded: the next step is
sent after at most ``step_wait_s`` even if this one is blocked on a lock (it stays queued in
its own session), and ``innodb_lock_wait_timeout`` bounds the wait on the server, so a
schedule ends by itself.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pymysql

from ..errors import ProbeError
from ..history import HistoryRecorder, OpenOperation
from ..inventory._model import Inventory
from ._txn_base import ISOLATION_LEVELS, classify_txn_error
from .ledger import _ms
from .txn import list_append_table_sql, parse_list

__all__ = ["LOST_UPDATE", "ScheduleRun", "Step", "plan_schedule"]

#: a schedule's step: (transaction number, action); actions: "begin", "r", "append", "commit"
Step = tuple[int, str]

#: Adya's P4 as above; T0 and T3 run alone, before and after the interleaving
LOST_UPDATE: tuple[Step, ...] = (
    (0, "begin"), (0, "append"), (0, "commit"),
    (1, "begin"), (1, "r"), (2, "begin"), (2, "r"),
    (1, "append"), (1, "commit"), (2, "append"), (2, "commit"),
    (3, "begin"), (3, "r"), (3, "commit"),
)

_ACTIONS = ("begin", "r", "append", "commit")

#: what a transaction will do: ("append", value) or ("r", None), in its own order
Plan = list[tuple[str, int | None]]


def plan_schedule(schedule: Sequence[Step]) -> dict[int, Plan]:
    """Check ``schedule`` and give each transaction its plan; append values are 1, 2, .. in
    schedule order, so every value is unique on the key (what the checker needs to order
    versions). Each transaction begins with ``begin``, ends with ``commit``, and has exactly
    one of each: a schedule that breaks this would leave a session open or record a
    transaction the database never saw."""
    if not schedule:
        raise ProbeError("schedule: no steps")
    plans: dict[int, Plan] = {}
    state: dict[int, str] = {}  # open | committed
    value = 0
    for i, step in enumerate(schedule):
        if not (isinstance(step, (tuple, list)) and len(step) == 2):
            raise ProbeError(f"schedule: step {i} is {step!r}, not (transaction, action)")
        n, action = step
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ProbeError(f"schedule: step {i}: transaction {n!r} is not an integer >= 0")
        if action not in _ACTIONS:
            raise ProbeError(f"schedule: step {i} ({n}, {action!r}): action is not one of {', '.join(_ACTIONS)}")
        st = state.get(n)
        if action == "begin":
            if st is not None:
                raise ProbeError(f"schedule: step {i}: T{n} begins twice")
            state[n] = "open"
            plans[n] = []
            continue
        if st != "open":
            raise ProbeError(f"schedule: step {i}: T{n} {action} " + ("before its begin" if st is None
                                                                       else "after its commit"))
        if action == "commit":
            state[n] = "committed"
        elif action == "append":
            value += 1
            plans[n].append(("append", value))
        else:
            plans[n].append(("r", None))
    unended = sorted(n for n, st in state.items() if st != "committed")
    if unended:
        raise ProbeError(f"schedule: T{unended[0]} never commits")
    return plans


@dataclass
class _Txn:
    """One scheduled transaction: its plan, micro-ops done so far, and outcome."""

    n: int
    plan: Plan
    mops: list[list[Any]] = field(default_factory=list)
    op: OpenOperation | None = None
    t0: float = 0.0
    failed: str | None = None
    outcome: str | None = None  # ok | fail | info once completed

    def invoked(self, key: int) -> list[list[Any]]:
        """The invocation's micro-ops: what the schedule will ask (reads as None)."""
        return [[a, key, v] for a, v in self.plan]

    def next_append(self) -> int:
        done = sum(1 for m in self.mops if m[0] == "append")
        values = [v for a, v in self.plan if a == "append"]
        value = values[done]
        assert value is not None
        return value


_StepQueue = queue.Queue[tuple[str, threading.Event] | None]


class ScheduleRun:
    """Run one schedule on ``targets`` (transaction number -> (host, port); a number not listed
    uses ``default``) against the list-append table, recording each transaction as process
    ``txn-sched-<run>-<n>`` (docs/history.md). Its key should be one no list-append probe of
    the same history uses: keys are plain integers to the checker."""

    def __init__(self, history: HistoryRecorder, *, default: tuple[str, int], user: str, password: str | None,
                 database: str, run_id: str, key: int = 1_000_000_000, table: str = "txn_append",
                 engine: str = "InnoDB", targets: Mapping[int, tuple[str, int]] | None = None,
                 isolation: str | None = None, wsrep_sync_wait: int | None = None, step_wait_s: float = 1.0,
                 lock_wait_timeout_s: int = 5, timeout_s: float = 5.0) -> None:
        if isolation is not None and isolation not in ISOLATION_LEVELS:
            raise ProbeError(f"schedule: isolation {isolation!r} is not one of {', '.join(ISOLATION_LEVELS)}")
        if wsrep_sync_wait is not None and (isinstance(wsrep_sync_wait, bool) or not isinstance(wsrep_sync_wait, int)
                                            or not 0 <= wsrep_sync_wait <= 15):
            raise ProbeError(f"schedule: wsrep_sync_wait must be an integer 0..15, not {wsrep_sync_wait!r}")
        for name, value in (("step_wait_s", step_wait_s), ("timeout_s", timeout_s),
                            ("lock_wait_timeout_s", lock_wait_timeout_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 60:
                raise ProbeError(f"schedule: {name} must be a number in (0, 60], not {value!r}")
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < 2**31:
            raise ProbeError(f"schedule: key must be an INT column value (0 .. 2**31-1), not {key!r}")
        self.history = history
        self.default = default
        self.targets = dict(targets or {})
        self.user, self.password, self.database = user, password, database
        self.run_id, self.key, self.table, self.engine = run_id, key, table, engine
        self.isolation, self.wsrep_sync_wait = isolation, wsrep_sync_wait
        self.step_wait_s, self.timeout_s = float(step_wait_s), float(timeout_s)
        self.lock_wait_timeout_s = max(1, int(lock_wait_timeout_s))
        self.txns: dict[int, _Txn] = {}
        #: a session thread still blocked after every bound may finish while run() records it
        #: as info: the first completion wins
        self._complete_lock = threading.Lock()

    def _complete(self, txn: _Txn, kind: str, value: list[list[Any]], **extra: Any) -> None:
        with self._complete_lock:
            if txn.outcome is None and txn.op is not None:
                getattr(txn.op, kind)(value, latency_ms=_ms(txn.t0), schedule=self.run_id, **extra)
                txn.outcome = kind

    @classmethod
    def for_inventory(cls, history: HistoryRecorder, inventory: Inventory, *, run_id: str, vip: str = "db",
                      nodes: Mapping[int, str] | None = None, **kwargs: Any) -> ScheduleRun:
        """Through the inventory's DB VIP; ``nodes`` sends transaction n to a db host by name
        instead (two transactions on two Galera nodes: certification decides, not locks)."""
        v = inventory.vip(vip)
        db = inventory.database
        targets = {n: (inventory.host(name).address, db.port) for n, name in (nodes or {}).items()}
        kwargs.setdefault("engine", "NDBCLUSTER" if db.kind == "ndb" else "InnoDB")
        return cls(history, default=(v.address, v.port), user=db.user, password=inventory.db_password(),
                   database=db.name, run_id=run_id, targets=targets, **kwargs)

    # -- one session per transaction ----------------------------------------------------------
    def _connect(self, n: int) -> pymysql.connections.Connection:
        host, port = self.targets.get(n, self.default)
        t = self.timeout_s + self.lock_wait_timeout_s
        conn = pymysql.connect(host=host, port=port, user=self.user, password=self.password or "",
                               database=self.database, autocommit=False, connect_timeout=self.timeout_s,
                               read_timeout=t, write_timeout=t)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SET SESSION innodb_lock_wait_timeout = {self.lock_wait_timeout_s}")
                if self.isolation is not None:
                    cur.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {ISOLATION_LEVELS[self.isolation]}")
                if self.wsrep_sync_wait is not None:
                    cur.execute(f"SET SESSION wsrep_sync_wait = {int(self.wsrep_sync_wait)}")
        except BaseException:
            with contextlib.suppress(pymysql.err.Error, OSError):
                conn.close()
            raise
        return conn

    def _ensure_table(self) -> None:
        try:
            conn = pymysql.connect(host=self.default[0], port=self.default[1], user=self.user,
                                   password=self.password or "", database=self.database, autocommit=True,
                                   connect_timeout=self.timeout_s, read_timeout=self.timeout_s,
                                   write_timeout=self.timeout_s)
        except (pymysql.err.MySQLError, OSError) as exc:
            raise ProbeError(f"schedule: cannot connect to {self.default[0]}:{self.default[1]}"
                             f" to create table {self.table!r}: {exc}") from exc
        try:
            with conn.cursor() as cur:
                cur.execute(list_append_table_sql(self.table, self.engine))
        except pymysql.err.MySQLError as exc:
            raise ProbeError(f"schedule: CREATE TABLE {self.table!r} failed: {exc}") from exc
        finally:
            conn.close()

    def _session(self, txn: _Txn, steps: _StepQueue) -> None:
        conn: pymysql.connections.Connection | None = None
        try:
            while (item := steps.get()) is not None:
                action, done = item
                try:
                    if txn.failed is None:
                        conn = self._do(txn, action, conn)
                finally:
                    done.set()
        finally:
            if conn is not None:
                with contextlib.suppress(pymysql.err.Error, OSError):
                    conn.close()

    def _do(self, txn: _Txn, action: str, conn: pymysql.connections.Connection | None
            ) -> pymysql.connections.Connection | None:
        phase = "connect" if action == "begin" else ("commit" if action == "commit" else "body")
        try:
            if action == "begin":
                conn = self._connect(txn.n)
                phase = "body"
                with conn.cursor() as cur:
                    cur.execute("START TRANSACTION")
                return conn
            assert conn is not None, "a step after a failed begin is skipped"
            if action == "commit":
                conn.commit()
                self._complete(txn, "ok", txn.mops)
                return conn
            with conn.cursor() as cur:
                if action == "append":
                    value = txn.next_append()
                    cur.execute(f"INSERT INTO `{self.table}` (run_id, k, val) VALUES (%s, %s, %s)"
                                " ON DUPLICATE KEY UPDATE val = CONCAT(val, ',', VALUES(val))",
                                (self.run_id, self.key, str(value)))
                    txn.mops.append(["append", self.key, value])
                else:
                    cur.execute(f"SELECT val FROM `{self.table}` WHERE run_id = %s AND k = %s",
                                (self.run_id, self.key))
                    row = cur.fetchone()
                    txn.mops.append(["r", self.key, parse_list(row[0] if row else None)])
            return conn
        except Exception as exc:  # noqa: BLE001 - every driver/socket error is the transaction's outcome
            writes = any(a == "append" for a, _ in txn.plan)
            kind, text = classify_txn_error(exc, phase=phase, writes=writes)
            txn.failed = text
            self._complete(txn, kind, txn.invoked(self.key), error=text)
            if conn is not None:
                with contextlib.suppress(pymysql.err.Error, OSError):
                    conn.close()
            return None

    # -- the schedule ------------------------------------------------------------------------
    def run(self, schedule: Sequence[Step] = LOST_UPDATE) -> dict[int, str]:
        """Run ``schedule``; transaction number -> ok / fail / info. Bounded: every step waits at
        most ``step_wait_s``, the end at most the lock wait plus the timeout."""
        plans = plan_schedule(schedule)
        self._ensure_table()
        sessions: dict[int, tuple[_StepQueue, threading.Thread]] = {}
        last_step: dict[int, threading.Event] = {}
        try:
            for n, action in schedule:
                if action == "begin":
                    txn = self.txns[n] = _Txn(n, plans[n])
                    q: _StepQueue = queue.Queue()
                    th = threading.Thread(target=self._session, args=(txn, q), name=f"schedule-T{n}", daemon=True)
                    th.start()
                    sessions[n] = (q, th)
                    txn.t0 = time.monotonic()
                    txn.op = self.history.invoke(f"txn-sched-{self.run_id}-{n}", "txn", txn.invoked(self.key),
                                                 schedule=self.run_id)
                done = threading.Event()
                sessions[n][0].put((action, done))
                last_step[n] = done
                done.wait(self.step_wait_s)  # blocked on a lock: the next step goes anyway
            deadline = time.monotonic() + self.lock_wait_timeout_s + self.timeout_s
            for done in last_step.values():
                done.wait(max(0.0, deadline - time.monotonic()))
        finally:
            for q, _ in sessions.values():
                q.put(None)
            for _, th in sessions.values():
                th.join(self.lock_wait_timeout_s + self.timeout_s)
        for txn in self.txns.values():  # still blocked after every bound: outcome unknown
            self._complete(txn, "info", txn.invoked(self.key), error="schedule ended with a step in flight")
        return {n: t.outcome or "info" for n, t in sorted(self.txns.items())}
