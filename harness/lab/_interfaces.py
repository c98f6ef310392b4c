"""The small interfaces the lab's parts are written against, so none of them imports the Lab.

- ``LabContext``: what a part (lifecycle, status, domains, a director strategy) may ask of the lab.
- ``HostDomain``: one host as a hypervisor domain (a set of namespaces, or a UML guest), with the
  domain actions' shared rules (``act``) and the host-kind specific steps left to subclasses.
- ``Directors``: the director-kind strategy (HAProxy in namespaces, LVS in UML guests); chosen
  once from the lab's ``director_kind`` (``harness.lab._directors.directors_for``).
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ._paths import LabPaths
from ._records import DirectorStatus, LabStatus
from ._state import LabState
from ._topology import LabHost, Topology

#: path -> (content, mode) of generated files
Files = dict[Path, tuple[str, int]]


class LabContext(Protocol):
    """What the lab's parts may ask of the lab (``harness.lab.Lab`` is the one implementation)."""

    name: str
    subnet: str
    topo: Topology
    paths: LabPaths
    state_dir: Path
    directors: str  # as asked for: auto | lvs | haproxy
    advert_int: float
    lvs_sync: bool
    db_durability: int | None  # innodb_flush_log_at_trx_commit; None: MariaDB's default (1)
    file_tier: str  # none | gluster (harness.lab._file_tier)
    auth_tier: str  # none | openldap (harness.lab._auth_tier)
    ldap_hosts: str  # vip | servers: where the LMS binds (auth tier only; harness.lab._configs)
    started: float  # time.monotonic() at the start of the current operation (progress lines)

    @property
    def director_kind(self) -> str: ...

    @property
    def lms_sessions(self) -> str:
        """Where the lab LMS keeps sessions: database | node."""
        ...

    @property
    def strategy(self) -> Directors: ...

    def use_directors(self, kind: str) -> None: ...

    def say(self, msg: str) -> None: ...

    def load_state(self) -> LabState: ...

    def status(self) -> LabStatus: ...

    def db_password(self) -> str: ...

    def ssh(self, host: str, cmd: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]: ...

    def hostctl(self, host: str, action: str, daemon: str = "all", wait: float = 90.0) -> str: ...

    def exec(self, host: str, argv: Sequence[str], *, timeout: float = 60.0, input: str | None = None,
             check: bool = False) -> subprocess.CompletedProcess[str]: ...


