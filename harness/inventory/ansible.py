"""Convert an Ansible inventory (INI or YAML) into the harness inventory.

Groups become roles through a map (``DEFAULT_ROLE_MAP``, overridable); connection variables
(``ansible_host``, ``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file``,
``ansible_connection``) become each host's address and SSH settings. The result goes through
the same validation as a cluster file, so the same mistakes give the same errors.
Not read: ``group_vars/`` and ``host_vars/`` directories, dynamic inventory scripts.
"""

from __future__ import annotations

import os
import re
import shlex
import string
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..errors import InventoryError
from ._load import InventoryProblems, inventory_from_dict
from ._model import ROLES, Inventory, SshConfig
from ._read import load_yaml, read_text

DEFAULT_ROLE_MAP: dict[str, str] = {
    **dict.fromkeys(("directors", "director", "lvs", "loadbalancers", "keepalived", "haproxy"), "director"),
    **dict.fromkeys(("web", "webservers", "apache", "moodle"), "web"),
    **dict.fromkeys(("db", "dbservers", "database", "galera", "mysql", "ndbd"), "db"),
    **dict.fromkeys(("mgm", "ndb_mgmd"), "mgm"),
    **dict.fromkeys(("dom0", "xen", "hypervisors", "kvm"), "hypervisor"),
    **dict.fromkeys(("client", "supervisor"), "client"),
    **dict.fromkeys(("fileservers", "fileserver", "gluster", "glusterfs", "storage"), "fileserver"),
    **dict.fromkeys(("ldap", "ldapservers", "ldap_servers", "openldap", "slapd"), "ldap"),
}

_SSH_FIELDS = frozenset(f.name for f in fields(SshConfig))
# Ansible's current names first, then the pre-2.0 aliases still found in old inventories.
_VAR_HOST = ("ansible_host", "ansible_ssh_host")
_VAR_PORT = ("ansible_port", "ansible_ssh_port")
_VAR_USER = ("ansible_user", "ansible_ssh_user")
_VAR_KEY = ("ansible_ssh_private_key_file", "ansible_private_key_file")


