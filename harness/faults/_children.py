"""Child processes of a run on this machine (Locust): their journal record, and stopping a
survivor of a crashed run (`harness heal`).

A child is journaled with its pid, its start time (field 22 of ``/proc/PID/stat``, clock
ticks since boot) and the machine's boot id: together one process, never another that later
got the same pid. Heal signals only a process that still matches all three, through a pidfd
opened *before* the match is checked, so a pid reused between check and signal is never hit.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._secrets import scrub_data
from ..errors import ParseError
from ..parsers.procfs import ProcStat, parse_stat

if TYPE_CHECKING:
    from ._journal import Journal

#: how long a survivor gets to go after SIGTERM, then after SIGKILL (seconds)
TERM_WAIT_S = 10.0
KILL_WAIT_S = 5.0
#: /proc poll interval where no pidfd can be had
_POLL_S = 0.05
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def read_stat(pid: int) -> ProcStat | None:
    """``/proc/PID/stat`` of this machine, or None when the pid is gone."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ParseError):
        return None


def boot_id() -> str | None:
    """This boot's id (a start time means nothing across a reboot)."""
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def child_record(child_id: str, name: str, pid: int, command: Sequence[str]) -> dict[str, Any]:
    """The journal record of a child just started (read its identity now: it cannot have been
    reaped yet, we are its parent and have not waited). The command is scrubbed: the journal
    is not, and heal needs only pid, start time and boot id."""
    st = read_stat(pid)
    return {
        "kind": "child", "child_id": child_id, "name": name, "state": "running", "pid": pid,
        "start_time": st.starttime if st is not None else None, "boot_id": boot_id(),
        "pgid": st.pgid if st is not None else None, "command": scrub_data(list(command)),
    }


@dataclass(frozen=True)
class ChildOutcome:
    """What heal did about one journaled child. ``ok``: nothing of it runs any more (or what
    runs under its pid is another process, left alone)."""

    child_id: str
    name: str
    pid: int
    ok: bool
    what: str
    #: the state journaled for it afterwards (``stopped`` or ``gone``), None when still running
    state: str | None

    def line(self) -> str:
        return f"{self.child_id} {self.name} pid {self.pid}: {self.what}"


def stop_child(rec: dict[str, Any], *, term_wait_s: float | None = None,
               kill_wait_s: float | None = None) -> ChildOutcome:
    """Stop a journaled child if it still runs: SIGTERM (its process group when it leads one,
    as Locust does), a bounded wait, then SIGKILL and another. A pid now held by another
    process is left alone and said so."""
    term_wait = TERM_WAIT_S if term_wait_s is None else term_wait_s
    kill_wait = KILL_WAIT_S if kill_wait_s is None else kill_wait_s
    cid, name, pid, start = str(rec["child_id"]), str(rec.get("name") or "child"), int(rec["pid"]), rec.get("start_time")

    def out(ok: bool, what: str, state: str | None) -> ChildOutcome:
        return ChildOutcome(cid, name, pid, ok, what, state)

    now_boot = boot_id()
    if rec.get("boot_id") and now_boot and rec["boot_id"] != now_boot:
        return out(True, "gone: the machine rebooted since it started", "gone")
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except ProcessLookupError:
        return out(True, "already gone", "gone")
    except OSError:  # no pidfds here (old kernel): signal by pid, right after the check
        pidfd = None
    try:
        st = read_stat(pid)
        if st is None:
            return out(True, "already gone", "gone")
        if start is None or st.starttime != start:
            return out(True, f"pid {pid} is another process now (started at tick {st.starttime}, the "
                             f"journaled one at {start}): left alone", "gone")
        if not st.alive:
            return out(True, "already gone (exited; a zombie waiting for its parent)", "gone")
        group = st.pgid == pid
        whom = " to its process group" if group else ""
        for sig, wait_s, done in ((signal.SIGTERM, term_wait, f"stopped by SIGTERM{whom}"),
                                  (signal.SIGKILL, kill_wait, f"killed by SIGKILL{whom} after "
                                                               f"{term_wait:g}s of SIGTERM")):
            try:
                _send(pid, pidfd, sig, group)
            except ProcessLookupError:
                return out(True, "already gone", "gone")
            except PermissionError:
                return out(False, f"FAILED: not allowed to signal pid {pid} (run heal as its user or root)", None)
            if _wait_gone(pid, start, pidfd, wait_s):
                return out(True, done, "stopped")
        return out(False, f"FAILED: still running {kill_wait:g}s after SIGKILL", None)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _send(pid: int, pidfd: int | None, sig: signal.Signals, group: bool) -> None:
    if group:  # the group keeps the leader's id while a member lives: no stranger has it
        os.killpg(pid, sig)
    elif pidfd is not None:
        signal.pidfd_send_signal(pidfd, sig)
    else:
        os.kill(pid, sig)


def _wait_gone(pid: int, start: int, pidfd: int | None, timeout_s: float) -> bool:
    """True once the process has exited (a zombie counts: it runs nothing), within the bound."""
    deadline = time.monotonic() + timeout_s
    while True:
        st = read_stat(pid)
        if st is None or st.starttime != start or not st.alive:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if pidfd is not None:  # readable when the process exits: no sleep
            select.select([pidfd], [], [], left)
        else:
            time.sleep(min(_POLL_S, left))


def stop_children(journal: Journal) -> list[ChildOutcome]:
    """Stop every child the journal lists as running, journaling what became of each."""
    outcomes: list[ChildOutcome] = []
    for rec in journal.pending_children():
        outcome = stop_child(rec)
        if outcome.state is not None:
            journal.write_child({**rec, "state": outcome.state, "stopped_by": "harness heal", "note": outcome.what})
        outcomes.append(outcome)
    return outcomes
