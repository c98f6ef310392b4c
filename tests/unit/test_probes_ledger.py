"""Ledger: error classification on pymysql exceptions, and a throwaway mariadbd for the real thing.

The database tests start mariadbd (~0.3 s) in a temp datadir on a unix socket and a free port of
127.0.0.1, and skip when mariadbd / mariadb-install-db are not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from harness.errors import ProbeError
from harness.history import HistoryRecorder, Op
from harness.inventory._model import Database, Host, Inventory, Vip
from harness.probes import Ledger, classify_write_error, db_nodes

# -- classification ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "sent", "expected"),
    [
        # nothing sent yet: the row cannot exist, whatever went wrong
        (pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '10.0.0.1' ([Errno 111] "
                                            "Connection refused)"), False, "fail"),
        (pymysql.err.OperationalError(2003, "Can't connect to MySQL server (timed out)"), False, "fail"),
        (pymysql.err.OperationalError(1045, "Access denied for user 'h'"), False, "fail"),
        (OSError(113, "No route to host"), False, "fail"),
        # sent, then the link broke: unknown
        (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query (timed out)"), True,
         "info"),
        (pymysql.err.OperationalError(2006, "MySQL server has gone away (BrokenPipeError(32))"), True, "info"),
        (TimeoutError("timed out"), True, "info"),
        (ConnectionResetError(104, "Connection reset by peer"), True, "info"),
        # the server answered with an error: the statement was rolled back
        (pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"), True, "fail"),
        (pymysql.err.OperationalError(1047, "WSREP has not yet prepared node for application use"), True, "fail"),
        (pymysql.err.IntegrityError(1062, "Duplicate entry 'r-0-1' for key 'uk_k'"), True, "fail"),
        (pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"), True, "fail"),
        (pymysql.err.ProgrammingError(1146, "Table 'harness.ledger' doesn't exist"), True, "fail"),
        # the server answered, but the commit outcome is not known
        (pymysql.err.OperationalError(1180, "Got error 149 during COMMIT"), True, "info"),
        (pymysql.err.InternalError(1297, "Got temporary error 4010 'Node failure caused abort' from NDBCLUSTER"),
         True, "info"),
        (pymysql.err.OperationalError(1927, "Connection was killed"), True, "info"),
        # pymysql's own check before writing to a closed socket
        (pymysql.err.InterfaceError(0, ""), True, "fail"),
    ],
)
def test_classify_write_error(exc: BaseException, sent: bool, expected: str) -> None:
    kind, text = classify_write_error(exc, sent=sent)
    assert kind == expected
    assert type(exc).__name__ in text
    assert text.startswith("connect: ") is (not sent)


# -- a throwaway mariadbd ----------------------------------------------------------------------

MARIADBD = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin") or ""
INSTALL_DB = shutil.which("mariadb-install-db") or ""


class _MariaDB:
    """mariadbd in a temp dir; kill() is a SIGKILL, start() reuses the datadir and port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = str(root / "mysqld.sock")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.proc: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [INSTALL_DB, "--no-defaults", f"--datadir={root / 'data'}", "--auth-root-authentication-method=normal",
             "--skip-test-db", f"--user={_user()}"],
            check=True, capture_output=True, timeout=60,
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.root / 'data'}", f"--socket={self.sock}",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.root / 'mysqld.pid'}",
             f"--user={_user()}", "--innodb-buffer-pool-size=16M", "--skip-log-bin",
             f"--log-error={self.root / 'error.log'}", "--innodb-flush-log-at-trx-commit=2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        end = time.monotonic() + 20
        while True:
            try:
                c = pymysql.connect(unix_socket=self.sock, user="root", connect_timeout=1)
                c.close()
                return
            except pymysql.err.MySQLError as exc:
                if self.proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("mariadbd did not start: " + (self.root / "error.log").read_text()[-2000:]) from exc
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def root_sql(self, *statements: str) -> None:
        c = pymysql.connect(unix_socket=self.sock, user="root", autocommit=True)
        try:
            with c.cursor() as cur:
                for st in statements:
                    cur.execute(st)
        finally:
            c.close()


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture(scope="module")
def mariadb() -> Iterator[_MariaDB]:
    if not MARIADBD or not INSTALL_DB:
        pytest.skip("mariadbd / mariadb-install-db not installed")
    root = Path(tempfile.mkdtemp(prefix="ledger-test-"))
    db = _MariaDB(root)
    try:
        db.start()
        db.root_sql(
            "CREATE DATABASE harness",
            "CREATE USER 'h'@'127.0.0.1' IDENTIFIED BY 'pw'",
            "GRANT ALL ON harness.* TO 'h'@'127.0.0.1'",
        )
        yield db
    finally:
        db.kill()
        shutil.rmtree(root, ignore_errors=True)


def _ledger(h: HistoryRecorder, db: _MariaDB, **kw: object) -> Ledger:
    args: dict = {"workers": 1, "rate_hz": 50, "max_count": 20, "max_duration_s": 10, "run_id": "r1"}
    args.update(kw)
    return Ledger(h, "127.0.0.1", db.port, "h", "pw", "harness", **args)


def _writes(h: HistoryRecorder) -> list[Op]:
    return [o for o in h.ops() if o.f == "write" and o.type != "invoke"]


