"""The lab's optional file tier (``file_tier="gluster"``): a GlusterFS trusted pool of fs1-fs3,
one volume ``moodledata`` (replica 3 arbiter 1), mounted by every web node.

Run from the root namespace during `lab up`, after the file servers' glusterd answer: the pool
(``peer probe``), the volume (created, ``network.ping-timeout`` set, started), then every web
node's FUSE mount in parallel. Each step waits on what the CLI reports (peers connected, every
brick online), never on a fixed sleep. The gluster CLI runs inside fs1's namespaces (its
``--remote-host`` mode is read-only, docs/lab-measurements.md), with a timeout on every call.

Why replica 3 arbiter 1: two full copies of every file (fs1, fs2) plus an arbiter (fs3) that
keeps only names and metadata, so client quorum (2 of 3) survives any one server down and two
data bricks can never both accept diverging writes (no split-brain with 2 data copies).
"""

from __future__ import annotations

import functools
import pwd
from collections.abc import Callable

from ..errors import LabError, ParseError
from ..parsers.gluster import Brick, HealBacklog, parse_heal_info, parse_peer_status, parse_volume_status
from ._gluster import MOUNT_POINT, STAT_TIMEOUT_S, VOLUME, brick_spec, judge_mount
from ._interfaces import LabContext
from ._parallel import parallel
from ._proc import poll_missing

#: ``network.ping-timeout`` of the lab's volume, in seconds. GlusterFS's default, 42 s, is how
#: long a client's calls hang on a server that stops answering without closing its connections
#: (a frozen or partitioned host; a killed brick process closes them and is noticed at once).
#: 5 s keeps such a stall short (measured 7-8 s of stall: the ping timer's period comes on top)
#: and leaves seconds of margin for a healthy brick's late answer on two busy shared cores, where
#: a dropped healthy brick would mean a needless heal (lower values not tried).
PING_TIMEOUT_S = 5
#: ``cluster.heal-timeout``: how often each self-heal daemon crawls its brick's heal index, in
#: seconds (GlusterFS's default 600). A daemon heals at once when it sees a brick come back, but
#: a brick whose host froze without closing its connections may come back unnoticed (measured:
#: after a 12 s freeze of fs1 nothing healed for 100 s); 10 s bounds that wait for the lab.
HEAL_TIMEOUT_S = 10

CLI_TIMEOUT_S = 30.0


def volume_options(owner: str = "www-data") -> list[tuple[str, str]]:
    """The volume options the lab sets: the ping and heal timeouts, and the volume's root owned
    by the web server's user (Moodle writes its dataroot as www-data)."""
    pw = pwd.getpwnam(owner)
    return [("network.ping-timeout", str(PING_TIMEOUT_S)), ("cluster.heal-timeout", str(HEAL_TIMEOUT_S)),
            ("storage.owner-uid", str(pw.pw_uid)), ("storage.owner-gid", str(pw.pw_gid))]


