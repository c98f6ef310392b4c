"""The auth tier's directory servers (``auth_tier="openldap"``): slapd on ldap1 and ldap2, what
`hostctl HOST start slapd` does INSIDE the host, and the pure pieces it is made of.

Two providers replicating each other (OpenLDAP multi-provider: ``olcMultiProvider: TRUE``, each
its own ``olcServerID``, the syncprov overlay, one ``olcSyncrepl`` refreshAndPersist consumer of
the peer). Either server takes writes (a password change on whichever the LMS reaches), neither
is a standby to promote, and a server back from a crash catches up from its peer by itself
(``retry="1 +"``: every second, for ever). docs/lab.md "The auth tier" says why not a
consumer-only replica.

Each server's cn=config and mdb database live on the host's own disk (``/var/lib``, private to
the host: harness.lab._disks), named after lab and host so a process of this lab is found by
its command line. cn=config is made once by ``slapadd -n0`` from ``config_ldif`` (kept across a
destroy and start, like a disk). The rootdn's password is in the lab's secrets dir (0600, made
by `lab up`); cn=config holds its salted hash, and the replication consumer's credentials (slapd
needs them in clear to bind to its peer), in files slapd writes 0600 under a 0700 directory.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ..errors import LabError
from ._paths import LabPaths
from ._proc import port_open, running_pid, spawn, wait_for
from ._services import DAEMONS
from ._topology import LabHost, Topology

SUFFIX = "dc=lms,dc=lab"
ROOT_DN = f"cn=admin,{SUFFIX}"
PEOPLE_DN = f"ou=people,{SUFFIX}"
#: the replication consumers bind to their peer as the rootdn (it reads every attribute,
#: userPassword included, whatever the ACLs say; a dedicated identity would have to exist on
#: both servers before either can replicate it)
REPLICATION_DN = ROOT_DN
LDAP_PORT = 389
RUN_DIR = "/run/slapd"
LDAPI_SOCKET = f"{RUN_DIR}/ldapi"
#: mdb's map size: room for a few thousand entries, nothing near the disk (the map is sparse)
MDB_MAXSIZE = 64 * 1024 * 1024
#: schemas inetOrgPerson needs, in order (Debian's slapd package ships them as cn=config LDIF)
SCHEMA_DIR = Path("/etc/ldap/schema")
SCHEMAS = ("core", "cosine", "inetorgperson")
MODULE_PATH = "/usr/lib/ldap"
#: seconds any one LDAP client call may take (ldapsearch, ldapadd, ldapwhoami)
CLIENT_TIMEOUT_S = 10.0
#: syncprov writes the contextCSN to the database after every write (ops 1; minutes 1, as 0 is
#: refused): with "100 1" (every 100 writes or a minute) a SIGKILLed slapd restarts with the contextCSN of its
#: last checkpoint, older than its own newest entries (measured: 17:38:31 against 17:39:10), and
#: two servers then show equal contextCSNs while one lacks those entries
SP_CHECKPOINT = "1 1"
#: the lab LMS's accounts (harness/lab/lms/seed.sql: student001 .. student200, one password)
LMS_ACCOUNT_PREFIX, LMS_ACCOUNT_DIGITS, LMS_ACCOUNT_COUNT = "student", 3, 200


def server_id(host: LabHost | str) -> int:
    """ldap1 -> 1, ldap2 -> 2: the host's ``olcServerID`` (the number in its name)."""
    name = host if isinstance(host, str) else host.name
    digits = name.removeprefix("ldap")
    if not digits.isdigit() or not 1 <= int(digits) <= 4095:
        raise LabError(f"{name}: not an ldap host (ldap1, ldap2, ...): no serverID for it")
    return int(digits)


def slapd_dir(lab: str, host: str) -> str:
    """The host's slapd directory (its own /var/lib), lab and host in its name."""
    return f"/var/lib/hlab-{lab}-{host}-slapd"


def config_dir(lab: str, host: str) -> str:
    return f"{slapd_dir(lab, host)}/config"


def data_dir(lab: str, host: str) -> str:
    return f"{slapd_dir(lab, host)}/data"


def ldap_url(host: LabHost) -> str:
    return f"ldap://{host.address}:{LDAP_PORT}/"


