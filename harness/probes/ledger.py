"""Ledger probe: uniquely keyed writes through the database VIP, read back from every node.

The lost-transaction checker compares acknowledged writes with what every node holds once
the cluster has healed, so each write's completion type must be honest:

- ``ok``: the INSERT returned (autocommit: committed);
- ``fail``: the error proves the row was not written: the connection never opened (refused,
  timed out, handshake failed) or the server answered with an error packet that rolls the
  statement back (deadlock/certification failure, "WSREP not ready", lock wait timeout);
- ``info``: it may have been written: the connection was lost or timed out after the INSERT
  went out, the commit itself errored, or NDB reported an error whose outcome class the
  server does not pass on.

A misplaced ``fail`` would make the checker report a phantom row as a violation, so in
doubt the classification says ``info``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pymysql
from pymysql.constants import CR

from ..errors import ProbeError
from ..history import HistoryRecorder
from ..inventory._model import Inventory
from ._base import POLL_SLICE_S, ProbeThread, Schedule, call_guard, check_bounds

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

#: client-side codes raised while or after the statement was sent: outcome unknown
_UNKNOWN_CLIENT_CODES = frozenset({
    CR.CR_SERVER_GONE_ERROR,  # 2006: sendall failed; part of the packet may have left
    CR.CR_SERVER_LOST,  # 2013: lost/timed out while reading the reply
    2014,  # commands out of sync
    2027,  # malformed packet
    2055,  # lost connection at '%s', system error
})
#: server error codes whose statement outcome is not known to the client
_UNKNOWN_SERVER_CODES = frozenset({
    1180,  # ER_ERROR_DURING_COMMIT
    1296,  # ER_GET_ERRMSG (from NDBCLUSTER; NDB "unknown result" errors arrive this way)
    1297,  # ER_GET_TEMPORARY_ERRMSG (NDB)
    1317,  # ER_QUERY_INTERRUPTED (killed mid-statement)
    1927,  # ER_CONNECTION_KILLED
})


#: client-side codes that only happen before anything is sent
_FAIL_CLIENT_CODES = frozenset({
    CR.CR_CONN_HOST_ERROR,  # 2003
    CR.CR_CONNECTION_ERROR,  # 2002
    2005,  # unknown host
})


def classify_write_error(exc: BaseException, *, sent: bool) -> tuple[str, str]:
    """Completion type (``"fail"`` or ``"info"``) and error text for a failed ledger write.

    ``sent`` is False while the connection is being opened (nothing of the INSERT can have
    reached the server), True once the statement was handed to the driver.
    """
    text = f"{type(exc).__name__}: {exc}"
    if not sent:
        return "fail", f"connect: {text}"
    if isinstance(exc, pymysql.err.InterfaceError):
        # pymysql raises InterfaceError(0, '') before writing when its socket is already gone
        return "fail", text
    if isinstance(exc, pymysql.err.MySQLError):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if code is None:
            return "info", text
        if code >= 2000:  # client-side (CR_*) errors: the link broke around the statement
            return ("fail" if code in _FAIL_CLIENT_CODES and code not in _UNKNOWN_CLIENT_CODES else "info"), text
        if code in _UNKNOWN_SERVER_CODES:
            return "info", text
        # the server parsed the statement and answered with an error: rolled back
        return "fail", text
    return "info", text  # socket.timeout, OSError, anything unexpected after sending



class _Stopped(Exception):
    pass


class Ledger(ProbeThread):
    """``workers`` writers inserting keys ``f"{run_id}-{worker}-{n}"`` at ``rate_hz`` in total.

    Bounds: ``max_count`` writes in total and ``max_duration_s``. Each worker keeps one
    connection and opens a new one after any error (a failover ends up on the new node).
    """

    def __init__(
        self,
        history: HistoryRecorder,
        host: str,
        port: int,
        user: str,
        password: str | None,
        database: str,
        *,
        workers: int = 1,
        rate_hz: float = 20,
        max_count: int,
        max_duration_s: float,
        table: str = "ledger",
        run_id: str,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 2.0,
        write_timeout_s: float = 2.0,
        engine: str = "InnoDB",
        guard: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__()
        self.name = f"ledger ({host}:{port})"
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s,
                     timeout_s=connect_timeout_s)
        for timeout_name, limit in (("read_timeout_s", read_timeout_s), ("write_timeout_s", write_timeout_s)):
            if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not (math.isfinite(limit) and limit > 0):
                # pymysql takes None as "wait for ever": a frozen node would hang a worker
                raise ProbeError(f"{self.name}: {timeout_name} must be a positive finite number, not {limit!r}")
        if not (isinstance(workers, int) and workers >= 1):
            raise ProbeError(f"{self.name}: workers must be an integer >= 1, not {workers!r}")
        for field_name, value in (("table", table), ("database", database), ("engine", engine)):
            if not _IDENT.match(value):
                raise ProbeError(f"{self.name}: {field_name} {value!r} is not a plain SQL identifier")
        if not _RUN_ID.match(run_id):
            raise ProbeError(f"{self.name}: run_id {run_id!r} must be 1-64 of [A-Za-z0-9_.:-]")
        self.history = history
        self.host, self.port = host, port
        self.user, self.password, self.database = user, password, database
        self.workers = workers
        self.rate_hz = float(rate_hz)
        self.max_count = max_count
        self.max_duration_s = float(max_duration_s)
        self.table = table
        self.run_id = run_id
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.write_timeout_s = write_timeout_s
        self.engine = engine
        self.guard = guard
        self.counts: dict[str, int] = {"ok": 0, "fail": 0, "info": 0}
        self.skipped = 0
        self._claimed = 0
        self._count_lock = threading.Lock()
        self._inflight: dict[int, socket.socket] = {}

    @classmethod
    def for_inventory(cls, history: HistoryRecorder, inventory: Inventory, *, run_id: str,
                      vip: str = "db", **kwargs: Any) -> Ledger:
        """A ledger writing through the inventory's database VIP with its credentials.

        NDB needs ``ENGINE=NDBCLUSTER`` for the table to live in the data nodes.
        """
        v = inventory.vip(vip)
        db = inventory.database
        kwargs.setdefault("engine", "NDBCLUSTER" if db.kind == "ndb" else "InnoDB")
        return cls(history, v.address, v.port, db.user, inventory.db_password(), db.name, run_id=run_id, **kwargs)

    # -- connections -------------------------------------------------------------------------
    def _connect(
        self, host: str, port: int, register: int | None = None, *, honour_stop: bool = True
    ) -> pymysql.connections.Connection:
        """Open a connection; the TCP connect polls the stop flag so stop() is never stuck on it."""
        deadline = time.monotonic() + self.connect_timeout_s
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            err = sock.connect_ex(sockaddr)
            if err == errno.EINPROGRESS:
                poller = select.poll()
                poller.register(sock, select.POLLOUT | select.POLLERR | select.POLLHUP)
                while not poller.poll(POLL_SLICE_S * 1000):
                    now = time.monotonic()
                    abort = self.abort_at() if honour_stop else None
                    if abort is not None and now >= abort:
                        raise _Stopped("ledger stopped while connecting")
                    if now >= deadline:
                        raise OSError(errno.ETIMEDOUT, "connect timed out")
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            sock.setblocking(True)
            sock.settimeout(self.connect_timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            sock.close()
            # the same error pymysql raises for a failed connect, so messages read alike
            raise pymysql.err.OperationalError(
                CR.CR_CONN_HOST_ERROR, f"Can't connect to MySQL server on {host}:{port} ({exc.strerror or exc})"
            ) from exc
        except BaseException:
            sock.close()
            raise
        if register is not None:
            self._inflight[register] = sock
        conn = pymysql.connections.Connection(
            host=host, port=port, user=self.user, password=self.password or "", database=self.database,
            autocommit=True, connect_timeout=self.connect_timeout_s, read_timeout=self.read_timeout_s,
            write_timeout=self.write_timeout_s, defer_connect=True, charset="utf8mb4",
        )
        try:
            conn.connect(sock=sock)
        except BaseException:
            sock.close()
            raise
        return conn

    def ensure_table(self) -> None:
        """Create the ledger table if absent (through the VIP, before any write)."""
        try:
            conn = self._connect(self.host, self.port, honour_stop=False)
        except (pymysql.err.MySQLError, OSError) as exc:
            raise ProbeError(f"{self.name}: cannot connect to create table {self.table!r}: {exc}") from exc
        try:
            with conn.cursor() as cur:
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS `{self.table}` ("
                    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                    " k VARCHAR(191) NOT NULL,"
                    " run_id VARCHAR(64) NOT NULL,"
                    " created TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
                    " UNIQUE KEY uk_k (k), KEY ix_run (run_id)"
                    f") ENGINE={self.engine}"
                )
        except pymysql.err.MySQLError as exc:
            raise ProbeError(f"{self.name}: CREATE TABLE {self.table!r} failed: {exc}") from exc
        finally:
            conn.close()

    # -- lifecycle ---------------------------------------------------------------------------
    def _prepare(self) -> None:
        call_guard(self.name, self.guard, self.host)
        self.ensure_table()

    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        start = time.monotonic()
        return [(f"ledger-{w}", functools.partial(self._worker, w, start)) for w in range(self.workers)]

    def _on_stop(self) -> None:
        for sock in list(self._inflight.values()):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _count(self, kind: str) -> None:
        with self._count_lock:
            self.counts[kind] += 1

    def _claim(self) -> bool:
        with self._count_lock:
            if self._claimed >= self.max_count:
                return False
            self._claimed += 1
            return True

    def _worker(self, w: int, start: float) -> None:
        # worker w fires at start + (w + k * workers) / rate_hz: the total rate is rate_hz
        t_end = start + self.max_duration_s
        sched = Schedule(self.rate_hz / self.workers, start + w / self.rate_hz, t_end)
        process = f"ledger-{w}"
        conn: pymysql.connections.Connection | None = None
        n = 0
        try:
            while not self.stopping:
                due = self.next_slot(sched, t_end)
                if due is None:
                    break
                if not self._claim():
                    break
                sched.advance()
                key = f"{self.run_id}-{w}-{n}"
                n += 1
                conn = self._write(w, process, key, conn)
        finally:
            with self._count_lock:
                self.skipped += sched.skipped
            if conn is not None:
                conn.close()
            self._inflight.pop(w, None)

    def _write(self, w: int, process: str, key: str,
               conn: pymysql.connections.Connection | None) -> pymysql.connections.Connection | None:
        """One write; returns the connection to reuse (None after any error)."""
        op = self.history.invoke(process, "write", key)
        t0 = time.monotonic()
        sent = False
        try:
            if conn is None:
                conn = self._connect(self.host, self.port, register=w)
            else:
                self._inflight[w] = conn._sock
            sent = True
            with conn.cursor() as cur:
                cur.execute(f"INSERT INTO `{self.table}` (k, run_id) VALUES (%s, %s)", (key, self.run_id))
        except _Stopped as exc:
            self._count("fail")
            op.fail(key, latency_ms=_ms(t0), error=str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - every driver/socket error is classified
            kind, text = classify_write_error(exc, sent=sent)
            if self.stopping and kind == "info":
                text = f"ledger stopped while in flight: {text}"
            self._count(kind)
            if kind == "fail":
                op.fail(key, latency_ms=_ms(t0), error=text)
            else:
                op.info(key, latency_ms=_ms(t0), error=text)
            if conn is not None:
                with contextlib.suppress(pymysql.err.Error, OSError):  # already closed by the driver
                    conn.close()
            return None
        except BaseException as exc:
            op.info(key, latency_ms=_ms(t0), error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._inflight.pop(w, None)
        self._count("ok")
        op.ok(key, latency_ms=_ms(t0))
        return conn

    # -- read back ---------------------------------------------------------------------------
    def _read_keys(self, host: str, port: int) -> list[str]:
        conn = self._connect(host, port, honour_stop=False)
        try:
            with conn.cursor() as cur:
                try:  # Galera: read only after this node applied everything it has received
                    cur.execute("SET SESSION wsrep_sync_wait = 1")
                except pymysql.err.MySQLError as exc:
                    if not (exc.args and exc.args[0] == 1193):  # unknown variable: not Galera
                        raise
                cur.execute(f"SELECT k FROM `{self.table}` WHERE run_id = %s ORDER BY id", (self.run_id,))
                return [row[0] for row in cur.fetchall()]
        finally:
            conn.close()

    def final_read(
        self,
        nodes: Mapping[str, tuple[str, int]],
        *,
        wait_s: float = 30.0,
        retry_interval_s: float = 0.5,
    ) -> dict[str, list[str] | None]:
        """Read every key of this run from each node directly, all nodes in parallel.

        Each node gets up to ``wait_s`` to answer (connection refused, not yet Synced, ...):
        ``ok`` with the list of keys, or ``fail`` when it never answered (a read has no side
        effect, so a failed read certainly did not happen). Returns name -> keys or None.
        """
        return read_back(
            self.history, nodes, self._read_keys, process_prefix="ledger-read-", wait_s=wait_s,
            retry_interval_s=retry_interval_s,
            join_bound_s=wait_s + self.connect_timeout_s + self.read_timeout_s * 2 + 5.0,
            retry_on=(pymysql.err.MySQLError, OSError, _Stopped),
        )

    def wait_for_convergence(
        self, nodes: Mapping[str, tuple[str, int]], *, timeout_s: float = 30.0, interval_s: float = 0.5
    ) -> bool:
        """True once every node holds the same, non-changing set of this run's keys (bounded).

        Not recorded in the history: it only decides when the final read is worth doing.
        """
        deadline = time.monotonic() + timeout_s
        previous: list[set[str]] | None = None
        while time.monotonic() < deadline:
            try:
                current = [set(self._read_keys(h, p)) for h, p in nodes.values()]
            except (pymysql.err.MySQLError, OSError, _Stopped):
                current = None
            if current is not None and all(c == current[0] for c in current) and current == previous:
                return True
            previous = current
            time.sleep(interval_s)
        return False


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000.0, 3)


def read_back(
    history: HistoryRecorder,
    nodes: Mapping[str, tuple[str, int]],
    read: Callable[[str, int], list[str]],
    *,
    process_prefix: str,
    wait_s: float,
    retry_interval_s: float = 0.5,
    join_bound_s: float | None = None,
    retry_on: tuple[type[BaseException], ...] = (pymysql.err.MySQLError, OSError),
) -> dict[str, list[str] | None]:
    """The final read of a ledger: ``read(host, port)`` on every node directly, in parallel.

    Recorded as ``<process_prefix><node>`` / ``read``: ``ok`` with the keys, or ``fail`` when
    the node never answered within ``wait_s`` (a read has no side effect, so a failed read
    certainly did not happen). Returns node name -> keys, or None for a node that never answered.
    """
    results: dict[str, list[str] | None] = {}

    def read_node(name: str, host: str, port: int) -> None:
        op = history.invoke(f"{process_prefix}{name}", "read", {"node": name})
        deadline = time.monotonic() + wait_s
        last = "no attempt"
        while True:
            try:
                keys = read(host, port)
            except retry_on as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                results[name] = keys
                op.ok(keys, node=name)
                return
            if time.monotonic() + retry_interval_s >= deadline:
                results[name] = None
                op.fail(None, node=name, error=f"no answer within {wait_s:g}s: {last}")
                return
            time.sleep(retry_interval_s)

    threads = [
        threading.Thread(target=read_node, args=(name, h, p), name=f"{process_prefix}{name}", daemon=True)
        for name, (h, p) in nodes.items()
    ]
    for t in threads:
        t.start()
    bound = join_bound_s if join_bound_s is not None else wait_s + 20.0
    for t in threads:
        t.join(bound)
    return results


def db_nodes(inventory: Inventory) -> dict[str, tuple[str, int]]:
    """Every ``db`` host as name -> (address, database port): the nodes ``final_read`` visits."""
    return {h.name: (h.address, inventory.database.port) for h in inventory.with_role("db")}
