"""Transactional workloads through the DB VIP: Elle's list-append and Jepsen's bank.

The ledger (``ledger.py``) proves that single autocommit INSERTs survive; these probes run
multi-statement transactions (``START TRANSACTION`` .. ``COMMIT``) whose histories an
anomaly checker can judge (docs/history.md, docs/probes.md):

- :class:`ListAppendProbe`: process ``txn-<n>``, ``f`` = ``txn``, value = micro-ops
  ``["append", k, v]`` / ``["r", k, None]``; the ``ok`` completion fills each read with the
  whole list. One row per key, ``val`` a TEXT of comma-separated ints, appended with
  ``INSERT .. ON DUPLICATE KEY UPDATE val = CONCAT(val, ',', ..)``: what Jepsen's MySQL/MariaDB
  (and Galera) list-append client does, so our figures compare with theirs, and a lost update
  shows as a list missing an element rather than as a row that is simply absent.
- :class:`BankProbe`: process ``bank-<n>``; ``transfer`` reads both balances and writes both
  (read-modify-write: what exposes lost updates), ``read`` reads every balance in one
  transaction; the setup is recorded once by ``bank-setup``.

Completions are classified as honestly as the ledger's (:func:`classify_txn_error`): an
error before ``COMMIT`` was sent is ``fail`` (the server rolls the transaction back when the
connection closes; it never saw a COMMIT), an error of the ``COMMIT`` itself is classified by
the ledger's rules (a lost reply is ``info``, a certification failure 1213 ``fail``), and a
transaction that only read is ``fail`` whatever happened (a read has no side effect). After an
``info`` the worker continues as a new process (``txn-<n + workers>``), Jepsen's convention: an
operation of unknown outcome may still take effect, so nothing may be ordered after it in its
session.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import pymysql

from ..errors import ProbeError
from ..history import HistoryRecorder, Op
from ._txn_base import ISOLATION_LEVELS, _TxnProbe, classify_txn_error
from .ledger import _ms

__all__ = ["ISOLATION_LEVELS", "BankProbe", "KeyPool", "ListAppendProbe", "acknowledged_appends",
           "classify_txn_error", "list_append_table_sql", "parse_list", "txn_rate"]

MicroOp = list[Any]  # ["append", key, int] | ["r", key, list[int] | None]


class KeyPool:
    """Transactions of 1..``max_txn_length`` micro-ops over ``active`` keys at a time.

    A key takes at most ``max_appends`` appends (values 1, 2, 3, .. : unique per key), then
    retires and the next fresh key (an int never used before) takes its slot: lists stay
    short enough to compare, and every key is read while it grows. Thread-safe; seeded.
    """

    def __init__(self, *, active: int = 8, max_appends: int = 32, max_txn_length: int = 4,
                 read_fraction: float = 0.5, seed: int | None = None) -> None:
        for name, value, low in (("active", active, 1), ("max_appends", max_appends, 1),
                                 ("max_txn_length", max_txn_length, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ProbeError(f"KeyPool: {name} must be an integer >= {low}, not {value!r}")
        if not (isinstance(read_fraction, (int, float)) and 0.0 <= read_fraction <= 1.0):
            raise ProbeError(f"KeyPool: read_fraction must be between 0 and 1, not {read_fraction!r}")
        self.max_appends = max_appends
        self.max_txn_length = max_txn_length
        self.read_fraction = float(read_fraction)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._active = list(range(active))
        self._next_key = active
        self._appends: dict[int, int] = {}  # key -> appends handed out so far
        self.retired: list[int] = []

    def next_txn(self) -> list[MicroOp]:
        """One transaction's micro-ops (reads as ``["r", k, None]``)."""
        with self._lock:
            n = self._rng.randint(1, self.max_txn_length)
            ops: list[MicroOp] = []
            for _ in range(n):
                slot = self._rng.randrange(len(self._active))
                key = self._active[slot]
                if self._rng.random() < self.read_fraction:
                    ops.append(["r", key, None])
                    continue
                value = self._appends.get(key, 0) + 1
                self._appends[key] = value
                ops.append(["append", key, value])
                if value >= self.max_appends:  # full: a fresh key takes the slot
                    self.retired.append(key)
                    self._active[slot] = self._next_key
                    self._next_key += 1
            return ops

    def keys(self) -> list[int]:
        """Every key handed out so far (the final read reads them all)."""
        with self._lock:
            return sorted(set(self._appends) | set(self._active))


