"""Director failure: keepalived and the balancer crash together, as when a director dies.

A real crash is ``kill -STOP`` of every process first, then ``kill -9`` (docs/lab-measurements.md: otherwise
keepalived's parent respawns its VRRP child, or the child sends priority 0 and the failover is
a clean handover, not a crash). A crashed keepalived leaves the VIP on its interface (two
MACs answer ARP for it), so heal removes such leftover VIPs before restarting the daemons.
"""

from __future__ import annotations

from typing import Any

from ..errors import FaultError
from ..inventory._model import Service
from ..parsers.ip_addr import parse_addr_show
from ..parsers.ps import PS_TREE_COMMAND, parse_ps_tree
from ..transport.base import quote_command
from . import service as svc
from .base import Fault, no_extra, take


class DirectorFailure(Fault):
    """Crash keepalived and the balancer (HAProxy; nothing more for LVS) on one director."""

    name = "director-failure"
    summary = "crash keepalived + balancer (haproxy) on a director; heal: drop leftover VIPs, restart them"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "host": take(params, self.name, "host", str),
            "keepalived": take(params, self.name, "keepalived", str, "keepalived"),
            # "auto": haproxy when the host has it, else none (LVS lives in keepalived)
            "balancer": take(params, self.name, "balancer", str, "auto"),
        }
        no_extra(params, self.name, out)
        host = self.host(out["host"])
        if not host.has_role("director"):
            raise FaultError(f"{self.name}: host {host.name!r} is not a director (roles: {', '.join(host.roles)})")
        self.keepalived: Service = svc.find_service(host, out["keepalived"], fault=self.name)
        self.balancer: Service | None
        if out["balancer"] == "auto":
            self.balancer = svc.find_any_service(host, ["haproxy"])
        elif out["balancer"] == "none":
            self.balancer = None
        else:
            self.balancer = svc.find_service(host, out["balancer"], fault=self.name)
        vips = getattr(self.cluster.inventory, "vips", {}) or {}
        self.vip_addresses: list[str] = sorted({v.address for v in vips.values()})
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    def _pids(self, service: Service) -> list[int]:
        t = self.transport(self.params["host"])
        return svc.find_pids(t, process=svc.process_name(service), pidfile=service.pidfile)

    def _inject(self) -> None:
        host = self.params["host"]
        t = self.transport(host)
        roots = self._pids(self.keepalived)
        if not roots:
            raise FaultError(f"{self.name}: keepalived is not running on host {host!r}")
        balancer_roots = self._pids(self.balancer) if self.balancer else []
        tree = parse_ps_tree(t.run_expect([0], PS_TREE_COMMAND).stdout)
        pids: list[int] = []
        for group in (roots, balancer_roots):  # keepalived's first, children before parents
            pids += [p for p in svc.with_descendants(tree, group) if p not in pids]
        self.runtime["pids"] = pids
        self.touch(host)
        t.run_expect([0, 1], svc.crash_command(pids))

    def _heal(self) -> None:
        t = self.transport(self.params["host"])
        if not svc.is_running(t, self.keepalived):
            # only a dead keepalived's VIPs are leftovers; a live one owns what it holds
            for address in self.vip_addresses:
                shown = t.run_expect([0, 1], quote_command(["ip", "-o", "addr", "show", "to", address]))
                for iface, cidr in parse_addr_show(shown.stdout):
                    t.run_expect([0, 2], quote_command(["ip", "addr", "del", cidr, "dev", iface]))
        if self.balancer is not None:
            svc.start(t, self.balancer)  # balancer first: ready before keepalived claims the VIP
        svc.start(t, self.keepalived)
