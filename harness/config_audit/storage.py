"""Rules over the shared volume the web nodes mount (``storage:``, GlusterFS), pure.

Read on a file server (``gluster --xml volume info VOLUME``): the volume must be Started (a
stopped volume serves no file), and replicated across every file server, a brick on each (a
file server whose brick is missing, or a replica count below the number of file servers,
takes files with it when it dies: what the cluster file promises as a replicated tier is not).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..parsers.gluster import VolumeInfo
from ._model import Evidence, Finding, Severity
from .web import CONFIRM_FILES

INFO = "gluster volume info"


def gluster_findings(host: str, volume: VolumeInfo, fileservers: Mapping[str, str]) -> list[Finding]:
    """``host``: the file server the volume info was read on; ``fileservers``: cluster-file
    name -> address of every host with role ``fileserver``."""
    out: list[Finding] = []
    where = f"{INFO} {volume.name}"
    if volume.status != "Started":
        out.append(Finding("gluster-volume-not-started", Severity.CRITICAL,
                           f"volume {volume.name} is {volume.status or 'in no state'}, not Started: the web nodes' "
                           "mounts serve no file", (Evidence(host, where, None, f"Status: {volume.status}"),),
                           CONFIRM_FILES))
    layout = f"Type: {volume.type}, replica {volume.replica_count}" + (
        f" (arbiter {volume.arbiter_count})" if volume.arbiter_count else "")
    copies, servers = volume.replica_count, len(fileservers)
    # distributed-replicated (bricks a multiple of the replica count, each set on its own servers)
    # keeps every file on `copies` servers by design, with more servers than copies
    distributed = copies >= 2 and len(volume.bricks) > copies and len(volume.bricks) % copies == 0
    if copies < 2 or copies > servers or (copies < servers and not distributed):
        why = ("a file lives on one server only and is gone with it" if copies < 2
               else "a replica set puts two bricks on one server, whose loss costs the set its quorum" if copies > servers
               else f"a file lives on {copies} of them, and the others hold no copy of the set")
        out.append(Finding("gluster-replica-count", Severity.CRITICAL,
                           f"volume {volume.name} keeps {copies} cop{'y' if copies == 1 else 'ies'} "
                           f"of each file, the cluster file has {servers} file servers: {why}",
                           (Evidence(host, where, None, layout),), CONFIRM_FILES))
    hosts = volume.brick_hosts()
    for name, address in sorted(fileservers.items()):
        if name not in hosts and address not in hosts:
            out.append(Finding("gluster-brick-missing", Severity.CRITICAL,
                               f"{name} ({address}) holds no brick of volume {volume.name}: it keeps none of the "
                               "files, and the servers that do are fewer than the cluster file says",
                               (Evidence(host, where, None, "Bricks: " + ", ".join(volume.bricks)),
                                Evidence(name, text="no brick")), CONFIRM_FILES))
    return out
