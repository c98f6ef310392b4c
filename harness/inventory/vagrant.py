"""Convert `vagrant ssh-config` output into the harness inventory.

Vagrant prints one ``Host`` block per machine with its forwarded SSH endpoint, user and key.
It also prints ``StrictHostKeyChecking no`` / ``UserKnownHostsFile /dev/null`` because its boxes
regenerate host keys: only when Vagrant says so do we set ``insecure_ignore_host_keys``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InventoryError
from ._load import InventoryProblems, inventory_from_dict
from ._model import ROLES, Inventory
from .ansible import check_ssh_defaults, merge_extra

#: name pattern -> role, first match wins (``ndb_mgm*`` before ``ndb*``)
NAME_ROLE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("mgm*", "mgm"),
    ("ndb_mgm*", "mgm"),
    ("ndb-mgm*", "mgm"),
    ("director*", "director"),
    ("dir*", "director"),
    ("lb*", "director"),
    ("web*", "web"),
    ("db*", "db"),
    ("galera*", "db"),
    ("ndb*", "db"),
    ("client*", "client"),
)

RolesArg = Mapping[str, list[str]] | Callable[[str], list[str]] | None


def guess_roles(name: str) -> list[str]:
    """Roles from a machine name (``dir1`` -> director); empty when nothing fits."""
    low = name.lower()
    for pattern, role in NAME_ROLE_PATTERNS:
        if fnmatch.fnmatchcase(low, pattern):
            return [role]
    return []


def parse_ssh_config(text: str, source: str = "vagrant ssh-config") -> dict[str, dict[str, str]]:
    """``{host: {lowercased keyword: value}}``; the first value of a keyword wins (as in ssh)."""
    blocks: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    problems: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([A-Za-z]+)(?:\s*=\s*|\s+|$)(.*)$", line)
        if not m:
            problems.append(f"{source}:{lineno}: cannot read {line!r}")
            continue
        key, rest = m.group(1).lower(), m.group(2).strip()
        try:
            parts = shlex.split(rest)
        except ValueError as exc:
            problems.append(f"{source}:{lineno}: {exc}")
            continue
        value = " ".join(parts)
        if key == "host":
            if not parts:
                problems.append(f"{source}:{lineno}: 'Host' without a name")
                current = None
                continue
            name = parts[0]
            if any(ch in name for ch in "*?!"):
                current = None  # a pattern block (Host *) is not a machine
                continue
            if name in blocks:
                problems.append(f"{source}:{lineno}: host {name!r} appears twice")
            current = blocks.setdefault(name, {})
            continue
        if current is None:
            if key != "match":
                problems.append(f"{source}:{lineno}: {key!r} before any 'Host' line")
            continue
        current.setdefault(key, value)
    if problems:
        raise InventoryProblems(problems)
    return blocks


def from_vagrant_ssh_config(
    text: str,
    roles: RolesArg = None,
    *,
    name: str = "vagrant",
    source: str = "vagrant ssh-config",
    extra: Mapping[str, Any] | None = None,
    **defaults: Any,
) -> Inventory:
    """Build an inventory from `vagrant ssh-config` output.

    ``roles``: a dict ``{machine: [roles]}`` (machines not in it are guessed from their name),
    a callable ``machine -> [roles]``, or None to guess every machine. ``defaults`` are SSH
    settings for what Vagrant does not say; what Vagrant prints (user, port, key, host-key
    checking) wins.
    """
    ssh_defaults = check_ssh_defaults(defaults, source)
    blocks = parse_ssh_config(text, source)
    if not blocks:
        raise InventoryError(f"{source}: no 'Host' entries (is the output of `vagrant ssh-config` empty?)")
    problems: list[str] = []
    hosts: dict[str, Any] = {}
    for host, kw in blocks.items():
        if callable(roles):
            host_roles = list(roles(host))
        elif roles is not None and host in roles:
            host_roles = list(roles[host])
        else:
            host_roles = guess_roles(host)
        if not host_roles:
            problems.append(
                f"{source}: host {host!r}: cannot guess its role from the name; pass roles={{{host!r}: [...]}} "
                f"(known roles: {', '.join(sorted(ROLES))})"
            )
            continue
        ssh: dict[str, Any] = dict(ssh_defaults)
        if "user" in kw:
            ssh["user"] = kw["user"]
        if "port" in kw:
            try:
                ssh["port"] = int(kw["port"])
            except ValueError:
                problems.append(f"{source}: host {host!r}: Port: expected an integer, got {kw['port']!r}")
        if "identityfile" in kw:
            ssh["key_file"] = os.path.expanduser(kw["identityfile"])
        known = kw.get("userknownhostsfile")
        if known and known != "/dev/null":
            ssh["known_hosts"] = os.path.expanduser(known.split()[0])
        if kw.get("stricthostkeychecking", "").lower() == "no":
            ssh["insecure_ignore_host_keys"] = True
        hosts[host] = {"address": kw.get("hostname", host), "roles": host_roles, "ssh": ssh}
    if roles is not None and not callable(roles):
        for unknown in sorted(set(roles) - set(blocks)):
            problems.append(f"{source}: roles[{unknown!r}]: no such host in the output (hosts: {', '.join(sorted(blocks))})")
    if problems:
        raise InventoryProblems(problems)
    return inventory_from_dict(merge_extra({"name": name, "hosts": hosts}, extra, source), source=source)
