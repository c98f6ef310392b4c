"""Database node failure: a Galera node or an NDB data node goes away; heal waits for rejoin.

Heal is not done when the daemon starts: a Galera node is back when it reports
``wsrep_local_state_comment = Synced``, an NDB data node when ``ALL STATUS`` says
``started``. Both waits are bounded (``timeout_s``) and fail naming the node and the last
state seen. Galera's restart runs the service's own start (the lab's start command does the
``--wsrep-recover`` dance; systemd MariaDB runs ``galera_recovery`` in its unit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import FaultError
from ..inventory._model import Service
from ..parsers.ndb_mgm import parse_all_status
from ..parsers.ps import PS_TREE_COMMAND, parse_ps_tree
from ..parsers.wsrep import parse_wsrep_status
from ..transport.base import quote_command
from . import service as svc
from .base import Fault, no_extra, positive, take

_GALERA_NAMES = ("mariadb", "mysql", "mariadbd", "mysqld")
_NDBD_NAMES = ("ndbd", "ndbmtd")
WSREP_QUERY = "SHOW STATUS LIKE 'wsrep%'"


class DbNodeFailure(Fault):
    """Crash one database node (Galera: kill -9 mariadbd; NDB: ``N STOP`` or kill of ndbd)."""

    name = "db-node-failure"
    summary = "galera: kill -9 mariadbd; ndb: ndb_mgm 'N STOP' or kill ndbd; heal: restart, wait Synced/started"

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        kind = self.cluster.inventory.database.kind
        out = {
            "host": take(params, self.name, "host", str),
            "mode": take(params, self.name, "mode", str, "kill"),
            "service": take(params, self.name, "service", str, None),
            "timeout_s": positive(self.name, "timeout_s", take(params, self.name, "timeout_s", float, 180.0)),
            "poll_s": positive(self.name, "poll_s", take(params, self.name, "poll_s", float, 1.0)),
            "mysql_options": list(take(params, self.name, "mysql_options", (list, tuple), [])),
            "mgm": take(params, self.name, "mgm", str, None),
        }
        no_extra(params, self.name, out)
        modes = ("kill",) if kind == "galera" else ("kill", "stop")
        if out["mode"] not in modes:
            raise FaultError(f"{self.name}: parameter 'mode': {out['mode']!r} is not one of {', '.join(modes)} for {kind}")
        host = self.host(out["host"])
        self.service: Service | None
        if kind == "galera":
            if not host.has_role("db"):
                raise FaultError(f"{self.name}: host {host.name!r} has no role db (roles: {', '.join(host.roles)})")
            if out["service"]:
                self.service = svc.find_service(host, out["service"], fault=self.name)
            else:
                self.service = svc.find_any_service(host, _GALERA_NAMES)
                if self.service is None:
                    raise FaultError(
                        f"{self.name}: host {host.name!r} has no mariadb/mysql service in the inventory "
                        f"(services: {', '.join(sorted(host.services)) or 'none'})"
                    )
        else:
            if host.ndb_node_id is None:
                raise FaultError(f"{self.name}: host {host.name!r} has no ndb_node_id: not an NDB data node")
            if out["mgm"] is None:
                mgms = [h.name for h in self.cluster.inventory.with_role("mgm")]
                if not mgms:
                    raise FaultError(f"{self.name}: no host with role mgm in the inventory to run ndb_mgm")
                out["mgm"] = mgms[0]
            self.host(out["mgm"])
            if out["service"]:
                self.service = svc.find_service(host, out["service"], fault=self.name)
            else:
                self.service = svc.find_any_service(host, _NDBD_NAMES)
        self.kind = kind
        return out

    def resolve_targets(self) -> list[str]:
        return [self.params["host"]]

    # ---- inject -------------------------------------------------------------------------
    def _inject(self) -> None:
        host = self.params["host"]
        if self.kind == "ndb" and self.params["mode"] == "stop":
            self.touch(host)
            self.run_expect(self.params["mgm"], [0], self.ndb_mgm_command(f"{self.node_id} STOP"))
            return
        pids = self._find_pids(with_tree=self.kind == "ndb")  # ndbd's angel respawns its worker
        if not pids:
            raise FaultError(f"{self.name}: no {self._process()!r} process running on host {host!r}")
        self.runtime["pids"] = pids
        self.touch(host)
        self.run_expect(host, [0, 1], svc.crash_command(pids) if self.kind == "ndb" else svc.signal_command("KILL", pids))

    # ---- heal ---------------------------------------------------------------------------
    def _heal(self) -> None:
        if self.kind == "galera":
            assert self.service is not None
            svc.start(self.transport(self.params["host"]), self.service)
            self._wait("Synced", self._galera_state)
        else:
            self._ndb_start()
            self._wait("started", self._ndb_state)

    def _ndb_start(self) -> None:
        host = self.params["host"]
        if self._find_pids(with_tree=False):
            # ndbd runs but is not started (stopped with -n / restarting): the mgm starts it
            self.run_expect(self.params["mgm"], [0], self.ndb_mgm_command(f"{self.node_id} START"))
        elif self.service is not None:
            svc.start(self.transport(host), self.service)
        else:
            connect = self.cluster.host(self.params["mgm"]).address
            self.run_expect(
                host, [0], quote_command(["ndbd", f"--ndb-nodeid={self.node_id}", f"--ndb-connectstring={connect}"])
            )

    def _wait(self, goal: str, probe: Callable[[], str]) -> None:
        """Poll ``probe`` until it returns ``goal``."""
        self.wait_for(f"host {self.params['host']!r} not {goal}", lambda: None if (seen := probe()) == goal else seen,
                      timeout_s=self.params["timeout_s"], poll_s=self.params["poll_s"])

    def _galera_state(self) -> str:
        result = self.run_expect(self.params["host"], [0], self.wsrep_command())
        return parse_wsrep_status(result.stdout).get("wsrep_local_state_comment", "unknown")

    def _ndb_state(self) -> str:
        result = self.run_expect(self.params["mgm"], [0], self.ndb_mgm_command("ALL STATUS"))
        node = parse_all_status(result.stdout).get(self.node_id)
        return node.status if node is not None else "absent from ALL STATUS"

    # ---- command builders ---------------------------------------------------------------
    def wsrep_command(self) -> str:
        return quote_command(["mysql", "-N", "-B", *self.params["mysql_options"], "-e", WSREP_QUERY])

    @staticmethod
    def ndb_mgm_command(command: str) -> str:
        return quote_command(["ndb_mgm", "-e", command])

    @property
    def node_id(self) -> int:
        node_id = self.cluster.host(self.params["host"]).ndb_node_id
        assert node_id is not None
        return node_id

    def _process(self) -> str:
        if self.service is not None:
            return svc.process_name(self.service)
        return "mariadbd" if self.kind == "galera" else "ndbd"

    def _find_pids(self, *, with_tree: bool) -> list[int]:
        t = self.transport(self.params["host"])
        pidfile = self.service.pidfile if self.service else None
        pids = svc.find_pids(t, process=self._process(), pidfile=pidfile)
        if pids and with_tree:
            tree = parse_ps_tree(t.run_expect([0], PS_TREE_COMMAND).stdout)
            pids = svc.with_descendants(tree, pids)
        return pids
