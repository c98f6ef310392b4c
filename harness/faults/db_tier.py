"""Whole-tier power loss: every Galera node dies at once (or within a second); heal recovers.

Inject SIGKILLs mariadbd on every db host, all at once (one thread per host, released
together) or one after another ``stagger_s`` apart: what a rack losing power does to a tier,
and the case the public Galera analysis found losing acknowledged commits when
``innodb_flush_log_at_trx_commit`` is 0.

A cluster with no node left has no primary component, and no node may start on its own: heal
does what the operator's runbook says (Galera's "crash recovery" page):

1. read each node's ``grastate.dat``; where ``seqno`` is -1 (every node after a SIGKILL) run
   ``mariadbd --wsrep-recover`` and take its ``Recovered position``;
2. bootstrap the most advanced node (highest seqno; ties: the first in host order): set
   ``safe_to_bootstrap: 1``, start it with a new cluster (systemd: ``galera_new_cluster``,
   sysv: ``service NAME bootstrap``, a command service: its start, which bootstraps a node
   with ``safe_to_bootstrap: 1`` when no peer answers, as the lab's does);
3. start the others one at a time (parallel joins sometimes miss the primary view), each
   waited for until ``Synced`` (real readiness, bounded by ``timeout_s``).

The heal's record (``runtime["recovery"]``, also the nemesis heal completion's ``healed``)
says which node bootstrapped, every node's position, and how long the tier was down: from the
first kill to the bootstrap node Synced (``down_s``: nothing could commit) and to the last node
Synced (``all_synced_s``); wall-clock times, so a ``harness heal`` in another process reports
them too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import FaultError, HarnessError
from ..inventory._model import Service
from ..parsers.grastate import ZERO_UUID, parse_grastate, parse_recovered_position
from ..parsers.wsrep import parse_wsrep_status
from ..transport.base import quote_command
from . import service as svc
from .base import Fault, no_extra, positive, take
from .database import _GALERA_NAMES, WSREP_QUERY

#: where --wsrep-recover writes its log on the db host (read back, then removed)
RECOVER_LOG = "/tmp/harness-wsrep-recover.log"
DEFAULT_DATADIR = "/var/lib/mysql"


@dataclass(frozen=True)
class NodePosition:
    """Where one node's committed history ends: grastate, or --wsrep-recover when it says -1."""

    host: str
    uuid: str
    seqno: int
    source: str  # "grastate" | "wsrep-recover" | "none"
    safe_to_bootstrap: bool = False


def parse_datadir(print_defaults: str) -> str | None:
    """``my_print_defaults mysqld`` output -> the last ``--datadir=`` (None when absent)."""
    found = [line.strip().split("=", 1)[1] for line in print_defaults.splitlines()
             if line.strip().startswith("--datadir=")]
    return found[-1].rstrip("/") or "/" if found else None


def node_position(host: str, grastate_text: str, recover_log: str | None) -> NodePosition:
    """A node's position from its grastate.dat and, when that says -1, the recover run's log."""
    g = parse_grastate(grastate_text)
    uuid = g.get("uuid", ZERO_UUID)
    safe = g.get("safe_to_bootstrap") == "1"
    try:
        seqno = int(g.get("seqno", "-1"))
    except ValueError:
        seqno = -1
    if seqno >= 0 and uuid != ZERO_UUID:
        return NodePosition(host, uuid, seqno, "grastate", safe)
    pos = parse_recovered_position(recover_log or "")
    if pos is None:
        return NodePosition(host, uuid, -1, "none", safe)
    ruuid, _, rseq = pos.rpartition(":")
    return NodePosition(host, ruuid, int(rseq), "wsrep-recover", safe)


def most_advanced(positions: list[NodePosition]) -> NodePosition:
    """The node to bootstrap from: the highest seqno of the cluster's UUID (the UUID most nodes
    carry); ties go to a node already safe to bootstrap, then to host order."""
    if not positions:
        raise FaultError("db-tier-power-loss: no node positions to choose a bootstrap node from")
    uuids = [p.uuid for p in positions if p.uuid != ZERO_UUID]
    cluster_uuid = max(set(uuids), key=uuids.count) if uuids else ZERO_UUID
    candidates = [p for p in positions if p.uuid == cluster_uuid] or positions
    best = max(candidates, key=lambda p: (p.seqno, p.safe_to_bootstrap, -positions.index(p)))
    return best


