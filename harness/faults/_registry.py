"""Fault names -> classes, imported lazily (testinfra's backend map).

Importing the catalogue costs nothing until a fault is used, and an unknown name is one
clear error listing the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from ..errors import UnknownFault

if TYPE_CHECKING:
    from .base import Fault

#: name -> "module:Class"
_PATHS: dict[str, str] = {
    "kill-process": "harness.faults.process:KillProcess",
    "stop-service": "harness.faults.process:StopService",
    "freeze": "harness.faults.process:Freeze",
    "link-down": "harness.faults.network:LinkDown",
    "partition": "harness.faults.network:Partition",
    "blackhole": "harness.faults.network:Blackhole",
    "bandwidth": "harness.faults.network:Bandwidth",
    "latency": "harness.faults.network:Latency",
    "disk-full": "harness.faults.disk:DiskFull",
    "brick-kill": "harness.faults.storage:BrickKill",
    "ldap-replication-off": "harness.faults.ldap:LdapReplicationOff",
    "director-failure": "harness.faults.director:DirectorFailure",
    "db-node-failure": "harness.faults.database:DbNodeFailure",
    "db-tier-power-loss": "harness.faults.db_tier:DbTierPowerLoss",
    "domain-destroy": "harness.faults.domain:DomainDestroy",
    "domain-pause": "harness.faults.domain:DomainPause",
    "domain-shutdown": "harness.faults.domain:DomainShutdown",
    "domain-start": "harness.faults.domain:DomainStart",
}


class FaultRegistry(Mapping[str, "type[Fault]"]):
    """Read-only mapping of fault names to classes; a class is imported on first lookup."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = paths

    def __getitem__(self, name: str) -> type[Fault]:
        try:
            path = self._paths[name]
        except KeyError:
            raise UnknownFault(f"Unknown fault {name!r} (known: {', '.join(sorted(self._paths))})") from None
        module_name, _, attr = path.partition(":")
        cls: type[Fault] = getattr(importlib.import_module(module_name), attr)
        return cls

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._paths))

    def __len__(self) -> int:
        return len(self._paths)


FAULTS = FaultRegistry(_PATHS)


def get_fault(name: str) -> type[Fault]:
    """The fault class registered as ``name``; FaultError listing the known names otherwise."""
    return FAULTS[name]
