"""Process control inside a lab host: spawn a daemon in its own session, find it by pidfile, wait
(and the bounded readiness poll the file and auth tiers run from the root namespace).

A leaf under `_daemons` and `_galera` (both start daemons with it). Runs *inside* a host (via
`_hostctl`), so /run, the hostname and the PID table are the host's own. Daemons are started in
a new session (setsid): one process group per daemon, so no group kill takes several down.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import LabError, ParseError
from ._procfs import read_stat
from ._services import Daemon

HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
            "HOME": "/root"}


def running_pid(daemon: Daemon) -> int | None:
    """PID from the pidfile if that process runs and has the daemon's name (guards PID reuse)."""
    try:
        pid = int(Path(daemon.pidfile).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    st = read_stat(pid)
    return pid if comm == daemon.process[:15] and st is not None and st.alive else None


def spawn(argv: list[str], log_path: Path, *, wait: bool) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session with output to ``log_path``; wait for it if it forks."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=HOST_ENV, close_fds=True)
    if wait:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise LabError(f"`{' '.join(argv)}` did not return in 30s; see {log_path}") from None
        if proc.returncode != 0:
            raise LabError(f"`{' '.join(argv)}` exited {proc.returncode}:\n{tail(log_path)}")
    return proc


def tail(path: Path, lines: int = 12) -> str:
    try:
        data = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"    ({path} unreadable)"
    return "\n".join("    " + line for line in data)


def port_open(address: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(what: str, predicate: Callable[[], bool], timeout_s: float, log_path: Path | None = None,
             alive: Callable[[], bool] | None = None, interval: float = 0.05) -> None:
    """Poll ``predicate`` until true; fail early if ``alive()`` turns false. Bounded in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if alive is not None and not alive():
            break
        time.sleep(interval)
    else:
        raise LabError(f"{what}: not ready after {timeout_s:.0f}s" + (f"; last log lines:\n{tail(log_path)}" if log_path else ""))
    raise LabError(f"{what}: the process exited" + (f"; last log lines:\n{tail(log_path)}" if log_path else ""))


def poll_missing(what: str, pred: Callable[[], str], timeout_s: float, interval_s: float) -> None:
    """Call ``pred`` until it returns '' (done; else what is still missing), bounded in time;
    LabError saying what and the last thing missing."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            last = pred()
        except (LabError, ParseError) as exc:
            last = str(exc)
        if not last:
            return
        time.sleep(interval_s)
    raise LabError(f"{what}: not done after {timeout_s:.0f}s: {last}")
