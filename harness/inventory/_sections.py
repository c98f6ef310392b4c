"""The cluster-wide sections of a cluster file: ``vips``, ``database``, ``slo``, ``storage`` and ``directory``."""

from __future__ import annotations

from typing import Any

from ._checks import MISSING, Checker, join_path, refuse_password
from ._model import (
    DATABASE_KINDS,
    DIRECTORY_KINDS,
    DURABILITY_LEVELS,
    ISOLATION_LEVELS,
    PHASES,
    STORAGE_KINDS,
    Database,
    Directory,
    LatencyBound,
    Slo,
    Storage,
    Vip,
)

VIP_PROTOCOLS: frozenset[str] = frozenset({"http", "tcp", "mysql", "ldap"})


def read_vip(c: Checker, name: str, raw: Any, path: str) -> Vip | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    c.keys(data, path, ("address", "port"), ("protocol", "path"))
    address = c.string(data, "address", path)
    port = c.integer(data, "port", path, low=1, high=65535)
    protocol = c.choice(data, "protocol", path, VIP_PROTOCOLS, "protocol", "tcp")
    vpath = c.string(data, "path", path, "/")
    if vpath is not MISSING and not vpath.startswith("/"):
        c.error(join_path(path, "path"), f"must start with '/', got {vpath!r}")
        return None
    if MISSING in (address, port, protocol, vpath):
        return None
    return Vip(name=name, address=address, port=port, protocol=protocol, path=vpath)


def read_database(c: Checker, raw: Any, path: str) -> Database | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    data = refuse_password(c, data, path)
    c.keys(data, path, (), ("kind", "user", "password_env", "name", "port", "isolation", "wsrep_sync_wait",
                                  "durability"))
    d = Database()
    values = {
        "kind": c.choice(data, "kind", path, DATABASE_KINDS, "database kind", d.kind),
        "user": c.string(data, "user", path, d.user),
        "password_env": c.string(data, "password_env", path, None) if data.get("password_env") is not None else None,
        "name": c.string(data, "name", path, d.name),
        "port": c.integer(data, "port", path, d.port, low=1, high=65535),
        "isolation": c.choice(data, "isolation", path, ISOLATION_LEVELS, "isolation level", None)
        if data.get("isolation") is not None else None,
        "wsrep_sync_wait": c.integer(data, "wsrep_sync_wait", path, None, low=0, high=15)
        if data.get("wsrep_sync_wait") is not None else None,
        "durability": c.choice(data, "durability", path, DURABILITY_LEVELS, "durability", None)
        if data.get("durability") is not None else None,
    }
    if MISSING in values.values():
        return None
    return Database(**values)


def read_promise(c: Checker, data: dict[str, Any], key: str, path: str) -> Any:
    """An optional promise in seconds: absent or null is no promise; else finite and > 0 (a
    promise of 0 s cannot be kept, a NaN one would pass every outage). One error naming it."""
    if data.get(key) is None:
        return None
    value = c.number(data, key, path)
    if value is not MISSING and value <= 0:
        c.error(join_path(path, key), f"{value:g} must be > 0 seconds (leave it out for no promise)")
        return MISSING
    return value


def read_slo(c: Checker, raw: Any, path: str) -> Slo | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    c.keys(
        data, path, (),
        ("availability_percent", "failover_margin_s", "max_error_rate_percent", "recovery_s", "web_failover_s",
         "director_failover_s", "latency_ms"),
    )
    d = Slo()
    values: dict[str, Any] = {
        "availability_percent": c.number(data, "availability_percent", path, d.availability_percent, 0, 100),
        "failover_margin_s": c.number(data, "failover_margin_s", path, d.failover_margin_s, 0),
        "max_error_rate_percent": c.number(data, "max_error_rate_percent", path, d.max_error_rate_percent, 0, 100),
        "recovery_s": c.number(data, "recovery_s", path, d.recovery_s, 0),
        "web_failover_s": c.number(data, "web_failover_s", path, d.web_failover_s, 0),
        "director_failover_s": read_promise(c, data, "director_failover_s", path),
    }
    latency = dict(d.latency_ms)
    if "latency_ms" in data:
        lpath = join_path(path, "latency_ms")
        ldata = c.mapping(data["latency_ms"], lpath)
        if ldata is None:
            return None
        c.keys(ldata, lpath, (), PHASES)
        for phase in PHASES:
            if phase not in ldata:
                continue
            ppath = join_path(lpath, phase)
            pdata = c.mapping(ldata[phase], ppath)
            if pdata is None:
                return None
            c.keys(pdata, ppath, (), ("p95", "p99"))
            p95 = c.number(pdata, "p95", ppath, None, 0) if pdata.get("p95") is not None else None
            p99 = c.number(pdata, "p99", ppath, None, 0) if pdata.get("p99") is not None else None
            if MISSING in (p95, p99):
                return None
            if p95 is not None and p99 is not None and p95 > p99:
                c.error(ppath, f"p95 ({p95:g}) is above p99 ({p99:g})")
            latency[phase] = LatencyBound(p95=p95, p99=p99)
    if MISSING in values.values():
        return None
    return Slo(latency_ms=latency, **values)



