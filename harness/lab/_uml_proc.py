"""User-Mode Linux guests as processes: a guest is one process group (linux.uml, its helpers, one
stub per guest address space). Reads /proc through _procfs: stat for group membership and start
time, status for the tracer and memory, smaps_rollup."""

from __future__ import annotations

import ctypes

from ..parsers.procfs import kib
from ._procfs import all_pids, read_stat, read_status


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) PIDs of process group ``pgid``."""
    members = []
    for pid in all_pids():
        st = read_stat(pid)
        if st and st.pgid == pgid and st.alive:
            members.append(pid)
    return sorted(members)


def tracer_pid(pid: int) -> int | None:
    status = read_status(pid)
    tracer = (status or {}).get("TracerPid", "")
    return int(tracer) if tracer.isdigit() else None


_SYS_KCMP = 312  # x86-64
_KCMP_VM = 1


def same_mm(pid1: int, pid2: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(_SYS_KCMP, pid1, pid2, _KCMP_VM, 0, 0) == 0


def status_kib(pid: int, key: str) -> int:
    return kib((read_status(pid) or {}).get(key))


def pss_kib(pid: int) -> int:
    return kib((read_status(pid, "smaps_rollup") or {}).get("Pss"))
