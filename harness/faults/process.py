"""Process faults: kill -9 (a crash), a clean service stop, SIGSTOP (a hang).

Processes are found by pidfile when one is known (exact even where lab hosts share a PID
table, docs/lab-measurements.md) or by name with ``pidof`` / ``pgrep -x``. ``process`` may name a service of
the host (its key in the cluster file) or a process name a service declares.
"""

from __future__ import annotations

from typing import Any

from ..errors import FaultError
from ..inventory._model import Service
from ..parsers.ps import PS_TREE_COMMAND, parse_ps_tree
from . import service as svc
from .base import Fault, no_extra, take

#: daemons whose children must be frozen before anything dies (the parent respawns them)
_RESPAWNING_PARENTS = frozenset({"keepalived"})


class _ProcessFault(Fault):
    """Shared parameter handling: ``host``, ``process``, optional ``pidfile`` and ``tree``."""

    _needs_service = True
    _known: tuple[str, ...] = ("host", "process", "pidfile", "tree")

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {
            "host": take(params, self.name, "host", str),
            "process": take(params, self.name, "process", str),
            "pidfile": take(params, self.name, "pidfile", str, None),
            "tree": take(params, self.name, "tree", bool, False),
        }
        out.update(self._validate_more(params))
        no_extra(params, self.name, self._known)
        host = self.host(out["host"])
        self.service: Service | None = svc.find_any_service(host, [out["process"]])
        if self.service is None and self._needs_service:
            svc.find_service(host, out["process"], fault=self.name)  # raises, naming the host
        return out

    def _validate_more(self, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    @property
    def process_name(self) -> str:
        return svc.process_name(self.service) if self.service else self.params["process"]

    @property
    def pidfile(self) -> str | None:
        return self.params["pidfile"] or (self.service.pidfile if self.service else None)

    def _find(self, *, with_tree: bool) -> list[int]:
        """Pids to signal: the process(es), plus descendants (children first) if asked."""
        pids = svc.find_pids(self.transport(self.params["host"]), process=self.process_name, pidfile=self.pidfile)
        return self._with_tree(pids) if pids and with_tree else pids

    def _with_tree(self, pids: list[int]) -> list[int]:
        tree = parse_ps_tree(self.transport(self.params["host"]).run_expect([0], PS_TREE_COMMAND).stdout)
        return svc.with_descendants(tree, pids)


class KillProcess(_ProcessFault):
    """SIGKILL a daemon (a crash); heal starts its service the inventory's way."""

    name = "kill-process"
    summary = "kill -9 a daemon by pidfile or name (tree=True: its whole tree); heal: start its service"

    def _inject(self) -> None:
        host = self.params["host"]
        crash = self.params["tree"] or self.process_name in _RESPAWNING_PARENTS
        if not crash:
            pids = self._find(with_tree=False)
            if not pids:
                raise FaultError(f"{self.name}: no process {self.process_name!r} running on host {host!r}")
            self.runtime["pids"] = pids
            self.touch(host)
            self.run_expect(host, [0, 1], svc.signal_command("KILL", pids))
            return
        # freeze the parents before listing their tree: a child forked between the listing and
        # the freeze would escape the crash and keep the listening socket (seen: Apache's heal
        # failing with "Address already in use")
        roots = svc.find_pids(self.transport(host), process=self.process_name, pidfile=self.pidfile)
        if not roots:
            raise FaultError(f"{self.name}: no process {self.process_name!r} running on host {host!r}")
        self.touch(host)
        self.runtime["pids"] = roots
        self.runtime["frozen"] = roots  # until killed: a failed inject leaves them to thaw in the heal
        self.run_expect(host, [0, 1], svc.signal_command("STOP", roots))
        pids = self._with_tree(roots)
        self.runtime["pids"] = pids
        self.run_expect(host, [0, 1], svc.crash_command(pids))
        del self.runtime["frozen"]

    def _heal(self) -> None:
        assert self.service is not None  # validate() guarantees it
        frozen = self.runtime.get("frozen")
        if frozen:  # the inject stopped the parents, then failed before the kill
            self.run_expect(self.params["host"], [0, 1], svc.signal_command("CONT", frozen))
        svc.start(self.transport(self.params["host"]), self.service)


class StopService(_ProcessFault):
    """A clean stop (the daemon says goodbye: VRRP priority 0, Galera leaves the view)."""

    name = "stop-service"
    summary = "stop a service cleanly (systemctl/service/the stop command); heal: start it"
    _known = ("host", "process", "pidfile", "tree", "service")

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        # `service` is the natural word here; `process` kept for symmetry with the others
        if "service" in params and "process" not in params:
            params["process"] = params.pop("service")
        return super().validate(params)

    def _inject(self) -> None:
        assert self.service is not None
        host = self.params["host"]
        self.touch(host)
        svc.stop(self.transport(host), self.service)

    def _heal(self) -> None:
        assert self.service is not None
        svc.start(self.transport(self.params["host"]), self.service)


class Freeze(_ProcessFault):
    """SIGSTOP: the process hangs but holds its sockets and addresses (a stuck daemon)."""

    name = "freeze"
    summary = "SIGSTOP a process (tree=True: its whole tree); heal: SIGCONT"
    _needs_service = False

    def _inject(self) -> None:
        host = self.params["host"]
        pids = self._find(with_tree=self.params["tree"])
        if not pids:
            raise FaultError(f"{self.name}: no process {self.process_name!r} running on host {host!r}")
        self.runtime["pids"] = pids
        self.touch(host)
        self.run_expect(host, [0, 1], svc.signal_command("STOP", pids))

    def _heal(self) -> None:
        host = self.params["host"]
        # the pids frozen, plus whatever carries the name now (a journal from a run that died
        # before recording pids has none); SIGCONT to a running process is harmless
        pids = [int(p) for p in self.runtime.get("pids", [])]
        for pid in self._find(with_tree=self.params["tree"]):
            if pid not in pids:
                pids.append(pid)
        if pids:
            self.run_expect(host, [0, 1], svc.signal_command("CONT", pids))
