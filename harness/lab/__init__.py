"""The lab: a real three-tier HA cluster (keepalived + IPVS in User-Mode Linux guests, or + HAProxy;
Apache + PHP, MariaDB Galera) on one machine, every other host a set of namespaces with its own
init, built and torn down by the harness.

    lab = Lab()                       # name "default", subnet 198.18.0.0/24, directors "auto":
                                      # dir1/dir2 UML guests with IPVS where they boot, else HAProxy
    lab = Lab("hap", "198.18.4.0/24", directors="haproxy")   # a second lab, HAProxy directors
    status = lab.up(progress=print)   # no-op if already running; waits on real readiness
    lab.ssh("web1", "hostname")
    lab.domain("destroy", "dir1")     # power-cord pull; lab.domain("start", "dir1") heals
    lab.down()                        # removes exactly what the state file records

Everything created is recorded in <state dir>/state.json before it is created, so `down` works
after a crashed or SIGKILLed `up`. The harness database password is in
<state dir>/secrets/harness_db_password (`Lab.db_password()`; cluster.yml names it by the
environment variable HARNESS_DB_PASSWORD).
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabError
from . import _netns
from ._daemons import DAEMONS, LMS_DIR, TEMPLATES, LabPaths, host_daemons, render_host_configs
from ._preflight import ip_json, run_preflight
from ._state import LabState, default_state_dir, locked, pid_alive
from ._topology import DIRECTOR_KINDS, VRRP_INSTANCES, LabHost, Topology, build_topology

__all__ = ["Lab", "LabError", "LabStatus", "DOMAIN_ACTIONS"]

Progress = Callable[[str], None]
DOMAIN_ACTIONS = ("destroy", "shutdown", "start", "pause", "unpause", "list")
PASSWORD_ENV = "HARNESS_DB_PASSWORD"


@dataclass
class LabStatus:
    """One look at the lab. Shapes follow the `state` samples of docs/history.md."""

    name: str
    state_dir: str
    built: bool
    hosts: dict[str, str] = field(default_factory=dict)  # host -> running | paused | shutoff
    vrrp: dict[str, dict[str, str]] = field(default_factory=dict)
    vip_holders: dict[str, list[str]] = field(default_factory=dict)
    backends: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    web: dict[str, str] = field(default_factory=dict)  # web host -> "200 web1" or error
    db: dict[str, dict[str, Any]] = field(default_factory=dict)
    ssh: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    directors: str = "haproxy"  # what the directors are: haproxy (namespaces) | lvs (UML guests)
    ipvs: dict[str, str] = field(default_factory=dict)  # LVS director -> `ipvsadm -Ln` table

    @property
    def healthy(self) -> bool:
        return self.built and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


class Lab:
    """One lab, identified by its name; all state lives in its state dir."""

    def __init__(self, name: str = "default", subnet: str = "198.18.0.0/24", state_dir: str | Path | None = None,
                 advert_int: float = 1.0, directors: str = "auto", lvs_sync: bool = True) -> None:
        """``directors``: ``auto`` (the default: lvs when a guest boots here, else haproxy), ``haproxy``
        (keepalived + HAProxy in namespaces) or ``lvs`` (keepalived + IPVS in User-Mode Linux guests,
        LVS-DR).
        ``lvs_sync``: IPVS connection sync between the LVS directors (keepalived lvs_sync_daemon)."""
        self.topo: Topology = build_topology(name, subnet)
        if directors not in DIRECTOR_KINDS:
            raise LabError(f"directors {directors!r}: use one of {', '.join(DIRECTOR_KINDS)}")
        self.directors = directors
        self.lvs_sync = bool(lvs_sync)
        #: the resolved kind (lvs | haproxy): set by up(), or read from the state of a running lab
        self._kind: str | None = None if directors == "auto" else directors
        self.name = name
        self.subnet = self.topo.subnet
        if not 0.01 <= advert_int <= 255:
            raise LabError(f"advert_int {advert_int}: VRRPv3 allows 0.01 to 255 seconds")
        self.advert_int = float(advert_int)
        self.state_dir = Path(state_dir) if state_dir else default_state_dir(name)
        self.paths = LabPaths(self.state_dir)
        self._t0 = time.monotonic()
        self._progress: Progress = lambda _msg: None

    # -- construction from a state dir (domain ops, CLI) ---------------------------------
    @classmethod
    def from_state_dir(cls, state_dir: str | Path) -> Lab:
        state = LabState.load(Path(state_dir))
        config = state.get("config")
        if not config:
            raise LabError(f"{state_dir}: no lab state here (no state.json with a config); is the lab up?")
        lab = cls(config["name"], config["subnet"], state_dir, config.get("advert_int", 1.0),
                  directors=config.get("directors", "haproxy"), lvs_sync=config.get("lvs_sync", True))
        return lab

    @property
    def director_kind(self) -> str:
        """``lvs`` or ``haproxy``: what this lab's directors are (``auto`` resolved at up)."""
        if self._kind is None:
            kind = self._state().get("config", {}).get("directors")
            if kind in ("lvs", "haproxy"):
                self._kind = kind
        return self._kind or "haproxy"

    def is_guest(self, host: str | LabHost) -> bool:
        """Is ``host`` a UML guest (an LVS director) rather than a set of namespaces?"""
        h = self.topo.host(host) if isinstance(host, str) else host
        return h.has_role("director") and self.director_kind == "lvs"

    @property
    def inventory_path(self) -> Path:
        return self.paths.inventory

    def db_password(self) -> str:
        """The `harness` database user's password (what HARNESS_DB_PASSWORD must hold)."""
        try:
            return self.paths.harness_password_file.read_text().strip()
        except OSError:
            raise LabError(f"{self.paths.harness_password_file}: missing; is the lab up?") from None

    # -- helpers ---------------------------------------------------------------------------
    def _say(self, msg: str) -> None:
        self._progress(f"[{time.monotonic() - self._t0:5.1f}s] {msg}")

    def _state(self) -> LabState:
        return LabState.load(self.state_dir)

    def guard(self, address: str) -> None:
        """Refuse unless traffic to ``address`` leaves through this lab's bridge (probes call this)."""
        import ipaddress

        try:
            inside = ipaddress.ip_address(address) in ipaddress.ip_network(self.subnet)
        except ValueError:
            raise LabError(f"guard: {address!r} is not an IP address") from None
        if not inside:
            raise LabError(f"guard: {address} is outside lab subnet {self.subnet}; refusing to send to it")
        routes = ip_json("route", "get", address)
        dev = routes[0].get("dev") if routes else None
        if dev != self.topo.bridge:
            raise LabError(
                f"guard: {address} routes via {dev or 'nothing'}, not lab bridge {self.topo.bridge}; "
                f"refusing (is lab {self.name!r} up? `harness lab up --name {self.name}`)"
            )

    def exec(self, host: str, argv: Sequence[str], *, timeout: float = 60.0, input: str | None = None,
             check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``host``'s namespaces via nsenter (the lab's own back door)."""
        h = self.topo.host(host)
        if self.is_guest(h):
            raise LabError(f"{host}: a UML guest (LVS director) has no namespaces to enter: use Lab.ssh")
        pid = _netns.init_pid(self._state(), h.name)
        if pid is None:
            raise LabError(f"{host}: not running (no live init recorded in {self.state_dir})")
        try:
            proc = subprocess.run(_netns.nsenter_argv(pid, [str(a) for a in argv]), capture_output=True, text=True,
                                  timeout=timeout, input=input, env=_netns.CLEAN_ENV)
        except subprocess.TimeoutExpired:
            raise LabError(f"{host}: `{' '.join(map(str, argv))}` did not finish in {timeout:.0f}s") from None
        if check and proc.returncode != 0:
            raise LabError(f"{host}: `{' '.join(map(str, argv))}` exited {proc.returncode}:\n"
                           + "\n".join("    " + ln for ln in (proc.stderr or proc.stdout).strip().splitlines()[-15:]))
        return proc

    def hostctl(self, host: str, action: str, daemon: str = "all", wait: float = 90.0) -> str:
        if self.is_guest(host):  # the guest's own POSIX sh service control, over SSH
            from ._lvs import guestctl_path

            res = self.ssh(host, f"sh {guestctl_path(self.paths)} {host} {action} {daemon}", timeout=wait + 30)
            if res.returncode != 0:
                raise LabError(f"{host}: guestctl {action} {daemon} exited {res.returncode}: "
                               f"{(res.stderr or res.stdout).strip()}")
            return res.stdout.strip()
        proc = self.exec(host, [self.paths.hostctl, host, action, daemon, "--wait", f"{wait:g}"],
                         timeout=wait * 3 + 60, check=True)
        return proc.stdout.strip()

    def ssh_argv(self, host: str, command: Sequence[str] | str = ()) -> list[str]:
        h = self.topo.host(host)
        argv = ["ssh", "-i", str(self.paths.key), "-o", f"UserKnownHostsFile={self.paths.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", f"root@{h.address}"]
        if isinstance(command, str):
            return argv + ([command] if command else [])
        return argv + list(command)

    def ssh(self, host: str, cmd: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` on ``host`` over real SSH with the lab key and known_hosts."""
        self.guard(self.topo.host(host).address)
        try:
            return subprocess.run(self.ssh_argv(host, cmd), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{host}: ssh `{cmd}` did not finish in {timeout:.0f}s") from None

    # -- up -----------------------------------------------------------------------------------
    def up(self, progress: Progress | None = None) -> LabStatus:
        """Build the lab and wait until it serves; a no-op returning the status if it is up."""
        self._t0 = time.monotonic()
        self._progress = progress or (lambda _m: None)
        with locked(self.state_dir):
            state = self._state()
            if state.get("phase") == "ready" and any(_netns.init_pid(state, h) for h in self.topo.hosts):
                cfg = state.get("config", {})
                running_kind = cfg.get("directors", "haproxy")
                if ((cfg.get("subnet"), cfg.get("advert_int")) != (self.subnet, self.advert_int)
                        or self.directors not in ("auto", running_kind)
                        or (running_kind == "lvs" and cfg.get("lvs_sync", True) != self.lvs_sync)):
                    raise LabError(
                        f"lab {self.name!r} is already up with subnet {cfg.get('subnet')} advert_int "
                        f"{cfg.get('advert_int')} directors {running_kind} lvs_sync {cfg.get('lvs_sync', True)}; "
                        f"`harness lab down --name {self.name}` first to change them")
                self._kind = running_kind
                self._say("lab already up: nothing to do")
                return self.status()
            if state.exists:
                self._say("leftovers of an earlier lab found: tearing them down first")
                self._teardown(state)
            run_preflight(self.topo, own_bridge_recorded=False)
            state = self._state()
            step = ["preflight"]
            try:
                self._build(state, step)
            except BaseException as exc:  # also Ctrl-C: never leave half a lab behind
                detail = str(exc) if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}"
                self._say(f"FAILED during {step[0]}: tearing down what was made")
                try:
                    self._teardown(self._state())
                except Exception as tear_exc:  # noqa: BLE001
                    detail += f"\n(teardown also failed: {tear_exc}; run `harness lab down --name {self.name}`)"
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise LabError(
                    f"lab up failed during {step[0]}: {detail}\nThe half-built lab was removed. Fix the cause "
                    f"above and run `harness lab up --name {self.name}` again.") from None
        self._say("lab ready")
        return self.status()

    def _build(self, state: LabState, step: list[str]) -> None:
        topo, paths = self.topo, self.paths
        step[0] = "state directory"
        kind = self.directors
        if kind in ("lvs", "auto"):
            from ._uml import uml_available

            reason = uml_available()
            if reason and kind == "lvs":
                raise LabError(f"directors lvs: UML guests cannot run here: {reason}")
            if reason:
                self._say(f"directors: LVS unavailable ({reason}): using HAProxy directors")
                kind = "haproxy"
            else:
                kind = "lvs"
        self._kind = kind
        state.set(config={"name": self.name, "subnet": self.subnet, "advert_int": self.advert_int,
                          "python": sys.executable, "bridge": topo.bridge, "directors": kind,
                          "lvs_sync": self.lvs_sync},
                  phase="building", created=time.time())
        state.record("dir", str(self.state_dir))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o711)  # mysql and www-data traverse it; nobody lists it
        for d in (paths.bin, paths.ssh_dir, paths.secrets, paths.placeholder_root / "login"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(paths.secrets, 0o700)
        os.chmod(paths.ssh_dir, 0o755)
        self._write_files()

        step[0] = "network"
        self._say(f"network: bridge {topo.bridge} {topo.bridge_address}/{topo.prefixlen}, {len(topo.hosts)} hosts")
        _netns.create_bridge(topo, state)
        guests = [h for h in topo.hosts.values() if self.is_guest(h)]
        if guests:
            step[0] = "director guests"
            self._boot_guests(state, guests)  # they boot while the namespaces are made
        for host in topo.hosts.values():
            if not self.is_guest(host):
                _netns.create_host_network(topo, host, state)

        step[0] = "host inits"
        for host in topo.hosts.values():
            if not self.is_guest(host):
                _netns.start_init(topo, host, state, paths.log(host.name) / "init.log")
        self._say("host inits running (own PID, mount, UTS, IPC namespaces)")
        if guests:
            step[0] = "director guests"
            guests = self._wait_guests(state, guests)
        if self.director_kind == "lvs":
            for host in topo.hosts.values():
                self._dr_real_server(host)

        step[0] = "sshd"
        self._parallel({h.name: (lambda h=h: self.hostctl(h.name, "start", "sshd", 20))
                        for h in topo.hosts.values() if not self.is_guest(h)})
        self._write_known_hosts()
        self._say("sshd up on every host")

        step[0] = "daemons"
        jobs: dict[str, Callable[[], Any]] = {
            "galera": self._up_galera,
            "web": lambda: self._parallel({h.name: (lambda h=h: self._start_host_daemons(h.name, 30))
                                          for h in topo.with_role("web")}),
        }
        if self.director_kind == "haproxy":
            jobs["directors"] = lambda: self._parallel({h.name: (lambda h=h: self._start_host_daemons(h.name, 30))
                                                       for h in topo.with_role("director")})
        self._parallel(jobs)
        step[0] = "readiness"
        self._wait_ready(timeout_s=90)
        step[0] = "inventory"
        self._write_inventory()
        state = self._state()
        state.set(phase="ready", ready_at=time.time(), up_seconds=round(time.monotonic() - self._t0, 2))

    # -- LVS directors (UML guests) ---------------------------------------------------------------
    def _boot_guests(self, state: LabState, hosts: list[LabHost]) -> None:
        """Launch the director guests (recorded first); ``_wait_guests`` waits for them."""
        from . import _lvs, _uml

        self._guests: dict[str, Any] = {}
        for h in hosts:
            state.record("guest", h.name)
            state.record("link", h.tap)
            _lvs.prepare_host_key(self.paths, h.name)
            try:
                self._guests[h.name] = _uml.boot_guest(_lvs.guest_spec(self.topo, h, self.paths), self.state_dir)
            except _uml.UmlError as exc:
                self._guests[h.name] = exc
        self._say(f"director guests booting: {', '.join(h.name for h in hosts)} (User-Mode Linux, IPVS)")

    def _wait_guests(self, state: LabState, hosts: list[LabHost]) -> list[LabHost]:
        """Wait until every guest answers SSH with keepalived started; auto mode falls back to HAProxy."""
        from . import _lvs, _uml

        def wait(name: str) -> float:
            g = self._guests[name]
            if isinstance(g, Exception):
                raise g
            return g.wait_ready(timeout=60)

        try:
            took = self._parallel({h.name: (lambda h=h: wait(h.name)) for h in hosts})
        except LabError as exc:
            if self.directors != "auto":
                raise
            first = str(exc).strip().splitlines()[0]
            self._say(f"directors: an LVS guest did not boot ({first}): falling back to HAProxy directors")
            for h in hosts:
                _lvs.destroy_guest(self.paths, h)
                _uml.remove_tap(h.tap)
            self._kind = "haproxy"
            cfg = dict(state.get("config", {}), directors="haproxy")
            state.set(config=cfg)
            self._write_files()
            for h in hosts:
                _netns.create_host_network(self.topo, h, state)
                _netns.start_init(self.topo, h, state, self.paths.log(h.name) / "init.log")
            return []
        self._say("director guests ready: " + ", ".join(f"{n} {t:.1f}s" for n, t in sorted(took.items()))
                  + " (sshd up, keepalived started)")
        return hosts

    def _dr_real_server(self, host: LabHost) -> None:
        """LVS-DR real server: its VIPs on lo, and never answering ARP for them (the director does)."""
        vips = {"web": [self.topo.vips["web"]], "db": [self.topo.vips["db"]]}
        mine = [v for role, addrs in vips.items() if host.has_role(role) for v in addrs]
        if not mine or self.is_guest(host):
            return
        _netns.run(["ip", "netns", "exec", host.netns, "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1",
                    "net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_ignore=1",
                    "net.ipv4.conf.eth0.arp_announce=2"], what=host.name)
        for vip in mine:
            _netns.run(["ip", "-n", host.netns, "addr", "replace", f"{vip}/32", "dev", "lo"], what=host.name)

    def _parallel(self, jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
        """Run jobs in threads; re-raise the first failure naming its job."""
        results: dict[str, Any] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            futures = {pool.submit(fn): name for name, fn in jobs.items()}
            errors = []
            for fut in concurrent.futures.as_completed(futures):
                try:
                    results[futures[fut]] = fut.result()
                except Exception as exc:  # noqa: BLE001
                    errors.append((futures[fut], exc))
        if errors:
            name, exc = errors[0]
            if isinstance(exc, LabError) and str(exc).startswith(name):
                raise exc
            raise LabError(f"{name}: {exc}") from exc
        return results

    def _start_host_daemons(self, host: str, wait: float) -> None:
        h = self.topo.host(host)
        for daemon in host_daemons(h):
            if daemon == "sshd":
                continue
            self._say(f"{host}: starting {daemon}")
            self.hostctl(host, "start", daemon, wait)

    def _up_galera(self) -> None:
        dbs = self.topo.with_role("db")
        first = dbs[0]
        self._say(f"{first.name}: mariadb: bootstrapping a new Galera cluster, waiting for Synced")
        self._say(f"{first.name}: {self.hostctl(first.name, 'start', 'mariadb', 60)}")
        self.hostctl(first.name, "start", "clustercheck", 20)
        self._say(f"{first.name}: creating users lms, harness; loading LMS schema")
        self._setup_sql(first.name)
        for h in dbs[1:]:  # one at a time: parallel joins sometimes fail to reach primary view
            self._say(f"{h.name}: mariadb: joining (SST), waiting for Synced")
            self._say(f"{h.name}: {self.hostctl(h.name, 'start', 'mariadb', 90)}")
            self.hostctl(h.name, "start", "clustercheck", 20)

    def _setup_sql(self, host: str) -> None:
        pattern = self.topo.mysql_host_pattern()
        hpw = self.paths.harness_password_file.read_text().strip()
        lpw = self.paths.lms_password_file.read_text().strip()
        sql = f"""
CREATE DATABASE IF NOT EXISTS harness;
CREATE DATABASE IF NOT EXISTS moodle CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'harness'@'{pattern}' IDENTIFIED BY '{hpw}';
GRANT ALL ON harness.* TO 'harness'@'{pattern}';
GRANT SELECT ON moodle.* TO 'harness'@'{pattern}';
CREATE USER IF NOT EXISTS 'lms'@'{pattern}' IDENTIFIED BY '{lpw}';
GRANT ALL ON moodle.* TO 'lms'@'{pattern}';
"""
        self.exec(host, ["mariadb", "-e", sql], check=True, timeout=30)
        for name in ("schema.sql", "seed.sql"):
            path = LMS_DIR / name
            if path.exists():
                self.exec(host, ["mariadb", "moodle"], input=path.read_text(), check=True, timeout=60)
                self._say(f"{host}: applied {path.relative_to(LMS_DIR.parent.parent.parent)}")

    # -- files ---------------------------------------------------------------------------------
    def _write_files(self) -> None:
        paths, topo = self.paths, self.topo
        for f in (paths.harness_password_file, paths.lms_password_file):
            if not f.exists():
                f.write_text(secrets.token_hex(16) + "\n")
                os.chmod(f, 0o600)
        if not paths.key.exists():
            _netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"harness-lab-{self.name}",
                        "-f", str(paths.key)], what="ssh-keygen")
        shutil.copyfile(paths.key.with_suffix(".pub"), paths.authorized_keys)
        os.chmod(paths.authorized_keys, 0o644)
        paths.hostctl.write_text(
            "#!/bin/sh\n# harness lab: service control inside a lab host (see harness/lab/_hostctl.py)\n"
            f"PYTHONPATH={Path(__file__).resolve().parents[2]} exec {sys.executable} -m harness.lab._hostctl "
            f"--state-dir {self.state_dir} \"$@\"\n")
        os.chmod(paths.hostctl, 0o755)
        (paths.placeholder_root / "login" / "index.php").write_text((TEMPLATES / "placeholder-login.php").read_text())
        (paths.placeholder_root / "index.php").write_text((TEMPLATES / "placeholder-login.php").read_text())
        lms_pw = paths.lms_password_file.read_text().strip()
        for host in topo.hosts.values():
            for d in (paths.etc(host.name), paths.log(host.name)):
                d.mkdir(parents=True, exist_ok=True)
            key = paths.etc(host.name) / "ssh_host_ed25519_key"
            if not key.exists():
                _netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{host.name}@harness-lab",
                            "-f", str(key)], what=f"{host.name}: ssh-keygen")
            for path, (content, mode) in render_host_configs(topo, host, paths, self.advert_int, lms_pw,
                                                             self.director_kind, self.lvs_sync).items():
                path.write_text(content)
                os.chmod(path, mode)
        if self.director_kind == "lvs":
            from ._lvs import guestctl_path, render_guestctl

            guestctl_path(paths).write_text(render_guestctl(self.name, paths))
            os.chmod(guestctl_path(paths), 0o755)

    def _write_known_hosts(self) -> None:
        lines = []
        for host in self.topo.hosts.values():
            pub = (self.paths.etc(host.name) / "ssh_host_ed25519_key.pub").read_text().split()
            lines.append(f"{host.address} {pub[0]} {pub[1]}")
        self.paths.known_hosts.write_text("\n".join(lines) + "\n")

    def inventory_dict(self) -> dict[str, Any]:
        """cluster.yml content (docs/cluster-file.md) describing this lab."""
        topo, paths = self.topo, self.paths
        hostctl = str(paths.hostctl)
        hosts: dict[str, Any] = {
            "supervisor": {"address": topo.bridge_address, "roles": ["hypervisor"], "transport": "local",
                           "hypervisor": {"kind": "lab", "state_dir": str(self.state_dir)}},
        }
        for h in topo.hosts.values():
            services: dict[str, Any] = {}
            if self.is_guest(h):  # LVS director: keepalived (with IPVS) is its only service
                from ._lvs import guestctl_path

                ctl = guestctl_path(paths)
                services["keepalived"] = {
                    "manager": "command", "start": f"sh {ctl} {h.name} start keepalived",
                    "stop": f"sh {ctl} {h.name} stop keepalived", "pidfile": DAEMONS["keepalived"].pidfile,
                    "process": "keepalived", "config": str(paths.conf(h.name, "keepalived.conf"))}
                hosts[h.name] = {"address": h.address, "roles": list(h.roles),
                                 "domain": {"name": h.name, "hypervisor": "supervisor"}, "services": services}
                continue
            for daemon in host_daemons(h):
                d = DAEMONS[daemon]
                svc: dict[str, Any] = {"manager": "command", "start": f"{hostctl} {h.name} start {daemon}",
                                       "stop": f"{hostctl} {h.name} stop {daemon}", "pidfile": d.pidfile,
                                       "process": d.process}
                if daemon == "keepalived":
                    svc["config"] = str(paths.conf(h.name, "keepalived.conf"))
                elif daemon == "haproxy":
                    svc["config"] = str(paths.conf(h.name, "haproxy.cfg"))
                elif daemon == "apache":
                    svc["config"] = str(paths.conf(h.name, "apache2.conf"))
                elif daemon == "mariadb":
                    svc["config"] = str(paths.conf(h.name, "galera.cnf"))
                elif daemon == "sshd":
                    svc["config"] = str(paths.conf(h.name, "sshd_config"))
                services[daemon] = svc
            hosts[h.name] = {"address": h.address, "roles": list(h.roles),
                             "domain": {"name": h.name, "hypervisor": "supervisor"}, "services": services}
        return {
            "name": f"harness-lab-{self.name}",
            "ssh": {"user": "root", "port": 22, "key_file": str(paths.key), "known_hosts": str(paths.known_hosts),
                    "insecure_ignore_host_keys": False, "connect_timeout_s": 5, "command_timeout_s": 120,
                    "keepalive_s": 2},
            "database": {"kind": "galera", "user": "harness", "password_env": PASSWORD_ENV, "name": "harness",
                         "port": 3306},
            "vips": {
                "web": {"address": topo.vips["web"], "port": 80, "protocol": "http", "path": "/login/index.php"},
                "db": {"address": topo.vips["db"], "port": 3306, "protocol": "mysql"},
            },
            "hosts": hosts,
            # SLOs for the lab on 2 shared cores: a login (bcrypt + two redirects) under load takes
            # ~170-330 ms at p95, other pages ~30 ms; failover budgets come from the daemons' own
            # configuration (keepalived, Galera timers), these are the margins around them: the
            # probe's own timeout (0.5 s), the gratuitous ARP and scheduling on busy cores (a
            # power-cord pull measured 4.0-4.3 s against a 3.61 s keepalived budget).
            # Availability: HAProxy retries a refused request on another web node, LVS cannot: with
            # LVS directors a crashed web node's third of new connections is refused until two
            # checks 0.2 s apart remove it (delay_loop 0.5: at most ~0.7 s), ~1 % of a 25 s
            # scenario (measured 98.96-99.14 %); the other 1 % is for scheduling on 2 busy cores
            "slo": {
                "availability_percent": 98.0 if self.director_kind == "lvs" else 99.0, "failover_margin_s": 1.5,
                "max_error_rate_percent": 5.0,
                "recovery_s": 60, "web_failover_s": 3.0,
                "latency_ms": {"steady": {"p95": 500, "p99": 1000}, "fault": {"p95": 2000, "p99": 5000},
                               "recovery": {"p95": 1000, "p99": 2000}},
            },
        }

    def _write_inventory(self) -> None:
        import yaml

        header = (f"# Written by `harness lab up` for lab {self.name!r}; regenerated on every up.\n"
                  f"# The harness DB password is in {self.paths.harness_password_file}:\n"
                  f"#   export {PASSWORD_ENV}=$(cat {self.paths.harness_password_file})\n")
        text = header + yaml.safe_dump(self.inventory_dict(), sort_keys=False, default_flow_style=False)
        self.paths.inventory.write_text(text)
        try:
            from ..inventory import load_inventory  # validates against docs/cluster-file.md
        except ImportError:
            return
        load_inventory(self.paths.inventory)

    # -- readiness and status --------------------------------------------------------------------
    def _wait_ready(self, timeout_s: float) -> None:
        """Wait until the whole lab serves: VRRP settled, backends UP, VIPs answer, Galera size 3."""
        deadline = time.monotonic() + timeout_s
        last: list[str] = []
        announced: set[str] = set()
        while time.monotonic() < deadline:
            st = self.status()
            last = st.problems
            for key, ok in (("vrrp", not any("VRRP" in p or "VIP" in p for p in last)),
                            ("backends", not any("backend" in p for p in last)),
                            ("galera", not any("wsrep" in p or "clustercheck" in p for p in last))):
                if ok and key not in announced:
                    announced.add(key)
                    self._say({"vrrp": "VRRP settled: dir1 MASTER for both VIPs",
                               "backends": ("IPVS: every real server in both directors' tables"
                                            if self.director_kind == "lvs"
                                            else "HAProxy: every backend UP on both directors"),
                               "galera": "Galera: 3 nodes Synced"}[key])
            if not last:
                err = self._db_vip_error()
                if not err:
                    return
                last = [f"DB VIP: {err}"]
            time.sleep(0.2)
        raise LabError("not ready after {:.0f}s: {}".format(timeout_s, "; ".join(last)))

    def _db_vip_error(self) -> str:
        """'' if the harness user can run a query through the DB VIP, else the error."""
        import pymysql

        try:
            conn = pymysql.connect(host=self.topo.vips["db"], port=3306, user="harness", password=self.db_password(),
                                   database="harness", connect_timeout=2, read_timeout=3)
        except pymysql.MySQLError as exc:
            return str(exc)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        except pymysql.MySQLError as exc:
            return str(exc)
        finally:
            conn.close()
        return ""

    def host_state(self, state: LabState, host: LabHost) -> str:
        if self.is_guest(host):
            from ._lvs import guest_state

            return guest_state(self.paths, host.name)
        if _netns.init_pid(state, host.name) is None:
            return "shutoff"
        return "paused" if _netns.is_frozen(state, host) else "running"

    def status(self) -> LabStatus:
        """Look at every host and daemon (in parallel, short timeouts)."""
        state = self._state()
        st = LabStatus(name=self.name, state_dir=str(self.state_dir), built=state.get("phase") in ("ready", "building"),
                       directors=self.director_kind)
        if not state.exists:
            st.problems.append("lab is not up")
            return st
        for h in self.topo.hosts.values():
            st.hosts[h.name] = self.host_state(state, h)
        running = [h for h in self.topo.hosts.values() if st.hosts[h.name] == "running"]
        for name, s in st.hosts.items():
            if s != "running":
                st.problems.append(f"{name} is {s}")
        jobs: dict[str, Callable[[], Any]] = {}
        for h in running:
            jobs[f"ssh:{h.name}"] = lambda h=h: _port_open(h.address, 22)
            if self.is_guest(h):
                jobs[f"lvs:{h.name}"] = lambda h=h: self._guest_director_status(h)
            elif h.has_role("director"):
                jobs[f"dir:{h.name}"] = lambda h=h: self._director_status(state, h)
            if h.has_role("web"):
                jobs[f"web:{h.name}"] = lambda h=h: _http_get(f"http://{h.address}/login/index.php", 2.0)
            if h.has_role("db"):
                jobs[f"db:{h.name}"] = lambda h=h: _http_get(f"http://{h.address}:9200/", 2.0)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            futs = {k: pool.submit(fn) for k, fn in jobs.items()}
            res = {k: f.result() for k, f in futs.items()}
        for key, value in sorted(res.items()):
            kind, host = key.split(":")
            if kind == "ssh":
                st.ssh[host] = value
                if not value:
                    st.problems.append(f"{host}: sshd not answering")
            elif kind == "lvs":
                vrrp, vips, backends, table, err = value
                st.vrrp[host] = vrrp
                for vip_name, held in vips.items():
                    if held:
                        st.vip_holders.setdefault(vip_name, []).append(host)
                st.backends[host] = backends
                st.ipvs[host] = table
                if err:
                    st.problems.append(f"{host}: {err}")
            elif kind == "dir":
                vrrp, vips, backends = value
                st.vrrp[host] = vrrp
                for vip_name, held in vips.items():
                    if held:
                        st.vip_holders.setdefault(vip_name, []).append(host)
                st.backends[host] = backends
            elif kind == "web":
                code, headers, _body, err = value
                st.web[host] = f"{code} {headers.get('X-Lab-Node', '?')}" if code else f"error: {err}"
                if code != 200:
                    st.problems.append(f"{host}: apache answers {code or err}")
            elif kind == "db":
                code, _headers, body, err = value
                try:
                    info = json.loads(body)["status"] if body else {}
                except (ValueError, KeyError):
                    info = {}
                st.db[host] = {k: (int(v) if k == "wsrep_cluster_size" and v.isdigit() else v) for k, v in info.items()
                               if k in ("wsrep_cluster_size", "wsrep_cluster_status", "wsrep_local_state_comment",
                                        "wsrep_ready")}
                if code != 200:
                    st.problems.append(f"{host}: clustercheck answers {code or err} "
                                       f"(wsrep {info.get('wsrep_local_state_comment', '?')})")
                elif st.db[host].get("wsrep_cluster_size") != len(self.topo.with_role("db")):
                    st.problems.append(f"{host}: wsrep_cluster_size {st.db[host].get('wsrep_cluster_size')}")
        self._judge_directors(st)
        if not st.problems:
            code, _headers, _b, err = _http_get(f"http://{self.topo.vips['web']}/login/index.php", 3.0)
            if code != 200:
                st.problems.append(f"web VIP answers {code or err}")
        return st

    def _judge_directors(self, st: LabStatus) -> None:
        dirs = [h.name for h in self.topo.with_role("director") if st.hosts.get(h.name) == "running"]
        if not dirs:
            st.problems.append("no director running")
            return
        for vip_name in self.topo.vips:
            holders = st.vip_holders.get(vip_name, [])
            if len(holders) != 1:
                st.problems.append(f"VIP {vip_name} held by {holders or 'nobody'}")
        for inst in VRRP_INSTANCES:
            masters = [d for d in dirs if st.vrrp.get(d, {}).get(inst) == "MASTER"]
            if len(masters) != 1:
                st.problems.append(f"VRRP {inst}: {len(masters)} MASTER(s) {masters}")
        if self.director_kind == "lvs":
            from ._lvs import expected_backends

            for d in dirs:
                if d not in st.ipvs:
                    continue  # the guest did not answer: already a problem
                for vip_name, want in expected_backends(self.topo).items():
                    have = st.backends.get(d, {}).get(vip_name, {})
                    missing = [s for s in want if have.get(s) != "UP"]
                    if missing:
                        st.problems.append(f"{d}: IPVS {vip_name}: {', '.join(missing)} not in the table")
            return
        for d in dirs:
            for backend, servers in st.backends.get(d, {}).items():
                down = [f"{s} {v}" for s, v in servers.items() if not v.startswith("UP")]  # v says why
                if down:
                    st.problems.append(f"{d}: backend {backend}: {', '.join(down)} not UP")
            if not st.backends.get(d):
                st.problems.append(f"{d}: haproxy backends unknown (admin socket not answering)")

    def _guest_director_status(self, host: LabHost) -> tuple[dict[str, str], dict[str, bool], dict[str, dict[str, str]], str, str]:
        """One SSH round trip to an LVS director guest: VRRP states, VIPs held, IPVS table."""
        from ._lvs import STATUS_COMMAND, ipvs_backends, parse_guest_status

        try:
            res = self.ssh(host.name, STATUS_COMMAND, timeout=10)
        except LabError as exc:
            return {}, {}, {}, "", f"status over ssh failed: {exc}"
        if res.returncode == 255:
            return {}, {}, {}, "", f"ssh failed: {res.stderr.strip()}"
        gs = parse_guest_status(res.stdout)
        vips = {name: addr in gs.addresses for name, addr in self.topo.vips.items()}
        err = "" if res.returncode == 0 else f"ipvsadm -Ln exited {res.returncode}: {res.stderr.strip()}"
        return gs.vrrp, vips, ipvs_backends(gs.ipvs_table, self.topo), gs.ipvs_table, err

    def _director_status(self, state: LabState, host: LabHost) -> tuple[dict[str, str], dict[str, bool], dict[str, dict[str, str]]]:
        pid = _netns.init_pid(state, host.name)
        root = Path(f"/proc/{pid}/root")
        vrrp = {}
        alive = _daemon_alive(root, DAEMONS["keepalived"].pidfile, "keepalived")
        for inst in VRRP_INSTANCES:
            if not alive:  # the notify files of a dead keepalived say what it was, not what it is
                vrrp[inst] = "DEAD"
                continue
            try:
                vrrp[inst] = (root / "run/keepalived" / f"{inst}.state").read_text().strip()
            except OSError:
                vrrp[inst] = "UNKNOWN"
        try:
            addrs = {a["local"] for link in ip_json("-n", host.netns, "addr", "show", "dev", "eth0")
                     for a in link.get("addr_info", [])}
        except LabError:
            addrs = set()
        vips = {name: addr in addrs for name, addr in self.topo.vips.items()}
        backends: dict[str, dict[str, str]] = {}
        try:
            text = haproxy_command(root / "run/haproxy/admin.sock", "show stat")
            for row in csv.DictReader(io.StringIO(text.lstrip("# "))):
                if row.get("svname") not in ("FRONTEND", "BACKEND") and row.get("pxname"):
                    backends.setdefault(row["pxname"], {})[row["svname"]] = _server_status(row)
        except OSError:
            pass
        return vrrp, vips, backends

    # -- down -------------------------------------------------------------------------------------
    def down(self, progress: Progress | None = None) -> None:
        """Remove everything this lab recorded (and its own-named objects); idempotent."""
        self._t0 = time.monotonic()
        self._progress = progress or (lambda _m: None)
        with locked(self.state_dir):
            self._teardown(self._state())
        self._say("lab down")

    def _teardown(self, state: LabState) -> None:
        topo = self.topo
        # 1. inits (recorded PIDs only, start time checked): each takes its whole host with it
        for host in topo.hosts.values():
            if state.init(host.name):
                _netns.kill_init(state, host)
        # launchers recorded but whose init we never learned (SIGKILLed mid-start)
        for host, rec in list(state.data["inits"].items()):
            launcher = rec.get("launcher")
            if launcher and pid_alive(launcher, rec.get("launcher_starttime")):
                os.kill(launcher, 9)
        self._say("host inits ended")
        # 1b. UML director guests (recorded, or left by a crash): their whole process groups
        from ._lvs import destroy_guest

        guest_names = [r["name"] for r in state.records("guest")] + [h.name for h in topo.with_role("director")]
        gone = [n for n in dict.fromkeys(guest_names) if destroy_guest(self.paths, topo.host(n))]
        if gone:
            self._say(f"director guests destroyed: {', '.join(gone)}")
        # 2. links and namespaces: recorded ones, plus our own derived names (sweep)
        links = ([r["name"] for r in state.records("link")] + [h.veth for h in topo.hosts.values()]
                 + [h.tap for h in topo.with_role("director")] + [topo.bridge])
        for name in dict.fromkeys(links):
            if name != topo.bridge:
                _netns.delete_link(name)
        _netns.delete_link(topo.bridge)
        netns = [r["name"] for r in state.records("netns")] + [h.netns for h in topo.hosts.values()]
        for name in dict.fromkeys(netns):
            _netns.delete_netns(name)
        for rec in state.records("cgroup"):
            _netns.remove_freezer(rec["name"])
        for host in topo.hosts.values():
            _netns.remove_freezer(str(_netns.FREEZER_ROOT / host.netns))
        self._say("links and namespaces removed")
        # 3. files: the state dir (recorded) last, so a crash above leaves the record in place
        for rec in state.records("dir"):
            shutil.rmtree(rec["name"], ignore_errors=True)
        if state.path.exists():
            state.path.unlink()
        if self.state_dir.exists() and not any(self.state_dir.iterdir()):
            self.state_dir.rmdir()

    def leftovers(self) -> list[str]:
        """Objects of this lab still present (for tests and the benchmark): should be empty after down."""
        found = []
        for h in self.topo.hosts.values():
            if _netns.netns_exists(h.netns):
                found.append(f"netns {h.netns}")
            if _netns.link_exists(h.veth):
                found.append(f"link {h.veth}")
            if (_netns.FREEZER_ROOT / h.netns).exists():
                found.append(f"cgroup {h.netns}")
            if h.has_role("director"):
                from ._lvs import group_is_guest, load_guest

                if _netns.link_exists(h.tap):
                    found.append(f"link {h.tap}")
                guest = load_guest(self.paths, h.name)
                if guest is not None and group_is_guest(guest):
                    found.append(f"UML guest {h.name} (pgid {guest.pgid})")
        if _netns.link_exists(self.topo.bridge):
            found.append(f"link {self.topo.bridge}")
        if self.state_dir.exists():
            found.append(f"dir {self.state_dir}")
        return found

    # -- domains (the lab as a hypervisor) -------------------------------------------------------
    def domain(self, action: str, name: str | None = None, progress: Progress | None = None) -> str:
        """destroy | shutdown | start | pause | unpause | list. Returns a one-line summary."""
        self._t0 = time.monotonic()
        self._progress = progress or (lambda _m: None)
        if action not in DOMAIN_ACTIONS:
            raise LabError(f"domain action {action!r}: use one of {', '.join(DOMAIN_ACTIONS)}")
        if action == "list":
            state = self._state()
            if not state.exists:
                raise LabError(f"lab {self.name!r} is not up ({self.state_dir} has no state)")
            return "\n".join(f"{h.name} {self.host_state(state, h)}" for h in self.topo.hosts.values())
        if not name:
            raise LabError(f"domain {action}: name a host ({', '.join(self.topo.hosts)})")
        host = self.topo.host(name)
        with locked(self.state_dir):
            state = self._state()
            if state.get("phase") != "ready":
                raise LabError(f"lab {self.name!r} is not up (phase {state.get('phase')!r}); run `harness lab up`")
            current = self.host_state(state, host)
            if self.is_guest(host):
                return self._guest_domain(action, host, current)
            if action == "destroy":
                if current == "shutoff":
                    return f"{name} already shut off"
                _netns.set_link(host, False)  # first: no FIN/RST may escape the dying host
                _netns.kill_init(state, host)
                return f"{name} destroyed"
            if action == "shutdown":
                if current == "shutoff":
                    return f"{name} already shut off"
                if current == "paused":
                    _netns.freeze(state, host, False)
                self.hostctl(name, "stop", "all", 60)
                _netns.terminate_init(state, host)
                _netns.set_link(host, False)
                return f"{name} shut down"
            if action == "pause":
                if current != "running":
                    return f"{name} is {current}"
                _netns.freeze(state, host, True)
                return f"{name} paused"
            if action == "unpause":
                if current != "paused":
                    return f"{name} is {current}"
                _netns.freeze(state, host, False)
                return f"{name} running"
            # start
            if current == "running":
                return f"{name} already running"
            if current == "paused":
                _netns.freeze(state, host, False)
                return f"{name} was paused: resumed"
            self._boot(state, host)
            return f"{name} started"

    def _guest_domain(self, action: str, host: LabHost, current: str) -> str:
        """Domain actions on an LVS director guest (docs/uml.md: pause stops only the kernel side)."""
        from . import _lvs, _uml

        name = host.name
        guest = _lvs.load_guest(self.paths, name)
        if action == "destroy":
            if current == "shutoff":
                return f"{name} already shut off"
            _lvs.destroy_guest(self.paths, host)
            return f"{name} destroyed"
        if action == "shutdown":
            if current == "shutoff" or guest is None:
                return f"{name} already shut off"
            how = guest.shutdown(timeout=20)  # init TERMs keepalived: it hands the VIPs over (priority 0)
            _lvs.set_paused(self.paths, name, False)
            return f"{name} shut down ({how})"
        if action == "pause":
            if current != "running" or guest is None:
                return f"{name} is {current}"
            guest.pause()
            _lvs.set_paused(self.paths, name, True)
            return f"{name} paused"
        if action == "unpause":
            if current != "paused" or guest is None:
                return f"{name} is {current}"
            guest.unpause()
            _lvs.set_paused(self.paths, name, False)
            return f"{name} running"
        if current == "running":
            return f"{name} already running"
        if current == "paused" and guest is not None:
            guest.unpause()
            _lvs.set_paused(self.paths, name, False)
            return f"{name} was paused: resumed"
        if guest is not None and _lvs.group_is_guest(guest):
            guest.destroy()  # helpers of a crashed linux.uml would hold the tap
        self._say(f"{name}: booting the guest")
        g = _uml.boot_guest(_lvs.guest_spec(self.topo, host, self.paths), self.state_dir)
        took = g.wait_ready(timeout=60)
        self._say(f"{name}: guest ready in {took:.1f}s (sshd up, keepalived started)")
        return f"{name} started"

    def _boot(self, state: LabState, host: LabHost) -> None:
        """Power on a shut-off host: fresh eth0 addresses (a reboot loses a VIP), init, daemons."""
        _netns.create_host_network(self.topo, host, state)
        ns = ["ip", "-n", host.netns]
        _netns.run([*ns, "addr", "flush", "dev", "eth0"], what=host.name)
        _netns.run([*ns, "addr", "add", f"{host.address}/{self.topo.prefixlen}", "dev", "eth0"], what=host.name)
        if self.director_kind == "lvs":
            self._dr_real_server(host)
        _netns.set_link(host, True)
        _netns.start_init(self.topo, host, state, self.paths.log(host.name) / "init.log")
        self._say(f"{host.name}: init running; starting daemons")
        self.hostctl(host.name, "start", "all", 90)
        self._say(f"{host.name}: daemons started")