def ldapi_url() -> str:
    return "ldapi://" + LDAPI_SOCKET.replace("/", "%2F") + "/"


def slapd_argv(lab: str, host: LabHost, vip: str | None = None) -> list[str]:
    """slapd in the foreground (``-d 0``: its messages to the log file, none to a syslog the
    host lacks), listening on the host's own address and a local socket; and on ``vip``, the
    LDAP VIP, where the host holds it on lo (an LVS-DR real server answers from the VIP)."""
    urls = [ldap_url(host), *([f"ldap://{vip}:{LDAP_PORT}/"] if vip else []), ldapi_url()]
    return ["/usr/sbin/slapd", "-d", "0", "-h", " ".join(urls), "-F", config_dir(lab, host.name)]


def holds_address(address: str) -> bool:
    """Is ``address`` one of this host's own (binding it works only then: an ldap host's
    namespaces leave ``ip_nonlocal_bind`` off)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((address, 0))
        except OSError:
            return False
    return True


def ssha(password: str, salt: bytes | None = None) -> str:
    """``{SSHA}`` of ``password`` (what slappasswd makes: SHA-1 of password + salt, salt appended)."""
    salt = secrets.token_bytes(8) if salt is None else salt
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def ssha_matches(password: str, hashed: str) -> bool:
    raw = base64.b64decode(hashed.removeprefix("{SSHA}"))
    return ssha(password, raw[20:]) == hashed


def _escape_cfg(value: str) -> str:
    """A value inside a double-quoted syncrepl keyword."""
    if '"' in value or "\\" in value or "\n" in value:
        raise LabError("syncrepl credentials: the password may not hold a quote, backslash or newline")
    return value


def syncrepl_value(peer: LabHost, credentials: str) -> str:
    """The ``olcSyncrepl`` of a consumer of ``peer``: rid = the peer's serverID (unique per
    consumer), refreshAndPersist, retry every second for ever, bounded network calls."""
    return (f"rid={server_id(peer):03d} provider={ldap_url(peer)} bindmethod=simple "
            f'binddn="{REPLICATION_DN}" credentials="{_escape_cfg(credentials)}" searchbase="{SUFFIX}" '
            'type=refreshAndPersist retry="1 +" timeout=5 network-timeout=5 keepalive=20:3:5')


def config_ldif(topo: Topology, host: LabHost, root_password: str, salt: bytes | None = None,
                schema_dir: Path = SCHEMA_DIR) -> str:
    """The cn=config LDIF of ``host`` for ``slapadd -n0``: global (serverID, pidfile), modules,
    schemas, the config database (root over ldapi only), and the mdb database of SUFFIX with
    one syncrepl consumer per peer, multi-provider on, the syncprov overlay."""
    peers = [h for h in topo.with_role("ldap") if h.name != host.name]
    if not peers:
        raise LabError(f"{host.name}: no peer ldap host in lab {topo.lab_name!r}: nothing to replicate with")
    lab = topo.lab_name
    root_ext = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"
    parts = [f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcServerID: {server_id(host)}
olcPidFile: {DAEMONS['slapd'].pidfile}
olcArgsFile: {RUN_DIR}/slapd.args
olcLogLevel: none
olcToolThreads: 1

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_PATH}
olcModuleLoad: back_mdb
olcModuleLoad: syncprov

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
"""]
    for name in SCHEMAS:
        try:
            parts.append((schema_dir / f"{name}.ldif").read_text().strip() + "\n")
        except OSError as exc:
            raise LabError(f"{host.name}: schema {schema_dir}/{name}.ldif unreadable ({exc}); is slapd installed?") from None
    parts.append(f"""dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 1000

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by dn.exact={root_ext} manage by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {SUFFIX}
olcDbDirectory: {data_dir(lab, host.name)}
olcDbMaxSize: {MDB_MAXSIZE}
olcRootDN: {ROOT_DN}
olcRootPW: {ssha(root_password, salt)}
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: entryCSN,entryUUID eq
olcAccess: {{0}}to attrs=userPassword by dn.exact={root_ext} manage by self write by anonymous auth by * none
olcAccess: {{1}}to * by dn.exact={root_ext} manage by * read
olcLimits: dn.exact="{REPLICATION_DN}" time=unlimited size=unlimited
""")
    parts[-1] += "".join(f"olcSyncrepl: {{{i}}}{syncrepl_value(p, root_password)}\n" for i, p in enumerate(peers))
    parts[-1] += """olcMultiProvider: TRUE

dn: olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {0}syncprov
""" + f"olcSpCheckpoint: {SP_CHECKPOINT}\n"
    return "\n".join(parts)


