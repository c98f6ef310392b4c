"""Load, validate and write cluster files (docs/cluster-file.md).

The whole file is checked before anything is built (chaostoolkit's habit): every problem is
collected with the file, the path of the field and what is wrong, and all of them are raised
together in one InventoryError, one per line, so a user fixes the file in one pass.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import yaml

from ..errors import InventoryError
from ._model import (
    DATABASE_KINDS,
    HYPERVISOR_KINDS,
    PHASES,
    ROLES,
    SERVICE_MANAGERS,
    TRANSPORTS,
    Database,
    Domain,
    Host,
    Hypervisor,
    Inventory,
    LatencyBound,
    Service,
    SshConfig,
    Slo,
    Vip,
)

VIP_PROTOCOLS: frozenset[str] = frozenset({"http", "tcp", "mysql"})

_MISSING = object()


class InventoryProblems(InventoryError):
    """An InventoryError that also keeps each problem as its own line (``.problems``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def _known(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


class _Checker:
    """Collects problems as ``source: path: message`` lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}")

    def raise_if_any(self) -> None:
        if self.problems:
            raise InventoryProblems(self.problems)

    # -- shape -------------------------------------------------------------------------------
    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping, got {_describe(value)}")
            return None
        bad = [k for k in value if not isinstance(k, str)]
        for k in bad:
            self.error(path, f"key {k!r} is not a string")
        return {k: v for k, v in value.items() if isinstance(k, str)}

    def keys(
        self, data: Mapping[str, Any], path: str, required: Iterable[str], optional: Iterable[str]
    ) -> None:
        required = tuple(required)
        allowed = set(required) | set(optional)
        for key in data:
            if key not in allowed:
                self.error(_join(path, key), f"unknown key {key!r} (known: {_known(allowed)})")
        for key in required:
            if key not in data:
                self.error(_join(path, key), "missing required field")

    # -- scalars (return _MISSING on a problem, after recording it) -----------------------------
    def string(self, data: Mapping[str, Any], key: str, path: str, default: Any = _MISSING) -> Any:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            self.error(_join(path, key), f"expected a non-empty string, got {_describe(value)}")
            return _MISSING
        return value

    def integer(
        self, data: Mapping[str, Any], key: str, path: str, default: Any = _MISSING,
        low: int | None = None, high: int | None = None,
    ) -> Any:
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(_join(path, key), f"expected an integer, got {_describe(value)}")
            return _MISSING
        if (low is not None and value < low) or (high is not None and value > high):
            self.error(_join(path, key), f"{value} is out of range [{low}, {high}]")
            return _MISSING
        return value

    def number(
        self, data: Mapping[str, Any], key: str, path: str, default: Any = _MISSING,
        low: float | None = None, high: float | None = None,
    ) -> Any:
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(_join(path, key), f"expected a number, got {_describe(value)}")
            return _MISSING
        if (low is not None and value < low) or (high is not None and value > high):
            rng = f">= {low}" if high is None else f"in [{low}, {high}]"
            self.error(_join(path, key), f"{value} must be {rng}")
            return _MISSING
        return float(value)

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: Any = _MISSING) -> Any:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, bool):
            self.error(_join(path, key), f"expected true or false, got {_describe(value)}")
            return _MISSING
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, path: str, known: Iterable[str], what: str,
        default: Any = _MISSING,
    ) -> Any:
        value = self.string(data, key, path, default)
        if value is _MISSING or value is default:
            return value
        known = frozenset(known)
        if value not in known:
            self.error(_join(path, key), f"unknown {what} {value!r} (known: {_known(known)})")
            return _MISSING
        return value


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {value!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


def _expand(path: str | None) -> str | None:
    return os.path.expanduser(path) if path else path


# -- sections ---------------------------------------------------------------------------------

_SSH_KEYS = tuple(f.name for f in fields(SshConfig))


def _ssh(c: _Checker, raw: Any, path: str, base: dict[str, Any]) -> dict[str, Any]:
    """Validate an ``ssh`` mapping and return ``base`` updated with its keys (a per-host merge)."""
    merged = dict(base)
    data = c.mapping(raw, path)
    if data is None:
        return merged
    c.keys(data, path, (), _SSH_KEYS)
    values = {
        "user": c.string(data, "user", path),
        "port": c.integer(data, "port", path, low=1, high=65535),
        "key_file": c.string(data, "key_file", path) if data.get("key_file") is not None else None,
        "known_hosts": c.string(data, "known_hosts", path) if data.get("known_hosts") is not None else None,
        "insecure_ignore_host_keys": c.boolean(data, "insecure_ignore_host_keys", path),
        "connect_timeout_s": c.number(data, "connect_timeout_s", path, low=0.1),
        "command_timeout_s": c.number(data, "command_timeout_s", path, low=0.1),
        "keepalive_s": c.number(data, "keepalive_s", path, low=0),
    }
    for key, value in values.items():
        if key in data and value is not _MISSING:
            merged[key] = _expand(value) if key in ("key_file", "known_hosts") else value
    return merged


def _service(c: _Checker, name: str, raw: Any, path: str) -> Service | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    per_manager = {"systemd": ("unit",), "sysv": ("name",), "command": ("start", "stop")}
    common = ("manager", "pidfile", "process", "config")
    c.keys(data, path, ("manager",), common + ("unit", "name", "start", "stop"))
    manager = c.choice(data, "manager", path, SERVICE_MANAGERS, "manager")
    strings = {k: c.string(data, k, path, None) for k in ("unit", "name", "start", "stop", "pidfile", "process", "config")}
    if manager is _MISSING or manager is None:
        return None
    for key in per_manager[manager]:
        if key not in data:
            c.error(_join(path, key), f"missing required field (manager {manager!r} needs {', '.join(per_manager[manager])})")
    for other, keys in per_manager.items():
        if other != manager:
            for key in keys:
                if key in data:
                    c.error(_join(path, key), f"not used by manager {manager!r} (only by {other!r})")
    if manager == "command" and "pidfile" not in data and "process" not in data:
        c.error(path, "manager 'command' needs 'pidfile' or 'process' to find the daemon")
    if any(v is _MISSING for v in strings.values()):
        return None
    return Service(
        name=name,
        manager=manager,
        unit=strings["unit"],
        sysv_name=strings["name"],
        start=strings["start"],
        stop=strings["stop"],
        pidfile=strings["pidfile"],
        process=strings["process"],
        config=strings["config"],
    )


def _host(c: _Checker, name: str, raw: Any, path: str, ssh_defaults: dict[str, Any]) -> Host | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    c.keys(
        data, path, ("address", "roles"),
        ("ssh", "transport", "services", "domain", "hypervisor", "ndb_node_id"),
    )
    ok = True
    address = c.string(data, "address", path)
    roles: list[str] = []
    if "roles" in data:
        raw_roles = data["roles"]
        if not isinstance(raw_roles, list):
            c.error(_join(path, "roles"), f"expected a list of roles, got {_describe(raw_roles)}")
            ok = False
        elif not raw_roles:
            c.error(_join(path, "roles"), f"at least one role is needed (known: {_known(ROLES)})")
            ok = False
        for i, role in enumerate(raw_roles if isinstance(raw_roles, list) else []):
            rpath = _join(_join(path, "roles"), i)
            if not isinstance(role, str):
                c.error(rpath, f"expected a role name, got {_describe(role)}")
                ok = False
            elif role not in ROLES:
                c.error(rpath, f"unknown role {role!r} (known: {_known(ROLES)})")
                ok = False
            elif role in roles:
                c.error(rpath, f"role {role!r} listed twice")
            else:
                roles.append(role)
    ssh = _ssh(c, data["ssh"], _join(path, "ssh"), ssh_defaults) if "ssh" in data else dict(ssh_defaults)
    transport = c.choice(data, "transport", path, TRANSPORTS, "transport", "ssh")

    services: dict[str, Service] = {}
    if "services" in data:
        spath = _join(path, "services")
        sdata = c.mapping(data["services"], spath) if data["services"] is not None else {}
        for sname, sraw in (sdata or {}).items():
            svc = _service(c, sname, sraw, _join(spath, sname))
            if svc is None:
                ok = False
            else:
                services[sname] = svc

    domain = None
    if "domain" in data:
        dpath = _join(path, "domain")
        ddata = c.mapping(data["domain"], dpath)
        if ddata is None:
            ok = False
        else:
            c.keys(ddata, dpath, ("hypervisor",), ("name",))
            dname = c.string(ddata, "name", dpath, name)
            dhyp = c.string(ddata, "hypervisor", dpath)
            if _MISSING in (dname, dhyp):
                ok = False
            else:
                domain = Domain(name=dname, hypervisor=dhyp)

    hypervisor = None
    if "hypervisor" in data:
        hpath = _join(path, "hypervisor")
        hdata = c.mapping(data["hypervisor"], hpath)
        if hdata is None:
            ok = False
        else:
            c.keys(hdata, hpath, ("kind",), ("state_dir",))
            kind = c.choice(hdata, "kind", hpath, HYPERVISOR_KINDS, "hypervisor kind")
            state_dir = c.string(hdata, "state_dir", hpath, None)
            if kind == "lab" and "state_dir" not in hdata:
                c.error(_join(hpath, "state_dir"), "missing required field (kind 'lab' needs the lab's state directory)")
            if kind == "lab" and transport not in (_MISSING, "local"):
                c.error(_join(path, "transport"), "a hypervisor of kind 'lab' is the supervisor: transport must be 'local'")
            if _MISSING in (kind, state_dir):
                ok = False
            else:
                hypervisor = Hypervisor(kind=kind, state_dir=_expand(state_dir))
    if "hypervisor" in roles and "hypervisor" not in data:
        c.error(_join(path, "hypervisor"), "missing required field (role 'hypervisor' needs hypervisor: {kind: ...})")
    if "hypervisor" in data and roles and "hypervisor" not in roles:
        c.error(_join(path, "hypervisor"), "only a host with role 'hypervisor' may have this section")

    ndb_node_id = c.integer(data, "ndb_node_id", path, None, low=1, high=255)

    if not ok or _MISSING in (address, transport, ndb_node_id) or "roles" not in data:
        return None
    return Host(
        name=name,
        address=address,
        roles=tuple(roles),
        ssh=SshConfig(**ssh),
        transport=transport,
        services=services,
        domain=domain,
        hypervisor=hypervisor,
        ndb_node_id=ndb_node_id,
    )


def _vip(c: _Checker, name: str, raw: Any, path: str) -> Vip | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    c.keys(data, path, ("address", "port"), ("protocol", "path"))
    address = c.string(data, "address", path)
    port = c.integer(data, "port", path, low=1, high=65535)
    protocol = c.choice(data, "protocol", path, VIP_PROTOCOLS, "protocol", "tcp")
    vpath = c.string(data, "path", path, "/")
    if vpath is not _MISSING and not vpath.startswith("/"):
        c.error(_join(path, "path"), f"must start with '/', got {vpath!r}")
        return None
    if _MISSING in (address, port, protocol, vpath):
        return None
    return Vip(name=name, address=address, port=port, protocol=protocol, path=vpath)


def _database(c: _Checker, raw: Any, path: str) -> Database | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    if "password" in data:
        c.error(_join(path, "password"), "passwords never appear in the file: name an environment variable with password_env")
        data = {k: v for k, v in data.items() if k != "password"}
    c.keys(data, path, (), ("kind", "user", "password_env", "name", "port"))
    d = Database()
    values = {
        "kind": c.choice(data, "kind", path, DATABASE_KINDS, "database kind", d.kind),
        "user": c.string(data, "user", path, d.user),
        "password_env": c.string(data, "password_env", path, None) if data.get("password_env") is not None else None,
        "name": c.string(data, "name", path, d.name),
        "port": c.integer(data, "port", path, d.port, low=1, high=65535),
    }
    if _MISSING in values.values():
        return None
    return Database(**values)


def _slo(c: _Checker, raw: Any, path: str) -> Slo | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    c.keys(
        data, path, (),
        ("availability_percent", "failover_margin_s", "max_error_rate_percent", "recovery_s", "web_failover_s",
         "latency_ms"),
    )
    d = Slo()
    values: dict[str, Any] = {
        "availability_percent": c.number(data, "availability_percent", path, d.availability_percent, 0, 100),
        "failover_margin_s": c.number(data, "failover_margin_s", path, d.failover_margin_s, 0),
        "max_error_rate_percent": c.number(data, "max_error_rate_percent", path, d.max_error_rate_percent, 0, 100),
        "recovery_s": c.number(data, "recovery_s", path, d.recovery_s, 0),
        "web_failover_s": c.number(data, "web_failover_s", path, d.web_failover_s, 0),
    }
    latency = dict(d.latency_ms)
    if "latency_ms" in data:
        lpath = _join(path, "latency_ms")
        ldata = c.mapping(data["latency_ms"], lpath)
        if ldata is None:
            return None
        c.keys(ldata, lpath, (), PHASES)
        for phase in PHASES:
            if phase not in ldata:
                continue
            ppath = _join(lpath, phase)
            pdata = c.mapping(ldata[phase], ppath)
            if pdata is None:
                return None
            c.keys(pdata, ppath, (), ("p95", "p99"))
            p95 = c.number(pdata, "p95", ppath, None, 0) if pdata.get("p95") is not None else None
            p99 = c.number(pdata, "p99", ppath, None, 0) if pdata.get("p99") is not None else None
            if _MISSING in (p95, p99):
                return None
            if p95 is not None and p99 is not None and p95 > p99:
                c.error(ppath, f"p95 ({p95:g}) is above p99 ({p99:g})")
            latency[phase] = LatencyBound(p95=p95, p99=p99)
    if _MISSING in values.values():
        return None
    return Slo(latency_ms=latency, **values)


def _cross_checks(
    c: _Checker, hosts: dict[str, Host], declared: set[str], vips: dict[str, Vip], database: Database | None
) -> None:
    """Rules that span hosts: hypervisors exist, addresses are unique, NDB has a manager.

    ``declared`` holds every host name in the file, ``hosts`` only those that validated: a
    host with its own errors is not reported a second time as missing.
    """
    for name, host in hosts.items():
        if host.domain is None:
            continue
        hyp = hosts.get(host.domain.hypervisor)
        dpath = f"hosts.{name}.domain.hypervisor"
        if host.domain.hypervisor == name:
            c.error(dpath, "a host cannot be its own hypervisor")
        elif hyp is None:
            if host.domain.hypervisor not in declared:
                c.error(dpath, f"no host {host.domain.hypervisor!r} in the inventory (hosts: {_known(declared)})")
        elif not hyp.has_role("hypervisor"):
            c.error(dpath, f"host {host.domain.hypervisor!r} is not a hypervisor (its roles: {', '.join(hyp.roles)})")
    seen: dict[tuple[str, int, str], str] = {}
    for name, host in hosts.items():
        # Vagrant hosts share 127.0.0.1 on different forwarded ports: the SSH endpoint is the key.
        key = (host.address, host.ssh.port, host.transport)
        if key in seen:
            c.error(
                f"hosts.{name}.address",
                f"duplicate address {host.address!r} (port {host.ssh.port}) also used by hosts.{seen[key]}",
            )
        else:
            seen[key] = name
    host_addresses = {h.address: n for n, h in hosts.items()}
    vseen: dict[tuple[str, int], str] = {}
    for name, vip in vips.items():
        if (vip.address, vip.port) in vseen:
            c.error(f"vips.{name}.address", f"duplicate address {vip.address}:{vip.port} also used by vips.{vseen[(vip.address, vip.port)]}")
        else:
            vseen[(vip.address, vip.port)] = name
        if vip.address in host_addresses:
            c.error(f"vips.{name}.address", f"{vip.address!r} is the fixed address of hosts.{host_addresses[vip.address]}, not a floating VIP")
    ids: dict[int, str] = {}
    for name, host in hosts.items():
        if host.ndb_node_id is None:
            continue
        if host.ndb_node_id in ids:
            c.error(f"hosts.{name}.ndb_node_id", f"duplicate ndb_node_id {host.ndb_node_id} also used by hosts.{ids[host.ndb_node_id]}")
        ids[host.ndb_node_id] = name
    all_valid = bool(hosts) and len(hosts) == len(declared)
    if database is not None and database.kind == "ndb" and all_valid and not any(h.has_role("mgm") for h in hosts.values()):
        c.error("database.kind", "kind 'ndb' needs a host with role 'mgm' (it runs ndb_mgm)")


def inventory_from_dict(data: Any, source: str = "<memory>") -> Inventory:
    """Build an Inventory from a parsed cluster file; raise one InventoryError listing every problem."""
    c = _Checker(source)
    top = c.mapping(data, "")
    if top is None:
        c.raise_if_any()
    assert top is not None
    c.keys(top, "", ("hosts",), ("name", "ssh", "database", "vips", "hosts", "slo"))
    name = c.string(top, "name", "", Path(source).stem if source != "<memory>" else "cluster")

    ssh_defaults = asdict(SshConfig())
    if "ssh" in top:
        ssh_defaults = _ssh(c, top["ssh"], "ssh", ssh_defaults)

    database = _database(c, top["database"], "database") if top.get("database") is not None else Database()
    slo = _slo(c, top["slo"], "slo") if top.get("slo") is not None else Slo()

    vips: dict[str, Vip] = {}
    if top.get("vips") is not None:
        vdata = c.mapping(top["vips"], "vips")
        for vname, vraw in (vdata or {}).items():
            vip = _vip(c, vname, vraw, f"vips.{vname}")
            if vip is not None:
                vips[vname] = vip

    hosts: dict[str, Host] = {}
    declared: set[str] = set()
    if "hosts" in top:
        hdata = c.mapping(top["hosts"], "hosts")
        if hdata is not None and not hdata:
            c.error("hosts", "at least one host is needed")
        declared = set(hdata or {})
        for hname, hraw in (hdata or {}).items():
            host = _host(c, hname, hraw, f"hosts.{hname}", ssh_defaults)
            if host is not None:
                hosts[hname] = host

    _cross_checks(c, hosts, declared, vips, database)
    c.raise_if_any()
    assert database is not None and slo is not None and name is not _MISSING
    return Inventory(name=name, hosts=hosts, vips=vips, database=database, slo=slo, source=source)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys (PyYAML silently keeps the last one)."""

    duplicates: list[str]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                dup = key in seen
            except TypeError:
                continue
            if dup:
                self.duplicates.append(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str, source: str) -> Any:
    loader = _StrictLoader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        raise InventoryError(f"{source}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]
    if loader.duplicates:
        raise InventoryProblems([f"{source}: {d}" for d in loader.duplicates])
    return data


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read and validate a cluster file; the error names the file as the caller spelled it."""
    source = os.fspath(path)
    try:
        text = Path(source).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(f"{source}: cannot read the cluster file: {exc.strerror or exc}") from None
    data = _parse_yaml(text, source)
    if data is None:
        raise InventoryError(f"{source}: the file is empty (it needs at least 'hosts')")
    return inventory_from_dict(data, source=source)


# -- writing ----------------------------------------------------------------------------------


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def dump_inventory(inv: Inventory) -> dict[str, Any]:
    """The cluster-file dict for ``inv``; ``inventory_from_dict(dump_inventory(inv))`` equals ``inv``.

    The SSH settings most hosts share become the top-level defaults; each host keeps only
    the keys where it differs, so the written file stays readable.
    """
    ssh_counts = Counter(h.ssh for h in inv.hosts.values())
    base = ssh_counts.most_common(1)[0][0] if ssh_counts else SshConfig()
    base_d = asdict(base)
    out: dict[str, Any] = {"name": inv.name, "ssh": base_d}
    out["database"] = asdict(inv.database)
    out["vips"] = {
        n: {"address": v.address, "port": v.port, "protocol": v.protocol, "path": v.path}
        for n, v in inv.vips.items()
    }
    hosts: dict[str, Any] = {}
    for n, h in inv.hosts.items():
        hd: dict[str, Any] = {"address": h.address, "roles": list(h.roles)}
        diff = {k: v for k, v in asdict(h.ssh).items() if base_d[k] != v}
        if diff:
            hd["ssh"] = diff
        if h.transport != "ssh":
            hd["transport"] = h.transport
        if h.domain is not None:
            hd["domain"] = {"name": h.domain.name, "hypervisor": h.domain.hypervisor}
        if h.hypervisor is not None:
            hd["hypervisor"] = _drop_none({"kind": h.hypervisor.kind, "state_dir": h.hypervisor.state_dir})
        if h.ndb_node_id is not None:
            hd["ndb_node_id"] = h.ndb_node_id
        if h.services:
            hd["services"] = {
                sn: _drop_none({
                    "manager": s.manager, "unit": s.unit, "name": s.sysv_name, "start": s.start,
                    "stop": s.stop, "pidfile": s.pidfile, "process": s.process, "config": s.config,
                })
                for sn, s in h.services.items()
            }
        hosts[n] = hd
    out["hosts"] = hosts
    out["slo"] = {
        "availability_percent": inv.slo.availability_percent,
        "failover_margin_s": inv.slo.failover_margin_s,
        "max_error_rate_percent": inv.slo.max_error_rate_percent,
        "recovery_s": inv.slo.recovery_s,
        "web_failover_s": inv.slo.web_failover_s,
        "latency_ms": {p: _drop_none(asdict(b)) for p, b in inv.slo.latency_ms.items()},
    }
    return out


def inventory_to_yaml(inv: Inventory) -> str:
    header = f"# cluster file for {inv.name!r} (docs/cluster-file.md); written from {inv.source}\n"
    return header + yaml.safe_dump(dump_inventory(inv), sort_keys=False, default_flow_style=False)


def write_inventory(inv: Inventory, path: str | os.PathLike[str]) -> Path:
    """Write ``inv`` as a cluster file (atomically: a reader never sees half a file)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(inventory_to_yaml(inv), encoding="utf-8")
    os.replace(tmp, target)
    return target

