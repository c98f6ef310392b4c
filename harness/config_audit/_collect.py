"""Reading what the rules judge, over each host's transport (the audit's only side effect)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..budgets import DEFAULT_KEEPALIVED_CONF
from ..errors import HarnessError
from ..parsers.gluster import parse_volume_info
from ..parsers.haproxy_cfg import parse_haproxy_cfg
from ..parsers.keepalived_conf import parse_keepalived_conf
from ..parsers.ndb_mgm import parse_show
from ..parsers.web_config import (
    AppVersion,
    MountFact,
    document_root,
    lab_lms_settings,
    moodle_settings,
    moodle_version,
    parse_findmnt,
    php_tree_digest,
)
from ._model import Evidence, Finding, Severity, sort_findings
from .database import DbNode, galera_findings
from .haproxy import HaproxyDirector, haproxy_findings
from .keepalived import DirectorConfig, lvs_findings, vrrp_findings
from .ldap import LdapServer, ldap_replication_findings, ldap_vip_findings, server_from_ldif
from .ndb import CONFIG as NDB_CONFIG
from .ndb import SHOW as NDB_SHOW
from .ndb import ndb_findings, parse_no_of_replicas
from .storage import gluster_findings
from .web import WebNode, web_findings

if TYPE_CHECKING:
    from ..cluster import Cluster

#: bound on one read (a hung host must not hang the audit)
READ_TIMEOUT_S = 15.0
DEFAULT_HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"
DEFAULT_APACHE_CONF = "/etc/apache2/apache2.conf"
#: how long a database node may be away and still rejoin by IST (gcache rule), seconds
DEFAULT_REJOIN_WINDOW_S = 600.0
_DB_VARIABLES = ("innodb_flush_log_at_trx_commit", "sync_binlog", "log_bin", "wsrep_sync_wait", "transaction_isolation",
                 "tx_isolation", "wsrep_cluster_name", "wsrep_slave_threads", "wsrep_provider_options")
_DB_STATUS = ("wsrep_cluster_size", "wsrep_cluster_status", "wsrep_replicated_bytes", "wsrep_received_bytes",
              "Uptime", "wsrep_local_state_comment")


def _read(cluster: Cluster, host: str, path: str) -> str | Finding:
    """The file's text, or the finding that says it could not be read (bounded)."""
    try:
        return cluster.transport(host).check_output(["cat", path], timeout=READ_TIMEOUT_S)
    except HarnessError as exc:
        return Finding("host-unreadable", Severity.CRITICAL, f"{host}: cannot read {path}: {exc}",
                       (Evidence(host, path, None, str(exc)),))


def read_directors(cluster: Cluster) -> tuple[list[DirectorConfig], list[Finding]]:
    """Each director's keepalived.conf, parsed; a host or file that cannot be read or parsed is a
    finding naming the host and path (its peers are still compared with each other)."""
    directors: list[DirectorConfig] = []
    problems: list[Finding] = []
    for host in cluster.inventory.with_role("director"):
        svc = host.services.get("keepalived")
        path = (svc.config if svc and svc.config else None) or DEFAULT_KEEPALIVED_CONF
        text = _read(cluster, host.name, path)
        if isinstance(text, Finding):
            problems.append(text)
            continue
        try:
            config = parse_keepalived_conf(text, source=path)
        except HarnessError as exc:
            problems.append(Finding("config-unparsable", Severity.CRITICAL, f"{host.name}: {path}: {exc}",
                                    (Evidence(host.name, path, None, str(exc)),)))
            continue
        for pattern in config.unresolved_includes:
            problems.append(Finding("config-include-unread", Severity.WARNING,
                                    f"{host.name}: {path} includes {pattern}, which the audit did not read: "
                                    "what it configures is not judged", (Evidence(host.name, path, None,
                                                                                  f"include {pattern}"),)))
        directors.append(DirectorConfig(host.name, path, config))
    return directors, problems


