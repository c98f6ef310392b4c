"""The ``hosts:`` section of a cluster file, and the ``ssh:`` defaults a host inherits."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ._checks import MISSING, Checker, describe_value, expand_user, join_path, known_names
from ._model import (
    HYPERVISOR_KINDS,
    ROLES,
    SERVICE_MANAGERS,
    TRANSPORTS,
    Domain,
    Host,
    Hypervisor,
    Service,
    SshConfig,
)

SSH_KEYS = tuple(f.name for f in fields(SshConfig))


def read_ssh(c: Checker, raw: Any, path: str, base: dict[str, Any]) -> dict[str, Any]:
    """Validate an ``ssh`` mapping and return ``base`` updated with its keys (a per-host merge)."""
    merged = dict(base)
    data = c.mapping(raw, path)
    if data is None:
        return merged
    c.keys(data, path, (), SSH_KEYS)
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
        if key in data and value is not MISSING:
            merged[key] = expand_user(value) if key in ("key_file", "known_hosts") else value
    return merged


def read_service(c: Checker, name: str, raw: Any, path: str) -> Service | None:
    data = c.mapping(raw, path)
    if data is None:
        return None
    per_manager = {"systemd": ("unit",), "sysv": ("name",), "command": ("start", "stop")}
    common = ("manager", "pidfile", "process", "config", "transitions")
    c.keys(data, path, ("manager",), common + ("unit", "name", "start", "stop"))
    manager = c.choice(data, "manager", path, SERVICE_MANAGERS, "manager")
    strings = {k: c.string(data, k, path, None) for k in ("unit", "name", "start", "stop", "pidfile", "process", "config", "transitions")}
    if manager is MISSING or manager is None:
        return None
    for key in per_manager[manager]:
        if key not in data:
            c.error(join_path(path, key), f"missing required field (manager {manager!r} needs {', '.join(per_manager[manager])})")
    for other, keys in per_manager.items():
        if other != manager:
            for key in keys:
                if key in data:
                    c.error(join_path(path, key), f"not used by manager {manager!r} (only by {other!r})")
    if manager == "command" and "pidfile" not in data and "process" not in data:
        c.error(path, "manager 'command' needs 'pidfile' or 'process' to find the daemon")
    if any(v is MISSING for v in strings.values()):
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
        transitions=strings["transitions"],
    )


def read_host(c: Checker, name: str, raw: Any, path: str, ssh_defaults: dict[str, Any]) -> Host | None:
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
            c.error(join_path(path, "roles"), f"expected a list of roles, got {describe_value(raw_roles)}")
            ok = False
        elif not raw_roles:
            c.error(join_path(path, "roles"), f"at least one role is needed (known: {known_names(ROLES)})")
            ok = False
        for i, role in enumerate(raw_roles if isinstance(raw_roles, list) else []):
            rpath = join_path(join_path(path, "roles"), i)
            if not isinstance(role, str):
                c.error(rpath, f"expected a role name, got {describe_value(role)}")
                ok = False
            elif role not in ROLES:
                c.error(rpath, f"unknown role {role!r} (known: {known_names(ROLES)})")
                ok = False
            elif role in roles:
                c.error(rpath, f"role {role!r} listed twice")
            else:
                roles.append(role)
    ssh = read_ssh(c, data["ssh"], join_path(path, "ssh"), ssh_defaults) if "ssh" in data else dict(ssh_defaults)
    transport = c.choice(data, "transport", path, TRANSPORTS, "transport", "ssh")

    services: dict[str, Service] = {}
    if "services" in data:
        spath = join_path(path, "services")
        sdata = c.mapping(data["services"], spath) if data["services"] is not None else {}
        for sname, sraw in (sdata or {}).items():
            svc = read_service(c, sname, sraw, join_path(spath, sname))
            if svc is None:
                ok = False
            else:
                services[sname] = svc

    domain = None
    if "domain" in data:
        dpath = join_path(path, "domain")
        ddata = c.mapping(data["domain"], dpath)
        if ddata is None:
            ok = False
        else:
            c.keys(ddata, dpath, ("hypervisor",), ("name",))
            dname = c.string(ddata, "name", dpath, name)
            dhyp = c.string(ddata, "hypervisor", dpath)
            if MISSING in (dname, dhyp):
                ok = False
            else:
                domain = Domain(name=dname, hypervisor=dhyp)

    hypervisor = None
    if "hypervisor" in data:
        hpath = join_path(path, "hypervisor")
        hdata = c.mapping(data["hypervisor"], hpath)
        if hdata is None:
            ok = False
        else:
            c.keys(hdata, hpath, ("kind",), ("state_dir",))
            kind = c.choice(hdata, "kind", hpath, HYPERVISOR_KINDS, "hypervisor kind")
            state_dir = c.string(hdata, "state_dir", hpath, None)
            if kind == "lab" and "state_dir" not in hdata:
                c.error(join_path(hpath, "state_dir"), "missing required field (kind 'lab' needs the lab's state directory)")
            if kind == "lab" and transport not in (MISSING, "local"):
                c.error(join_path(path, "transport"), "a hypervisor of kind 'lab' is the supervisor: transport must be 'local'")
            if MISSING in (kind, state_dir):
                ok = False
            else:
                hypervisor = Hypervisor(kind=kind, state_dir=expand_user(state_dir))
    if "hypervisor" in roles and "hypervisor" not in data:
        c.error(join_path(path, "hypervisor"), "missing required field (role 'hypervisor' needs hypervisor: {kind: ...})")
    if "hypervisor" in data and roles and "hypervisor" not in roles:
        c.error(join_path(path, "hypervisor"), "only a host with role 'hypervisor' may have this section")

    ndb_node_id = c.integer(data, "ndb_node_id", path, None, low=1, high=255)

    if not ok or MISSING in (address, transport, ndb_node_id) or "roles" not in data:
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

