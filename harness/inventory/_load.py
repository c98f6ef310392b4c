"""Load and validate cluster files (docs/cluster-file.md): YAML in, one frozen Inventory out.

Each section has its reader (``_hosts``, ``_sections``, ``_moodle``); this module parses the YAML strictly
(duplicate keys are errors), runs the readers, then the rules that span hosts, and raises one
InventoryError listing every problem (``_checks``).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from ..errors import InventoryError
from ._checks import MISSING, Checker, InventoryProblems, known_names
from ._hosts import read_host, read_ssh
from ._model import Database, Directory, Host, Inventory, Moodle, Slo, SshConfig, Storage, Vip
from ._moodle import read_moodle
from ._read import load_yaml, read_text
from ._sections import read_database, read_directory, read_slo, read_storage, read_vip

__all__ = ["InventoryProblems", "inventory_from_dict", "load_inventory"]


def _cross_checks(
    c: Checker, hosts: dict[str, Host], declared: set[str], vips: dict[str, Vip], database: Database | None,
    storage: Storage | None = None, directory: Directory | None = None,
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
                c.error(dpath, f"no host {host.domain.hypervisor!r} in the inventory (hosts: {known_names(declared)})")
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
    if storage is not None and all_valid:
        if not any(h.has_role("fileserver") for h in hosts.values()):
            c.error("storage.kind", f"kind {storage.kind!r} needs a host with role 'fileserver' (it serves the volume)")
        if not any(h.has_role("web") for h in hosts.values()):
            c.error("storage.mount_point", "no host with role 'web' to mount the volume")
    if directory is not None and all_valid and not any(h.has_role("ldap") for h in hosts.values()):
        c.error("directory.kind", f"kind {directory.kind!r} needs a host with role 'ldap' (it serves the directory)")


def inventory_from_dict(data: Any, source: str = "<memory>") -> Inventory:
    """Build an Inventory from a parsed cluster file; raise one InventoryError listing every problem."""
    c = Checker(source)
    top = c.mapping(data, "")
    if top is None:
        c.raise_if_any()
    assert top is not None
    c.keys(top, "", ("hosts",), ("name", "ssh", "database", "vips", "hosts", "slo", "moodle", "storage",
                                        "directory"))
    name = c.string(top, "name", "", Path(source).stem if source != "<memory>" else "cluster")

    ssh_defaults = asdict(SshConfig())
    if "ssh" in top:
        ssh_defaults = read_ssh(c, top["ssh"], "ssh", ssh_defaults)

    database = read_database(c, top["database"], "database") if top.get("database") is not None else Database()
    slo = read_slo(c, top["slo"], "slo") if top.get("slo") is not None else Slo()
    moodle = read_moodle(c, top["moodle"], "moodle") if top.get("moodle") is not None else Moodle()
    storage = read_storage(c, top["storage"], "storage") if top.get("storage") is not None else None
    directory = read_directory(c, top["directory"], "directory") if top.get("directory") is not None else None

    vips: dict[str, Vip] = {}
    if top.get("vips") is not None:
        vdata = c.mapping(top["vips"], "vips")
        for vname, vraw in (vdata or {}).items():
            vip = read_vip(c, vname, vraw, f"vips.{vname}")
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
            host = read_host(c, hname, hraw, f"hosts.{hname}", ssh_defaults)
            if host is not None:
                hosts[hname] = host

    _cross_checks(c, hosts, declared, vips, database, storage, directory)
    c.raise_if_any()
    assert database is not None and slo is not None and moodle is not None and name is not MISSING
    return Inventory(name=name, hosts=hosts, vips=vips, database=database, slo=slo, source=source, moodle=moodle,
                     storage=storage, directory=directory)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys (PyYAML silently keeps the last one).

    Merge keys (``<<: *anchor``) are not duplicates: keys written next to one override the
    merged ones, as YAML means them to.
    """

    duplicates: list[str]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
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
    data = load_yaml(text, source, loader)
    if loader.duplicates:
        raise InventoryProblems([f"{source}: {d}" for d in loader.duplicates])
    return data


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    """Read and validate a cluster file; the error names the file as the caller spelled it."""
    source = os.fspath(path)
    text = read_text(source, source, "cluster file")
    data = _parse_yaml(text, source)
    if data is None:
        raise InventoryError(f"{source}: the file is empty (it needs at least 'hosts')")
    return inventory_from_dict(data, source=source)

