"""Parse what an LVS director guest says about itself in one SSH round trip.

The lab's LVS directors answer one composite command (``harness.lab._directors.lvs.STATUS_COMMAND``)
whose output is a head of ``keepalived alive|dead`` and ``vrrp INSTANCE STATE`` lines, then an
``@@addr`` section (``ip -o -4 addr show dev vec0``) and an ``@@ipvs`` section (``ipvsadm -Ln``
as printed, parsed later by :mod:`harness.parsers.ipvsadm`)::

    keepalived alive
    vrrp VI_WEB MASTER
    @@addr
    2: vec0    inet 198.18.6.11/24 brd 198.18.6.255 scope global vec0\\ ...
    @@ipvs
    IP Virtual Server version 1.2.1 (size=4096)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class GuestStatus:
    """What one director guest said about itself."""

    keepalived_alive: bool = False
    vrrp: dict[str, str] = field(default_factory=dict)
    addresses: set[str] = field(default_factory=set)
    ipvs_table: str = ""


def parse_guest_status(text: str, instances: Iterable[str]) -> GuestStatus:
    """The composite status text -> GuestStatus. A dead keepalived's notify files say what it
    was, not what it is: then every one of ``instances`` reads ``DEAD``."""
    st = GuestStatus()
    section = "head"
    ipvs: list[str] = []
    for line in text.splitlines():
        if line.startswith("@@"):
            section = line[2:].strip()
            continue
        parts = line.split()
        if section == "head":
            if parts[:1] == ["keepalived"] and len(parts) == 2:
                st.keepalived_alive = parts[1] == "alive"
            elif parts[:1] == ["vrrp"] and len(parts) == 3:
                st.vrrp[parts[1]] = parts[2]
        elif section == "addr":
            if len(parts) >= 4 and parts[2] == "inet":
                st.addresses.add(parts[3].split("/", 1)[0])
        elif section == "ipvs":
            ipvs.append(line)
    if not st.keepalived_alive:
        st.vrrp = {inst: "DEAD" for inst in instances}
    st.ipvs_table = "\n".join(ipvs)
    return st
