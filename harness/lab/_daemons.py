"""The lab's daemons: where their files live, how their configs are rendered, how they start/stop.

Rendering is pure (templates under templates/, `string.Template`). Starting and stopping runs
*inside* a host (via `_hostctl`, entered with nsenter by the lab or over SSH by the harness), so
/run, the hostname and the PID table are the host's own. Daemons are started in a new session
(setsid): one process group per daemon, so no group kill can take several down together.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from ._topology import DIRECTOR_PRIORITY, VRRP_INSTANCES, LabHost, Topology

TEMPLATES = Path(__file__).with_name("templates")
LMS_DIR = Path(__file__).with_name("lms")
CLUSTERCHECK = Path(__file__).with_name("_clustercheck.py")
HOST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
            "HOME": "/root"}

#: evs timers (see LAB_NOTES): the measured PT0.5S/PT2S/PT3S once left nodes non-Primary on
#: 2 busy cores; these halve the default stall after a node kill (~4 s instead of 6.3 s) with
#: margin against a CPU-starved but healthy node being evicted.
EVS_TIMERS = ("evs.keepalive_period=PT1S; evs.suspect_timeout=PT3S; evs.inactive_timeout=PT6S; "
              "evs.install_timeout=PT6S")


def render(template: str, **values: object) -> str:
    """Fill templates/<template>; a missing value is a LabError naming it (never a silent blank)."""
    text = (TEMPLATES / template).read_text()
    try:
        return string.Template(text).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise LabError(f"template {template}: no value for ${exc.args[0]}") from None


@dataclass(frozen=True)
class LabPaths:
    """Files of one lab in its state dir (the same paths are valid inside every host)."""

    state_dir: Path

    @property
    def bin(self) -> Path:
        return self.state_dir / "bin"

    @property
    def hostctl(self) -> Path:
        return self.bin / "hostctl"

    @property
    def ssh_dir(self) -> Path:
        return self.state_dir / "ssh"

    @property
    def key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def authorized_keys(self) -> Path:
        return self.ssh_dir / "authorized_keys"

    @property
    def secrets(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def harness_password_file(self) -> Path:
        return self.secrets / "harness_db_password"

    @property
    def lms_password_file(self) -> Path:
        return self.secrets / "lms_db_password"

    @property
    def inventory(self) -> Path:
        return self.state_dir / "cluster.yml"

    @property
    def placeholder_root(self) -> Path:
        return self.state_dir / "www"

    def host_dir(self, host: str) -> Path:
        return self.state_dir / "hosts" / host

    def etc(self, host: str) -> Path:
        return self.host_dir(host) / "etc"

    def log(self, host: str) -> Path:
        return self.host_dir(host) / "log"

    def datadir(self, host: str) -> Path:
        return self.host_dir(host) / "mysql"

    def conf(self, host: str, name: str) -> Path:
        return self.etc(host) / name

    def docroot(self) -> Path:
        """The LMS app if another helper has shipped it, else the placeholder."""
        public = LMS_DIR / "public"
        return public if (public / "login" / "index.php").exists() else self.placeholder_root


@dataclass(frozen=True)
class Daemon:
    """How one daemon is found on a host: the pidfile (in the host's private /run) and name."""

    name: str
    process: str
    pidfile: str
    log: str  # file name under the host's log dir
    stop_timeout_s: float = 10.0


DAEMONS: dict[str, Daemon] = {
    "sshd": Daemon("sshd", "sshd", "/run/sshd.pid", "sshd.log"),
    "mariadb": Daemon("mariadb", "mariadbd", "/run/mysqld/mysqld.pid", "mariadb.err", 90.0),
    "clustercheck": Daemon("clustercheck", "clustercheck", "/run/clustercheck.pid", "clustercheck.log"),
    "apache": Daemon("apache", "apache2", "/run/apache2/apache2.pid", "apache-error.log"),
    "haproxy": Daemon("haproxy", "haproxy", "/run/haproxy/haproxy.pid", "haproxy.log"),
    "keepalived": Daemon("keepalived", "keepalived", "/run/keepalived/keepalived.pid", "keepalived.log"),
}
ROLE_DAEMONS: dict[str, tuple[str, ...]] = {
    "client": (),
    "db": ("mariadb", "clustercheck"),
    "web": ("apache",),
    "director": ("haproxy", "keepalived"),
}


def host_daemons(host: LabHost) -> list[str]:
    """Daemons of a host in start order (sshd first: a host is reachable before its roles)."""
    names = ["sshd"]
    for role in host.roles:
        names.extend(ROLE_DAEMONS.get(role, ()))
    return names


# -- rendering (root side) -------------------------------------------------------------------
def vrrp_instance_blocks(topo: Topology, host: LabHost, paths: LabPaths, advert_int: float, *,
                         iface: str) -> list[str]:
    """The vrrp_instance blocks of one director (both director kinds share them)."""
    top = max(DIRECTOR_PRIORITY.values())
    return [
        render("keepalived-instance.conf", instance=inst, vrid=vrid,
               state="MASTER" if DIRECTOR_PRIORITY[host.name] == top else "BACKUP",
               priority=DIRECTOR_PRIORITY[host.name], advert_int=f"{advert_int:g}",
               vip=topo.vips[vip_name], prefixlen=topo.prefixlen, iface=iface,
               notify=paths.conf(host.name, "keepalived-notify.sh"))
        for inst, (vip_name, vrid) in VRRP_INSTANCES.items()
    ]


def render_host_configs(topo: Topology, host: LabHost, paths: LabPaths, advert_int: float,
                        lms_password: str, directors: str = "haproxy",
                        lvs_sync: bool = True) -> dict[Path, tuple[str, int]]:
    """path -> (content, mode) of every config file of ``host``.

    ``directors`` is ``haproxy`` (namespaces) or ``lvs`` (UML guests, LVS-DR: then the real
    servers also listen on the VIP they hold on lo).
    """
    log_dir = paths.log(host.name)
    lvs = directors == "lvs"
    files: dict[Path, tuple[str, int]] = {
        paths.conf(host.name, "sshd_config"): (render(
            "sshd_config", host=host.name, address=host.address,
            host_key=paths.etc(host.name) / "ssh_host_ed25519_key", authorized_keys=paths.authorized_keys), 0o644),
    }
    if host.has_role("director") and lvs:
        from ._lvs import render_director_configs

        files.update(render_director_configs(topo, host, paths, advert_int, lvs_sync))
    elif host.has_role("director"):
        blocks = vrrp_instance_blocks(topo, host, paths, advert_int, iface="eth0")
        files[paths.conf(host.name, "keepalived.conf")] = (
            render("keepalived.conf", host=host.name, instances="\n".join(blocks)), 0o644)
        files[paths.conf(host.name, "keepalived-notify.sh")] = (
            render("keepalived-notify.sh", host=host.name, log=log_dir / "keepalived-notify.log"), 0o755)
        web = "\n".join(f"    server {h.name} {h.address}:80 check" for h in topo.with_role("web"))
        dbs = topo.with_role("db")
        db = "\n".join(f"    server {h.name} {h.address}:3306 check" + ("" if i == 0 else " backup")
                       for i, h in enumerate(dbs))
        files[paths.conf(host.name, "haproxy.cfg")] = (render(
            "haproxy.cfg", host=host.name, web_vip=topo.vips["web"], db_vip=topo.vips["db"],
            web_servers=web, db_servers=db), 0o644)
    if host.has_role("web"):
        files[paths.conf(host.name, "apache2.conf")] = (render(
            "apache2.conf", host=host.name, address=host.address, server_root=paths.host_dir(host.name),
            log_dir=log_dir, docroot=paths.docroot(), db_vip=topo.vips["db"], lms_user="lms",
            lms_password=lms_password, web_vip=topo.vips["web"],
            extra_listen=f"Listen {topo.vips['web']}:80" if lvs else "",
            # LVS: an idle keep-alive connection must outlive a director failover (~3-4 s at
            # advert_int 1) for connection sync to be observable at all; 5 s raced it
            keepalive_timeout=15 if lvs else 5), 0o600)
    if host.has_role("db"):
        peers = ",".join(h.address for h in topo.with_role("db"))
        files[paths.conf(host.name, "galera.cnf")] = (render(
            "galera.cnf", host=host.name, address=host.address, datadir=paths.datadir(host.name),
            bind_address="0.0.0.0" if lvs else host.address,  # LVS-DR: also the DB VIP on lo
            log_dir=log_dir, cluster_name=f"hlab-{topo.lab_name}", peers=peers, evs_timers=EVS_TIMERS), 0o644)
    return files


# -- control (inside a host) -----------------------------------------------------------------
def running_pid(daemon: Daemon) -> int | None:
    """PID from the pidfile if that process runs and has the daemon's name (guards PID reuse)."""
    try:
        pid = int(Path(daemon.pidfile).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return pid if comm == daemon.process[:15] and state != "Z" else None


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


def wait_for(what: str, predicate, timeout_s: float, log_path: Path | None = None,
             alive=None, interval: float = 0.05) -> None:  # noqa: ANN001
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


def start_daemon(name: str, topo: Topology, host: LabHost, paths: LabPaths, wait: float = 30.0) -> str:
    """Start one daemon on this host (idempotent) and wait until it listens / holds its pidfile."""
    if name == "mariadb":
        from ._galera import start_mariadb

        return start_mariadb(topo, host, paths, wait=wait)
    daemon = DAEMONS[name]
    if running_pid(daemon):
        return f"{name}: already running"
    log_path = paths.log(host.name) / daemon.log
    conf = paths.etc(host.name)
    pid_alive = lambda: running_pid(daemon) is not None  # noqa: E731
    if name == "sshd":
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        spawn(["/usr/sbin/sshd", "-f", str(conf / "sshd_config"), "-E", str(log_path)], log_path, wait=True)
        wait_for(f"{host.name}: sshd", lambda: port_open(host.address, 22), wait, log_path)
    elif name == "apache":
        os.makedirs("/run/apache2/lock", mode=0o755, exist_ok=True)
        www = pwd.getpwnam("www-data")
        os.chown("/run/apache2/lock", www.pw_uid, www.pw_gid)
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
