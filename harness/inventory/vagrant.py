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
from ._read import check_text_size
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
    ("fs*", "fileserver"),
    ("gluster*", "fileserver"),
    ("ldap*", "ldap"),
)

RolesArg = Mapping[str, list[str]] | Callable[[str], list[str]] | None


def guess_roles(name: str) -> list[str]:
    """Roles from a machine name (``dir1`` -> director); empty when nothing fits."""
    low = name.lower()
    for pattern, role in NAME_ROLE_PATTERNS:
        if fnmatch.fnmatchcase(low, pattern):
            return [role]
    return []


#: keywords the reader refuses: their effect depends on what it cannot evaluate (``Match``
#: criteria: user, exec, canonical names ...) or read (``Include``'s other files)
UNSUPPORTED_KEYWORDS: dict[str, str] = {
    "match": "'Match' blocks are not supported (whether their options apply depends on criteria "
             "the harness does not evaluate); write the options under each 'Host' instead",
    "include": "'Include' is not supported (the harness reads only this text); paste the included options here",
}


def _host_pattern(pattern: str) -> re.Pattern[str]:
    """An OpenSSH ``Host`` pattern: ``*`` any run, ``?`` one character, case-insensitive."""
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern), re.I | re.S)


def _block_applies(patterns: list[str], name: str) -> bool:
    """OpenSSH's rule: a matching negated pattern (``!web2``) excludes; else any positive match includes."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _host_pattern(pattern[1:] if negated else pattern).fullmatch(name):
            if negated:
                return False
            matched = True
    return matched


def parse_ssh_config(text: str, source: str = "vagrant ssh-config") -> dict[str, dict[str, str]]:
    """``{host: {lowercased keyword: value}}`` as OpenSSH reads it for ``ssh host``.

    Each name written plainly on a ``Host`` line is a machine. Its options are gathered, as
    ssh does, from every ``Host`` block whose patterns (``*``, ``?``, ``!negation``) match it,
    in file order, the first value of a keyword winning: a ``Host *`` block applies to every
    machine, ``Host * !web1`` to all but web1. ``Match`` and ``Include`` are refused, each
    with one error naming its line (UNSUPPORTED_KEYWORDS).
    """
    check_text_size(text, source, "ssh-config text")
    blocks: list[tuple[list[str], dict[str, str]]] = []
    machines: list[str] = []
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
        if key in UNSUPPORTED_KEYWORDS:
            problems.append(f"{source}:{lineno}: {UNSUPPORTED_KEYWORDS[key]}")
            current = {}  # the block's own options are not reported again, nor applied
            continue
        try:
            parts = shlex.split(rest)
        except ValueError as exc:
            problems.append(f"{source}:{lineno}: {exc}")
            continue
        if key == "host":
            if not parts:
                problems.append(f"{source}:{lineno}: 'Host' without a name")
                current = {}
                continue
            current = {}
            blocks.append((parts, current))
            for name in parts:
                if any(ch in name for ch in "*?!"):
                    continue  # a pattern, not a machine
                if name not in machines:  # named again: its blocks combine, first value wins
                    machines.append(name)
            continue
        if current is None:
            problems.append(f"{source}:{lineno}: {key!r} before any 'Host' line")
            continue
        current.setdefault(key, " ".join(parts))
    if problems:
        raise InventoryProblems(problems)
    result: dict[str, dict[str, str]] = {}
    for name in machines:
        options: dict[str, str] = {}
        for patterns, block in blocks:
            if _block_applies(patterns, name):
                for key, value in block.items():
                    options.setdefault(key, value)
        result[name] = options
    return result


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
