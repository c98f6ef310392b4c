"""Read this machine's /proc for the lab (a leaf module): one process's stat and status, parsed
by harness.parsers.procfs. A process that is gone reads as None."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import ParseError
from ..parsers.procfs import ProcStat, parse_stat, parse_status


def read_stat(pid: int) -> ProcStat | None:
    """``/proc/PID/stat`` parsed, or None if the process is gone."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ParseError):
        return None


def read_status(pid: int, name: str = "status") -> dict[str, str] | None:
    """``/proc/PID/status`` (or another ``key: value`` file such as ``smaps_rollup``), or None."""
    try:
        return parse_status(Path(f"/proc/{pid}/{name}").read_text())
    except OSError:
        return None


def all_pids() -> Iterator[int]:
    """Every PID in /proc now (they come and go while this runs)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)