def account_names(count: int = LMS_ACCOUNT_COUNT) -> list[str]:
    return [f"{LMS_ACCOUNT_PREFIX}{n:0{LMS_ACCOUNT_DIGITS}d}" for n in range(1, count + 1)]


def person_ldif(uid: str, password: str, salt: bytes | None = None) -> str:
    """One LMS user as an inetOrgPerson under ou=people (as seed.sql names them)."""
    number = uid.removeprefix(LMS_ACCOUNT_PREFIX)
    return (f"dn: uid={uid},{PEOPLE_DN}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Student {number}\n"
            f"sn: {number}\ngivenName: Student\nmail: {uid}@lab.invalid\nuserPassword: {ssha(password, salt)}\n")


def seed_ldif(users: Iterable[str], password: str) -> str:
    """The suffix, ou=people and every user: what `lab up` adds once, on ldap1."""
    head = (f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: lms\no: Harness lab LMS\n\n"
            f"dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n")
    return "\n".join([head, *(person_ldif(u, password) for u in users)])


def root_password(paths: LabPaths) -> str:
    """The rootdn's password from the lab's secrets (made by `lab up`); LabError if missing."""
    try:
        return paths.ldap_admin_password_file.read_text()
    except OSError:
        raise LabError(f"{paths.ldap_admin_password_file}: missing; is the lab up with --auth-tier openldap?") from None


def _run(argv: list[str], what: str, input: str | None = None, timeout: float = 60.0) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise LabError(f"{what}: no end within {timeout:.0f}s") from None
    if proc.returncode != 0:
        raise LabError(f"{what} exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc.stdout


def make_config(topo: Topology, host: LabHost, paths: LabPaths) -> str:
    """cn=config of ``host`` made once by ``slapadd -n0`` (into a new directory, renamed into
    place: an interrupted slapadd is redone, never started half made)."""
    cfg = config_dir(topo.lab_name, host.name)
    if os.path.isdir(cfg):
        return "cn=config kept"
    base = slapd_dir(topo.lab_name, host.name)
    os.makedirs(base, mode=0o700, exist_ok=True)
    os.chmod(base, 0o700)
    os.makedirs(data_dir(topo.lab_name, host.name), mode=0o700, exist_ok=True)
    tmp = cfg + ".new"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp, mode=0o700)
    _run(["/usr/sbin/slapadd", "-n", "0", "-F", tmp], f"{host.name}: slapadd -n0 -F {tmp}",
         input=config_ldif(topo, host, root_password(paths)))
    os.rename(tmp, cfg)
    return "cn=config made"


def start_slapd(topo: Topology, host: LabHost, paths: LabPaths, wait: float) -> str:
    """slapd on this host; ready when it holds its pidfile and answers on its address."""
    daemon = DAEMONS["slapd"]
    if running_pid(daemon):
        return "slapd: already running"
    log = paths.log(host.name) / daemon.log
    made = make_config(topo, host, paths)
    os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
    vip = topo.vips.get("ldap")
    proc = spawn(slapd_argv(topo.lab_name, host, vip if vip and holds_address(vip) else None), log, wait=False)
    wait_for(f"{host.name}: slapd", lambda: running_pid(daemon) is not None and port_open(host.address, LDAP_PORT),
             wait, log, alive=lambda: proc.poll() is None)
    return f"slapd: started ({made})"


def our_slapd_processes(lab: str, hosts: Iterable[str], proc_root: str = "/proc") -> list[tuple[int, str]]:
    """(pid, command line) of every slapd of lab ``lab`` on the machine (root namespace view):
    found by its config directory, lab and host in its name; another lab's are never ours."""
    dirs = [config_dir(lab, h) for h in hosts]
    found = []
    for entry in os.listdir(proc_root):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"{proc_root}/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if words and os.path.basename(words[0]) == "slapd" and any(d in words for d in dirs):
            found.append((int(entry), " ".join(words)))
    return found
