"""Start a MariaDB Galera node the way a careful init script would (runs inside the db host).

- Bootstrap (`--wsrep-new-cluster`) only when no other node answers on 4567 AND this is the
  first node (or grastate says safe_to_bootstrap): a restarted db1 must join, not split.
- After a crash (grastate seqno -1) run `mariadbd --wsrep-recover` first and start with
  `--wsrep-start-position=uuid:seqno`: an incremental transfer (3-4 s) instead of a full SST.
- A joiner that dies before Synced is retried (parallel joins sometimes fail to reach the
  primary view, docs/lab-measurements.md); callers join nodes one at a time.
So "heal = run the service's start command" does the right recovery.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
import time
from pathlib import Path

from ..errors import LabError
from ..parsers.grastate import ZERO_UUID, parse_grastate, parse_recovered_position
from ._clustercheck import parse_status
from ._paths import LabPaths
from ._proc import port_open, running_pid, spawn, tail
from ._services import DAEMONS
from ._topology import LabHost, Topology

__all__ = ["ZERO_UUID", "parse_recovered_position", "read_grastate", "start_mariadb", "wsrep_status"]


def read_grastate(datadir: Path) -> dict[str, str]:
    """grastate.dat as a dict (uuid, seqno, safe_to_bootstrap); empty if absent."""
    try:
        return parse_grastate((datadir / "grastate.dat").read_text())
    except OSError:
        return {}


def wsrep_status(timeout: float = 2.0) -> dict[str, str]:
    """Local wsrep figures over the socket (empty dict if the server does not answer)."""
    try:
        proc = subprocess.run(
            ["mariadb", "--socket=/run/mysqld/mysqld.sock", "--connect-timeout=1", "-N", "-B", "-e",
             "SHOW GLOBAL STATUS LIKE 'wsrep_%'"], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}
    return parse_status(proc.stdout) if proc.returncode == 0 else {}


def _chown_mysql(path: Path) -> None:
    pw = pwd.getpwnam("mysql")
    os.chown(path, pw.pw_uid, pw.pw_gid)


def _install_db(cnf: Path, datadir: Path, log: Path) -> None:
    proc = subprocess.run(
        ["mariadb-install-db", f"--defaults-file={cnf}", "--user=mysql", f"--datadir={datadir}",
         "--skip-test-db", "--auth-root-authentication-method=socket", "--wsrep-on=OFF"],
        capture_output=True, text=True, timeout=120)
    with open(log, "a") as fh:
        fh.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise LabError(f"mariadb-install-db for {datadir} exited {proc.returncode}:\n{tail(log)}")


def _recover_position(cnf: Path, log: Path) -> str | None:
    recover_log = Path("/tmp/wsrep-recover.log")
    recover_log.unlink(missing_ok=True)
    subprocess.run(["/usr/sbin/mariadbd", f"--defaults-file={cnf}", "--wsrep-recover",
                    f"--log-error={recover_log}"], capture_output=True, text=True, timeout=120)
    text = recover_log.read_text(errors="replace") if recover_log.exists() else ""
    with open(log, "a") as fh:
        fh.write(text)
    return parse_recovered_position(text)


def _set_safe_to_bootstrap(datadir: Path) -> None:
    path = datadir / "grastate.dat"
    if path.exists():
        text = re.sub(r"safe_to_bootstrap:\s*0", "safe_to_bootstrap: 1", path.read_text())
        path.write_text(text)


def start_mariadb(topo: Topology, host: LabHost, paths: LabPaths, wait: float = 90.0, attempts: int = 3) -> str:
    daemon = DAEMONS["mariadb"]
    if running_pid(daemon):
        return "mariadb: already running"
    cnf = paths.conf(host.name, "galera.cnf")
    datadir = paths.datadir(host.name)
    log = paths.log(host.name) / daemon.log
    log.parent.mkdir(parents=True, exist_ok=True)
    for d in (Path("/run/mysqld"), datadir):
        d.mkdir(parents=True, exist_ok=True)
        _chown_mysql(d)
    if log.exists():
        _chown_mysql(log)
    dbs = topo.with_role("db")
    first = dbs[0].name == host.name
    peers_up = [p.name for p in dbs if p.name != host.name and port_open(p.address, 4567, 0.5)]
    initialized = (datadir / "mysql").is_dir()
    grastate = read_grastate(datadir)
    extra: list[str] = []
    note = []
    if not peers_up:
        if not (first or grastate.get("safe_to_bootstrap") == "1"):
            raise LabError(
                f"{host.name}: no other Galera node answers on port 4567 and this node may not bootstrap "
                f"(grastate safe_to_bootstrap={grastate.get('safe_to_bootstrap', 'absent')}); start {dbs[0].name} first"
            )
        if not initialized:
            _install_db(cnf, datadir, log)
            initialized = True
        _set_safe_to_bootstrap(datadir)
        extra.append("--wsrep-new-cluster")
        note.append("bootstrapped a new cluster")
    if peers_up:
        # gvwstate.dat makes a restarted node wait to restore its old primary view until the
        # others have evicted its previous incarnation (~10 s measured); a running cluster does
        # not need it, so join as a new member at once
        (datadir / "gvwstate.dat").unlink(missing_ok=True)
    if initialized and grastate.get("seqno") == "-1" and grastate.get("uuid", ZERO_UUID) != ZERO_UUID:
        pos = _recover_position(cnf, log)
        if pos:
            extra.append(f"--wsrep-start-position={pos}")
            note.append(f"recovered position {pos}")
    if log.exists():  # install/recover appended to it as root; mariadbd writes it as mysql
        _chown_mysql(log)
    last_error = ""
    for attempt in range(1, attempts + 1):
        proc = spawn(["/usr/sbin/mariadbd", f"--defaults-file={cnf}", *extra], log, wait=False)
        if wait <= 0:
            return "mariadb: started (not waiting) " + ", ".join(note)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and proc.poll() is None:
            status = wsrep_status()
            if status.get("wsrep_local_state_comment") == "Synced" and status.get("wsrep_ready") == "ON":
                return f"mariadb: Synced (cluster size {status.get('wsrep_cluster_size')}, attempt {attempt}) " + ", ".join(note)
            time.sleep(0.2)
        if proc.poll() is None:
            raise LabError(f"{host.name}: mariadb not Synced after {wait:.0f}s; last log lines:\n{tail(log)}")
        last_error = tail(log)
        if "--wsrep-new-cluster" in extra:
            break  # a failed bootstrap does not get better by retrying
        time.sleep(min(2.0, 0.5 * attempt))  # back off before the next join attempt
    raise LabError(f"{host.name}: mariadbd exited before Synced ({attempts} attempts); last log lines:\n{last_error}")