class DbTierPowerLoss(Fault):
    """SIGKILL mariadbd on every db node at once or ``stagger_s`` apart; heal bootstraps."""

    name = "db-tier-power-loss"
    summary = ("galera: kill -9 mariadbd on every db node (at once or stagger_s apart); heal: recover positions, "
               "bootstrap the most advanced, join the rest, report the tier's down time")

    _wall: Callable[[], float] = staticmethod(time.time)
    #: what the last heal measured (the nemesis puts it in the heal's completion value)
    healed: dict[str, Any] | None = None

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.cluster.inventory.database.kind != "galera":
            raise FaultError(f"{self.name}: needs a galera database (the cluster file says "
                             f"{self.cluster.inventory.database.kind!r})")
        default_hosts = [h.name for h in self.cluster.inventory.with_role("db")]
        out = {
            "hosts": list(take(params, self.name, "hosts", (list, tuple), default_hosts)),
            "stagger_s": float(take(params, self.name, "stagger_s", float, 0.0)),
            "timeout_s": positive(self.name, "timeout_s", take(params, self.name, "timeout_s", float, 300.0)),
            "poll_s": positive(self.name, "poll_s", take(params, self.name, "poll_s", float, 1.0)),
            "mysql_options": list(take(params, self.name, "mysql_options", (list, tuple), [])),
            "datadir": take(params, self.name, "datadir", str, None),
            "bootstrap_command": take(params, self.name, "bootstrap_command", str, None),
        }
        no_extra(params, self.name, out)
        if not out["hosts"]:
            raise FaultError(f"{self.name}: parameter 'hosts': no db host in the inventory")
        if not 0.0 <= out["stagger_s"] <= 10.0:
            raise FaultError(f"{self.name}: parameter 'stagger_s' must be between 0 and 10 s, not {out['stagger_s']!r}")
        self.services: dict[str, Service] = {}
        for name in out["hosts"]:
            if not isinstance(name, str):
                raise FaultError(f"{self.name}: parameter 'hosts': {name!r} is not a host name")
            host = self.host(name)
            if not host.has_role("db"):
                raise FaultError(f"{self.name}: host {name!r} has no role db (roles: {', '.join(host.roles)})")
            service = svc.find_any_service(host, _GALERA_NAMES)
            if service is None:
                raise FaultError(f"{self.name}: host {name!r} has no mariadb/mysql service in the inventory "
                                 f"(services: {', '.join(sorted(host.services)) or 'none'})")
            self.services[name] = service
        return out

    def resolve_targets(self) -> list[str]:
        return list(self.params["hosts"])

    # ---- inject -------------------------------------------------------------------------
    def _inject(self) -> None:
        pids: dict[str, list[int]] = {}
        for host in self.targets:  # every pid first: a node not running means no power loss
            found = svc.find_pids(self.transport(host), process=svc.process_name(self.services[host]),
                                  pidfile=self.services[host].pidfile)
            if not found:
                raise FaultError(f"{self.name}: no {svc.process_name(self.services[host])!r} process running "
                                 f"on host {host!r}; nothing killed")
            pids[host] = found
        self.runtime["pids"] = pids
        killed: dict[str, float] = {}
        errors: list[str] = []

        def kill(host: str) -> None:
            try:
                self.run_expect(host, [0, 1], svc.signal_command("KILL", pids[host]))
                killed[host] = self._wall()
            except HarnessError as exc:
                errors.append(f"{host}: {exc}")

        for host in self.targets:
            self.touch(host)
        if self.params["stagger_s"] > 0:
            for i, host in enumerate(self.targets):
                if i:
                    self._sleep(self.params["stagger_s"])
                kill(host)
        else:  # one SSH session per host, released together
            gate = threading.Barrier(len(self.targets))

            def at_once(host: str) -> None:
                try:
                    gate.wait(timeout=30)
                except threading.BrokenBarrierError:
                    pass
                kill(host)

            threads = [threading.Thread(target=at_once, args=(h,), daemon=True) for h in self.targets]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        self.runtime["killed_at"] = {h: round(t, 3) for h, t in sorted(killed.items())}
        if killed:
            self.runtime["first_kill"] = round(min(killed.values()), 3)
            self.runtime["kill_spread_s"] = round(max(killed.values()) - min(killed.values()), 3)
        if errors:
            raise FaultError(f"{self.name}: kill failed on " + "; ".join(errors))

    # ---- heal ---------------------------------------------------------------------------
    def _heal(self) -> None:
        t0 = self._wall()
        states = {h: self._state(h) for h in self.targets}
        primary = [h for h, s in states.items() if s.get("wsrep_local_state_comment") == "Synced"
                   and s.get("wsrep_cluster_status") == "Primary"]
        record: dict[str, Any] = {}
        if primary:  # part of the tier is back (a heal that died half way): join the rest
            record["bootstrap"] = None
            record["primary_found"] = primary[0]
            record["bootstrap_synced_at"] = t0
        else:
            for h, s in states.items():
                if s:  # running but not in a primary component (a service manager restarted it)
                    svc.stop(self.transport(h), self.services[h])
            positions = [self._position(h) for h in self.targets]
            best = most_advanced(positions)
            record["positions"] = {p.host: {"uuid": p.uuid, "seqno": p.seqno, "source": p.source} for p in positions}
            record["bootstrap"] = best.host
            self._bootstrap(best.host)
            self._wait_synced(best.host)
            record["bootstrap_synced_at"] = self._wall()
        for h in self.targets:
            if h in primary or h == record["bootstrap"]:
                continue
            svc.start(self.transport(h), self.services[h])
            self._wait_synced(h)
        end = self._wall()
        first = self.runtime.get("first_kill")
        record["heal_s"] = round(end - t0, 3)
        if isinstance(first, (int, float)):
            record["down_s"] = round(record["bootstrap_synced_at"] - first, 3)
            record["all_synced_s"] = round(end - first, 3)
        record["bootstrap_synced_at"] = round(record["bootstrap_synced_at"], 3)
        self.runtime["recovery"] = record
        self.healed = record

    def _state(self, host: str) -> dict[str, str]:
        """The node's wsrep status, or {} when mariadbd does not answer."""
        result = self.run_expect(host, [0, 1], self.wsrep_command())
        return parse_wsrep_status(result.stdout) if result.exit_status == 0 else {}

    def _datadir(self, host: str) -> str:
        if self.params["datadir"]:
            return str(self.params["datadir"])
        result = self.run_expect(host, [0, 1, 127], self.print_defaults_command(host))
        return parse_datadir(result.stdout) or DEFAULT_DATADIR

    def _position(self, host: str) -> NodePosition:
        datadir = self._datadir(host)
        grastate = self.run_expect(host, [0, 1], quote_command("cat %s", f"{datadir}/grastate.dat")).stdout
        pos = node_position(host, grastate, None)
        if pos.source == "grastate":
            return pos
        log = self.run_expect(host, [0, 1], self.recover_command(host), timeout=180).stdout
        return node_position(host, grastate, log)

    def _bootstrap(self, host: str) -> None:
        datadir = self._datadir(host)
        self.run_expect(host, [0], quote_command(
            "sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' %s", f"{datadir}/grastate.dat"))
        self.run_expect(host, [0], self.bootstrap_command(host), timeout=svc.START_TIMEOUT_S)

    def _wait_synced(self, host: str) -> None:
        def synced() -> str | None:
            s = self._state(host)
            last = s.get("wsrep_local_state_comment", "not answering") if s else "not answering"
            return None if last == "Synced" else last

        self.wait_for(f"host {host!r} not Synced", synced, timeout_s=self.params["timeout_s"],
                      poll_s=self.params["poll_s"])

    # ---- command builders ---------------------------------------------------------------
    def wsrep_command(self) -> str:
        return quote_command(["mysql", "-N", "-B", *self.params["mysql_options"], "-e", WSREP_QUERY])

    def _defaults(self, host: str) -> list[str]:
        config = self.services[host].config
        return [f"--defaults-file={config}"] if config else []

    def print_defaults_command(self, host: str) -> str:
        return quote_command(["my_print_defaults", *self._defaults(host), "mysqld"])

    def recover_command(self, host: str) -> str:
        """``mariadbd --wsrep-recover`` writing its log where we read it (it exits by itself)."""
        argv = quote_command(["mariadbd", *self._defaults(host), "--user=mysql", "--wsrep-recover",
                              f"--log-error={RECOVER_LOG}"])
        return (f"rm -f {RECOVER_LOG}; {argv} >/dev/null 2>&1; cat {RECOVER_LOG} 2>/dev/null; "
                f"rm -f {RECOVER_LOG}")

    def bootstrap_command(self, host: str) -> str:
        if self.params["bootstrap_command"]:
            return str(self.params["bootstrap_command"])
        service = self.services[host]
        if service.manager == "systemd":
            return "galera_new_cluster"
        if service.manager == "sysv":
            return quote_command(["service", service.sysv_name or service.name, "bootstrap"])
        return svc.start_command(service)
