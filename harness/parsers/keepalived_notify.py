"""Parse the lab's keepalived notify log: one timestamped line per VRRP transition.

keepalived runs the lab's notify script (``harness/lab/templates/keepalived-notify.sh``) on
every state change of an instance; the script's first act is one ``date`` giving both forms of
the same instant, then it appends::

    1796223078.770492086 2026-12-02T14:51:18.770492086Z dir1 VI_WEB MASTER 150

(epoch seconds with nanoseconds, the same instant in UTC, host, instance, new state,
priority). On an LVS director guest the line goes to the guest's console, which the host
writes to ``STATE/guests/dirN/console.log`` mixed with keepalived's own and the kernel's
messages; on a HAProxy director it goes to ``STATE/hosts/dirN/log/keepalived-notify.log``.
Lines that are not notify lines are skipped, so either file parses. Lines written by the
older template (two ``date`` calls, 20-40 ms apart in a guest) parse too: the epoch is the
earlier one and is what ``time`` holds.

The clock is the writer's real-time clock (a guest's own, for an LVS director):
:mod:`harness.lab._notify_log` measures its offset from the history's clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: states keepalived hands a notify script (``notify`` of a vrrp_instance)
STATES: tuple[str, ...] = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")

_LINE = re.compile(
    r"(?:^|\s)(?P<epoch>\d{9,11}\.\d{1,9}) "
    r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) "
    r"(?P<host>[A-Za-z0-9][A-Za-z0-9_.-]*) (?P<instance>[A-Za-z0-9_.-]+) "
    rf"(?P<state>{'|'.join(STATES)})(?: (?P<priority>\d+))?\s*$"
)


@dataclass(frozen=True)
class Transition:
    """One VRRP state change as the notify script logged it."""

    time: float  # epoch seconds on the writer's real-time clock
    host: str
    instance: str
    state: str
    priority: int | None
    line: int  # 1-based line number in the log, to find it again


def parse_notify_log(text: str) -> list[Transition]:
    """Every notify line of ``text``, in file order; any other line is skipped. Lines are
    counted by newline (a console ends lines with CR CR LF), as an editor or ``sed -n`` does."""
    out: list[Transition] = []
    for lineno, raw in enumerate(text.split("\n"), 1):
        m = _LINE.search(raw.replace("\r", ""))
        if m is None:
            continue
        prio = m.group("priority")
        out.append(Transition(time=float(m.group("epoch")), host=m.group("host"), instance=m.group("instance"),
                              state=m.group("state"), priority=int(prio) if prio is not None else None,
                              line=lineno))
    return out


#: keepalived's own log line for a state change, as ``journalctl -o short-unix`` prints it:
#: ``1796223078.770492 dir1 Keepalived_vrrp[812]: (VI_WEB) Entering MASTER STATE`` (keepalived
#: 2.x; 1.x writes ``VRRP_Instance(VI_WEB) Entering MASTER STATE``). Only "Entering" lines count:
#: 1.x also logs "Transition to MASTER STATE" a moment before it acts on it.
_JOURNAL = re.compile(
    r"^(?P<epoch>\d{9,11}\.\d{1,9}) (?P<host>\S+) [Kk]eepalived(?:_vrrp)?(?:\[\d+\])?: "
    r"(?:VRRP_Instance)?\((?P<instance>[A-Za-z0-9_.-]+)\) Entering (?P<state>MASTER|BACKUP|FAULT) STATE(?: \([^)]*\))?\s*$"
)


def parse_journal(text: str) -> list[Transition]:
    """keepalived's "Entering STATE" lines from ``journalctl -o short-unix`` output, in order
    (priority unknown: None); other lines, the journal's "-- No entries --" included, are skipped."""
    out: list[Transition] = []
    for lineno, raw in enumerate(text.split("\n"), 1):
        m = _JOURNAL.match(raw.replace("\r", ""))
        if m is not None:
            out.append(Transition(time=float(m.group("epoch")), host=m.group("host"), instance=m.group("instance"),
                                  state=m.group("state"), priority=None, line=lineno))
    return out


def parse_transitions(text: str) -> list[Transition]:
    """A director's transitions from either source: the notify lines when there are any (their
    clock has nanoseconds and is read first thing), else keepalived's journal lines."""
    return parse_notify_log(text) or parse_journal(text)


def first_transition(transitions: Iterable[Transition], *, instance: str, state: str, after: float,
                     host: str | None = None) -> Transition | None:
    """The earliest change of ``instance`` to ``state`` at or after ``after`` (same clock), on
    ``host`` if given: e.g. the new MASTER's takeover after a fault."""
    found = [t for t in transitions
             if t.instance == instance and t.state == state and t.time >= after and (host is None or t.host == host)]
    return min(found, key=lambda t: t.time) if found else None


def last_transition(transitions: Iterable[Transition], *, instance: str, before: float,
                    host: str | None = None) -> Transition | None:
    """The latest change of ``instance`` before ``before``: what a host last said it was."""
    found = [t for t in transitions if t.instance == instance and t.time < before and (host is None or t.host == host)]
    return max(found, key=lambda t: t.time) if found else None
