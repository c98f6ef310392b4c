"""``Lab``: one lab, identified by its name; all state lives in its state dir.

A thin composition: lifecycle (`_lifecycle`), status (`_status`), domains (`_domains`, through
the director strategy), generated files (`_files`) and the cluster file (`_inventory`) are
modules of their own; the director kind is a strategy object (`_directors`) chosen once from
``director_kind``. What stays here is the lab's identity and its back doors (nsenter, SSH).
"""

from __future__ import annotations

import ipaddress
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import LabError
from . import _inventory, _lifecycle, _lms_sessions
from ._configs import LDAP_HOSTS_CHOICES, LMS_SESSION_STORES
from ._directors import directors_for
from ._interfaces import Directors
from ._paths import LabPaths
from ._preflight import ip_json
from ._records import LabStatus
from ._state import LabState, default_state_dir, locked
from ._status import collect_status
from ._topology import DIRECTOR_KINDS, LabHost, Topology, build_topology

Progress = Callable[[str], None]
DOMAIN_ACTIONS = ("destroy", "shutdown", "start", "pause", "unpause", "list")
PASSWORD_ENV = _inventory.PASSWORD_ENV


class Lab:
    """One lab, identified by its name; all state lives in its state dir."""

    def __init__(self, name: str = "default", subnet: str = "198.18.0.0/24", state_dir: str | Path | None = None,
                 advert_int: float = 1.0, directors: str = "auto", lvs_sync: bool = True,
                 db_durability: int | None = None, lms_sessions: str | None = None,
                 file_tier: str = "none", auth_tier: str = "none", ldap_hosts: str = "vip") -> None:
        """``directors``: ``auto`` (the default: lvs when a guest boots here, else haproxy), ``haproxy``
        (keepalived + HAProxy in namespaces) or ``lvs`` (keepalived + IPVS in User-Mode Linux guests,
        LVS-DR).
        ``lvs_sync``: IPVS connection sync between the LVS directors (keepalived lvs_sync_daemon).
        ``db_durability``: Galera's ``innodb_flush_log_at_trx_commit`` (0, 1, 2; None: MariaDB's
        default, 1).
        ``lms_sessions``: where the lab LMS keeps sessions, ``database`` (shared: any web node
        serves any session) or ``node`` (files private to each web node); None: a new lab's
        default (database), or what a running lab uses.
        ``file_tier``: ``none`` (the default) or ``gluster``: file servers fs1-fs3 with a
        GlusterFS volume every web node mounts (docs/lab.md, "The file tier").
        ``auth_tier``: ``none`` (the default) or ``openldap``: directory servers ldap1, ldap2,
        two OpenLDAP providers replicating each other (docs/lab.md, "The auth tier").
        ``ldap_hosts`` (auth tier only): the lab LMS binds through the LDAP VIP (``vip``, the
        default) or to ldap1 then ldap2 itself (``servers``, Moodle's host_url failover)."""
        self.topo: Topology = build_topology(name, subnet, file_tier, auth_tier)
        self.file_tier = file_tier
        self.auth_tier = auth_tier
        if ldap_hosts not in LDAP_HOSTS_CHOICES:
            raise LabError(f"ldap_hosts {ldap_hosts!r}: use one of {', '.join(LDAP_HOSTS_CHOICES)}")
        self.ldap_hosts = ldap_hosts
        if directors not in DIRECTOR_KINDS:
            raise LabError(f"directors {directors!r}: use one of {', '.join(DIRECTOR_KINDS)}")
        self.directors = directors
        self.lvs_sync = bool(lvs_sync)
        if db_durability is not None and db_durability not in (0, 1, 2):
            raise LabError(f"db_durability {db_durability!r}: innodb_flush_log_at_trx_commit is 0, 1 or 2")
        self.db_durability = db_durability
        if lms_sessions is not None and lms_sessions not in LMS_SESSION_STORES:
            raise LabError(f"lms_sessions {lms_sessions!r}: use one of {', '.join(LMS_SESSION_STORES)}")
        #: as asked for (None: not asked); ``lms_sessions`` resolves it
        self.lms_sessions_asked = lms_sessions
        #: the resolved kind (lvs | haproxy): set by up(), or read from the state of a running lab
        self._kind: str | None = None if directors == "auto" else directors
        self._strategy: Directors | None = None
        self.name = name
        self.subnet = self.topo.subnet
        if not 0.01 <= advert_int <= 255:
            raise LabError(f"advert_int {advert_int}: VRRPv3 allows 0.01 to 255 seconds")
        self.advert_int = float(advert_int)
        self.state_dir = Path(state_dir) if state_dir else default_state_dir(name)
        self.paths = LabPaths(self.state_dir)
        self.started = time.monotonic()
        self._progress: Progress = lambda _msg: None

    # -- construction from a state dir (domain ops, CLI) ---------------------------------
    @classmethod
    def from_state_dir(cls, state_dir: str | Path) -> Lab:
        state = LabState.load(Path(state_dir))
        config = state.get("config")
        if not config:
            raise LabError(f"{state_dir}: no lab state here (no state.json with a config); is the lab up?")
        return cls(config["name"], config["subnet"], state_dir, config.get("advert_int", 1.0),
                   directors=config.get("directors", "haproxy"), lvs_sync=config.get("lvs_sync", True),
                   db_durability=config.get("db_durability"),
                   lms_sessions=config.get("lms_sessions", "database"),
                   file_tier=config.get("file_tier", "none"), auth_tier=config.get("auth_tier", "none"),
                   ldap_hosts=config.get("ldap_hosts", "vip"))

    # -- the director kind ---------------------------------------------------------------
    @property
    def director_kind(self) -> str:
        """``lvs`` or ``haproxy``: what this lab's directors are (``auto`` resolved at up)."""
        if self._kind is None:
            kind = self.load_state().get("config", {}).get("directors")
            if kind in ("lvs", "haproxy"):
                self._kind = kind
        return self._kind or "haproxy"

    @property
    def lms_sessions(self) -> str:
        """``database`` or ``node``: as asked, else what the running lab records, else database."""
        if self.lms_sessions_asked is not None:
            return self.lms_sessions_asked
        stored = self.load_state().get("config", {}).get("lms_sessions")
        return stored if stored in LMS_SESSION_STORES else "database"

    def set_lms_sessions(self, store: str, progress: Progress | None = None) -> None:
        """Switch a running lab's LMS sessions to ``store`` (database | node): web nodes'
        Apache config rewritten and gracefully reloaded; returns once every node uses it."""
        self._begin(progress)
        _lms_sessions.switch_lms_sessions(self, store)
        self.lms_sessions_asked = store

    @property
    def strategy(self) -> Directors:
        """The strategy object of ``director_kind`` (made once per kind)."""
        kind = self.director_kind
        if self._strategy is None or self._strategy.kind != kind:
            self._strategy = directors_for(kind)
        return self._strategy

    def use_directors(self, kind: str) -> None:
        """Settle the kind (`up` resolves ``auto``, or falls back to HAProxy)."""
        self._kind = kind

    def is_guest(self, host: str | LabHost) -> bool:
        """Is ``host`` a UML guest (an LVS director) rather than a set of namespaces?"""
        return self.strategy.is_guest(self.topo.host(host) if isinstance(host, str) else host)

    # -- files and secrets ---------------------------------------------------------------
    @property
    def inventory_path(self) -> Path:
        return self.paths.inventory

    def inventory_dict(self) -> dict[str, Any]:
        """cluster.yml content (docs/cluster-file.md) describing this lab."""
        return _inventory.inventory_dict(self)

    def ldap_password(self) -> str | None:
        """The directory's rootdn password (what HARNESS_LDAP_PASSWORD must hold); None
        without an auth tier."""
        if self.auth_tier == "none":
            return None
        try:
            return self.paths.ldap_admin_password_file.read_text().strip()
        except OSError:
            raise LabError(f"{self.paths.ldap_admin_password_file}: missing; is the lab up?") from None

    def db_password(self) -> str:
        """The `harness` database user's password (what HARNESS_DB_PASSWORD must hold)."""
        try:
            return self.paths.harness_password_file.read_text().strip()
        except OSError:
            raise LabError(f"{self.paths.harness_password_file}: missing; is the lab up?") from None

    # -- helpers -------------------------------------------------------------------------
    def say(self, msg: str) -> None:
        self._progress(f"[{time.monotonic() - self.started:5.1f}s] {msg}")

    def load_state(self) -> LabState:
        return LabState.load(self.state_dir)

    _state = load_state  # the name tests and benchmarks use

    def _begin(self, progress: Progress | None) -> None:
        self.started = time.monotonic()
        self._progress = progress or (lambda _m: None)

    def guard(self, address: str) -> None:
        """Refuse unless traffic to ``address`` leaves through this lab's bridge (probes call this)."""
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

    # -- back doors ----------------------------------------------------------------------
    def exec(self, host: str, argv: Sequence[str], *, timeout: float = 60.0, input: str | None = None,
             check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``host``'s namespaces via nsenter (the lab's own back door)."""
        return self.strategy.domain(self, self.topo.host(host)).exec(argv, timeout=timeout, input=input, check=check)

    def hostctl(self, host: str, action: str, daemon: str = "all", wait: float = 90.0) -> str:
        """Service control on ``host`` (hostctl through nsenter, or a guest's guestctl over SSH)."""
        return self.strategy.domain(self, self.topo.host(host)).hostctl(action, daemon, wait)

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

    # -- lifecycle -----------------------------------------------------------------------
    def up(self, progress: Progress | None = None) -> LabStatus:
        """Build the lab and wait until it serves; a no-op returning the status if it is up."""
        self._begin(progress)
        return _lifecycle.up(self)

    def down(self, progress: Progress | None = None) -> None:
        """Remove everything this lab recorded (and its own-named objects); idempotent."""
        self._begin(progress)
        with locked(self.state_dir):
            _lifecycle.teardown(self, self.load_state())
        self.say("lab down")

    def leftovers(self) -> list[str]:
        """Objects of this lab still present (for tests and the benchmark): should be empty after down."""
        return _lifecycle.leftovers(self)

    def status(self) -> LabStatus:
        """Look at every host and daemon (in parallel, short timeouts)."""
        return collect_status(self)

    def host_state(self, state: LabState, host: LabHost) -> str:
        """running | paused | shutoff."""
        return self.strategy.domain(self, host).state(state)

    # -- domains (the lab as a hypervisor) -----------------------------------------------
    def domain(self, action: str, name: str | None = None, progress: Progress | None = None) -> str:
        """destroy | shutdown | start | pause | unpause | list. Returns a one-line summary."""
        self._begin(progress)
        if action not in DOMAIN_ACTIONS:
            raise LabError(f"domain action {action!r}: use one of {', '.join(DOMAIN_ACTIONS)}")
        if action == "list":
            state = self.load_state()
            if not state.exists:
                raise LabError(f"lab {self.name!r} is not up ({self.state_dir} has no state)")
            return "\n".join(f"{h.name} {self.host_state(state, h)}" for h in self.topo.hosts.values())
        if not name:
            raise LabError(f"domain {action}: name a host ({', '.join(self.topo.hosts)})")
        host = self.topo.host(name)
        with locked(self.state_dir):
            state = self.load_state()
            if state.get("phase") != "ready":
                raise LabError(f"lab {self.name!r} is not up (phase {state.get('phase')!r}); run `harness lab up`")
            return self.strategy.domain(self, host).act(action, state)