def list_append_table_sql(table: str, engine: str = "InnoDB") -> str:
    """The list-append table: one row per (run, key), ``val`` the list as comma-separated ints."""
    return (f"CREATE TABLE IF NOT EXISTS `{table}` ("
            " run_id VARCHAR(64) NOT NULL, k INT NOT NULL, val TEXT NOT NULL,"
            f" PRIMARY KEY (run_id, k)) ENGINE={engine}")


def parse_list(text: str | bytes | None) -> list[int]:
    """The stored ``val`` ("1,2,3") as a list; a key never written reads ``[]``."""
    if text is None:
        return []
    if isinstance(text, bytes):
        text = text.decode()
    return [int(x) for x in text.split(",")] if text != "" else []


def acknowledged_appends(ops: Iterable[Op], prefix: str = "txn-") -> set[tuple[int, int]]:
    """(key, value) of every append in an ``ok`` list-append transaction (the loss count's base)."""
    out: set[tuple[int, int]] = set()
    for op in ops:
        if op.type == "ok" and op.f == "txn" and op.process.startswith(prefix) and isinstance(op.value, list):
            out.update((m[1], m[2]) for m in op.value if isinstance(m, list) and len(m) == 3 and m[0] == "append")
    return out


class ListAppendProbe(_TxnProbe):
    """Elle's list-append workload (see the module docstring); ``pool`` makes the micro-ops."""

    prefix = "txn"

    def __init__(self, history: HistoryRecorder, host: str, port: int, user: str, password: str | None,
                 database: str, *, table: str = "txn_append", keys: int = 8, max_appends: int = 32,
                 max_txn_length: int = 4, read_fraction: float = 0.5, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(history, host, port, user, password, database, table=table, **kwargs)
        self.pool = KeyPool(active=keys, max_appends=max_appends, max_txn_length=max_txn_length,
                            read_fraction=read_fraction, seed=seed)
        self._final_keys: list[int] = []

    def _create_sql(self) -> str:
        return list_append_table_sql(self.table, self.engine)

    def _next_op(self, w: int) -> tuple[str, Any, bool]:
        ops = self.pool.next_txn()
        return "txn", ops, any(m[0] == "append" for m in ops)

    def _body(self, conn: pymysql.connections.Connection, value: Any) -> tuple[Any, bool]:
        done: list[MicroOp] = []
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION")
            for f, k, v in value:
                if f == "append":
                    cur.execute(
                        f"INSERT INTO `{self.table}` (run_id, k, val) VALUES (%s, %s, %s)"
                        " ON DUPLICATE KEY UPDATE val = CONCAT(val, ',', VALUES(val))", (self.run_id, k, str(v)))
                    done.append([f, k, v])
                else:
                    cur.execute(f"SELECT val FROM `{self.table}` WHERE run_id = %s AND k = %s", (self.run_id, k))
                    row = cur.fetchone()
                    done.append(["r", k, parse_list(row[0] if row else None)])
        return done, True

    def snapshot(self, host: str, port: int) -> dict[int, list[int]]:
        """Every key of this run on one node: key -> list (not recorded)."""
        conn = self._read_conn(host, port)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT k, val FROM `{self.table}` WHERE run_id = %s", (self.run_id,))
                return {int(k): parse_list(v) for k, v in cur.fetchall()}
        finally:
            conn.close()

    def _final_op(self) -> tuple[str, Any]:
        self._final_keys = self.pool.keys()
        return "txn", [["r", k, None] for k in self._final_keys]

    def _final_value(self, snap: Any) -> Any:
        return [["r", k, snap.get(k, [])] for k in self._final_keys]


class BankProbe(_TxnProbe):
    """Jepsen's bank: ``accounts`` accounts holding ``total`` in all; transfers of 1..``max_transfer``."""

    prefix = "bank"

    def __init__(self, history: HistoryRecorder, host: str, port: int, user: str, password: str | None,
                 database: str, *, table: str = "txn_bank", accounts: int = 8, total: int = 800,
                 max_transfer: int = 5, read_fraction: float = 0.5, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(history, host, port, user, password, database, table=table, **kwargs)
        for name, value, low in (("accounts", accounts, 2), ("total", total, 0), ("max_transfer", max_transfer, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ProbeError(f"{self.name}: {name} must be an integer >= {low}, not {value!r}")
        if not (isinstance(read_fraction, (int, float)) and 0.0 <= read_fraction <= 1.0):
            raise ProbeError(f"{self.name}: read_fraction must be between 0 and 1, not {read_fraction!r}")
        self.accounts = list(range(accounts))
        self.total = total
        self.max_transfer = max_transfer
        self.read_fraction = float(read_fraction)
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def _create_sql(self) -> str:
        return (f"CREATE TABLE IF NOT EXISTS `{self.table}` ("
                " run_id VARCHAR(64) NOT NULL, acct INT NOT NULL, balance BIGINT NOT NULL,"
                f" PRIMARY KEY (run_id, acct)) ENGINE={self.engine}")

    def initial_balances(self) -> dict[int, int]:
        """``total`` spread evenly; the remainder goes to account 0."""
        each, rest = divmod(self.total, len(self.accounts))
        return {a: each + (rest if a == 0 else 0) for a in self.accounts}

    def _prepare(self) -> None:
        super()._prepare()
        self.setup()

    def setup(self) -> None:
        """Create this run's accounts in one transaction, recorded by ``bank-setup``."""
        balances = self.initial_balances()
        value = {"accounts": list(self.accounts), "total": self.total}
        op = self.history.invoke(f"{self.prefix}-setup", "setup", value)
        t0 = time.monotonic()
        phase = "connect"
        conn = None
        try:
            conn = self._connect(self.host, self.port, honour_stop=False)
            phase = "body"
            with conn.cursor() as cur:
                cur.execute("START TRANSACTION")
                cur.executemany(f"INSERT INTO `{self.table}` (run_id, acct, balance) VALUES (%s, %s, %s)",
                                [(self.run_id, a, b) for a, b in balances.items()])
            phase = "commit"
            conn.commit()
        except Exception as exc:
            kind, text = classify_txn_error(exc, phase=phase, writes=True)
            getattr(op, kind)(value, latency_ms=_ms(t0), error=text)
            raise ProbeError(f"{self.name}: setting up {len(self.accounts)} accounts failed ({kind}): {text}") from exc
        finally:
            if conn is not None:
                with contextlib.suppress(pymysql.err.Error, OSError):
                    conn.close()
        op.ok(value, latency_ms=_ms(t0))

    def _next_op(self, w: int) -> tuple[str, Any, bool]:
        with self._rng_lock:
            if self._rng.random() < self.read_fraction:
                return "read", None, False
            a, b = self._rng.sample(self.accounts, 2)
            amount = self._rng.randint(1, self.max_transfer)
        return "transfer", {"from": a, "to": b, "amount": amount}, True

    def _body(self, conn: pymysql.connections.Connection, value: Any) -> tuple[Any, bool]:
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION")
            if value is None:
                cur.execute(f"SELECT acct, balance FROM `{self.table}` WHERE run_id = %s", (self.run_id,))
                return {str(a): int(b) for a, b in cur.fetchall()}, True
            a, b, amount = value["from"], value["to"], value["amount"]
            cur.execute(f"SELECT acct, balance FROM `{self.table}` WHERE run_id = %s AND acct IN (%s, %s)",
                        (self.run_id, a, b))
            bal = {int(x): int(y) for x, y in cur.fetchall()}
            if a not in bal or b not in bal:
                raise ProbeError(f"{self.name}: account {a if a not in bal else b} of run {self.run_id} is missing")
            if bal[a] < amount:
                return f"insufficient funds: account {a} holds {bal[a]} < {amount}", False
            cur.execute(f"UPDATE `{self.table}` SET balance = %s WHERE run_id = %s AND acct = %s",
                        (bal[a] - amount, self.run_id, a))
            cur.execute(f"UPDATE `{self.table}` SET balance = %s WHERE run_id = %s AND acct = %s",
                        (bal[b] + amount, self.run_id, b))
        return dict(value), True

    def snapshot(self, host: str, port: int) -> dict[int, int]:
        conn = self._read_conn(host, port)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT acct, balance FROM `{self.table}` WHERE run_id = %s", (self.run_id,))
                return {int(a): int(b) for a, b in cur.fetchall()}
        finally:
            conn.close()

    def _final_op(self) -> tuple[str, Any]:
        return "read", None

    def _final_value(self, snap: Any) -> Any:
        return {str(a): b for a, b in sorted(snap.items())}


def txn_rate(ops: Sequence[Op], f: str = "txn", prefix: str = "txn-") -> float | None:
    """``ok`` completions of ``f`` per second between the first invoke and the last completion."""
    times = [op.time for op in ops if op.f == f and op.process.startswith(prefix)]
    oks = sum(1 for op in ops if op.f == f and op.type == "ok" and op.process.startswith(prefix))
    if len(times) < 2 or max(times) <= min(times):
        return None
    return oks / (max(times) - min(times))
