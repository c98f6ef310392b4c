"""The cluster model every part of the harness reads: hosts, roles, VIPs, services, SLOs, Moodle.

Built from a cluster file (docs/cluster-file.md), an Ansible inventory, `vagrant ssh-config`
output, or written by the lab. Frozen dataclasses: a loaded inventory never changes under a run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Literal

from ..errors import InventoryError

ROLES: frozenset[str] = frozenset({"director", "web", "db", "mgm", "hypervisor", "client", "fileserver", "ldap"})
SERVICE_MANAGERS: frozenset[str] = frozenset({"systemd", "sysv", "command"})
HYPERVISOR_KINDS: frozenset[str] = frozenset({"xl", "xm", "virsh", "lab"})
DATABASE_KINDS: frozenset[str] = frozenset({"galera", "ndb"})
#: ``storage.kind``: the shared file store the web nodes mount (docs/cluster-file.md)
STORAGE_KINDS: frozenset[str] = frozenset({"glusterfs"})
DIRECTORY_KINDS: frozenset[str] = frozenset({"openldap"})
#: ``database.isolation``: the SQL isolation level sessions ask for, and the model the
#: list-append checker judges against (docs/cluster-file.md, docs/checkers.md)
ISOLATION_LEVELS: frozenset[str] = frozenset({"read-committed", "repeatable-read", "serializable"})
#: ``database.durability``: what a commit acknowledged by the database must survive: ``strict``
#: a power loss of every node (InnoDB's redo log and the binary log flushed at each commit),
#: ``relaxed`` the loss of some nodes only (the others hold it; the flushes may lag)
DURABILITY_LEVELS: frozenset[str] = frozenset({"strict", "relaxed"})
TRANSPORTS: frozenset[str] = frozenset({"ssh", "local"})
PHASES: tuple[str, ...] = ("steady", "fault", "recovery")


@dataclass(frozen=True)
class SshConfig:
    user: str = "root"
    port: int = 22
    key_file: str | None = None
    known_hosts: str | None = None
    insecure_ignore_host_keys: bool = False
    connect_timeout_s: float = 5.0
    command_timeout_s: float = 60.0
    keepalive_s: float = 2.0


@dataclass(frozen=True)
class Service:
    """How to start, stop and find one daemon on one host."""

    name: str
    manager: Literal["systemd", "sysv", "command"]
    unit: str | None = None  # systemd
    sysv_name: str | None = None  # sysv (`name:` in the file)
    start: str | None = None  # command
    stop: str | None = None  # command
    pidfile: str | None = None
    process: str | None = None
    config: str | None = None
    #: a command printing the daemon's state changes (keepalived: notify-log or journal lines),
    #: for takeover times to the millisecond; None: a systemd unit's journal, else none
    transitions: str | None = None


@dataclass(frozen=True)
class Domain:
    """This host is a virtual machine (Xen domain, libvirt guest, lab domain) named ``name``."""

    name: str
    hypervisor: str  # name of a host with role hypervisor


@dataclass(frozen=True)
class Hypervisor:
    kind: Literal["xl", "xm", "virsh", "lab"]
    state_dir: str | None = None  # for kind lab: the lab's state directory


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    roles: tuple[str, ...]
    ssh: SshConfig = field(default_factory=SshConfig)
    transport: Literal["ssh", "local"] = "ssh"
    services: dict[str, Service] = field(default_factory=dict)
    domain: Domain | None = None
    hypervisor: Hypervisor | None = None
    ndb_node_id: int | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise InventoryError(
                f"host {self.name!r} has no service {name!r} (has: {', '.join(sorted(self.services)) or 'none'})"
            ) from None


@dataclass(frozen=True)
class Vip:
    name: str
    address: str
    port: int
    protocol: Literal["http", "tcp", "mysql", "ldap"] = "tcp"
    path: str = "/"


@dataclass(frozen=True)
class Database:
    kind: Literal["galera", "ndb"] = "galera"
    user: str = "root"
    password_env: str | None = None
    name: str = "harness"
    port: int = 3306
    #: None: the server's default level; the checker then judges against serializability
    isolation: str | None = None
    #: Galera causality checks per session (0-15); None: the server's setting
    wsrep_sync_wait: int | None = None
    #: ``strict`` | ``relaxed`` (DURABILITY_LEVELS); None: not declared (the audit judges
    #: ``innodb_flush_log_at_trx_commit`` alone)
    durability: str | None = None


@dataclass(frozen=True)
class LatencyBound:
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True)
class Slo:
    availability_percent: float = 99.0
    failover_margin_s: float = 1.0
    max_error_rate_percent: float = 5.0
    recovery_s: float = 60.0
    #: longest VIP outage allowed when one web node dies (the balancer's detection time)
    web_failover_s: float = 3.0
    #: the user's promise for a director failover (longest web VIP outage), in seconds, checked
    #: beside the budget read from the directors' keepalived.conf; None: no promise given
    director_failover_s: float | None = None
    latency_ms: dict[str, LatencyBound] = field(
        default_factory=lambda: {
            "steady": LatencyBound(p95=300.0, p99=800.0),
            "fault": LatencyBound(p95=2000.0, p99=5000.0),
            "recovery": LatencyBound(p95=800.0, p99=2000.0),
        }
    )

    def __post_init__(self) -> None:
        # the cluster file's reader refuses these with the file's other problems; this guards
        # the other ways in (``--slo``, code): a NaN promise would pass every outage, 0 none
        p = self.director_failover_s
        if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or p <= 0):
            raise InventoryError(f"slo.director_failover_s: must be a finite number of seconds > 0 "
                                 f"(leave it out for no promise), not {p!r}")


@dataclass(frozen=True)
class MoodleAccounts:
    """The accounts Moodle load users log in as (one each): a numbered series, or a list.

    A user's requests are serialised by Moodle's session lock, so two users never share one;
    the defaults are the lab LMS's student001 .. student200.
    """

    prefix: str = "student"
    digits: int = 3
    first: int = 1
    count: int = 200
    #: when given, exactly these accounts instead of the numbered series
    usernames: tuple[str, ...] = ()

    def names(self) -> list[str]:
        """Every username, in the order the load hands them out."""
        if self.usernames:
            return list(self.usernames)
        return [f"{self.prefix}{n:0{self.digits}d}" for n in range(self.first, self.first + self.count)]


@dataclass(frozen=True)
class Moodle:
    """The Moodle the load drives and where its forum posts are read back (``moodle:``).

    Defaults are the lab LMS's values and the locustfile's own defaults, so a cluster file
    without this section behaves as before.
    """

    accounts: MoodleAccounts = field(default_factory=MoodleAccounts)
    #: environment variable holding the accounts' password; None: the locustfile's default
    password_env: str | None = None
    course_id: int = 2
    #: course-module id of the forum (``/mod/forum/view.php?id=``)
    forum_cmid: int = 1
    #: Moodle's database schema and table prefix (``$CFG->dbname``, ``$CFG->prefix``)
    database: str = "moodle"
    table_prefix: str = "mdl_"
    #: each user waits a uniform random time in [wait_min_s, wait_max_s] between actions
    wait_min_s: float = 1.0
    wait_max_s: float = 3.0
    #: per-request timeout
    timeout_s: float = 30.0
    #: response header naming the web node that answered (the session probe records it);
    #: None: ``X-Lab-Node`` or ``X-Backend`` when present
    node_header: str | None = None

    def table(self, name: str) -> str:
        """A Moodle table's real name: ``table("forum_posts")`` is ``mdl_forum_posts``."""
        return f"{self.table_prefix}{name}"

    @property
    def forum_posts_table(self) -> str:
        """Where posted discussions land; the posts read-back selects their subjects here."""
        return self.table("forum_posts")

    def password(self, source: str = "<memory>") -> str | None:
        """The accounts' password from ``password_env``; None when the file names no variable."""
        return _password_from_env(source, "moodle.password_env", self.password_env)


