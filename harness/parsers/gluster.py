"""Parse the GlusterFS CLI: ``volume status --xml``, ``peer status --xml``, ``volume heal info``.

The lab's file tier waits on these (every brick online, every peer in the pool) and the storage
tests measure self-heal with the heal backlog. Pure: text in, records out; a text that is not
what the CLI prints is a ParseError naming what was missing, never a silent "all online".
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..errors import ParseError


@dataclass(frozen=True)
class Brick:
    """One brick of ``gluster volume status``: ``host:path``, online or not, its glusterfsd pid."""

    host: str
    path: str
    online: bool
    pid: int | None  # None when the CLI shows none (N/A, -1: the brick process is not running)

    @property
    def name(self) -> str:
        return f"{self.host}:{self.path}"


def _root(text: str, what: str) -> ET.Element:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ParseError(f"{what}: not the CLI's XML ({exc}): {text[:200]!r}") from None
    ret = root.findtext("opRet")
    if ret is None:
        raise ParseError(f"{what}: no <opRet> in the CLI's XML: {text[:200]!r}")
    if ret.strip() != "0":
        raise ParseError(f"{what}: the CLI failed (opRet {ret.strip()}): {root.findtext('opErrstr') or ''}")
    return root


def parse_volume_status(text: str) -> list[Brick]:
    """The bricks of ``gluster --xml volume status VOLUME`` (daemons such as the self-heal
    daemon, whose path is not a directory, are left out)."""
    root = _root(text, "gluster volume status")
    bricks = []
    for node in root.iter("node"):
        path = (node.findtext("path") or "").strip()
        if not path.startswith("/"):
            continue
        pid_text = (node.findtext("pid") or "").strip()
        pid = int(pid_text) if pid_text.isdigit() and int(pid_text) > 0 else None
        bricks.append(Brick(host=(node.findtext("hostname") or "").strip(), path=path,
                            online=(node.findtext("status") or "").strip() == "1", pid=pid))
    return bricks


def bricks_of(bricks: list[Brick], host: str, address: str) -> list[Brick]:
    """The bricks served by one file server: glusterd names a peer by the name or the address
    it was probed with, so either matches."""
    return [b for b in bricks if b.host in (address, host)]


def parse_peer_status(text: str) -> dict[str, bool]:
    """``gluster --xml peer status``: peer hostname -> in the pool and connected."""
    root = _root(text, "gluster peer status")
    peers = {}
    for peer in root.iter("peer"):
        name = (peer.findtext("hostname") or "").strip()
        connected = (peer.findtext("connected") or "").strip() == "1"
        in_pool = (peer.findtext("stateStr") or "").strip() == "Peer in Cluster"
        peers[name] = connected and in_pool
    return peers


_BRICK = re.compile(r"^Brick\s+(\S+)\s*$")
_ENTRIES = re.compile(r"^Number of entries:\s*(\S+)\s*$")
_STATUS = re.compile(r"^Status:\s*(.*?)\s*$")


@dataclass(frozen=True)
class HealBacklog:
    """One brick of ``gluster volume heal VOLUME info``: what it still has to heal."""

    brick: str
    status: str  # "Connected", or why the CLI could not ask the brick
    entries: int | None  # None when the brick did not answer ("-")


def parse_heal_info(text: str) -> list[HealBacklog]:
    """``gluster volume heal VOLUME info`` -> one backlog per brick, in the CLI's order."""
    out: list[HealBacklog] = []
    brick: str | None = None
    status = ""
    for line in text.splitlines():
        line = line.strip()
        if m := _BRICK.match(line):
            brick, status = m.group(1), ""
        elif (m := _STATUS.match(line)) and brick is not None:
            status = m.group(1)
        elif (m := _ENTRIES.match(line)) and brick is not None:
            value = m.group(1)
            out.append(HealBacklog(brick, status, int(value) if value.isdigit() else None))
            brick = None
    if not out:
        raise ParseError(f"gluster volume heal info: no 'Brick ... Number of entries' in {text[:200]!r}")
    return out


def heal_pending(backlog: list[HealBacklog]) -> int | None:
    """Entries still to heal over every brick; None while a brick does not answer (unknown is
    not zero: a self-heal is over only when every brick says 0)."""
    if any(b.entries is None or b.status != "Connected" for b in backlog):
        return None
    return sum(b.entries or 0 for b in backlog)


@dataclass(frozen=True)
class VolumeInfo:
    """One volume of ``gluster --xml volume info``: how it is laid out and whether it serves."""

    name: str
    status: str  # Started, Stopped, Created
    type: str  # Replicate, Distribute, Distributed-Replicate, Disperse ...
    replica_count: int
    arbiter_count: int
    bricks: tuple[str, ...]  # host:path, in the CLI's order

    def brick_hosts(self) -> list[str]:
        return [b.rsplit(":", 1)[0] for b in self.bricks]


def _count(vol: ET.Element, tag: str) -> int:
    text = (vol.findtext(tag) or "").strip()
    return int(text) if text.isdigit() else 0


def parse_volume_info(text: str) -> list[VolumeInfo]:
    """The volumes of ``gluster --xml volume info [VOLUME]`` (a volume that does not exist is
    the CLI's failure: a ParseError carrying its message)."""
    root = _root(text, "gluster volume info")
    out = []
    for vol in root.iter("volume"):
        name = (vol.findtext("name") or "").strip()
        if not name:
            continue
        bricks = []
        for brick in vol.iter("brick"):
            label = (brick.findtext("name") or brick.text or "").strip()
            if label:
                bricks.append(label)
        out.append(VolumeInfo(name, (vol.findtext("statusStr") or "").strip(), (vol.findtext("typeStr") or "").strip(),
                              max(1, _count(vol, "replicaCount")), _count(vol, "arbiterCount"), tuple(bricks)))
    if not out:
        raise ParseError(f"gluster volume info: no <volume> in the CLI's XML: {text[:200]!r}")
    return out