def read_storage(c: Checker, raw: Any, path: str) -> Storage | None:
    """``storage``: kind, volume and mount point are required (a mount point the web nodes
    cannot have is no place to check files in), the mount point absolute."""
    data = c.mapping(raw, path)
    if data is None:
        return None
    c.keys(data, path, ("kind", "volume", "mount_point"), ("health",))
    kind = c.choice(data, "kind", path, STORAGE_KINDS, "storage kind")
    volume = c.string(data, "volume", path)
    mount_point = c.string(data, "mount_point", path)
    health = c.string(data, "health", path, None)
    if mount_point is not MISSING and not mount_point.startswith("/"):
        c.error(join_path(path, "mount_point"), f"must be an absolute path, got {mount_point!r}")
        return None
    if MISSING in (kind, volume, mount_point, health):
        return None
    return Storage(kind=kind, volume=volume, mount_point=mount_point.rstrip("/") or "/", health=health)


def _dn_parts(dn: str) -> list[str] | None:
    """A DN's RDNs, normalised for comparison (case and spaces around ',' and '='); None
    when a part is not ``attribute=value``."""
    parts = []
    for rdn in dn.split(","):
        attr, eq, value = rdn.partition("=")
        if not eq or not attr.strip() or not value.strip():
            return None
        parts.append(f"{attr.strip().lower()}={value.strip().lower()}")
    return parts


def read_directory(c: Checker, raw: Any, path: str) -> Directory | None:
    """``directory``: kind, suffix and the accounts' DN are required; every DN must be
    ``attr=value,...`` and the accounts and the ledger must lie under the suffix (a login
    under another tree would bind against something the servers do not replicate);
    ``bind_dn`` and ``bind_password_env`` come together."""
    data = c.mapping(raw, path)
    if data is None:
        return None
    data = refuse_password(c, data, path)
    c.keys(data, path, ("kind", "suffix", "people"), ("user_attribute", "bind_dn", "bind_password_env", "ledger", "port"))
    values = {
        "kind": c.choice(data, "kind", path, DIRECTORY_KINDS, "directory kind"),
        "suffix": c.string(data, "suffix", path),
        "people": c.string(data, "people", path),
        "user_attribute": c.string(data, "user_attribute", path, "uid"),
        "bind_dn": c.string(data, "bind_dn", path, None),
        "bind_password_env": c.string(data, "bind_password_env", path, None),
        "ledger": c.string(data, "ledger", path, None),
        "port": c.integer(data, "port", path, 389, low=1, high=65535),
    }
    if MISSING in values.values():
        return None
    suffix = _dn_parts(values["suffix"])
    ok = True
    for key in ("suffix", "people", "bind_dn", "ledger"):
        if values[key] is not None and _dn_parts(values[key]) is None:
            c.error(join_path(path, key), f"{values[key]!r} is not a DN (attribute=value,...)")
            ok = False
    if ok and suffix is not None:
        for key in ("people", "ledger"):
            parts = _dn_parts(values[key]) if values[key] is not None else None
            if parts is not None and (len(parts) <= len(suffix) or parts[-len(suffix):] != suffix):
                c.error(join_path(path, key), f"{values[key]!r} is not under the suffix {values['suffix']!r}")
                ok = False
    if (values["bind_dn"] is None) != (values["bind_password_env"] is None):
        given, other = ("bind_dn", "bind_password_env") if values["bind_dn"] is not None else ("bind_password_env", "bind_dn")
        c.error(join_path(path, other), f"needed with {given} (who writes the ledger and reads every server)")
        ok = False
    if not values["user_attribute"].replace("-", "").isalnum():
        c.error(join_path(path, "user_attribute"), f"{values['user_attribute']!r} is not an attribute name")
        ok = False
    return Directory(**values) if ok else None
