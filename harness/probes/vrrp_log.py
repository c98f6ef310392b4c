"""A director's own record of its VRRP transitions, read over its transport, on the history's clock.

State samples bound a takeover only as finely as one sample takes (a sample waits for a dead
director's SSH budget: 2-15 s of uncertainty); keepalived itself knows to the millisecond when
it became MASTER. This module reads that record from the director after the fault and measures
the director's clock against the supervisor's, so a transition becomes a history time:

- the command printing the transitions is ``services.keepalived.transitions`` of the cluster
  file (the lab's: its notify log); without one, a systemd-managed keepalived's journal
  (:func:`default_command`); otherwise there is no record and the takeover is not logged;
- the clock: ``date +%s.%N`` run on the director a few times, each reading set against the
  midpoint of its round trip; the tightest round trip wins (its half is the uncertainty).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import HarnessError
from ..inventory._model import Service
from ..parsers.keepalived_notify import Transition, parse_transitions

#: how far back a journal is read: longer than any acceptance test
JOURNAL_SINCE = "-2h"


@dataclass(frozen=True)
class ClockOffset:
    """A host's real-time clock minus the supervisor's ``time.monotonic()``, in seconds.

    ``history_time(t, started_at)`` turns a timestamp of that host into the history's clock (a
    ``HistoryRecorder.started_at`` is a ``time.monotonic()`` reading).
    """

    host: str
    offset_s: float
    uncertainty_s: float  # half the round trip of the best sample (0 for a namespace's exact clock)
    samples: int

    def history_time(self, epoch: float, started_at: float) -> float:
        return epoch - self.offset_s - started_at


def default_command(service: Service) -> str | None:
    """The command printing ``service``'s transitions: its ``transitions`` setting, else the
    journal of a systemd unit; None when neither exists (nothing to read)."""
    if service.transitions:
        return service.transitions
    if service.manager == "systemd" and service.unit:
        return f"journalctl -u {service.unit} -o short-unix --no-pager -q --since {JOURNAL_SINCE}"
    return None


def offset_from_readings(host: str, readings: list[tuple[float, float, str]]) -> ClockOffset:
    """Pure: ``(sent, answered, remote's `date +%s.%N`)`` triples on ``time.monotonic()`` ->
    the offset of the tightest round trip. A reading that is not a finite number is an error."""
    best: tuple[float, float] | None = None
    for sent, answered, text in readings:
        try:
            remote = float(text.strip())
        except ValueError:
            raise HarnessError(f"{host}: clock offset: `date +%s.%N` said {text.strip()[:80]!r}") from None
        if not math.isfinite(remote) or answered < sent:
            raise HarnessError(f"{host}: clock offset: unusable reading {text.strip()[:80]!r}")
        sample = (answered - sent, remote - (sent + answered) / 2)
        if best is None or sample[0] < best[0]:
            best = sample
    if best is None:
        raise HarnessError(f"{host}: clock offset: no reading")
    return ClockOffset(host, best[1], best[0] / 2, len(readings))


def clock_offset(run: Callable[[str], Any], host: str, samples: int = 5,
                 clock: Callable[[], float] = time.monotonic) -> ClockOffset:
    """Measure ``host``'s clock with ``run(command) -> CommandResult`` (a transport's run)."""
    readings = []
    for _ in range(samples):
        sent = clock()
        result = run("date +%s.%N")
        answered = clock()
        if getattr(result, "exit_status", 0) != 0:
            raise HarnessError(f"{host}: clock offset: `date +%s.%N` exited {result.exit_status}: "
                               f"{(result.stderr or '').strip()[:200]}")
        readings.append((sent, answered, result.stdout))
    return offset_from_readings(host, readings)


@dataclass(frozen=True)
class LoggedTransitions:
    """What a director logged, and the clock to read it with."""

    host: str
    command: str
    transitions: list[Transition]
    clock: ClockOffset


def read_logged_transitions(cluster: Any, host: str) -> LoggedTransitions | None:
    """``host``'s keepalived transitions and its clock offset, over the cluster's transport;
    None when the cluster file gives no way to read them. A command that fails is an error
    naming host and command (the caller reports it; a takeover figure is not a verdict)."""
    service = cluster.inventory.host(host).services.get("keepalived")
    command = default_command(service) if service is not None else None
    if command is None:
        return None
    offset = clock_offset(lambda cmd: cluster.run(host, cmd, timeout=10), host)
    result = cluster.run(host, command, timeout=20)
    if result.exit_status != 0:
        raise HarnessError(f"{host}: `{command}` exited {result.exit_status}: {(result.stderr or '').strip()[:200]}")
    return LoggedTransitions(host, command, parse_transitions(result.stdout), offset)
