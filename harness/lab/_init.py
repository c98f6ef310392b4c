"""A lab host's init: PID 1 of the host's own PID namespace (stdlib only, run by /usr/bin/python3).

Started by `unshare --pid --fork --mount --uts --ipc --mount-proc` inside the host's network
namespace. It gives the host its hostname and a private /run and /tmp, then reaps orphans (every
daemon started with setsid ends up its child). SIGTERM = orderly shutdown: TERM everything,
wait, KILL the rest. SIGKILL from outside (the lab's "power-cord pull") ends every process of
the PID namespace at once: the kernel does that when a namespace's init dies.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

READY_MARK = "/run/.hlab-init-ready"


def _mount_tmpfs(target: str, mode: str, size: str) -> None:
    os.makedirs(target, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"mode={mode},size={size},nosuid,nodev", "tmpfs", target],
        check=True,
    )


def _mount_private_tmp(keep: list[str]) -> None:
    """A private /tmp that still shows ``keep`` (e.g. a checkout and its venv under /tmp, which
    the host's daemons and service scripts run from): bind each aside, cover /tmp, bind back."""
    keep = [k for k in keep if k.startswith("/tmp/") and os.path.isdir(k)]
    aside = []
    for i, path in enumerate(keep):
        spot = f"/run/.hlab-keep/{i}"
        os.makedirs(spot, exist_ok=True)
        subprocess.run(["mount", "--bind", path, spot], check=True)
        aside.append((spot, path))
    _mount_tmpfs("/tmp", "1777", "256m")
    for spot, path in aside:
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "--bind", spot, path], check=True)
        subprocess.run(["umount", "-l", spot], check=False)


def _others_alive() -> bool:
    """Any process of this PID namespace besides us? (/proc is the namespace's own.)"""
    return any(name.isdigit() and name != "1" for name in os.listdir("/proc"))


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _shutdown(grace_s: float) -> None:
    """TERM every process of the namespace, wait up to ``grace_s``, then KILL what is left."""
    try:
        os.kill(-1, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace_s
    while _others_alive() and time.monotonic() < deadline:
        _reap()
        signal.sigtimedwait([signal.SIGCHLD], 0.1)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for _ in range(50):
        _reap()
        if not _others_alive():
            break
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--grace", type=float, default=20.0, help="seconds between TERM and KILL")
    parser.add_argument("--keep", action="append", default=[],
                        help="a directory under /tmp that stays visible through the private /tmp")
    args = parser.parse_args(argv)
    if os.getpid() != 1:
        print("_init.py must run as PID 1 of a new PID namespace", file=sys.stderr)
        return 2
    # Block the signals we handle, then take them synchronously: blocked signals reach a
    # namespace init even without a handler, and no handler races with the reaping loop.
    handled = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    socket.sethostname(args.hostname)
    _mount_tmpfs("/run", "0755", "64m")
    _mount_private_tmp(args.keep)
    os.makedirs("/run/lock", mode=0o1777, exist_ok=True)
    os.chmod("/run/lock", 0o1777)
    with open(READY_MARK, "w") as fh:
        fh.write(f"{args.hostname}\n")
    while True:
        _reap()
        info = signal.sigtimedwait(list(handled), 5.0)
        if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            _shutdown(args.grace)
            return 0


if __name__ == "__main__":
    sys.exit(main())