@dataclass(frozen=True)
class Storage:
    """The shared storage every web node mounts (Moodle's dataroot): one volume, one place.

    ``health`` is a shell command run on a ``fileserver`` host that exits 0 while the volume
    serves (the lab's: ``gluster --mode=script volume status moodledata``)."""

    kind: Literal["glusterfs"]
    volume: str
    mount_point: str
    health: str | None = None


@dataclass(frozen=True)
class Directory:
    """The LDAP directory the cluster's logins are checked against (issue 13).

    ``people`` is where the accounts are (a login binds as ``<user_attribute>=<name>,<people>``);
    ``bind_dn`` with the password of ``bind_password_env`` may write and read every server
    (the harness's write ledger and its read-back); ``ledger`` is the entry under which the
    ledger's entries are made (default ``ou=harness,<suffix>``)."""

    kind: Literal["openldap"]
    suffix: str
    people: str
    user_attribute: str = "uid"
    bind_dn: str | None = None
    bind_password_env: str | None = None
    ledger: str | None = None
    port: int = 389

    @property
    def ledger_parent(self) -> str:
        return self.ledger or f"ou=harness,{self.suffix}"

    def user_dn(self, username: str) -> str:
        return f"{self.user_attribute}={username},{self.people}"


@dataclass(frozen=True)
class Inventory:
    name: str
    hosts: dict[str, Host]
    vips: dict[str, Vip] = field(default_factory=dict)
    database: Database = field(default_factory=Database)
    slo: Slo = field(default_factory=Slo)
    source: str = "<memory>"
    moodle: Moodle = field(default_factory=Moodle)
    #: None: the cluster has no shared storage section (every cluster file before issue 12)
    storage: Storage | None = None
    #: None: no LDAP directory (every cluster file before issue 13)
    directory: Directory | None = None

    def host(self, name: str) -> Host:
        """The host called ``name``; faults use this to refuse hosts not in the inventory."""
        try:
            return self.hosts[name]
        except KeyError:
            raise InventoryError(
                f"{self.source}: no host {name!r} in the inventory (hosts: {', '.join(sorted(self.hosts))})"
            ) from None

    def with_role(self, role: str) -> list[Host]:
        if role not in ROLES:
            raise InventoryError(f"unknown role {role!r} (known: {', '.join(sorted(ROLES))})")
        return [h for h in self.hosts.values() if role in h.roles]

    def vip(self, name: str) -> Vip:
        try:
            return self.vips[name]
        except KeyError:
            raise InventoryError(
                f"{self.source}: no VIP {name!r} (VIPs: {', '.join(sorted(self.vips)) or 'none'})"
            ) from None

    def db_password(self) -> str | None:
        """The database password from the environment variable the file names."""
        return _password_from_env(self.source, "database.password_env", self.database.password_env)

    def directory_password(self) -> str | None:
        """The directory's bind password from the environment variable the file names."""
        variable = self.directory.bind_password_env if self.directory is not None else None
        return _password_from_env(self.source, "directory.bind_password_env", variable)

    def moodle_password(self) -> str | None:
        """The Moodle accounts' password from the environment variable the file names.

        None when the file names none (the locustfile then uses its own default, the lab's).
        """
        return self.moodle.password(self.source)


def _password_from_env(source: str, field_path: str, variable: str | None) -> str | None:
    """Passwords live only in the environment; the error names the file, the field and the variable."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise InventoryError(f"{source}: {field_path}: environment variable {variable!r} is not set")
    return value
