"""Parse ``ndb_mgm -e show`` and ``ndb_mgm -e "all status"`` (MySQL NDB Cluster).

The NDB audit ("all data nodes started, arbitrator connected") reads these: ``show`` gives
every configured node with its type and connection, ``all status`` each data node's phase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import parse_error

#: section header: ``[ndbd(NDB)]\t2 node(s)``
_SECTION = re.compile(r"^\[(?P<kind>[a-z_]+)\((?P<cls>[A-Z]+)\)\]\s+(?P<count>\d+)\s+node\(s\)")
#: ``id=2\t@10.0.0.1  (mysql-8.0.35 ndb-8.0.35, Nodegroup: 0, *)`` or ``id=3 (not connected, ...)``
_NODE = re.compile(r"^id=(?P<id>\d+)\s+(?:@(?P<addr>\S+)\s+)?\((?P<detail>.*)\)\s*$")
#: ``Node 2: started (mysql-8.0.35 ndb-8.0.35)``; ``Node 3: starting (Last completed phase 4) (...)``
_STATUS = re.compile(r"^Node (?P<id>\d+): (?P<status>[a-z][a-z ]*?)\s*(?:\((?P<rest>.*)\))?\s*$")
_PHASE = re.compile(r"Last completed phase (\d+)")
_VERSION = re.compile(r"(mysql-\S+ ndb-[^,)\s]+)")


@dataclass(frozen=True)
class NdbNode:
    """One node of ``show``: kind is ``ndbd``, ``ndb_mgmd`` or ``mysqld``."""

    node_id: int
    kind: str
    connected: bool
    address: str | None = None
    version: str | None = None
    nodegroup: int | None = None
    master: bool = False  # the ``*`` mark: the data node acting as president (master)
    status: str | None = None  # e.g. ``starting``, ``shutting down``; None when just connected
    accepting_from: str | None = None  # for unconnected nodes: ``any host`` or an address


@dataclass(frozen=True)
class NdbNodeStatus:
    """One data node of ``all status``."""

    node_id: int
    status: str  # started, starting, not connected, no contact, shutting down, single user mode...
    phase: int | None = None
    version: str | None = None

    @property
    def started(self) -> bool:
        return self.status == "started"


def parse_show(text: str) -> list[NdbNode]:
    """Parse ``ndb_mgm -e show``; raises ParseError when the client could not connect."""
    command = "ndb_mgm -e show"
    if "Cluster Configuration" not in text:
        first = next((ln for ln in text.splitlines() if ln.strip()), None)
        raise parse_error(command, 1 if first else None, first, "no 'Cluster Configuration' (management server unreachable?)")
    nodes: list[NdbNode] = []
    kind: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("Connected to Management Server") or s == "Cluster Configuration" or set(s) == {"-"}:
            continue
        m = _SECTION.match(s)
        if m:
            kind = m.group("kind")
            continue
        m = _NODE.match(s)
        if not m:
            raise parse_error(command, lineno, line, "expected 'id=N @ADDRESS (...)' or a '[kind(CLASS)]' header")
        if kind is None:
            raise parse_error(command, lineno, line, "node line before any section header")
        nodes.append(_node(int(m.group("id")), kind, m.group("addr"), m.group("detail")))
    return nodes


def _node(node_id: int, kind: str, address: str | None, detail: str) -> NdbNode:
    parts = [p.strip() for p in detail.split(",")]
    if parts and parts[0] == "not connected":
        accepting = None
        for p in parts[1:]:
            if p.startswith("accepting connect from "):
                accepting = p[len("accepting connect from ") :]
        return NdbNode(node_id, kind, False, accepting_from=accepting)
    version = None
    nodegroup = None
    master = False
    status = None
    for p in parts:
        if _VERSION.fullmatch(p):
            version = p
        elif p.startswith("Nodegroup:"):
            value = p.split(":", 1)[1].strip()
            nodegroup = int(value) if value.isdigit() else None
        elif p == "*":
            master = True
        elif p == "no nodegroup":
            nodegroup = None
        elif p:
            status = p
    return NdbNode(node_id, kind, True, address, version, nodegroup, master, status)


def parse_all_status(text: str) -> dict[int, NdbNodeStatus]:
    """Parse ``ndb_mgm -e "all status"``: data node id -> status."""
    command = 'ndb_mgm -e "all status"'
    out: dict[int, NdbNodeStatus] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("Connected to Management Server"):
            continue
        m = _STATUS.match(s)
        if not m:
            raise parse_error(command, lineno, line, "expected 'Node N: STATUS (...)'")
        rest = m.group("rest") or ""
        phase = _PHASE.search(rest)
        version = _VERSION.search(rest)
        out[int(m.group("id"))] = NdbNodeStatus(
            int(m.group("id")),
            m.group("status"),
            int(phase.group(1)) if phase else None,
            version.group(1) if version else None,
        )
    if not out:
        raise parse_error(command, None, None, "no 'Node N:' lines (management server unreachable?)")
    return out