def check_ssh_defaults(defaults: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Keyword defaults for the converters must be SshConfig fields; say which are not."""
    unknown = sorted(set(defaults) - _SSH_FIELDS)
    if unknown:
        raise InventoryError(
            f"{source}: unknown ssh default(s) {', '.join(unknown)} (known: {', '.join(sorted(_SSH_FIELDS))})"
        )
    return {k: v for k, v in defaults.items() if v is not None or k in ("key_file", "known_hosts")}


#: the sections ``extra=`` may add: everything a cluster file has but hosts and ssh
EXTRA_SECTIONS: frozenset[str] = frozenset({"name", "vips", "database", "slo", "moodle"})


def merge_extra(data: dict[str, Any], extra: Mapping[str, Any] | None, source: str) -> dict[str, Any]:
    """Add cluster-file sections a converter cannot know (name, vips, database, slo, moodle)."""
    if not extra:
        return data
    bad = sorted(set(extra) - EXTRA_SECTIONS)
    if bad:
        raise InventoryError(
            f"{source}: extra: unknown section(s) {', '.join(bad)} (known: {', '.join(sorted(EXTRA_SECTIONS))})"
        )
    return {**data, **extra}


# -- host patterns ----------------------------------------------------------------------------

_RANGE = re.compile(r"\[([0-9a-zA-Z]+):([0-9a-zA-Z]+)(?::([0-9]+))?\]")
#: most hosts one pattern may name (``web[0:99999999]`` would build 10^8 names): documented in
#: docs/inventory.md; a real cluster has tens
MAX_PATTERN_HOSTS = 10_000
#: most hosts a whole inventory may hold, however many patterns name them
MAX_INVENTORY_HOSTS = 10_000
#: most groups an inventory may hold: group precedence costs up to groups^2 steps
MAX_INVENTORY_GROUPS = 1_000


def _range_items(m: re.Match[str], pattern: str) -> range | str:
    """The numbers (a range) or letters (a string) one ``[start:end:step]`` stands for."""
    start, end, step_s = m.group(1), m.group(2), m.group(3)
    step = int(step_s) if step_s else 1
    if step < 1:
        raise ValueError(f"bad host range {m.group(0)!r} in {pattern!r}: the step must be at least 1")
    if start.isdigit() and end.isdigit():
        return range(int(start), int(end) + 1, step)
    letters = string.ascii_letters
    if len(start) == 1 and len(end) == 1 and start in letters and end in letters:
        return letters[letters.index(start): letters.index(end) + 1: step]
    raise ValueError(f"bad host range {m.group(0)!r} in {pattern!r}")


def expand_host_pattern(pattern: str, limit: int = MAX_PATTERN_HOSTS) -> list[str]:
    """``web[01:03]`` -> web01, web02, web03; ``db-[a:c]`` -> db-a, db-b, db-c (Ansible's ranges).

    The count is computed before any name is built: a pattern naming more than ``limit``
    hosts is refused (ValueError naming it) instead of exhausting memory.
    """
    total = 1
    for m in _RANGE.finditer(pattern):
        count = len(_range_items(m, pattern))
        if not count:
            raise ValueError(f"empty host range {m.group(0)!r} in {pattern!r}")
        total *= count
        if total > limit:
            raise ValueError(f"host pattern {pattern!r} names more than {limit} hosts (the most one pattern may name)")
    return _expand(pattern)


def _expand(pattern: str) -> list[str]:
    m = _RANGE.search(pattern)
    if not m:
        return [pattern]
    start = m.group(1)
    head, tail = pattern[: m.start()], pattern[m.end():]
    items = _range_items(m, pattern)
    if isinstance(items, range):
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        names = [str(i).zfill(width) for i in items]
    else:
        names = list(items)
    out: list[str] = []
    for item in names:
        out.extend(_expand(head + item + tail))
    return out


class _Groups:
    """Hosts, group membership, parent links and variables, whatever the file format.

    The parent links, each host's direct groups and each group's depth are computed once and
    kept (reset by any change): the conversion asks for them per host and per group, and
    recomputing them made a 3,000-group chain take seconds and 10,000 hosts in it hours.
    """

    def __init__(self) -> None:
        self.host_vars: dict[str, dict[str, Any]] = {}
        self.members: dict[str, list[str]] = {}  # group -> direct hosts
        self.children: dict[str, list[str]] = {}  # group -> child groups
        self.group_vars: dict[str, dict[str, Any]] = {}
        self._member_sets: dict[str, set[str]] = {}
        self._child_sets: dict[str, set[str]] = {}
        self._reset()

    def _reset(self) -> None:
        self._parents: dict[str, set[str]] | None = None
        self._direct: dict[str, list[str]] | None = None
        self._depths: dict[str, int] = {}
        self._views: dict[tuple[str, ...], tuple[set[str], dict[str, Any]]] = {}

    def add_host(self, group: str, host: str, hvars: Mapping[str, Any]) -> None:
        self._reset()
        self.host_vars.setdefault(host, {}).update(hvars)
        self.members.setdefault(group, [])
        seen = self._member_sets.setdefault(group, set())
        if host not in seen:
            seen.add(host)
            self.members[group].append(host)

    def add_child(self, parent: str, child: str) -> None:
        self._reset()
        self.children.setdefault(parent, [])
        self.members.setdefault(child, [])
        kids = self._child_sets.setdefault(parent, set())
        if child not in kids:
            kids.add(child)
            self.children[parent].append(child)

    def parents(self) -> dict[str, set[str]]:
        if self._parents is None:
            p: dict[str, set[str]] = {}
            for parent, kids in self.children.items():
                for kid in kids:
                    p.setdefault(kid, set()).add(parent)
            self._parents = p
        return self._parents

    def _direct_groups(self, host: str) -> list[str]:
        if self._direct is None:
            self._direct = {}
            for group, hosts in self.members.items():
                for h in hosts:
                    self._direct.setdefault(h, []).append(group)
        return self._direct.get(host, [])

    def view(self, host: str) -> tuple[set[str], dict[str, Any]]:
        """The host's groups (with ``all``) and their variables merged by precedence.

        Kept per set of direct groups: the hosts of one range share it, so 10,000 hosts under
        a deep chain of groups cost one merge, not 10,000.
        """
        key = tuple(sorted(self._direct_groups(host)))
        if key not in self._views:
            groups = self.groups_of(host) | {"all"}
            merged: dict[str, Any] = {}
            for group in sorted(groups, key=lambda x: (x != "all", self.depth(x), x)):
                merged.update(self.group_vars.get(group, {}))
            self._views[key] = (groups, merged)
        return self._views[key]

    def groups_of(self, host: str) -> set[str]:
        """Direct groups plus all their ancestors (a parent group contains its children's hosts)."""
        parents = self.parents()
        todo = list(self._direct_groups(host))
        seen: set[str] = set()
        while todo:
            g = todo.pop()
            if g in seen:
                continue
            seen.add(g)
            todo.extend(parents.get(g, ()))
        return seen

    def depth(self, group: str) -> int:
        """Distance from ``all``: deeper groups' variables win (Ansible's group precedence)."""
        if group in self._depths:
            return self._depths[group]
        parents = self.parents()
        best = 0
        todo = [(group, 0)]
        seen: set[str] = set()
        while todo:
            g, d = todo.pop()
            if g in seen:
                continue
            seen.add(g)
            best = max(best, d)
            todo.extend((p, d + 1) for p in parents.get(g, ()))
        self._depths[group] = best
        return best


def _check_group_count(g: _Groups, where: str) -> None:
    if len(g.members) > MAX_INVENTORY_GROUPS:
        raise InventoryError(f"{where}: the inventory names more than {MAX_INVENTORY_GROUPS} groups (the most the harness reads)")


def _check_host_count(g: _Groups, names: list[str], where: str) -> None:
    """Refuse before adding: the inventory may not pass MAX_INVENTORY_HOSTS, however spread out."""
    new = sum(1 for n in names if n not in g.host_vars)
    if len(g.host_vars) + new > MAX_INVENTORY_HOSTS:
        raise InventoryError(f"{where}: the inventory names more than {MAX_INVENTORY_HOSTS} hosts (the most the harness reads)")


# -- INI --------------------------------------------------------------------------------------


def _ini_vars(tokens: list[str], where: str, problems: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tok in tokens:
        if "=" not in tok:
            problems.append(f"{where}: expected key=value, got {tok!r}")
            continue
        k, v = tok.split("=", 1)
        out[k.strip()] = v
    return out


def _parse_ini(text: str, source: str, problems: list[str]) -> _Groups:
    g = _Groups()
    section, kind = "ungrouped", "hosts"
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{source}:{lineno}"
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            m = re.fullmatch(r"\[([^\]:\s]+)(?::(vars|children))?\]", line)
            if not m:
                problems.append(f"{where}: bad section header {line!r}")
                section, kind = "", "skip"
                continue
            section, kind = m.group(1), m.group(2) or "hosts"
            g.members.setdefault(section, [])
            _check_group_count(g, where)
            continue
        if kind == "skip":
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not tokens:
            continue
        if kind == "vars":
            if "=" not in line:
                problems.append(f"{where}: expected key=value in [{section}:vars], got {line!r}")
                continue
            k, v = line.split("=", 1)
            v = v.strip()
            try:
                parts = shlex.split(v, comments=True)
            except ValueError:
                parts = [v]
            g.group_vars.setdefault(section, {})[k.strip()] = parts[0] if len(parts) == 1 else " ".join(parts)
        elif kind == "children":
            g.add_child(section, tokens[0])
            _check_group_count(g, where)
        else:
            try:
                names = expand_host_pattern(tokens[0])
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            hvars = _ini_vars(tokens[1:], where, problems)
            _check_host_count(g, names, where)
            for name in names:
                g.add_host(section, name, hvars)
    return g


# -- YAML -------------------------------------------------------------------------------------


def _parse_yaml_group(g: _Groups, name: str, body: Any, path: str, problems: list[str]) -> None:
    g.members.setdefault(name, [])
    _check_group_count(g, path)
    if body is None:
        return
    if not isinstance(body, Mapping):
        problems.append(f"{path}: expected a mapping with hosts/children/vars, got {type(body).__name__}")
        return
    for key in body:
        if key not in ("hosts", "children", "vars"):
            problems.append(f"{path}.{key}: unknown key {key!r} (known: children, hosts, vars)")
    hosts = body.get("hosts") or {}
    if not isinstance(hosts, Mapping):
        problems.append(f"{path}.hosts: expected a mapping of host names")
        hosts = {}
    for pattern, hvars in hosts.items():
        if hvars is not None and not isinstance(hvars, Mapping):
            problems.append(f"{path}.hosts.{pattern}: expected a mapping of host variables")
            continue
        try:
            names = expand_host_pattern(str(pattern))
        except ValueError as exc:
            problems.append(f"{path}.hosts.{pattern}: {exc}")
            continue
        _check_host_count(g, names, f"{path}.hosts.{pattern}")
        for host in names:
            g.add_host(name, host, dict(hvars or {}))
    gvars = body.get("vars") or {}
    if not isinstance(gvars, Mapping):
        problems.append(f"{path}.vars: expected a mapping")
    else:
        g.group_vars.setdefault(name, {}).update(gvars)
    children = body.get("children") or {}
    if not isinstance(children, Mapping):
        problems.append(f"{path}.children: expected a mapping of groups")
        children = {}
    for child, cbody in children.items():
        g.add_child(name, str(child))
        _parse_yaml_group(g, str(child), cbody, f"{path}.children.{child}", problems)


def _parse_yaml(text: str, source: str, problems: list[str]) -> _Groups:
    data = load_yaml(text, source)
    if data is None:
        raise InventoryError(f"{source}: the file is empty (it needs at least one group, e.g. 'all:')")
    if not isinstance(data, Mapping):
        raise InventoryError(f"{source}: expected a mapping of groups (e.g. 'all:'), got {type(data).__name__}")
    g = _Groups()
    try:
        for name, body in data.items():
            _parse_yaml_group(g, str(name), body, f"{source}: {name}", problems)
    except RecursionError:
        raise InventoryError(f"{source}: the groups are nested too deeply to read") from None
    return g


def _looks_like_yaml(text: str, path: Path) -> bool:
    if path.suffix in (".yml", ".yaml"):
        return True
    if path.suffix in (".ini", ".cfg"):
        return False
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    return not first.startswith("[") and first.endswith(":")


# -- conversion -------------------------------------------------------------------------------


def _first(hvars: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in hvars:
            return hvars[n]
    return None


def _falsy(value: Any) -> bool:
    return value is False or str(value).strip().lower() in ("false", "no", "0", "off")


def from_ansible(
    path: str | os.PathLike[str],
    role_map: Mapping[str, str | None] | None = None,
    *,
    name: str | None = None,
    extra: Mapping[str, Any] | None = None,
    **defaults: Any,
) -> Inventory:
    """Read an Ansible INI or YAML inventory.

    ``role_map`` adds to or overrides ``DEFAULT_ROLE_MAP`` (map a group to ``None`` to ignore it).
    ``defaults`` are SSH settings for every host (``known_hosts=``, ``command_timeout_s=``, ...);
    host and group variables win over them. ``extra`` adds sections Ansible cannot know
    (``vips``, ``database``, ``slo``, ``moodle``, ``name``). ``ansible_host_key_checking=false`` set in the
    inventory is taken as the explicit opt-out of host-key checking.
    """
    source = os.fspath(path)
    p = Path(source).expanduser()
    text = read_text(p, source, "Ansible inventory")
    ssh_defaults = check_ssh_defaults(defaults, source)
    mapping: dict[str, str | None] = {**DEFAULT_ROLE_MAP, **(role_map or {})}
    problems: list[str] = []
    for group, role in (role_map or {}).items():
        if role is not None and role not in ROLES:
            problems.append(f"{source}: role_map[{group!r}]: unknown role {role!r} (known: {', '.join(sorted(ROLES))})")

    g = _parse_yaml(text, source, problems) if _looks_like_yaml(text, p) else _parse_ini(text, source, problems)

    hosts: dict[str, Any] = {}
    for host in g.host_vars:
        groups, group_vars = g.view(host)
        hvars: dict[str, Any] = dict(group_vars)
        hvars.update(g.host_vars[host])
        roles = sorted({r for grp in groups if (r := mapping.get(grp)) is not None})
        if not roles:
            direct = sorted(groups - {"all"}) or ["ungrouped"]
            problems.append(
                f"{source}: host {host!r} is in no group mapped to a role (its groups: {', '.join(direct)}; "
                f"pass role_map={{group: role}} or add it to one of: {', '.join(sorted(k for k, v in mapping.items() if v))})"
            )
            continue
        ssh: dict[str, Any] = dict(ssh_defaults)
        user = _first(hvars, _VAR_USER)
        if user is not None:
            ssh["user"] = str(user)
        port = _first(hvars, _VAR_PORT)
        if port is not None:
            try:
                ssh["port"] = int(str(port))
            except ValueError:
                problems.append(f"{source}: host {host!r}: ansible_port: expected an integer, got {port!r}")
        key = _first(hvars, _VAR_KEY)
        if key is not None:
            ssh["key_file"] = os.path.expanduser(str(key))
        if "ansible_host_key_checking" in hvars and _falsy(hvars["ansible_host_key_checking"]):
            ssh["insecure_ignore_host_keys"] = True
        entry: dict[str, Any] = {
            "address": str(_first(hvars, _VAR_HOST) or host),
            "roles": roles,
            "ssh": ssh,
        }
        if str(hvars.get("ansible_connection", "ssh")) == "local":
            entry["transport"] = "local"
        hosts[host] = entry

    if not g.host_vars:
        problems.append(f"{source}: no hosts found in the inventory")
    if problems:
        raise InventoryProblems(problems)
    data = {"name": name or p.stem, "hosts": hosts}
    return inventory_from_dict(merge_extra(data, extra, source), source=source)