def read_haproxy(cluster: Cluster) -> tuple[list[HaproxyDirector], list[Finding]]:
    """The haproxy.cfg of each director that runs HAProxy (a ``haproxy`` service)."""
    directors: list[HaproxyDirector] = []
    problems: list[Finding] = []
    for host in cluster.inventory.with_role("director"):
        svc = host.services.get("haproxy")
        if svc is None:
            continue
        path = svc.config or DEFAULT_HAPROXY_CFG
        text = _read(cluster, host.name, path)
        if isinstance(text, Finding):
            problems.append(text)
            continue
        try:
            directors.append(HaproxyDirector(host.name, path, parse_haproxy_cfg(text, source=path)))
        except HarnessError as exc:
            problems.append(Finding("config-unparsable", Severity.CRITICAL, f"{host.name}: {path}: {exc}",
                                    (Evidence(host.name, path, None, str(exc)),)))
    return directors, problems


def read_web_nodes(cluster: Cluster) -> tuple[list[WebNode], list[Finding]]:
    """Each web node's session store and dataroot (the lab LMS's Apache ``SetEnv``, else
    Moodle's config.php in the DocumentRoot or above it) and the filesystems under them."""
    nodes: list[WebNode] = []
    problems: list[Finding] = []
    for host in cluster.inventory.with_role("web"):
        svc = next((host.services[n] for n in ("apache", "apache2", "httpd") if n in host.services), None)
        path = (svc.config if svc and svc.config else None) or DEFAULT_APACHE_CONF
        text = _read(cluster, host.name, path)
        if isinstance(text, Finding):
            problems.append(text)
            continue
        settings = lab_lms_settings(text, path)
        root = document_root(text)
        config_php: str | None = None
        if settings is None:
            tried = [f"{root.rstrip('/')}/config.php", f"{root.rstrip('/').rsplit('/', 1)[0]}/config.php"] if root else []
            for candidate in tried:
                php = _read(cluster, host.name, candidate)
                if isinstance(php, str):
                    try:
                        settings = moodle_settings(php, candidate)
                    except HarnessError:
                        continue
                    config_php = candidate
                    break
            if settings is None:
                problems.append(Finding("web-config-unread", Severity.WARNING,
                                        f"{host.name}: no lab LMS SetEnv in {path} and no Moodle config.php at "
                                        f"{' or '.join(tried) or 'a DocumentRoot'}: where sessions and files live "
                                        "is not judged", (Evidence(host.name, path, None, "DocumentRoot " + str(root)),)))
                continue
        mounts: dict[str, MountFact] = {}
        for p in {x for x in (settings.session_path, settings.dataroot) if x}:
            try:
                out = cluster.transport(host.name).check_output(["findmnt", "-n", "-o", "FSTYPE,SOURCE,TARGET", "-T", p],
                                                                timeout=READ_TIMEOUT_S)
                mounts[p] = parse_findmnt(out.splitlines()[-1] if out else "")
            except HarnessError as exc:
                problems.append(Finding("host-unreadable", Severity.CRITICAL,
                                        f"{host.name}: cannot tell which filesystem holds {p}: {exc}",
                                        (Evidence(host.name, p, None, str(exc)),)))
        version = read_app_version(cluster, host.name, root, config_php)
        if isinstance(version, Finding):
            problems.append(version)
        nodes.append(WebNode(host.name, settings, mounts, version if isinstance(version, AppVersion) else None))
    return nodes, problems


def app_dir(root: str) -> str:
    """The application's directory from its DocumentRoot: a ``public`` root (the lab LMS's,
    Moodle 5.1's) keeps its code in the directory above."""
    root = root.rstrip("/") or "/"
    if not root.endswith("/public"):
        return root
    return root.rsplit("/", 1)[0] or "/"