def cli(lab: LabContext, *args: str, host: str = "fs1", timeout: float = CLI_TIMEOUT_S,
        check: bool = True) -> str:
    """``gluster --mode=script ARGS`` inside ``host``; stdout, or LabError naming the command."""
    argv = ["gluster", "--mode=script", *args]
    proc = lab.exec(host, argv, timeout=timeout)  # LabError naming host and command on a timeout
    if check and proc.returncode != 0:
        raise LabError(f"{host}: `{' '.join(argv)}` exited {proc.returncode}: "
                       f"{(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def volume_bricks(lab: LabContext, host: str = "fs1", timeout: float = 10.0) -> list[Brick]:
    """Every brick of the volume as ``gluster volume status`` shows it."""
    return parse_volume_status(cli(lab, "--xml", "volume", "status", VOLUME, host=host, timeout=timeout))


def heal_backlog(lab: LabContext, host: str = "fs1", timeout: float = 20.0) -> list[HealBacklog]:
    """``gluster volume heal moodledata info``, per brick."""
    return parse_heal_info(cli(lab, "volume", "heal", VOLUME, "info", host=host, timeout=timeout))


def _poll(what: str, pred: Callable[[], str], timeout_s: float) -> None:
    poll_missing(what, pred, timeout_s, interval_s=0.2)


def up_file_tier(lab: LabContext) -> None:
    """Pool, volume, mounts (the file servers' glusterd already answer)."""
    servers = lab.topo.with_role("fileserver")
    first, others = servers[0], servers[1:]
    for h in others:
        cli(lab, "peer", "probe", h.address, host=first.name)

    def peers_missing() -> str:
        # every server's own view: fs1 seeing fs2 and fs3 is not enough, a volume create is
        # staged on each (CI once: "Staging failed on fs2. Error: Host fs3 not connected");
        # a server may know the one that probed it by another name, so count, do not match
        seen_by_first = parse_peer_status(cli(lab, "--xml", "peer", "status", host=first.name, timeout=10))
        missing = [h.name for h in others if not seen_by_first.get(h.address)]
        for h in others:
            peers = parse_peer_status(cli(lab, "--xml", "peer", "status", host=h.name, timeout=10))
            if len(peers) < len(servers) - 1 or not all(peers.values()):
                missing.append(f"{h.name}'s view ({sum(peers.values())} of {len(servers) - 1} connected)")
        return ", ".join(missing)

    _poll("gluster pool: peers connected", peers_missing, 30)
    lab.say(f"gluster: trusted pool of {', '.join(h.name for h in servers)}")
    if cli(lab, "volume", "info", VOLUME, host=first.name, check=False).strip().startswith("Volume "):
        lab.say(f"gluster: volume {VOLUME} exists")
    else:
        # force: the bricks are plain directories on the hosts' own disks, not mount points
        cli(lab, "volume", "create", VOLUME, "replica", "3", "arbiter", "1",
            *(brick_spec(h) for h in servers), "force", host=first.name, timeout=60)
    for option, value in volume_options():
        cli(lab, "volume", "set", VOLUME, option, value, host=first.name)
    info = cli(lab, "volume", "info", VOLUME, host=first.name)
    if "Status: Started" not in info:
        cli(lab, "volume", "start", VOLUME, host=first.name, timeout=60)

    def bricks_offline() -> str:
        bricks = volume_bricks(lab, first.name)
        if len(bricks) != len(servers):
            return f"{len(bricks)} of {len(servers)} bricks listed"
        return ", ".join(b.name for b in bricks if not b.online)

    _poll(f"gluster volume {VOLUME}: every brick online", bricks_offline, 60)
    lab.say(f"gluster: volume {VOLUME} started (replica 3 arbiter 1, ping-timeout {PING_TIMEOUT_S}s), "
            f"{len(servers)} bricks online")
    webs = lab.topo.with_role("web")
    parallel({h.name: functools.partial(lab.hostctl, h.name, "start", "gluster-mount", 30) for h in webs})
    lab.say(f"gluster: {VOLUME} mounted at {MOUNT_POINT} on {', '.join(h.name for h in webs)}")


# -- `lab status` ----------------------------------------------------------------------------
#: what a web node runs for its mount's status: its mount table's line, then a bounded stat
_MOUNT_PROBE = ("grep -F ' {mp} ' /proc/self/mountinfo; timeout -s KILL {t:g} stat -c %i {mp} >/dev/null "
                "&& echo HLAB-STAT-OK")


def mount_status(lab: LabContext, web: str) -> str:
    """``judge_mount`` of ``web``'s mount, asked through the lab's back door with a timeout."""
    proc = lab.exec(web, ["sh", "-c", _MOUNT_PROBE.format(mp=MOUNT_POINT, t=STAT_TIMEOUT_S)],
                    timeout=STAT_TIMEOUT_S + 5)
    return judge_mount(proc.stdout, "HLAB-STAT-OK" in proc.stdout)


def brick_status(lab: LabContext, running: list[str]) -> dict[str, str] | str:
    """File server -> ``online``/``offline`` from the first running file server's ``volume
    status``; a string: why no file server could say."""
    by_address = {h.address: h.name for h in lab.topo.with_role("fileserver")}
    errors = []
    for host in [n for n in by_address.values() if n in running]:
        try:
            bricks = volume_bricks(lab, host, timeout=5)
        except (LabError, ParseError) as exc:
            errors.append(str(exc).splitlines()[0])
            continue
        return {by_address.get(b.host, b.host): "online" if b.online else "offline" for b in bricks}
    return "; ".join(errors) or "no file server running"
