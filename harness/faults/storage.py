"""A GlusterFS brick process killed on a file server that stays up (``brick-kill``).

A file server's death takes its host (``domain-destroy``); a brick process dying alone
(OOM killer, a crash) is the other way a replica goes: the host, glusterd and the network stay,
so clients see the brick's connections closed at once instead of waiting out the ping timeout.
glusterd does not restart a dead brick by itself; ``gluster volume start VOLUME force`` is
what starts the bricks that are down (and leaves running ones alone), so the heal runs it and
waits, bounded, until ``volume status`` shows the brick online again.

The pid comes from ``gluster --xml volume status`` on that host (the brick glusterd itself
started), never from a process name: several bricks of other volumes, or other lab hosts'
bricks, may run under the same name.
"""

from __future__ import annotations

from typing import Any

from ..errors import FaultError
from ..parsers.gluster import Brick, bricks_of, parse_volume_status
from ..transport.base import quote_command
from .base import Fault, no_extra, positive, take


class BrickKill(Fault):
    """SIGKILL one host's brick of a volume; heal: ``volume start VOLUME force``, wait online."""

    name = "brick-kill"
    summary = "kill -9 a file server's GlusterFS brick (pid from volume status); heal: volume start force, wait online"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        storage = self.cluster.inventory.storage
        out = {
            "host": take(params, self.name, "host", str),
            "volume": take(params, self.name, "volume", str, storage.volume if storage else ...),
            "timeout_s": positive(self.name, "timeout_s", take(params, self.name, "timeout_s", float, 60.0)),
            "poll_s": positive(self.name, "poll_s", take(params, self.name, "poll_s", float, 1.0)),
        }
        no_extra(params, self.name, out)
        host = self.host(out["host"])
        if not host.has_role("fileserver"):
            raise FaultError(f"{self.name}: host {host.name!r} has no role fileserver (roles: {', '.join(host.roles)})")
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    def _cli(self, *args: str) -> str:
        return quote_command(["gluster", "--mode=script", *args])

    def _brick(self) -> Brick:
        """This host's brick of the volume, as glusterd on this host reports it."""
        host = self.cluster.host(self.params["host"])
        out = self.run_expect(host.name, [0], self._cli("--xml", "volume", "status", self.params["volume"])).stdout
        mine = bricks_of(parse_volume_status(out), host.name, host.address)
        if not mine:
            raise FaultError(f"{self.name}: `gluster volume status {self.params['volume']}` on {host.name!r} shows "
                             f"no brick of {host.name} ({host.address})")
        return mine[0]

    def _inject(self) -> None:
        host = self.params["host"]
        brick = self._brick()
        if brick.pid is None or not brick.online:
            raise FaultError(f"{self.name}: brick {brick.name} on host {host!r} is not running (nothing to kill)")
        self.touch(host)
        self.runtime["brick"], self.runtime["pid"] = brick.name, brick.pid
        self.run_expect(host, [0, 1], quote_command(["kill", "-KILL", str(brick.pid)]))

    def _heal(self) -> None:
        host = self.params["host"]
        self.run_expect(host, [0], self._cli("volume", "start", self.params["volume"], "force"))
        def online() -> str | None:
            brick = self._brick()
            if not brick.online:
                return f"brick {brick.name} offline"
            self.runtime["restarted_pid"] = brick.pid
            return None

        self.wait_for(f"host {host!r}: brick of {self.params['volume']} not online since `volume start force`",
                      online, timeout_s=self.params["timeout_s"], poll_s=self.params["poll_s"])
