"""Start, stop and find a daemon the way the inventory's Service says.

Shared by the process, director and database faults: heal means "start it the way the
operator starts it" (systemd unit, sysv script, or the cluster file's own start command).
The ``start``/``stop`` commands of a ``command`` service are shell lines written by the
operator in the cluster file and are run as written; everything else is quoted.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import FaultError
from ..inventory._model import Host, Service
from ..parsers.ps import parse_pids
from ..transport.base import Transport, quote_command

#: starting a database can include crash recovery; bounded anyway
START_TIMEOUT_S = 300.0


def find_service(host: Host, name: str, *, fault: str) -> Service:
    """The service keyed ``name`` on ``host``, else the one whose ``process`` is ``name``."""
    if name in host.services:
        return host.services[name]
    for svc in host.services.values():
        if svc.process == name:
            return svc
    raise FaultError(
        f"{fault}: host {host.name!r} has no service or process {name!r} in the inventory "
        f"(services: {', '.join(sorted(host.services)) or 'none'})"
    )


def find_any_service(host: Host, names: Iterable[str]) -> Service | None:
    """The first service matching one of ``names`` by key or process, or None."""
    for name in names:
        if name in host.services:
            return host.services[name]
    for name in names:
        for svc in host.services.values():
            if svc.process == name:
                return svc
    return None


def process_name(service: Service) -> str:
    """The name pidof/pgrep look for."""
    return service.process or service.name


def start_command(service: Service) -> str:
    if service.manager == "systemd":
        return quote_command(["systemctl", "start", _need(service, "unit", service.unit)])
    if service.manager == "sysv":
        return quote_command(["service", _need(service, "name", service.sysv_name), "start"])
    return _need(service, "start", service.start)


def stop_command(service: Service) -> str:
    if service.manager == "systemd":
        return quote_command(["systemctl", "stop", _need(service, "unit", service.unit)])
    if service.manager == "sysv":
        return quote_command(["service", _need(service, "name", service.sysv_name), "stop"])
    return _need(service, "stop", service.stop)


def running_command(service: Service) -> tuple[str, tuple[int, ...]]:
    """A command exiting 0 when the service runs, and the exit codes meaning 'not running'.

    systemd: is-active (3 = inactive); sysv: LSB status (1-4 = not running); command: the
    pidfile's pid answers signal 0, else a process of that name exists.
    """
    if service.manager == "systemd":
        return quote_command(["systemctl", "is-active", "--quiet", _need(service, "unit", service.unit)]), (1, 2, 3, 4)
    if service.manager == "sysv":
        return quote_command(["service", _need(service, "name", service.sysv_name), "status"]), (1, 2, 3, 4)
    if service.pidfile:
        return quote_command('kill -0 "$(cat %s 2>/dev/null)" 2>/dev/null', service.pidfile), (1,)
    return pids_command(process_name(service)), (1,)


def is_running(transport: Transport, service: Service) -> bool:
    command, not_running = running_command(service)
    result = transport.run_expect((0, *not_running), command)
    return result.exit_status == 0


def start(transport: Transport, service: Service, *, if_stopped: bool = True) -> bool:
    """Start the service; with ``if_stopped`` (the default) leave a running one alone.

    Returns True when a start command was run. A ``command`` service's start line is rarely
    idempotent (a second keepalived fights the first over its pidfile), hence the check.
    """
    if if_stopped and is_running(transport, service):
        return False
    transport.run_expect([0], start_command(service), timeout=START_TIMEOUT_S)
    return True


def stop(transport: Transport, service: Service) -> None:
    transport.run_expect([0], stop_command(service), timeout=START_TIMEOUT_S)


def pids_command(process: str) -> str:
    """pidof, falling back to ``pgrep -x`` where pidof is missing (exit 1: none found)."""
    return quote_command("pidof %s 2>/dev/null || pgrep -x %s", process, process)


def pidfile_command(pidfile: str) -> str:
    """The pid in a pidfile, only if that process is alive (a stale pidfile gives exit 1)."""
    return quote_command('p="$(cat %s 2>/dev/null)" && kill -0 "$p" 2>/dev/null && echo "$p"', pidfile)


def find_pids(transport: Transport, *, process: str | None, pidfile: str | None) -> list[int]:
    """Live pids by pidfile (preferred: exact, even where hosts share a PID table) or name."""
    if pidfile:
        result = transport.run_expect([0, 1], pidfile_command(pidfile))
    elif process:
        result = transport.run_expect([0, 1], pids_command(process))
    else:
        raise FaultError(f"{transport.host}: need a process name or a pidfile to find pids")
    return parse_pids(result.stdout)


def descendants(children: dict[int, list[int]], roots: Iterable[int], *, limit: int = 10000) -> list[int]:
    """Every descendant of ``roots`` (not the roots), breadth first, bounded."""
    roots = list(roots)
    seen = set(roots)
    out: list[int] = []
    queue = list(roots)
    while queue and len(out) < limit:
        pid = queue.pop(0)
        for child in children.get(pid, []):
            if child not in seen:
                seen.add(child)
                out.append(child)
                queue.append(child)
    return out


def signal_command(signal: str, pids: Iterable[int]) -> str:
    return quote_command(["kill", f"-{signal}", *map(str, pids)])


def crash_command(pids: Iterable[int]) -> str:
    """Freeze all, then kill all: no parent sees a child die and respawns it (docs/lab-measurements.md)."""
    pids = list(pids)
    return signal_command("STOP", pids) + "; " + signal_command("KILL", pids)


def _need(service: Service, field: str, value: str | None) -> str:
    if not value:
        raise FaultError(f"service {service.name!r} (manager {service.manager}) has no {field!r}")
    return value


def children_first(children: dict[int, list[int]], pids: Iterable[int]) -> list[int]:
    """Order ``pids`` deepest first (a child before its parent), stable otherwise.

    pidof lists a parent and its children in no useful order; the measured crash is
    ``kill -STOP child parent; kill -9 child parent``.
    """
    parent = {c: p for p, cs in children.items() for c in cs}
    pids = list(pids)

    def depth(pid: int) -> int:
        d, seen = 0, {pid}
        while pid in parent and parent[pid] not in seen and d < 64:
            pid = parent[pid]
            seen.add(pid)
            d += 1
        return d

    return sorted(pids, key=lambda p: -depth(p))


def with_descendants(children: dict[int, list[int]], roots: Iterable[int]) -> list[int]:
    """``roots`` plus every descendant, children before parents, no duplicates."""
    roots = list(dict.fromkeys(roots))
    return children_first(children, roots + descendants(children, roots))
