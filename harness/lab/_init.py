"""A lab host's init: PID 1 of the host's own PID namespace (stdlib only, run by /usr/bin/python3).

Started by `unshare --pid --fork --mount --uts --ipc --mount-proc` inside the host's network
namespace. It gives the host its hostname and its own disk (the mount plan of
harness.lab._disks: private /var/lib, /var/cache, /var/log, /var/tmp, /srv, a tmpfs /run and
/tmp), then reaps orphans (every daemon started with setsid ends up its child). SIGTERM =
orderly shutdown: TERM everything, wait, KILL the rest. SIGKILL from outside (the lab's "power-cord pull") ends every process of
the PID namespace at once: the kernel does that when a namespace's init dies.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import sys
import time

READY_MARK = "/run/.hlab-init-ready"
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _c(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """mount(2) itself: a plan is some 25 mounts per host, a `mount` process each would cost more."""
    if _libc.mount(_c(source), _c(target), _c(fstype), ctypes.c_ulong(flags), _c(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or '-'} on {target} ({fstype or 'bind'}): {os.strerror(err)}")


def run_plan(plan: list[dict[str, object]]) -> None:
    """Carry out the host's mount plan (harness.lab._disks.mount_plan), step by step, in order."""
    for step in plan:
        op, target = str(step["op"]), str(step["target"])
        if op == "rprivate":
            _mount(None, target, None, MS_REC | MS_PRIVATE)
        elif op == "tmpfs":
            os.makedirs(target, exist_ok=True)
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | (MS_RDONLY if step.get("readonly") else 0),
                   str(step.get("options") or "") or None)
        elif op == "bind":
            os.makedirs(target, exist_ok=True)
            _mount(str(step["source"]), target, None, MS_BIND)
        elif op == "readonly":
            _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        elif op == "detach":
            if _libc.umount2(target.encode(), MNT_DETACH) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"umount {target}: {os.strerror(err)}")
            os.rmdir(target)
            try:  # the spots' parent, once the last spot is gone
                os.rmdir(os.path.dirname(target))
            except OSError:
                pass
        else:
            raise ValueError(f"mount plan: unknown step {op!r} for {target}")


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
    parser.add_argument("--plan", required=True,
                        help="a JSON file: the host's mount plan (harness.lab._disks.mount_plan)")
    args = parser.parse_args(argv)
    if os.getpid() != 1:
        print("_init.py must run as PID 1 of a new PID namespace", file=sys.stderr)
        return 2
    # Block the signals we handle, then take them synchronously: blocked signals reach a
    # namespace init even without a handler, and no handler races with the reaping loop.
    handled = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    socket.sethostname(args.hostname)
    with open(args.plan) as fh:  # read before the plan covers the state dir it lives in
        plan = json.load(fh)
    run_plan(plan)
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
