"""Domain faults: destroy (power cord), pause, clean shutdown, start of a host's VM.

Commands run on the domain's hypervisor host, in its toolstack's words: ``xl``/``xm`` (Xen),
``virsh`` (libvirt), or ``lab`` (the embedded lab: ``harness lab domain ACTION NAME
--state-dir DIR`` on the supervisor). Heal checks the domain's state first where the
toolstack can list it, so a second heal does not try to create a running domain again.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

from ..errors import FaultError
from ..inventory._model import Host
from ..parsers.domains import parse_virsh_list, parse_xl_list, parse_xm_list
from ..transport.base import quote_command
from .base import Fault, no_extra, take

#: our action -> verb per toolstack
_VERBS: dict[str, dict[str, list[str]]] = {
    "xl": {"destroy": ["destroy"], "pause": ["pause"], "unpause": ["unpause"], "shutdown": ["shutdown", "-w"]},
    "xm": {"destroy": ["destroy"], "pause": ["pause"], "unpause": ["unpause"], "shutdown": ["shutdown", "-w"]},
    "virsh": {"destroy": ["destroy"], "pause": ["suspend"], "unpause": ["resume"], "shutdown": ["shutdown"], "start": ["start"]},
}
_UP_STATES = frozenset({"running", "blocked", "paused"})


class _DomainFault(Fault):
    """Shared: ``host`` (a host with a ``domain``), optional ``config`` for xl/xm start."""

    #: what inject does, and the action that undoes it (None: nothing to undo)
    action: ClassVar[str] = ""
    undo: ClassVar[str | None] = None

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "host": take(params, self.name, "host", str),
            "config": take(params, self.name, "config", str, None),
        }
        no_extra(params, self.name, out)
        host = self.host(out["host"])
        if host.domain is None:
            raise FaultError(f"{self.name}: host {host.name!r} is not a domain (no 'domain' in the inventory)")
        hv = self.host(host.domain.hypervisor)
        if hv.hypervisor is None:
            raise FaultError(f"{self.name}: host {hv.name!r} (hypervisor of {host.name!r}) has no 'hypervisor' settings")
        if hv.hypervisor.kind == "lab" and not hv.hypervisor.state_dir:
            raise FaultError(f"{self.name}: hypervisor {hv.name!r} of kind lab has no state_dir")
        self.domain_name = host.domain.name
        self.hv: Host = hv
        self.kind: str = hv.hypervisor.kind
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    # ---- commands -----------------------------------------------------------------------
    def command(self, action: str) -> str:
        """The exact command line for ``action`` on this domain's toolstack."""
        name = self.domain_name
        if self.kind == "lab":
            assert self.hv.hypervisor is not None and self.hv.hypervisor.state_dir
            # the lab's hypervisor is this machine (transport local): run the harness that runs us,
            # whatever PATH says (a venv's console script is often not on it)
            return quote_command([sys.executable, "-m", "harness", "lab", "domain", action, name,
                                  "--state-dir", self.hv.hypervisor.state_dir])
        if action == "start" and self.kind in ("xl", "xm"):
            return quote_command([self.kind, "create", self.params["config"] or f"/etc/xen/{name}.cfg"])
        return quote_command([self.kind, *_VERBS[self.kind][action], name])

    def domain_state(self) -> str | None:
        """Normalised state (running, paused, shutoff, ...); None when the toolstack cannot say."""
        if self.kind == "lab":
            return None
        listing = {"xl": ("xl list", parse_xl_list), "xm": ("xm list", parse_xm_list),
                   "virsh": ("virsh list --all", parse_virsh_list)}[self.kind]
        result = self.run_expect(self.hv.name, [0], listing[0])
        for dom in listing[1](result.stdout):
            if dom.name == self.domain_name:
                return dom.state
        return "shutoff"  # xl/xm list only what exists: absent means not running

    def do(self, action: str) -> None:
        self.run_expect(self.hv.name, [0], self.command(action), timeout=300.0)

    def _inject(self) -> None:
        self.touch(self.params["host"])
        self.do(self.action)

    def _heal(self) -> None:
        if self.undo is None:
            return
        current = self.domain_state()
        if self.undo == "start" and current in _UP_STATES:
            return
        if self.undo == "unpause" and current is not None and current != "paused":
            return
        self.do(self.undo)


class DomainDestroy(_DomainFault):
    """Pull the power cord: the domain stops at once, no shutdown, no FIN/RST."""

    name = "domain-destroy"
    summary = "destroy (power off) a host's domain: xl/xm/virsh destroy; heal: start it"
    action = "destroy"
    undo = "start"


class DomainPause(_DomainFault):
    """The domain stops being scheduled: everything in it hangs, state intact."""

    name = "domain-pause"
    summary = "pause a host's domain (xl pause / virsh suspend); heal: unpause / resume"
    action = "pause"
    undo = "unpause"


class DomainShutdown(_DomainFault):
    """A clean shutdown of the guest OS (daemons stop in order)."""

    name = "domain-shutdown"
    summary = "clean shutdown of a host's domain (xl shutdown -w / virsh shutdown); heal: start it"
    action = "shutdown"
    undo = "start"


class DomainStart(_DomainFault):
    """Start a domain (e.g. a node joining). Its heal does nothing: a started domain is the
    healthy state, and stopping it again would be a fault, not a heal."""

    name = "domain-start"
    summary = "start a host's domain (xl create CFG / virsh start); heal: nothing"
    action = "start"
    undo = None
