"""The lab's daemon table: which daemons a host runs, in what order, and how each is found.

A leaf (pure data): process control (`_proc`, `_daemons`, `_galera`) and the inventory read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._topology import LabHost


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
    # the file tier (harness.lab._gluster): glusterd forks the brick (glusterfsd) and the
    # self-heal daemon; the web nodes' FUSE client is a daemon of its own, one per mount
    "glusterd": Daemon("glusterd", "glusterd", "/run/glusterd.pid", "glusterd.log"),
    "gluster-mount": Daemon("gluster-mount", "glusterfs", "/run/gluster-mount.pid", "gluster-mount.log"),
    # the auth tier (harness.lab._ldap): OpenLDAP's slapd, a multi-provider of the lab's directory
    "slapd": Daemon("slapd", "slapd", "/run/slapd/slapd.pid", "slapd.log"),
}
ROLE_DAEMONS: dict[str, tuple[str, ...]] = {
    "client": (),
    "db": ("mariadb", "clustercheck"),
    "web": ("apache",),
    "director": ("haproxy", "keepalived"),
    "fileserver": ("glusterd",),
    "ldap": ("slapd",),
}
#: daemons a web node runs only in a lab with a file tier (the shared volume's FUSE mount)
FILE_CLIENT_DAEMONS: tuple[str, ...] = ("gluster-mount",)
#: the config file of each daemon that has one (under the host's etc dir)
CONFIG_FILES: dict[str, str] = {
    "keepalived": "keepalived.conf",
    "haproxy": "haproxy.cfg",
    "apache": "apache2.conf",
    "mariadb": "galera.cnf",
    "sshd": "sshd_config",
}


def host_daemons(host: LabHost, file_tier: str = "none") -> list[str]:
    """Daemons of a host in start order (sshd first: a host is reachable before its roles);
    with a ``file_tier`` a web node also runs the shared volume's mount (last: it needs the
    file servers, which `lab up` starts first)."""
    names = ["sshd"]
    for role in host.roles:
        names.extend(ROLE_DAEMONS.get(role, ()))
    if file_tier != "none" and host.has_role("web"):
        names.extend(FILE_CLIENT_DAEMONS)
    return names