class HostDomain(ABC):
    """One lab host as a domain: running | paused | shutoff, and the actions that move it.

    ``act`` holds the rules every kind of host shares (nothing to do when already there; a
    paused host is resumed by ``start``); subclasses do the real steps.
    """

    def __init__(self, lab: LabContext, host: LabHost) -> None:
        self.lab = lab
        self.host = host

    @abstractmethod
    def state(self, state: LabState) -> str:
        """running | paused | shutoff."""

    @abstractmethod
    def _destroy(self, state: LabState) -> None: ...

    @abstractmethod
    def _shutdown(self, state: LabState, current: str) -> str:
        """Orderly stop; returns the summary's tail (e.g. ``" (mconsole cad)"``)."""

    @abstractmethod
    def _freeze(self, state: LabState, frozen: bool) -> None: ...

    @abstractmethod
    def _boot(self, state: LabState) -> None: ...

    @abstractmethod
    def hostctl(self, action: str, daemon: str = "all", wait: float = 90.0) -> str:
        """Service control on the host (start|stop|kill|status DAEMON|all); returns its output."""

    @abstractmethod
    def exec(self, argv: Sequence[str], *, timeout: float = 60.0, input: str | None = None,
             check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` on the host through the lab's own back door (not SSH)."""

    @abstractmethod
    def services(self) -> dict[str, Any]:
        """The host's ``services:`` entry of cluster.yml (docs/cluster-file.md)."""

    def act(self, action: str, state: LabState) -> str:
        """destroy | shutdown | start | pause | unpause; returns a one-line summary."""
        name = self.host.name
        current = self.state(state)
        if action in ("destroy", "shutdown"):
            if current == "shutoff":
                return f"{name} already shut off"
            if action == "destroy":
                self._destroy(state)
                return f"{name} destroyed"
            return f"{name} shut down{self._shutdown(state, current)}"
        if action == "pause":
            if current != "running":
                return f"{name} is {current}"
            self._freeze(state, True)
            return f"{name} paused"
        if action == "unpause":
            if current != "paused":
                return f"{name} is {current}"
            self._freeze(state, False)
            return f"{name} running"
        if current == "running":
            return f"{name} already running"
        if current == "paused":
            self._freeze(state, False)
            return f"{name} was paused: resumed"
        self._boot(state)
        return f"{name} started"


class Directors(ABC):
    """What the lab asks of its directors, one subclass per kind (``kind``).

    Stateless but for what one ``up`` carries from ``boot`` to ``wait_booted``; the methods with
    a default are the ones only some kinds need.
    """

    kind: ClassVar[str]
    #: the lab's availability SLO with these directors (docs/cluster-file.md ``slo``)
    availability_percent: ClassVar[float]
    #: LVS-DR: real servers hold the VIPs on lo and must listen on them too
    real_servers_hold_vips: ClassVar[bool] = False
    #: what `lab up` says once every backend is in rotation
    backends_ready: ClassVar[str]

    @abstractmethod
    def is_guest(self, host: LabHost) -> bool:
        """Is ``host`` a UML guest rather than a set of namespaces?"""

    @abstractmethod
    def domain(self, lab: LabContext, host: LabHost) -> HostDomain:
        """``host`` as a domain: a namespace host or a UML guest."""

    def namespace_hosts(self, topo: Topology) -> list[LabHost]:
        """The hosts that are sets of namespaces (every other one is a guest)."""
        return [h for h in topo.hosts.values() if not self.is_guest(h)]

    @abstractmethod
    def render_director_configs(self, topo: Topology, host: LabHost, paths: LabPaths, advert_int: float,
                                lvs_sync: bool) -> Files:
        """Every config file of one director."""

    def lab_files(self, lab_name: str, paths: LabPaths) -> Files:
        """Files of the lab as a whole that these directors need (beyond per-host configs)."""
        return {}

    def same_options(self, config: dict[str, Any], lvs_sync: bool) -> bool:
        """Does a running lab's recorded config match these options (beyond subnet, advert_int)?"""
        return True

    def boot(self, lab: LabContext, state: LabState) -> None:
        """Start booting what is not a namespace host (runs while the namespaces are made)."""
        return None

    def wait_booted(self, lab: LabContext, state: LabState) -> bool:
        """Wait for ``boot``; False when auto mode should fall back to another kind."""
        return True

    def prepare_real_server(self, lab: LabContext, host: LabHost) -> None:
        """Set up a (namespace) host for these directors before its daemons start."""
        return None

    def daemon_hosts(self, topo: Topology) -> list[LabHost]:
        """Directors whose daemons `lab up` starts through hostctl (next to Galera and the web
        tier); a guest starts its own at boot."""
        return []

    @abstractmethod
    def director_status(self, lab: LabContext, state: LabState, host: LabHost) -> DirectorStatus:
        """One running director, as it sees itself."""

    @abstractmethod
    def backend_problems(self, status: LabStatus, topo: Topology, running: list[str]) -> list[str]:
        """Pure: what is wrong with the backends the ``running`` directors report."""

    def sweep(self, paths: LabPaths, topo: Topology, state: LabState) -> list[str]:
        """Teardown: end what these directors may have left (recorded or not); names what went."""
        return []

    def sweep_links(self, topo: Topology) -> list[str]:
        """Teardown: interfaces these directors may have made beyond the namespace hosts' veths."""
        return []

    def leftovers(self, paths: LabPaths, host: LabHost) -> list[str]:
        """Objects of these directors still present for ``host`` (should be none after down)."""
        return []