def read_app_version(cluster: Cluster, host: str, root: str | None, config_php: str | None) -> AppVersion | Finding:
    """Moodle's version.php next to its config.php, else a digest of the PHP files under the
    application's directory (bounded ``find ... -exec sha256sum``)."""
    if config_php is not None:
        path = config_php.rsplit("/", 1)[0] + "/version.php"
        text = _read(cluster, host, path)
        if isinstance(text, str):
            try:
                return moodle_version(text, path)
            except HarnessError:
                pass
    if root is None:
        return Finding("host-unreadable", Severity.CRITICAL, f"{host}: no DocumentRoot: the application's version is "
                       "not judged", (Evidence(host, text="no DocumentRoot"),))
    base = config_php.rsplit("/", 1)[0] if config_php else app_dir(root)
    what = f"find {base} -name '*.php' -type f -exec sha256sum {{}} +"
    try:
        out = cluster.transport(host).check_output(["find", base, "-name", "*.php", "-type", "f", "-exec", "sha256sum",
                                                    "{}", "+"], timeout=READ_TIMEOUT_S)
    except HarnessError as exc:
        return _unreadable(host, what, exc)
    try:
        return php_tree_digest(out, base, what)
    except HarnessError as exc:
        return _unparsable(host, what, exc)


def read_db_nodes(cluster: Cluster) -> tuple[list[DbNode], list[Finding]]:
    """Each Galera node's variables and status over SQL (the cluster file's database user)."""
    import pymysql

    inv = cluster.inventory
    nodes: list[DbNode] = []
    problems: list[Finding] = []
    for host in inv.with_role("db"):
        try:
            conn = pymysql.connect(host=host.address, port=inv.database.port, user=inv.database.user,
                                   password=inv.db_password() or "", connect_timeout=5, read_timeout=10,
                                   write_timeout=10)
            try:
                with conn.cursor() as cur:
                    marks = ", ".join(["%s"] * len(_DB_VARIABLES))
                    cur.execute(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({marks})", _DB_VARIABLES)
                    variables = {str(k): str(v) for k, v in cur.fetchall()}
                    marks = ", ".join(["%s"] * len(_DB_STATUS))
                    cur.execute(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({marks})", _DB_STATUS)
                    status = {str(k): str(v) for k, v in cur.fetchall()}
            finally:
                conn.close()
        except (pymysql.err.MySQLError, OSError) as exc:
            problems.append(Finding("host-unreadable", Severity.CRITICAL,
                                    f"{host.name}: cannot read the database's variables: {exc}",
                                    (Evidence(host.name, f"mysql {host.address}:{inv.database.port}", None, str(exc)),)))
            continue
        if "tx_isolation" in variables and "transaction_isolation" not in variables:
            variables["transaction_isolation"] = variables.pop("tx_isolation")
        nodes.append(DbNode(host.name, variables, status))
    return nodes, problems


def _unreadable(host: str, what: str, exc: HarnessError) -> Finding:
    return Finding("host-unreadable", Severity.CRITICAL, f"{host}: cannot run {what}: {exc}",
                   (Evidence(host, what, None, str(exc)),))


def _unparsable(host: str, what: str, exc: HarnessError) -> Finding:
    return Finding("config-unparsable", Severity.CRITICAL, f"{host}: {what}: {exc}", (Evidence(host, what, None, str(exc)),))


def audit_ndb(cluster: Cluster) -> list[Finding]:
    """The NDB rules over what the first answering management host says (``ndb_mgm -e show``,
    NoOfReplicas from ``ndb_config``); no host with role ``mgm`` answering is a finding."""
    inv = cluster.inventory
    mgms = inv.with_role("mgm")
    declared = {h.name: h.ndb_node_id for h in inv.hosts.values() if h.ndb_node_id is not None}
    if not mgms:
        return [Finding("host-unreadable", Severity.CRITICAL, "database.kind ndb but no host with role mgm: the "
                        "NDB cluster's nodes, replicas and arbitration are not judged", (Evidence("-", text="no mgm host"),))]
    problems: list[Finding] = []
    for mgm in mgms:
        try:
            text = cluster.transport(mgm.name).check_output(["ndb_mgm", "-e", "show"], timeout=READ_TIMEOUT_S)
        except HarnessError as exc:
            problems.append(_unreadable(mgm.name, NDB_SHOW, exc))
            continue
        try:
            nodes = parse_show(text)
        except HarnessError as exc:
            problems.append(_unparsable(mgm.name, NDB_SHOW, exc))
            continue
        replicas: int | None = None
        try:
            replicas = parse_no_of_replicas(cluster.transport(mgm.name).check_output(
                ["ndb_config", "--type=ndbd", "--query=NoOfReplicas"], timeout=READ_TIMEOUT_S))
        except HarnessError as exc:  # the node groups of `show` still tell a single replica
            problems.append(Finding("config-unparsable", Severity.WARNING, f"{mgm.name}: {NDB_CONFIG}: {exc}; the "
                                    "replica count is read from the node groups of `show` instead",
                                    (Evidence(mgm.name, NDB_CONFIG, None, str(exc)),)))
        return problems + ndb_findings(mgm.name, nodes, replicas=replicas, declared=declared)
    return problems


#: cn=config's replication settings over the local socket, as root (SASL EXTERNAL): bounded
LDAP_CONFIG_SEARCH = ["ldapsearch", "-LLL", "-Q", "-Y", "EXTERNAL", "-H", "ldapi:///", "-o", "ldif-wrap=no",
                      "-o", "nettimeout=10", "-l", "10", "-b", "cn=config",
                      "(|(objectClass=olcGlobal)(objectClass=olcDatabaseConfig)(objectClass=olcSyncProvConfig))",
                      "olcServerID", "olcSuffix", "olcSyncrepl", "olcMultiProvider", "olcMirrorMode", "olcOverlay",
                      "olcDatabase", "objectClass", "olcSpCheckpoint"]


def read_ldap_servers(cluster: Cluster) -> tuple[list[LdapServer], list[Finding]]:
    """Each ldap host's cn=config: ``ldapsearch -Y EXTERNAL -H ldapi:///`` (slapd running),
    else ``slapcat -n 0`` (``-F`` the slapd service's ``config`` when the cluster file names
    it); a host where neither answers is ``host-unreadable`` with both errors."""
    servers: list[LdapServer] = []
    problems: list[Finding] = []
    for host in cluster.inventory.with_role("ldap"):
        svc = host.services.get("slapd")
        slapcat = ["slapcat", "-n", "0", *(["-F", svc.config] if svc and svc.config else [])]
        errors = []
        for what, argv in (("ldapsearch -Y EXTERNAL -H ldapi:/// -b cn=config", LDAP_CONFIG_SEARCH),
                           (" ".join(slapcat), slapcat)):
            try:
                text = cluster.transport(host.name).check_output(argv, timeout=READ_TIMEOUT_S)
            except HarnessError as exc:
                errors.append(f"{what}: {exc}")
                continue
            try:
                servers.append(server_from_ldif(host.name, host.address, text, what))
            except HarnessError as exc:
                problems.append(_unparsable(host.name, what, exc))
            break
        else:
            problems.append(Finding("host-unreadable", Severity.CRITICAL,
                                    f"{host.name}: cannot read cn=config: " + "; ".join(errors),
                                    (Evidence(host.name, "cn=config", None, "; ".join(errors)),)))
    return servers, problems


def audit_ldap(cluster: Cluster, directors: list[DirectorConfig], haproxies: list[HaproxyDirector]) -> list[Finding]:
    """Replication both ways between the ldap hosts, and each behind every LDAP VIP."""
    inv = cluster.inventory
    hosts = {h.name: h.address for h in inv.with_role("ldap")}
    if not hosts:
        return []
    servers, findings = read_ldap_servers(cluster)
    suffix = inv.directory.suffix if inv.directory is not None else None
    findings += ldap_replication_findings(servers, hosts, suffix)
    for vip in inv.vips.values():
        if vip.protocol == "ldap" and (directors or haproxies):
            findings += ldap_vip_findings(directors, haproxies, vip.address, vip.port, hosts)
    return findings


def audit_storage(cluster: Cluster) -> list[Finding]:
    """The volume rules over ``gluster --xml volume info VOLUME`` from the first file server
    that answers (each that does not is a finding); a volume the CLI does not know is critical."""
    inv = cluster.inventory
    storage = inv.storage
    if storage is None or storage.kind != "glusterfs":
        return []
    servers = {h.name: h.address for h in inv.with_role("fileserver")}
    what = f"gluster volume info {storage.volume}"
    problems: list[Finding] = []
    for name in servers:
        try:
            result = cluster.transport(name).run(["gluster", "--mode=script", "--xml", "volume", "info",
                                                  storage.volume], timeout=READ_TIMEOUT_S)
        except HarnessError as exc:
            problems.append(_unreadable(name, what, exc))
            continue
        if not result.stdout.strip():
            problems.append(Finding("host-unreadable", Severity.CRITICAL,
                                    f"{name}: {what} exited {result.exit_status} without output: "
                                    f"{result.stderr.strip()[-300:]}", (Evidence(name, what, None, result.stderr.strip()[-300:]),)))
            continue
        try:
            volumes = parse_volume_info(result.stdout)
        except HarnessError as exc:
            if "does not exist" in str(exc):
                return problems + [Finding("gluster-volume-missing", Severity.CRITICAL,
                                           f"{name}: glusterd has no volume {storage.volume} (storage.volume): "
                                           "the web nodes have nothing to mount", (Evidence(name, what, None, str(exc)),))]
            problems.append(_unparsable(name, what, exc))
            continue
        volume = next((v for v in volumes if v.name == storage.volume), None)
        if volume is None:
            problems.append(_unparsable(name, what, HarnessError(f"no volume {storage.volume} in its answer")))
            continue
        return problems + gluster_findings(name, volume, servers)
    return problems


def audit_cluster(cluster: Cluster, *, rejoin_window_s: float = DEFAULT_REJOIN_WINDOW_S) -> list[Finding]:
    """Every rule over what the cluster's hosts say, worst first."""
    inv = cluster.inventory
    directors, findings = read_directors(cluster)
    findings += vrrp_findings(directors, promise_s=inv.slo.director_failover_s)
    web = {name: v.address for name, v in inv.vips.items() if v.protocol == "http"}
    findings += lvs_findings(directors, web_failover_s=inv.slo.web_failover_s, web_vips=web or None)
    haproxies, problems = read_haproxy(cluster)
    findings += problems
    binds = {name: f"{v.address}:{v.port}" for name, v in inv.vips.items() if v.protocol == "http"}
    findings += haproxy_findings(haproxies, web_failover_s=inv.slo.web_failover_s, web_binds=binds or None)
    findings += audit_ldap(cluster, directors, haproxies)
    web_nodes, problems = read_web_nodes(cluster)
    findings += problems + web_findings(web_nodes)
    dbs = inv.with_role("db")
    if inv.database.kind == "galera" and dbs:
        db_nodes, problems = read_db_nodes(cluster)
        arbitrators = sum(1 for h in inv.hosts.values() for name in h.services if name in ("garbd", "garb"))
        findings += problems + galera_findings(db_nodes, expected_nodes=len(dbs), arbitrators=arbitrators,
                                               declared_sync_wait=inv.database.wsrep_sync_wait,
                                               window_s=rejoin_window_s,
                                               declared_durability=inv.database.durability)
    if inv.database.kind == "ndb":
        findings += audit_ndb(cluster)
    findings += audit_storage(cluster)
    return sort_findings(findings)


def exit_status(findings: list[Finding]) -> int:
    """As ``harness check``: 0 clean (INFO at most), 1 a WARNING or CRITICAL finding about the
    configuration, 3 nothing wrong found but a host or file could not be judged."""
    unjudged = {"host-unreadable", "config-unparsable", "config-include-unread", "web-config-unread"}
    if any(f.severity is not Severity.INFO and f.rule not in unjudged for f in findings):
        return 1
    if any(f.rule in unjudged for f in findings):
        return 3
    return 0
