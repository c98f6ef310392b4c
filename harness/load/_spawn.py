"""Start a child process that dies with the harness (Linux ``PR_SET_PDEATHSIG``).

Without it, ``kill -9`` of pytest leaves Locust loading the cluster until its own run time
ends: nobody records its samples, and the next run starts on a loaded cluster.

The kernel sends the death signal when the *thread* that forked the child exits, not when the
process does (prctl(2)). So the fork happens on a thread that lives as long as the process:
the main thread when the caller is on it (pytest runs tests there), else one spawner thread
started on first use and never stopped (a daemon: it ends only with the process). The signal
is SIGKILL: the parent is gone, nobody would read what a graceful Locust wrote on its way out.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

#: linux/prctl.h
PR_SET_PDEATHSIG = 1
#: what the child gets when its parent thread (and so the harness) is gone
DEATH_SIGNAL = signal.SIGKILL

_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


def _die_with(parent_pid: int) -> Callable[[], None]:
    """The preexec function: set the death signal, then make sure the parent did not die
    between fork and prctl (the signal would never come then)."""

    def preexec() -> None:
        if _prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


class _Spawner:
    """One long-lived thread that forks on behalf of threads that may end before their child."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, job: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="harness-spawner", daemon=True)
                self._thread.start()
        done: Future[Any] = Future()
        self._jobs.put((job, done))
        return done.result()

    def _serve(self) -> None:
        while True:
            job, done = self._jobs.get()
            try:
                done.set_result(job())
            except BaseException as exc:  # handed back to the caller, who raises it
                done.set_exception(exc)


_SPAWNER = _Spawner()


def spawn_tied(argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(argv, **popen_kwargs)`` whose child gets SIGKILL when this process
    dies (SIGKILL of it included). Forked on the main thread if called there, else on the
    spawner thread. ``preexec_fn`` is ours: pass none."""
    if "preexec_fn" in popen_kwargs:
        raise TypeError("spawn_tied sets preexec_fn itself")
    preexec = _die_with(os.getpid())

    def fork() -> subprocess.Popen[bytes]:
        # preexec_fn, though subprocess warns about it with threads: prctl must run in the
        # child before exec, and ours calls only prctl and getppid, taking no lock a forking thread may hold
        return subprocess.Popen(list(argv), preexec_fn=preexec, **popen_kwargs)

    if threading.current_thread() is threading.main_thread():
        return fork()
    proc: subprocess.Popen[bytes] = _SPAWNER.run(fork)
    return proc
