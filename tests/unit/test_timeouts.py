"""Every network call the harness makes has a finite timeout (issue 10's audit).

A static check walks harness/ for the calls that open or use a connection (SQL, SSH, TCP,
HTTP) and requires their timeout arguments; behaviour tests cover the waits a keyword
cannot show (paramiko's exec request, a ledger or locustfile configured with no bound).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.errors import ProbeError, TransportError
from harness.history import HistoryRecorder
from harness.probes.ledger import Ledger
from harness.transport.ssh import exec_on_client

ROOT = Path(__file__).resolve().parents[2]

#: call (as written: the dotted tail of the callee) -> keyword arguments it must be given
REQUIRED: dict[str, tuple[str, ...]] = {
    "pymysql.connect": ("connect_timeout", "read_timeout", "write_timeout"),
    "pymysql.connections.Connection": ("connect_timeout", "read_timeout", "write_timeout"),
    "socket.create_connection": ("timeout",),
    "client.connect": ("timeout", "banner_timeout", "auth_timeout", "channel_timeout"),
    "transport.open_session": ("timeout",),
    "opener.open": ("timeout",),
    "urllib.request.urlopen": ("timeout",),
}


def _dotted(node: ast.expr) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _calls_without_timeouts() -> tuple[list[str], int]:
    missing: list[str] = []
    seen = 0
    for path in sorted((ROOT / "harness").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func)
            need = REQUIRED.get(name)
            if need is None:
                continue
            seen += 1
            given = {kw.arg for kw in node.keywords}
            if name == "socket.create_connection" and len(node.args) >= 2:
                given.add("timeout")
            lacking = [k for k in need if k not in given]
            if lacking:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}() without {', '.join(lacking)}")
    return missing, seen


def test_every_connection_call_in_harness_has_its_timeouts() -> None:
    missing, seen = _calls_without_timeouts()
    assert seen >= 8, "the audit found almost no calls: did the call names change?"
    assert missing == []


class _SilentChannel:
    """A channel whose server never answers the exec request (a frozen host, TCP still up):
    paramiko's exec_command waits on ``event`` with no timeout; close() wakes it."""

    def __init__(self) -> None:
        self.closed_at: float | None = None
        self._woken = threading.Event()

    def exec_command(self, line: str) -> None:
        self._woken.wait()
        raise EOFError("Channel closed.")

    def close(self) -> None:
        if self.closed_at is None:
            self.closed_at = time.monotonic()
        self._woken.set()


class _Transport:
    def __init__(self, chan: _SilentChannel) -> None:
        self.chan = chan

    def is_active(self) -> bool:
        return True

    def open_session(self, timeout: float | None = None) -> _SilentChannel:
        return self.chan


class _Client:
    def __init__(self, chan: _SilentChannel) -> None:
        self.t = _Transport(chan)

    def get_transport(self) -> _Transport:
        return self.t


@pytest.mark.timeout(20)
def test_an_unanswered_exec_request_fails_within_the_connect_timeout() -> None:
    chan = _SilentChannel()
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"web1: no answer to the request to run 'uptime' within 0.3s \(it may or may not have run\)"):
        exec_on_client(_Client(chan), "web1", "uptime", 30.0, 0.3)  # type: ignore[arg-type]
    assert time.monotonic() - started < 3
    assert chan.closed_at is not None


@pytest.mark.parametrize("field", ["read_timeout_s", "write_timeout_s"])
@pytest.mark.parametrize("bad", [None, float("inf"), float("nan"), 0])
def test_ledger_refuses_unbounded_sql_timeouts(field: str, bad: object) -> None:
    with pytest.raises(ProbeError, match=f"ledger \\(db:3306\\): {field} must be a positive finite number"):
        Ledger(HistoryRecorder(), "db", 3306, "u", "p", "harness", max_count=10, max_duration_s=5, run_id="r1", **{field: bad})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["inf", "0"])
def test_locustfile_refuses_an_unbounded_request_timeout(value: str) -> None:
    env = {**os.environ, "MOODLE_TIMEOUT": value, "MOODLE_USERS": "u1:p1"}
    proc = subprocess.run(
        [sys.executable, "-c", "import harness.load.moodle_locustfile"],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode != 0
    assert f"MOODLE_TIMEOUT={float(value)}: must be a finite number of seconds > 0" in proc.stderr
