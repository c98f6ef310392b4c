"""Every config file of one lab host, rendered (pure): sshd, the role daemons, the directors'.

The directors' files come from their strategy; LVS-DR also changes the real servers' (they
listen on the VIP they hold on lo, and keep idle connections long enough to see a failover).
"""

from __future__ import annotations

from ..errors import LabError
from ._directors import directors_for
from ._interfaces import Files
from ._ldap import PEOPLE_DN
from ._paths import LMS_DATAROOT, LabPaths
from ._render import render
from ._topology import LabHost, Topology

#: evs timers (docs/lab-measurements.md): the measured PT0.5S/PT2S/PT3S once left nodes
#: non-Primary on 2 busy cores; these halve the default stall after a node kill (~4 s instead
#: of 6.3 s) with margin against a CPU-starved but healthy node being evicted.
EVS_TIMERS = ("evs.keepalive_period=PT1S; evs.suspect_timeout=PT3S; evs.inactive_timeout=PT6S; "
              "evs.install_timeout=PT6S")


#: ``innodb_flush_log_at_trx_commit`` values: 1 flushes the redo log at every commit (MariaDB's
#: default), 2 writes it to the OS at commit and flushes once a second, 0 does both once a second
DB_DURABILITY = (0, 1, 2)


def durability_line(db_durability: int | None) -> str:
    """The galera.cnf line for ``db_durability`` (empty for None: MariaDB's default)."""
    if db_durability is None:
        return "# innodb_flush_log_at_trx_commit: MariaDB's default (1)"
    return f"innodb_flush_log_at_trx_commit = {int(db_durability)}"


#: where the lab LMS keeps its sessions (Apache ``SetEnv LMS_SESSIONS``; lms/lib/session.php)
LMS_SESSION_STORES = ("database", "node")


#: where the lab LMS sends its LDAP binds (the auth tier): ``vip``, the one LDAP VIP the
#: directors fail over; ``servers``, every ldap host in order (Moodle's host_url failover)
LDAP_HOSTS_CHOICES = ("vip", "servers")


def lms_auth_lines(topo: Topology, ldap_hosts: str = "vip") -> str:
    """The web nodes' ``SetEnv LMS_AUTH ldap`` block (lms/lib/auth_ldap.php), or "" without the
    auth tier (apache2.conf is then the one before it, byte for byte)."""
    if topo.auth_tier == "none":
        return ""
    if ldap_hosts not in LDAP_HOSTS_CHOICES:
        raise LabError(f"ldap_hosts {ldap_hosts!r}: use one of {', '.join(LDAP_HOSTS_CHOICES)}")
    if ldap_hosts == "vip":
        hosts = f"ldap://{topo.vips['ldap']}"
    else:
        hosts = ";".join(f"ldap://{h.address}" for h in topo.with_role("ldap"))
    return ("\n# the auth tier: every login's password is checked by a bind to the directory "
            f"(ldap_hosts={ldap_hosts})\n"
            "SetEnv LMS_AUTH ldap\n"
            f"SetEnv LMS_LDAP_HOSTS {hosts}\n"
            f"SetEnv LMS_LDAP_CONTEXT {PEOPLE_DN}\n"
            # a server that does not answer costs a login 2 s, not the client library's minutes
            "SetEnv LMS_LDAP_NETWORK_TIMEOUT 2")


def render_host_configs(topo: Topology, host: LabHost, paths: LabPaths, advert_int: float,
                        lms_password: str, directors: str = "haproxy", lvs_sync: bool = True,
                        db_durability: int | None = None, lms_sessions: str = "database",
                        ldap_hosts: str = "vip") -> Files:
    """path -> (content, mode) of every config file of ``host``.

    ``directors`` is ``haproxy`` (namespaces) or ``lvs`` (UML guests, LVS-DR: then the real
    servers also listen on the VIP they hold on lo). ``db_durability`` is Galera's
    ``innodb_flush_log_at_trx_commit`` (0, 1, 2); None leaves MariaDB's default (1).
    ``lms_sessions``: where the lab LMS keeps sessions, ``database`` (shared) or ``node``
    (files private to each web node). ``ldap_hosts`` (auth tier only): the LMS binds through
    the LDAP VIP (``vip``) or to each ldap host in turn (``servers``).
    """
    if lms_sessions not in LMS_SESSION_STORES:
        raise LabError(f"lms_sessions {lms_sessions!r}: use one of {', '.join(LMS_SESSION_STORES)}")
    strategy = directors_for(directors)
    dr = strategy.real_servers_hold_vips
    log_dir = paths.log(host.name)
    files: Files = {
        paths.conf(host.name, "sshd_config"): (render(
            "sshd_config", host=host.name, address=host.address,
            host_key=paths.host_key(host.name), authorized_keys=paths.authorized_keys), 0o644),
    }
    if host.has_role("director"):
        files.update(strategy.render_director_configs(topo, host, paths, advert_int, lvs_sync))
    if host.has_role("web"):
        files[paths.conf(host.name, "apache2.conf")] = (render(
            "apache2.conf", host=host.name, address=host.address, server_root=paths.host_dir(host.name),
            log_dir=log_dir, docroot=paths.docroot(), db_vip=topo.vips["db"], lms_user="lms",
            lms_password=lms_password, web_vip=topo.vips["web"],
            lms_sessions=lms_sessions, session_dir=paths.session_dir(host.name), dataroot=LMS_DATAROOT,
            lms_auth=lms_auth_lines(topo, ldap_hosts),
            extra_listen=f"Listen {topo.vips['web']}:80" if dr else "",
            # LVS: an idle keep-alive connection must outlive a director failover (~3-4 s at
            # advert_int 1) for connection sync to be observable at all; 5 s raced it
            keepalive_timeout=15 if dr else 5), 0o600)
    if host.has_role("db"):
        peers = ",".join(h.address for h in topo.with_role("db"))
        files[paths.conf(host.name, "galera.cnf")] = (render(
            "galera.cnf", host=host.name, address=host.address, datadir=paths.datadir(host.name),
            bind_address="0.0.0.0" if dr else host.address,  # LVS-DR: also the DB VIP on lo
            log_dir=log_dir, cluster_name=f"hlab-{topo.lab_name}", peers=peers, evs_timers=EVS_TIMERS,
            durability=durability_line(db_durability)), 0o644)
    return files
