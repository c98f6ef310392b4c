"""The lab's optional auth tier (``auth_tier="openldap"``), from the root namespace: both slapd
started, the LMS's users seeded once on ldap1, and waited on until the pair serves.

Ready means, each step bounded and never slept on: every server answers ``ldapwhoami`` for a
seeded user's simple bind on its own address; ldap2 has every seeded user (replicated from
ldap1); both servers' ``contextCSN`` agree (harness.parsers.ldap). The LDAP clients run inside
the host asked (its namespaces, the lab's back door), each with a network timeout of its own
and a process timeout around it. The rootdn's password goes to the clients as a file (``-y``,
the lab's 0600 secret), never on a command line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ldap3.core import exceptions as ldap_exc

from ..errors import LabError, ParseError
from ..parsers.ldap import Csn, context_csns_agree, parse_context_csns, parse_ldif, parse_whoami
from ..probes.ldap import open_connection  # the probes' own client (ldap3) and its timeouts
from ._interfaces import LabContext
from ._inventory import LMS_STUDENT_PASSWORD  # every seeded user's: the LMS's (lms/seed.sql)
from ._ldap import (
    CLIENT_TIMEOUT_S,
    LDAP_PORT,
    PEOPLE_DN,
    ROOT_DN,
    SUFFIX,
    account_names,
    ldap_url,
    seed_ldif,
)
from ._parallel import parallel
from ._proc import poll_missing
from ._services import DAEMONS

#: seconds each readiness step may take (measured: a few tenths of a second each)
READY_TIMEOUT_S = 30.0
#: the LDAP client's limits when `lab status` asks (its other probes allow 1-2 s)
STATUS_TIMEOUT_S = 2.0
_NET = ["-o", f"nettimeout={CLIENT_TIMEOUT_S:g}", "-l", f"{CLIENT_TIMEOUT_S:g}"]


def ldap_client(lab: LabContext, host: str, argv: list[str], input: str | None = None,
                timeout: float = CLIENT_TIMEOUT_S + 5) -> str:
    """An LDAP client ``argv`` inside ``host``; stdout, or LabError naming host and command."""
    proc = lab.exec(host, argv, timeout=timeout, input=input)  # LabError on a timeout
    if proc.returncode != 0:
        shown = " ".join("..." if i and argv[i - 1] == "-w" else a for i, a in enumerate(argv))  # no password
        raise LabError(f"{host}: `{shown}` exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-500:]}")
    return proc.stdout


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE_DN}"


def whoami(lab: LabContext, host: str, uid: str, password: str, server: str | None = None) -> str:
    """``ldapwhoami`` of a simple bind as ``uid`` against ``server`` (default ``host``'s own
    address), run inside ``host``: the DN bound as (``parse_whoami``; "" for anonymous)."""
    url = ldap_url(lab.topo.host(server or host))
    out = ldap_client(lab, host, ["ldapwhoami", "-x", "-H", url, "-D", user_dn(uid), "-w", password,
                                  "-o", f"nettimeout={CLIENT_TIMEOUT_S:g}"])
    return parse_whoami(out)


def context_csns(lab: LabContext, host: str, timeout: float = CLIENT_TIMEOUT_S) -> dict[int, Csn]:
    """The suffix's contextCSN on ``host``'s server, by serverID ({} before any write);
    ``timeout``: the client's network and time limit (its process gets 5 s more)."""
    url = ldap_url(lab.topo.host(host))
    net = ["-o", f"nettimeout={timeout:g}", "-l", f"{max(1, round(timeout))}"]
    argv = ["ldapsearch", "-LLL", "-x", "-H", url, *net, "-b", SUFFIX, "-s", "base", "(objectClass=*)", "contextCSN"]
    proc = lab.exec(host, argv, timeout=timeout + 5)
    if proc.returncode == 32:  # noSuchObject: no suffix entry yet
        return {}
    if proc.returncode != 0:
        raise LabError(f"{host}: ldapsearch contextCSN exited {proc.returncode}: {proc.stderr.strip()}")
    return parse_context_csns(proc.stdout, command=f"{host}: ldapsearch -s base contextCSN")


def people(lab: LabContext, host: str) -> set[str]:
    """uids under ou=people on ``host``'s server (empty when ou=people is not there yet)."""
    url = ldap_url(lab.topo.host(host))
    argv = ["ldapsearch", "-LLL", "-x", "-H", url, *_NET, "-b", PEOPLE_DN, "-s", "one",
            "(objectClass=inetOrgPerson)", "uid"]
    proc = lab.exec(host, argv, timeout=CLIENT_TIMEOUT_S + 5)
    if proc.returncode == 32:
        return set()
    if proc.returncode != 0:
        raise LabError(f"{host}: ldapsearch -b {PEOPLE_DN} exited {proc.returncode}: {proc.stderr.strip()}")
    return {e["uid"][0] for e in parse_ldif(proc.stdout) if e.get("uid")}


def admin_modify(lab: LabContext, host: str, ldif: str, add: bool = True) -> str:
    """``ldapadd``/``ldapmodify`` as the rootdn on ``host``'s own server, LDIF on stdin."""
    url = ldap_url(lab.topo.host(host))
    argv = ["ldapadd" if add else "ldapmodify", "-x", "-H", url, "-o", f"nettimeout={CLIENT_TIMEOUT_S:g}",
            "-D", ROOT_DN, "-y", str(lab.paths.ldap_admin_password_file)]
    return ldap_client(lab, host, argv, input=ldif, timeout=60)