def test_writes_are_recorded_and_read_back(mariadb: _MariaDB) -> None:
    h = HistoryRecorder()
    led = _ledger(h, mariadb, workers=2, rate_hz=100, max_count=30, run_id="basic")
    with led:
        assert led.join(timeout=5.0)
    comps = _writes(h)
    assert len(comps) == 30 and {o.type for o in comps} == {"ok"}
    assert {o.process for o in comps} == {"ledger-0", "ledger-1"}
    for o in comps:
        worker = o.process.split("-")[1]
        assert o.value.startswith(f"basic-{worker}-") and o.extra["latency_ms"] > 0
    invokes = [o for o in h.ops() if o.f == "write" and o.type == "invoke"]
    for w in (0, 1):  # each worker numbers its keys 0, 1, 2, ... without gaps
        keys = [i.value for i in invokes if i.process == f"ledger-{w}"]
        assert keys == [f"basic-{w}-{n}" for n in range(len(keys))]

    assert led.wait_for_convergence({"db1": ("127.0.0.1", mariadb.port)}, timeout_s=3, interval_s=0.05)
    got = led.final_read({"db1": ("127.0.0.1", mariadb.port)}, wait_s=5)
    assert sorted(got["db1"] or []) == sorted(o.value for o in comps)
    read = [o for o in h.ops() if o.process == "ledger-read-db1"]
    assert [o.type for o in read] == ["invoke", "ok"]
    assert read[0].value == {"node": "db1"} and read[1].extra["node"] == "db1"
    assert sorted(read[1].value) == sorted(o.value for o in comps)
    # another run's rows are not read back as ours
    other = _ledger(h, mariadb, run_id="other", max_count=3)
    other.start()
    other.join(timeout=5)
    assert sorted(led.final_read({"db1": ("127.0.0.1", mariadb.port)}, wait_s=5)["db1"] or []) == sorted(
        o.value for o in comps)


def test_database_killed_mid_run_ok_fail_ok_and_nothing_acknowledged_is_lost(mariadb: _MariaDB) -> None:
    h = HistoryRecorder()
    led = _ledger(h, mariadb, rate_hz=50, max_count=10_000, max_duration_s=20, run_id="kill")
    try:
        led.start()
        deadline = time.monotonic() + 5
        while led.counts["ok"] < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        mariadb.kill()
        while led.counts["fail"] < 5 and time.monotonic() < deadline + 5:
            time.sleep(0.01)
        mariadb.start()
        ok_before = led.counts["ok"]
        while led.counts["ok"] < ok_before + 10 and time.monotonic() < deadline + 15:
            time.sleep(0.01)
    finally:
        led.stop()
        led.join(timeout=5)
    comps = _writes(h)
    runs: list[str] = []
    for o in comps:
        if o.type != "info" and (not runs or runs[-1] != o.type):
            runs.append(o.type)
    assert runs == ["ok", "fail", "ok"]
    fails = [o for o in comps if o.type == "fail"]
    # all of them failed while connecting (refused, or a handshake error while mariadbd starts)
    assert all(o.extra["error"].startswith("connect: ") for o in fails), [o.extra["error"] for o in fails]
    assert any("Can't connect" in o.extra["error"] for o in fails)
    found = set(led.final_read({"db1": ("127.0.0.1", mariadb.port)}, wait_s=10)["db1"] or [])
    assert {o.value for o in comps if o.type == "ok"} <= found  # acknowledged: present
    assert not ({o.value for o in fails} & found)  # certainly failed: absent


def test_stop_is_prompt(mariadb: _MariaDB) -> None:
    h = HistoryRecorder()
    led = _ledger(h, mariadb, rate_hz=5, max_count=1000, max_duration_s=60, run_id="stop")
    led.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    led.stop()
    assert time.monotonic() - t0 < 0.5 and not led.is_alive()
    assert h.open_processes() == {}


def test_unreachable_database() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    h = HistoryRecorder()
    led = Ledger(h, "127.0.0.1", port, "h", "pw", "harness", max_count=5, max_duration_s=5, run_id="dead")
    with pytest.raises(ProbeError, match="cannot connect to create table 'ledger'"):
        led.start()
    t0 = time.monotonic()
    assert led.final_read({"db9": ("127.0.0.1", port)}, wait_s=0.6, retry_interval_s=0.2) == {"db9": None}
    assert time.monotonic() - t0 < 2.0
    read = [o for o in h.ops() if o.process == "ledger-read-db9"]
    assert [o.type for o in read] == ["invoke", "fail"]
    assert "no answer within 0.6s" in read[1].extra["error"]


def test_bad_settings_are_refused() -> None:
    h = HistoryRecorder()
    with pytest.raises(ProbeError, match="table"):
        Ledger(h, "x", 1, "u", "p", "harness", max_count=1, max_duration_s=1, run_id="r", table="a; DROP")
    with pytest.raises(ProbeError, match="run_id"):
        Ledger(h, "x", 1, "u", "p", "harness", max_count=1, max_duration_s=1, run_id="a b")
    with pytest.raises(ProbeError, match="workers"):
        Ledger(h, "x", 1, "u", "p", "harness", max_count=1, max_duration_s=1, run_id="r", workers=0)


def test_for_inventory_uses_the_db_vip_and_credentials(mariadb: _MariaDB, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TEST_PW", "pw")
    inv = Inventory(
        name="t",
        hosts={"db1": Host("db1", "127.0.0.1", ("db",)), "web1": Host("web1", "127.0.0.2", ("web",))},
        vips={"db": Vip("db", "127.0.0.1", mariadb.port, "mysql")},
        database=Database(kind="galera", user="h", password_env="LEDGER_TEST_PW", name="harness",
                          port=mariadb.port),
    )
    h = HistoryRecorder()
    led = Ledger.for_inventory(h, inv, run_id="inv", max_count=4, max_duration_s=5, rate_hz=100, table="ledger2")
    assert (led.engine, led.user, led.database) == ("InnoDB", "h", "harness")
    led.start()
    assert led.join(timeout=5)
    assert db_nodes(inv) == {"db1": ("127.0.0.1", mariadb.port)}
    assert led.final_read(db_nodes(inv), wait_s=5) == {"db1": [f"inv-0-{n}" for n in range(4)]}
