"""Start and stop one daemon inside a lab host (what `hostctl HOST start|stop DAEMON` does).

Runs *inside* a host (via `_hostctl`, entered with nsenter by the lab or over SSH by the
harness). The daemon table is `_services`, process control `_proc`, Galera's careful start
`_galera`; this module only knows how each daemon is launched and when it counts as ready.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time

from ..errors import LabError
from ._galera import start_mariadb
from ._gluster import start_glusterd, start_mount, stop_mount
from ._ldap import start_slapd
from ._paths import CLUSTERCHECK, LMS_DATAROOT, LabPaths
from ._proc import HOST_ENV, port_open, running_pid, spawn, wait_for
from ._services import DAEMONS
from ._topology import LabHost, Topology


def start_daemon(name: str, topo: Topology, host: LabHost, paths: LabPaths, wait: float = 30.0) -> str:
    """Start one daemon on this host (idempotent) and wait until it listens / holds its pidfile."""
    if name == "mariadb":
        return start_mariadb(topo, host, paths, wait=wait)
    if name == "glusterd":
        return start_glusterd(host, paths, wait)
    if name == "gluster-mount":
        return start_mount(topo, host, paths, wait)
    if name == "slapd":
        return start_slapd(topo, host, paths, wait)
    daemon = DAEMONS[name]
    if running_pid(daemon):
        return f"{name}: already running"
    log_path = paths.log(host.name) / daemon.log
    conf = paths.etc(host.name)

    def pid_alive() -> bool:
        return running_pid(daemon) is not None

    if name == "sshd":
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        spawn(["/usr/sbin/sshd", "-f", str(conf / "sshd_config"), "-E", str(log_path)], log_path, wait=True)
        wait_for(f"{host.name}: sshd", lambda: port_open(host.address, 22), wait, log_path)
    elif name == "apache":
        os.makedirs("/run/apache2/lock", mode=0o755, exist_ok=True)
        www = pwd.getpwnam("www-data")
        os.chown("/run/apache2/lock", www.pw_uid, www.pw_gid)
        if not os.path.isdir(LMS_DATAROOT):  # on the node's own disk (a mounted share is made by the file tier)
            os.makedirs(LMS_DATAROOT, mode=0o750)
            os.chown(LMS_DATAROOT, www.pw_uid, www.pw_gid)
        spawn(["/usr/sbin/apache2", "-f", str(conf / "apache2.conf"), "-k", "start"], log_path, wait=True)
        wait_for(f"{host.name}: apache", lambda: port_open(host.address, 80), wait, log_path)
    elif name == "haproxy":
        os.makedirs("/run/haproxy", mode=0o755, exist_ok=True)
        spawn(["/usr/sbin/haproxy", "-D", "-f", str(conf / "haproxy.cfg"), "-p", daemon.pidfile], log_path, wait=True)
        wait_for(f"{host.name}: haproxy", lambda: pid_alive() and os.path.exists("/run/haproxy/admin.sock"),
                 wait, log_path)
    elif name == "keepalived":
        os.makedirs("/run/keepalived", mode=0o755, exist_ok=True)
        proc = spawn(["/usr/sbin/keepalived", "-P", "-n", "-l", "-D", "-G", "-f", str(conf / "keepalived.conf"),
                      "-p", daemon.pidfile, "-r", "/run/keepalived/vrrp.pid",
                      "-c", "/run/keepalived/checkers.pid"], log_path, wait=False)
        wait_for(f"{host.name}: keepalived", lambda: pid_alive() and os.path.exists("/run/keepalived/vrrp.pid"),
                 wait, log_path, alive=lambda: proc.poll() is None)
    elif name == "clustercheck":
        proc = subprocess.Popen(
            ["clustercheck", str(CLUSTERCHECK), "--bind", host.address, "--node", host.name,
             "--pidfile", daemon.pidfile],
            executable="/usr/bin/python3", stdin=subprocess.DEVNULL,
            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, start_new_session=True, env=HOST_ENV)
        wait_for(f"{host.name}: clustercheck", lambda: port_open(host.address, 9200), wait, log_path,
                 alive=lambda: proc.poll() is None)
    else:
        raise LabError(f"{host.name}: unknown daemon {name!r} (known: {', '.join(DAEMONS)})")
    return f"{name}: started"


def stop_daemon(name: str, host: LabHost, paths: LabPaths, kill: bool = False) -> str:
    """SIGTERM (or SIGKILL) the daemon from its pidfile and wait until it is gone."""
    if name == "gluster-mount":
        return stop_mount(host, kill)
    daemon = DAEMONS[name]
    pid = running_pid(daemon)
    if pid is None:
        return f"{name}: not running"
    os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
    deadline = time.monotonic() + daemon.stop_timeout_s
    while time.monotonic() < deadline:
        if running_pid(daemon) is None:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    return f"{name}: stopped"