# -- small I/O helpers ---------------------------------------------------------------------------
def _daemon_alive(root: Path, pidfile: str, process: str) -> bool:
    """Is the daemon of a host's pidfile (read through /proc/INIT/root) running? Root-ns PIDs differ,
    so look the namespace PID up among the host's processes by name."""
    try:
        ns_pid = int((root / pidfile.lstrip("/")).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    init = int(root.parent.name)
    for pid in _netns.namespace_pids(init):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        nspids = fields.get("NSpid", "").split()
        if nspids and int(nspids[-1]) == ns_pid:
            return fields.get("Name", "").strip() == process and fields.get("State", "").strip()[:1] != "Z"
    return False


def _port_open(address: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _http_get(url: str, timeout: float) -> tuple[int | None, dict[str, str], str, str]:
    """(status, headers, body, error) without raising; no redirects followed, no proxies."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read(65536).decode(errors="replace"), ""
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), exc.read(65536).decode(errors="replace"), ""
    except (OSError, ValueError) as exc:
        return None, {}, "", str(getattr(exc, "reason", exc))


def haproxy_command(sock_path: Path | str, command: str, timeout: float = 2.0) -> str:
    """Send one command to an HAProxy stats socket and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def _server_status(row: dict[str, str]) -> str:
    """A server's HAProxy status; when not UP, with the last check's verdict (why it is down)."""
    status = row.get("status") or "?"
    if status.startswith("UP"):
        return status
    why = " ".join(v for v in (row.get("check_status"), row.get("last_chk")) if v)
    return f"{status}({why})" if why else status
