"""Rules over the LDAP tier: replication both ways between the servers, and every server behind
the LDAP VIP on every director (pure).

Each server's cn=config is read as LDIF (``ldapsearch -Y EXTERNAL -H ldapi:///`` as root, else
``slapcat -n 0``). Multi-provider replication works only when the data database of every
server has one ``olcSyncrepl`` consumer naming each other server as provider, multi-provider
on (``olcMultiProvider``, ``olcMirrorMode`` before OpenLDAP 2.5: without it a consumer refuses
writes), the syncprov overlay (what a consumer of it reads), and a serverID of its own (the
CSNs that tell whose change is newer carry it). The directors must send the VIP's connections to
every server: a server left out is one the VIP never fails over to.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..parsers.ldap import parse_ldif
from ._model import Evidence, Finding, Severity
from .haproxy import HaproxyDirector
from .keepalived import DirectorConfig

CONFIRM_LDAP = "tests/availability/test_ldap.py::test_logins_go_on_when_slapd_is_killed_on_a_server_behind_the_vip"
_ORDER = re.compile(r"^\{\d+\}")
#: what a syncrepl line may show (never its credentials)
_SHOWN = ("rid", "provider", "searchbase", "type")


def _norm_dn(dn: str) -> str:
    return ",".join(part.strip() for part in dn.lower().split(","))


def parse_syncrepl(value: str) -> dict[str, str]:
    """One ``olcSyncrepl`` value (``{0}rid=002 provider=ldap://... binddn="..." ...``) ->
    keyword -> value, quotes removed; ``credentials`` is kept but never shown by the rules."""
    out: dict[str, str] = {}
    try:
        words = shlex.split(_ORDER.sub("", value.strip()), posix=True)
    except ValueError:  # an unbalanced quote: take the words as they are
        words = _ORDER.sub("", value.strip()).split()
    for word in words:
        key, sep, val = word.partition("=")
        if sep:
            out[key.lower()] = val
    return out


def url_host(url: str) -> str:
    """``ldap://198.18.0.52:389/`` -> ``198.18.0.52`` (lower case; "" when not a URL)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


@dataclass(frozen=True)
class LdapDatabase:
    """One database of cn=config: its suffix, syncrepl consumers, multi-provider, syncprov."""

    dn: str
    suffix: str
    syncrepls: tuple[dict[str, str], ...] = ()
    multiprovider: bool = False
    syncprov: bool = False
    #: its syncprov overlay's ``olcSpCheckpoint`` ("<ops> <minutes>"), None when unset
    checkpoint: str | None = None


@dataclass(frozen=True)
class LdapServer:
    """One ldap host's cn=config as read (``source``: the command), its serverIDs and databases."""

    host: str
    address: str
    source: str
    server_ids: tuple[str, ...]
    databases: tuple[LdapDatabase, ...]

    def server_id(self) -> str:
        """This server's olcServerID ("0" when unset, slapd's default); with the URL form
        (``1 ldap://ldap1/``) the value whose URL names this host, else "?"."""
        if not self.server_ids:
            return "0"
        plain = [v.split()[0] for v in self.server_ids if len(v.split()) == 1]
        if len(plain) == 1 and len(self.server_ids) == 1:
            return plain[0]
        for v in self.server_ids:
            parts = v.split()
            if len(parts) > 1 and url_host(parts[1]) in (self.address.lower(), self.host.lower()):
                return parts[0]
        return "?"

    def data_database(self, suffix: str | None) -> LdapDatabase | None:
        """The database serving ``suffix`` (None: the first with a suffix)."""
        for db in self.databases:
            if db.suffix and (suffix is None or _norm_dn(db.suffix) == _norm_dn(suffix)):
                return db
        return None


def server_from_ldif(host: str, address: str, text: str, source: str) -> LdapServer:
    """cn=config LDIF (``ldapsearch`` or ``slapcat -n 0``) -> :class:`LdapServer`; ParseError
    (naming ``source``) on text that is not LDIF."""
    entries = parse_ldif(text, command=f"{host}: {source}")
    ids: tuple[str, ...] = ()
    dbs: list[tuple[str, str, list[str], bool]] = []  # dn, suffix, olcSyncrepl values, multi-provider
    overlays: list[tuple[str, str, str | None]] = []  # dn, overlay, olcSpCheckpoint
    for e in entries:
        dn = (e.get("dn") or [""])[0]
        classes = {c.lower() for c in e.get("objectclass", [])}
        if _norm_dn(dn) == "cn=config":
            ids = tuple(e.get("olcserverid", []))
        elif "olcdatabase" in e:
            multi = any(v.upper() == "TRUE" for v in e.get("olcmultiprovider", []) + e.get("olcmirrormode", []))
            dbs.append((dn, (e.get("olcsuffix") or [""])[0], e.get("olcsyncrepl", []), multi))
        elif "olcoverlay" in e or "olcsyncprovconfig" in classes:
            overlays.append((_norm_dn(dn), _ORDER.sub("", (e.get("olcoverlay") or [""])[0]).lower(),
                             next(iter(e.get("olcspcheckpoint", [])), None)))
    databases = []
    for dn, suffix, syncrepl, multi in dbs:
        mine = [cp for o_dn, name, cp in overlays if o_dn.endswith("," + _norm_dn(dn)) and name == "syncprov"]
        databases.append(LdapDatabase(dn, suffix, tuple(parse_syncrepl(v) for v in syncrepl), multi, bool(mine),
                                      mine[0] if mine else None))
    return LdapServer(host, address, source, ids, tuple(databases))


def _checkpoints_every_write(checkpoint: str | None) -> bool:
    """``olcSpCheckpoint`` "1 <minutes>": the contextCSN written after every change."""
    return checkpoint is not None and checkpoint.split()[:1] == ["1"]


def _show(s: dict[str, str]) -> str:
    return " ".join(f"{k}={s[k]}" for k in _SHOWN if k in s)


def _ev(server: LdapServer, db: LdapDatabase | None, text: str) -> Evidence:
    return Evidence(server.host, server.source, None, (f"{db.dn}: " if db else "") + text)


def ldap_replication_findings(servers: list[LdapServer], hosts: Mapping[str, str],
                              suffix: str | None = None) -> list[Finding]:
    """``hosts``: cluster-file name -> address of every ldap host; ``suffix``: the directory's
    (``directory.suffix``; None: each server's first database with a suffix)."""
    out: list[Finding] = []
    if len(hosts) < 2:
        return out
    by_host = {s.host: s for s in servers}
    for s in servers:
        db = s.data_database(suffix)
        if db is None:
            out.append(Finding("ldap-database-missing", Severity.CRITICAL,
                               f"{s.host}: cn=config has no database of {suffix or 'any suffix'}: it serves none of "
                               "the directory", (_ev(s, None, "databases " + ", ".join(d.dn for d in s.databases)),),
                               CONFIRM_LDAP))
            continue
        for peer, address in sorted(hosts.items()):
            if peer == s.host:
                continue
            named = [r for r in db.syncrepls if url_host(r.get("provider", "")) in (address.lower(), peer.lower())]
            if not named:
                out.append(Finding("ldap-replication-missing", Severity.CRITICAL,
                                   f"{s.host} does not replicate from {peer} ({address}): no olcSyncrepl of its "
                                   f"{db.suffix} names {peer} as provider; a change made on {peer} (a password set "
                                   f"while the VIP sent writes there) never reaches {s.host}",
                                   (_ev(s, db, "olcSyncrepl " + ("; ".join(_show(r) for r in db.syncrepls) or "none")),),
                                   CONFIRM_LDAP))
            elif suffix is not None and not any(_norm_dn(r.get("searchbase", "")) == _norm_dn(suffix) for r in named):
                out.append(Finding("ldap-replication-partial", Severity.WARNING,
                                   f"{s.host} replicates from {peer} only {', '.join(r.get('searchbase', '?') for r in named)}, "
                                   f"not the whole suffix {suffix}: changes elsewhere in the tree stay on {peer}",
                                   tuple(_ev(s, db, _show(r)) for r in named), CONFIRM_LDAP))
        if db.syncrepls and not db.multiprovider:
            out.append(Finding("ldap-multiprovider-off", Severity.CRITICAL,
                               f"{s.host}: its {db.suffix} has olcSyncrepl but neither olcMultiProvider nor olcMirrorMode "
                               "TRUE: it is a read-only consumer, refusing writes with a referral (replication one "
                               "way only)", (_ev(s, db, "olcMultiProvider FALSE (or unset)"),), CONFIRM_LDAP))
        consumers = [o.host for o in servers if o is not s and (odb := o.data_database(suffix)) is not None
                     and any(url_host(r.get("provider", "")) in (s.address.lower(), s.host.lower()) for r in odb.syncrepls)]
        if consumers and not db.syncprov:
            out.append(Finding("ldap-syncprov-missing", Severity.CRITICAL,
                               f"{s.host}: no syncprov overlay on its {db.suffix}, yet {', '.join(consumers)} "
                               f"replicate from it: their consumers get nothing from {s.host}",
                               (_ev(s, db, "no olcOverlay syncprov"),), CONFIRM_LDAP))
        if db.syncprov and not _checkpoints_every_write(db.checkpoint):
            out.append(Finding("ldap-syncprov-checkpoint-lax", Severity.INFO,
                               f"{s.host}: syncprov writes its {db.suffix} contextCSN to disk "
                               + (f"only every {db.checkpoint.split()[0]} writes or {db.checkpoint.split()[-1]} min"
                                  if db.checkpoint else "only at a clean shutdown")
                               + ": a slapd that crashes restarts with a contextCSN older than its own newest "
                               "entries (the lab measured it), so a monitor comparing contextCSNs reads the servers "
                               "equal while one lacks entries (olcSpCheckpoint: 1 1 writes it after every change)",
                               (_ev(s, db, f"olcSpCheckpoint {db.checkpoint or 'unset'}"),), CONFIRM_LDAP))
    ids: dict[str, list[str]] = {}
    for s in servers:
        if s.data_database(suffix) is not None and s.server_id() != "?":
            ids.setdefault(s.server_id(), []).append(s.host)
    for sid, names in sorted(ids.items()):
        if len(names) > 1:
            out.append(Finding("ldap-serverid-duplicate", Severity.CRITICAL,
                               f"{', '.join(names)} share olcServerID {sid}" + (" (unset: 0)" if sid == "0" else "")
                               + ": the CSNs of their changes cannot be told apart, so a server takes its peer's "
                               "changes for ones it has and skips them", tuple(
                                   Evidence(n, by_host[n].source, None, f"olcServerID {sid}") for n in names),
                               CONFIRM_LDAP))
    return out


def _bind_matches(bind: str, address: str, port: int) -> bool:
    host, _, p = bind.rpartition(":")
    return p == str(port) and host in (address, "", "*", "0.0.0.0", "::", "[::]")


def _addr(server_address: str) -> str:
    return server_address.rsplit(":", 1)[0] if server_address.count(":") == 1 else server_address


def ldap_vip_findings(directors: list[DirectorConfig], haproxies: list[HaproxyDirector], vip: str, port: int,
                      hosts: Mapping[str, str]) -> list[Finding]:
    """Every ldap host behind the LDAP VIP ``vip:port`` on each director that serves it: the
    HAProxy backend of the frontend bound to it, or LVS's ``virtual_server vip port``. A VIP
    no director serves is critical; one served on some directors only is the generic rules'
    (``haproxy-frontend-missing``, ``lvs-virtual-server-missing``)."""
    out: list[Finding] = []
    label = f"{vip}:{port}"
    proxied = {d.host for d in haproxies}
    fronted = []
    for d in haproxies:
        front = next((f for f in d.config.frontends().values() if any(_bind_matches(b, vip, port) for b in f.binds)), None)
        if front is not None:
            fronted.append((d, front))
    if haproxies and not fronted:
        out.append(Finding("ldap-vip-not-served", Severity.CRITICAL,
                           f"no HAProxy frontend binds the LDAP VIP {label}: logins through it are refused",
                           tuple(Evidence(d.host, d.path, None, f"no bind {label}") for d in haproxies), CONFIRM_LDAP))
    for d, front in fronted:
        backend = d.config.backends().get(front.default_backend or front.name)
        if backend is None:
            out.append(Finding("ldap-vip-not-served", Severity.CRITICAL,
                               f"{d.host}: frontend {front.name} binds the LDAP VIP {label} but its backend "
                               f"{front.default_backend or front.name} is not defined", (
                                   Evidence(d.host, d.path, front.lineno or None, f"default_backend {front.default_backend}"),),
                               CONFIRM_LDAP))
            continue
        behind = {_addr(v.address) for v in backend.servers} | {v.name for v in backend.servers}
        for name, address in sorted(hosts.items()):
            if address not in behind and name not in behind:
                out.append(Finding("ldap-server-not-behind-vip", Severity.CRITICAL,
                                   f"{d.host}: backend {backend.name} behind the LDAP VIP {label} has no server {name} "
                                   f"({address}): while {d.host} holds the VIP, {name} never gets a login, and when the "
                                   "others fail the directory is gone", (
                                       Evidence(d.host, d.path, backend.lineno or None, "servers " + ", ".join(
                                           f"{v.name} {v.address}" for v in backend.servers)),), CONFIRM_LDAP))
    lvs = [d for d in directors if d.host not in proxied]
    holders = [d for d in lvs if any(vip in i.vips for i in d.config.vrrp_instances.values())]
    serving = [(d, vs) for d in lvs for vs in d.config.virtual_servers if vs.address == vip and vs.port == port]
    if lvs and not haproxies and not serving:
        out.append(Finding("ldap-vip-not-served", Severity.CRITICAL,
                           f"no director has a virtual_server {vip} {port}" + (
                               "" if holders else " nor a vrrp_instance holding it")
                           + ": logins through the LDAP VIP are refused",
                           tuple(Evidence(d.host, d.path, None, f"no virtual_server {vip} {port}") for d in lvs),
                           CONFIRM_LDAP))
    for k, vs in serving:
        reals = {r.address for r in vs.real_servers}
        for name, address in sorted(hosts.items()):
            if address not in reals and name not in reals:
                out.append(Finding("ldap-server-not-behind-vip", Severity.CRITICAL,
                                   f"{k.host}: virtual_server {vip} {port} has no real_server {name} ({address}): while "
                                   f"{k.host} holds the VIP, {name} never gets a login, and when the others fail the "
                                   "directory is gone", (Evidence(k.host, vs.source or k.path, vs.lineno or None,
                                                                   "real servers " + ", ".join(sorted(reals))),),
                                   CONFIRM_LDAP))
    return out
