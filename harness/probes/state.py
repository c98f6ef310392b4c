"""State sampler: what the cluster itself says, once per interval, into the history.

Checkers and audits compare client-side outcomes with the cluster's view (one VRRP master, the
VIP held once, dead web nodes out of rotation, Galera Primary and Synced). A sample is recorded
as ``state``/``sample`` with the dict documented in docs/history.md ("Cluster state samples").

Every host is sampled in its own pool thread with a time budget: a host that does not answer
in time (or whose transport raises TransportError) is listed in ``unreachable`` and never holds
up the others. Parsing is delegated to the pure functions in harness.parsers.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..errors import CommandError, HarnessError, ProbeError, TransportError
from ..history import HistoryRecorder
from ..inventory._model import Host, Inventory
from ..parsers.haproxy_stat import parse_show_stat, server_states
from ..parsers.ip_addr import parse_ip_addr
from ..parsers.ipvsadm import parse_ipvsadm_list
from ..parsers.keepalived_data import parse_keepalived_data
from ..parsers.ndb_mgm import parse_show
from ..parsers.wsrep import parse_wsrep_status, typed_wsrep_status
from ..transport.base import CommandResult, Transport, quote_command
from ._base import POLL_SLICE_S, ProbeThread, Schedule, check_bounds

KEEPALIVED_DATA = "/tmp/keepalived.data"
HAPROXY_SOCKET = "/run/haproxy/admin.sock"
#: the wsrep variables kept in a sample (all of them would be ~70 per node per second)
WSREP_KEYS: tuple[str, ...] = (
    "wsrep_cluster_size",
    "wsrep_cluster_status",
    "wsrep_local_state_comment",
    "wsrep_ready",
    "wsrep_connected",
    "wsrep_local_index",
    "wsrep_last_committed",
    "wsrep_cluster_state_uuid",
)
SAMPLED_ROLES: tuple[str, ...] = ("director", "web", "db", "mgm")


PerHost = str | Mapping[str, str]


class ClusterLike(Protocol):
    """What the sampler needs from harness.cluster.Cluster."""

    @property
    def inventory(self) -> Inventory: ...

    def transport(self, name: str) -> Transport: ...


def _per_host(value: PerHost, host: str, default: str) -> str:
    if isinstance(value, str):
        return value
    return value.get(host, default)


class _HostGone(Exception):
    """The host did not answer (TransportError other than a bad exit status)."""


class StateSampler(ProbeThread):
    """Sample the cluster every ``interval_s`` (bounded by ``max_count`` and ``max_duration_s``).

    ``budget_s`` is each sample's time limit per host (default: 80 % of the interval, at
    least 0.5 s). ``keepalived_data_path``, ``haproxy_socket`` and ``mysql_command`` may be one
    value or a mapping host name -> value (the lab runs several daemons on one filesystem).
    ``balancer`` is ``auto`` (HAProxy if the director has a haproxy service, else LVS),
    ``haproxy`` or ``lvs``.
    """

    def __init__(
        self,
        cluster: ClusterLike,
        history: HistoryRecorder | None,
        *,
        interval_s: float = 1.0,
        max_count: int,
        max_duration_s: float,
        budget_s: float | None = None,
        keepalived_data_path: PerHost = KEEPALIVED_DATA,
        keepalived_wait_s: float = 0.5,
        haproxy_socket: PerHost = HAPROXY_SOCKET,
        mysql_command: PerHost = "mysql",
        balancer: str = "auto",
        wsrep_keys: tuple[str, ...] | None = WSREP_KEYS,
        roles: tuple[str, ...] = SAMPLED_ROLES,
        process: str = "state",
    ) -> None:
        super().__init__()
        self.name = process
        check_bounds(self.name, rate_hz=1.0 / interval_s if interval_s > 0 else -1.0,
                     max_count=max_count, max_duration_s=max_duration_s)
        if balancer not in ("auto", "haproxy", "lvs"):
            raise ProbeError(f"{self.name}: balancer must be auto, haproxy or lvs, not {balancer!r}")
        self.cluster = cluster
        self.inventory: Inventory = cluster.inventory
        self.history = history
        self.interval_s = float(interval_s)
        self.max_count = max_count
        self.max_duration_s = float(max_duration_s)
        self.budget_s = float(budget_s) if budget_s is not None else max(0.5, 0.8 * self.interval_s)
        if keepalived_wait_s >= self.budget_s:
            keepalived_wait_s = self.budget_s / 2
        self.keepalived_data_path = keepalived_data_path
        self.keepalived_wait_s = keepalived_wait_s
        self.haproxy_socket = haproxy_socket
        self.mysql_command = mysql_command
        self.balancer = balancer
        self.wsrep_keys = wsrep_keys
        self.process = process
        self.hosts: list[Host] = [h for h in self.inventory.hosts.values() if set(h.roles) & set(roles)]
        self.samples = 0
        self._pool: cf.ThreadPoolExecutor | None = None
        self._busy: dict[str, cf.Future[dict[str, Any]]] = {}
        self._pool_lock = threading.Lock()
        self._sample_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        if self.history is None:
            raise ProbeError(f"{self.name}: a history is needed to run as a probe (sample_once() needs none)")
        return [(self.process, self._loop)]

    def _loop(self) -> None:
        assert self.history is not None
        t0 = time.monotonic()
        t_end = t0 + self.max_duration_s
        sched = Schedule(1.0 / self.interval_s, t0, t_end)
        try:
            while self.samples < self.max_count and not self.stopping:
                due = self.next_slot(sched, t_end)
                if due is None:
                    break
                sched.advance()
                op = self.history.invoke(self.process, "sample", None)
                try:
                    sample = self.sample_once()
                except _Aborted:
                    op.info(None, error="sampler stopped while sampling")
                    break
                except BaseException as exc:
                    op.info(None, error=f"{type(exc).__name__}: {exc}")
                    raise
                self.samples += 1
                op.ok(sample)
        finally:
            self.close()

    def close(self) -> None:
        """Release the pool (a host still busy finishes in the background, bounded by its timeout)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    # -- one sample --------------------------------------------------------------------------
    def sample_once(self) -> dict[str, Any]:
        """Sample every host in parallel within ``budget_s``; the docs/history.md dict.

        Safe to call while the sampler thread runs (an audit): calls are serialised.
        """
        with self._sample_lock:
            return self._sample_once()

    def _sample_once(self) -> dict[str, Any]:
        with self._pool_lock:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(
                    max_workers=max(1, len(self.hosts)), thread_name_prefix=f"{self.process}-host"
                )
            pool = self._pool
        started = time.monotonic()
        deadline = started + self.budget_s
        futures: dict[str, cf.Future[dict[str, Any]]] = {}
        unreachable: set[str] = set()
        errors: dict[str, str] = {}
        for host in self.hosts:
            prev = self._busy.get(host.name)
            if prev is not None and not prev.done():
                unreachable.add(host.name)  # still stuck in the previous sample
                errors[host.name] = "previous sample still running"
                continue
            fut = pool.submit(self._sample_host, host, deadline)
            futures[host.name] = fut
            self._busy[host.name] = fut
        pending = set(futures.values())
        while pending:
            now = time.monotonic()
            abort = self.abort_at()
            if abort is not None and now >= abort:
                raise _Aborted()
            if now >= deadline + 0.1:
                break
            _, pending = cf.wait(pending, timeout=min(POLL_SLICE_S, deadline + 0.1 - now))

        sample: dict[str, Any] = {}
        vrrp: dict[str, Any] = {}
        holders: dict[str, list[str]] | None = None
        backends: dict[str, Any] = {}
        db: dict[str, Any] = {}
        ndb: dict[str, Any] | None = None
        for name, fut in futures.items():
            if not fut.done():
                unreachable.add(name)
                errors[name] = f"no answer within {self.budget_s:g}s"
                continue
            exc = fut.exception()
            if isinstance(exc, _HostGone):
                unreachable.add(name)
                errors[name] = str(exc)
                continue
            if exc is not None:
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            part = fut.result()
            if "vrrp" in part:
                vrrp[name] = part["vrrp"]
            if "vips" in part:
                holders = holders if holders is not None else {v: [] for v in self.inventory.vips}
                for vip_name in part["vips"]:
                    holders.setdefault(vip_name, []).append(name)
            if "backends" in part:
                backends[name] = part["backends"]
            if "db" in part:
                db[name] = part["db"]
            if "ndb" in part and ndb is None:
                ndb = part["ndb"]
            if part.get("errors"):
                errors[name] = "; ".join(part["errors"])
        if vrrp:
            sample["vrrp"] = vrrp
        if holders is not None:
            sample["vip_holders"] = {k: sorted(v) for k, v in holders.items()}
        if backends:
            sample["backends"] = backends
        if db:
            sample["db"] = db
        if ndb is not None:
            sample["ndb"] = ndb
        sample["unreachable"] = sorted(unreachable)
        if errors:
            sample["errors"] = dict(sorted(errors.items()))
        return sample

    # -- per host ----------------------------------------------------------------------------
    def _run(self, transport: Transport, deadline: float, command: str) -> CommandResult:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _HostGone(f"{transport.host}: no time left in the sample budget for {command!r}")
        try:
            return transport.run(command, timeout=remaining)
        except CommandError:
            raise
        except TransportError as exc:
            raise _HostGone(str(exc)) from exc

    def _sample_host(self, host: Host, deadline: float) -> dict[str, Any]:
        transport = self.cluster.transport(host.name)
        part: dict[str, Any] = {"errors": []}
        steps: list[tuple[str, Callable[[], None]]] = []
        if host.has_role("director"):
            steps += [
                ("vip", lambda: part.__setitem__("vips", self._vips(host, transport, deadline))),
                ("vrrp", lambda: part.__setitem__("vrrp", self._vrrp(host, transport, deadline))),
                ("backends", lambda: part.__setitem__("backends", self._backends(host, transport, deadline))),
            ]
        if host.has_role("db") and self.inventory.database.kind == "galera":
            steps.append(("db", lambda: part.__setitem__("db", self._wsrep(host, transport, deadline))))
        if host.has_role("mgm") and self.inventory.database.kind == "ndb":
            steps.append(("ndb", lambda: part.__setitem__("ndb", self._ndb(transport, deadline))))
        if not steps:  # web nodes and others: reachability only

            def ping() -> None:
                self._run(transport, deadline, "true")

            steps.append(("ping", ping))
        for what, step in steps:
            try:
                step()
            except (_HostGone, _Aborted):
                raise
            except HarnessError as exc:  # bad exit status, unparsable output: this part is missing
                part["errors"].append(f"{what}: {exc}")
        return part

    def _vips(self, host: Host, transport: Transport, deadline: float) -> list[str]:
        result = self._run(transport, deadline, "ip -o -4 addr show")
        _require(result, host.name)
        addrs = {a for ifname, lst in parse_ip_addr(result.stdout).items() if ifname != "lo" for a in lst}
        return [name for name, vip in self.inventory.vips.items() if vip.address in addrs]

    def _keepalived_pid_command(self, host: Host) -> str:
        svc = next(
            (s for s in host.services.values() if s.name == "keepalived" or s.process == "keepalived"), None
        )
        if svc is not None and svc.pidfile:
            return quote_command("cat %s", svc.pidfile)
        proc = svc.process if svc is not None and svc.process else "keepalived"
        # the parent: the keepalived whose parent is not itself a keepalived
        return quote_command(
            "all=\" $(pidof %s) \"; for p in $all; do pp=$(awk '/^PPid:/{print $2}' /proc/$p/status); "
            "case \"$all\" in *\" $pp \"*) ;; *) echo $p;; esac; done", proc
        )

    def _vrrp(self, host: Host, transport: Transport, deadline: float) -> dict[str, str]:
        path = _per_host(self.keepalived_data_path, host.name, KEEPALIVED_DATA)
        polls = max(1, int(self.keepalived_wait_s / 0.02))
        # one round trip: signal the parent, wait (bounded) for a fresh and settled dump, print it
        script = (
            "pid=$(" + self._keepalived_pid_command(host) + " | head -n 1); "
            "[ -n \"$pid\" ] || { echo 'keepalived not running' >&2; exit 3; }; "
            "f=" + quote_command("%s", path) + "; "
            "old=$(date -r \"$f\" +%s%N 2>/dev/null || echo none); "
            "kill -USR1 \"$pid\" || exit 4; "
            "i=0; new=$old; while [ \"$new\" = \"$old\" ] && [ $i -lt " + str(polls) + " ]; do "
            "sleep 0.02; new=$(date -r \"$f\" +%s%N 2>/dev/null || echo none); i=$((i+1)); done; "
            "[ \"$new\" != \"$old\" ] || { echo \"$f not rewritten\" >&2; exit 5; }; "
            # settled: unchanged (mtime and size) for 50 ms, so a dump still being written is not cut
            "new=$(stat -c %s \"$f\")$new; prev=; while [ \"$new\" != \"$prev\" ] && [ $i -lt " + str(2 * polls) + " ]; do "
            "prev=$new; sleep 0.05; new=$(stat -c %s \"$f\")$(date -r \"$f\" +%s%N); i=$((i+1)); done; "
            "cat \"$f\""
        )
        result = self._run(transport, deadline, script)
        _require(result, host.name, "keepalived data dump")
        return parse_keepalived_data(result.stdout)

    def _uses_haproxy(self, host: Host) -> bool:
        if self.balancer != "auto":
            return self.balancer == "haproxy"
        return any(s.name == "haproxy" or s.process == "haproxy" for s in host.services.values())

    def _backends(self, host: Host, transport: Transport, deadline: float) -> dict[str, dict[str, str]]:
        if self._uses_haproxy(host):
            sock = _per_host(self.haproxy_socket, host.name, HAPROXY_SOCKET)
            result = self._run(transport, deadline, quote_command("echo 'show stat' | socat stdio %s",
                                                                  f"UNIX:{sock}"))
            _require(result, host.name)
            return server_states(parse_show_stat(result.stdout))
        result = self._run(transport, deadline, "ipvsadm -Ln")
        _require(result, host.name)
        by_vip: dict[tuple[str, int | None], str] = {(v.address, v.port): n for n, v in self.inventory.vips.items()}
        by_addr = {h.address: h.name for h in self.inventory.hosts.values()}
        out: dict[str, dict[str, str]] = {}
        for vs in parse_ipvsadm_list(result.stdout):
            key = by_vip.get((vs.address, vs.port), f"{vs.protocol} {vs.endpoint}")
            servers = out.setdefault(key, {})
            for rs in vs.real_servers:
                servers[by_addr.get(rs.address, f"{rs.address}:{rs.port}")] = "UP" if rs.weight > 0 else "DRAIN"
        return out

    def _wsrep(self, host: Host, transport: Transport, deadline: float) -> dict[str, Any]:
        mysql = _per_host(self.mysql_command, host.name, "mysql")
        result = self._run(transport, deadline, mysql + " -N -B -e \"SHOW STATUS LIKE 'wsrep%'\"")
        _require(result, host.name)
        status = parse_wsrep_status(result.stdout)
        if self.wsrep_keys is not None:
            status = {k: status[k] for k in self.wsrep_keys if k in status}
        return typed_wsrep_status(status)

    def _ndb(self, transport: Transport, deadline: float) -> dict[str, Any]:
        result = self._run(transport, deadline, "ndb_mgm -e show")
        _require(result, transport.host)
        return {
            str(n.node_id): {
                "kind": n.kind,
                "connected": n.connected,
                "address": n.address,
                "nodegroup": n.nodegroup,
                "master": n.master,
                "status": n.status,
            }
            for n in parse_show(result.stdout)
        }


class _Aborted(Exception):
    """stop() ran out of grace during a sample."""


def _require(result: CommandResult, host: str, what: str | None = None) -> None:
    if result.exit_status != 0:
        raise CommandError(host, what or result.command, result.exit_status, result.stdout, result.stderr)