def poll(what: str, pred: Callable[[], str], timeout_s: float = READY_TIMEOUT_S) -> None:
    poll_missing(what, pred, timeout_s, interval_s=0.1)


def csns_disagree(lab: LabContext, hosts: list[str]) -> str:
    """'' when every server's contextCSN is the first's (and not empty), else who differs."""
    seen = {h: context_csns(lab, h) for h in hosts}
    first = seen[hosts[0]]
    if not first:
        return f"{hosts[0]} has no contextCSN"
    bad = [h for h in hosts[1:] if not context_csns_agree(first, seen[h])]
    return "" if not bad else "; ".join(
        f"{h} {sorted(c.text for c in seen[h].values())} vs {hosts[0]} {sorted(c.text for c in first.values())}"
        for h in bad)


def up_auth_tier(lab: LabContext) -> None:
    """slapd on every ldap host, the seed on the first, then the readiness steps."""
    servers = [h.name for h in lab.topo.with_role("ldap")]
    first = servers[0]
    lab.say(f"auth tier: starting slapd on {', '.join(servers)}")
    parallel({h: functools.partial(lab.hostctl, h, "start", "slapd", 30) for h in servers})
    users = account_names()
    if not _suffix_exists(lab, first):
        admin_modify(lab, first, seed_ldif(users, LMS_STUDENT_PASSWORD))
        lab.say(f"auth tier: {first}: seeded {SUFFIX}, {PEOPLE_DN} and {len(users)} users")
    else:
        lab.say(f"auth tier: {first}: {SUFFIX} exists (kept)")
    probe = users[0]

    def bind_fails(host: str) -> str:
        got = whoami(lab, host, probe, LMS_STUDENT_PASSWORD)
        return "" if got.lower() == user_dn(probe).lower() else f"bound as {got!r}"

    def users_missing(host: str) -> str:
        n = len(people(lab, host) & set(users))
        return "" if n == len(users) else f"{n} of {len(users)} users on {host}"

    for h in servers:
        poll(f"{h}: ldapwhoami as {probe} on its own address", functools.partial(bind_fails, h))
    lab.say(f"auth tier: ldapwhoami as {probe} answers on {', '.join(servers)}")
    for h in servers[1:]:
        poll(f"{h}: the seeded users replicated from {first}", functools.partial(users_missing, h))
    lab.say(f"auth tier: {len(users)} users on {', '.join(servers[1:])} (replicated)")
    poll("auth tier: contextCSN agree", lambda: csns_disagree(lab, servers))
    lab.say(f"auth tier: contextCSN agree on {', '.join(servers)}")


def _suffix_exists(lab: LabContext, host: str) -> bool:
    url = ldap_url(lab.topo.host(host))
    proc = lab.exec(host, ["ldapsearch", "-LLL", "-x", "-H", url, *_NET, "-b", SUFFIX, "-s", "base", "1.1"],
                    timeout=CLIENT_TIMEOUT_S + 5)
    if proc.returncode in (0, 32):
        return proc.returncode == 0
    raise LabError(f"{host}: ldapsearch -b {SUFFIX} -s base exited {proc.returncode}: {proc.stderr.strip()}")


def ldap_vip_error(lab: LabContext, uid: str = "student001", timeout_s: float = 2.0) -> str:
    """'' if a seeded user's simple bind through the LDAP VIP (from the root namespace, as the
    harness's probes bind) is accepted, else why not: what `lab up` waits on last."""
    vip = lab.topo.vips["ldap"]
    conn = open_connection(vip, LDAP_PORT, user_dn(uid), LMS_STUDENT_PASSWORD, timeout_s)
    try:
        conn.open()
        if conn.bind():
            return ""
        r = conn.result or {}
        return f"ldap://{vip}: bind as {uid} refused: {r.get('description', '?')}"
    except ldap_exc.LDAPException as exc:
        return f"ldap://{vip}: {type(exc).__name__}: {exc}"
    finally:
        try:
            conn.unbind()
        except ldap_exc.LDAPException:
            pass


# -- `lab status` ----------------------------------------------------------------------------
def slapd_status(lab: LabContext, host: str) -> dict[str, Any]:
    """One server for `lab status`: ``slapd`` up | down, its ``pid`` (as its host sees it) and
    the suffix's ``context_csn`` values; an ``error`` when it could not be asked."""
    out: dict[str, Any] = {"slapd": "down", "pid": None, "context_csn": []}
    pidfile = DAEMONS["slapd"].pidfile
    proc = lab.exec(host, ["sh", "-c", f'p=$(cat {pidfile} 2>/dev/null) && test -d /proc/"$p" && echo "$p"'],
                    timeout=5)
    pid = proc.stdout.strip()
    out["pid"] = int(pid) if pid.isdigit() else None
    try:
        csns = context_csns(lab, host, timeout=STATUS_TIMEOUT_S)  # status looks, it does not wait
    except (LabError, ParseError) as exc:
        out["error"] = str(exc).splitlines()[0]
        return out
    out["slapd"] = "up" if out["pid"] is not None else "down"
    out["context_csn"] = [c.text for _sid, c in sorted(csns.items())]
    return out

