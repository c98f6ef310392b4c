"""Parse Linux ``/proc/PID/stat`` and ``/proc/PID/status``: process state, parent, group, start.

The lab reads them to tell its own processes from PID reuse (the start time), find a host's
children and a guest's process group, and skip zombies. ``comm`` (field 2 of stat) may hold
spaces and parentheses, so the fields are split after the last ``)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import parse_error


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` the harness uses."""

    #: R, S, D, T, Z (zombie), X (dead), ...
    state: str
    ppid: int
    pgid: int
    #: clock ticks since boot when the process started: with the PID, a process's identity
    starttime: int

    @property
    def alive(self) -> bool:
        """Not a zombie or dead: it still runs (or sleeps)."""
        return self.state not in ("Z", "X")


def parse_stat(text: str) -> ProcStat:
    """One ``/proc/PID/stat`` line -> :class:`ProcStat`."""
    try:
        rest = text[text.rindex(")") + 2 :].split()
        return ProcStat(state=rest[0], ppid=int(rest[1]), pgid=int(rest[2]), starttime=int(rest[19]))
    except (ValueError, IndexError) as exc:
        raise parse_error("/proc/PID/stat", 1, text, f"not a stat line ({exc})") from exc


def parse_status(text: str) -> dict[str, str]:
    """``/proc/PID/status`` -> field -> value, stripped (``VmRSS`` -> ``"84212 kB"``)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    return fields


def kib(value: str | None) -> int:
    """A ``status`` or ``smaps_rollup`` size such as ``"84212 kB"`` -> 84212; absent -> 0."""
    head = (value or "").split()
    return int(head[0]) if head and head[0].isdigit() else 0
