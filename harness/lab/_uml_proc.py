"""User-Mode Linux guests as processes: a guest is one process group (linux.uml, its helpers, one
stub per guest address space). Reads /proc (files, not command output, so no parser module):
stat for group membership and start time, status for the tracer and memory, smaps_rollup."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path


def read_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgid, starttime) from /proc/PID/stat, or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()  # comm may contain spaces and parentheses
    return rest[0], int(rest[1]), int(rest[2]), int(rest[19])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) PIDs of process group ``pgid``."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        st = read_stat(int(entry.name))
        if st and st[2] == pgid and st[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return sorted(members)


def tracer_pid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


_SYS_KCMP = 312  # x86-64
_KCMP_VM = 1


def same_mm(pid1: int, pid2: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_SYS_KCMP, pid1, pid2, _KCMP_VM, 0, 0) == 0


def status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
