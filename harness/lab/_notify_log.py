"""A lab director's keepalived notify log, and the clock it was written on.

The notify script logs each VRRP transition with the director's real-time clock
(harness.parsers.keepalived_notify). Where the line ends up:

- an LVS director (a UML guest) writes it to ``/dev/console``, which the host writes to
  ``STATE/guests/dirN/console.log``. That file is truncated when the guest boots again (a
  ``domain start`` after a destroy): read it before the heal if the old boot matters;
- a HAProxy director (a namespace) writes ``STATE/hosts/dirN/log/keepalived-notify.log``.

Clocks: the history's clock is the supervisor's ``time.monotonic()``. A namespace shares the
host's kernel, so its real-time clock *is* the host's ``time.time()``. A UML guest keeps its own:
it starts from the host's real time at boot and runs on the host's monotonic clock, so its
offset from ``time.monotonic()`` is constant over a boot (measured: +5 ms from the host's real
time, within the +-8 ms a round trip to a guest allows). :func:`clock_offset` measures it over
one SSH session (request/answer pairs, the tightest pair wins).
"""

from __future__ import annotations

import selectors
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import LabError
from ..parsers.keepalived_notify import Transition, parse_notify_log
from ..probes.vrrp_log import ClockOffset
from ._paths import GUEST_NOTIFY_LOG, NOTIFY_LOG

if TYPE_CHECKING:
    from ._lab import Lab

__all__ = ["GUEST_NOTIFY_LOG", "NOTIFY_LOG", "ClockOffset", "clock_offset", "notify_log_path", "read_transitions"]


def notify_log_path(lab: Lab, host: str) -> Path:
    """Where ``host``'s notify lines are written on the supervisor."""
    if lab.is_guest(host):
        return lab.paths.guest_dir(host) / "console.log"
    return lab.paths.log(host) / NOTIFY_LOG


def read_transitions(lab: Lab, host: str) -> list[Transition]:
    """Every transition ``host`` logged (since its last boot, for a guest)."""
    path = notify_log_path(lab, host)
    try:
        text = path.read_bytes().decode(errors="replace")  # no newline translation: line numbers as sed -n
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise LabError(f"{host}: cannot read the notify log {path}: {exc}") from exc
    return parse_notify_log(text)


def clock_offset(lab: Lab, host: str, samples: int = 15, timeout: float = 20.0) -> ClockOffset:
    """Measure ``host``'s real-time clock against ``time.monotonic()``.

    A namespace: ``time.time() - time.monotonic()`` bracketed here. A guest: one SSH session
    answering each line with ``date +%s.%N``; each sample is the guest's reading against the
    midpoint of its round trip, and the one with the shortest round trip is kept.
    """
    if not lab.is_guest(host):
        best = min((_local_sample() for _ in range(samples)), key=lambda s: s[0])
        return ClockOffset(host, best[1], best[0] / 2, samples)
    lab.guard(lab.topo.host(host).address)
    argv = lab.ssh_argv(host, "while read -r _; do date +%s.%N; done")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    deadline = time.monotonic() + timeout
    got: list[tuple[float, float]] = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    try:
        for _ in range(samples):
            a = time.monotonic()
            proc.stdin.write(b"x\n")
            proc.stdin.flush()
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise LabError(f"{host}: clock offset: no answer over ssh within {timeout:.0f}s")
                chunk = proc.stdout.read1(4096)  # type: ignore[attr-defined]
                if not chunk:
                    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                    raise LabError(f"{host}: clock offset: ssh ended: {err or 'no output'}")
                buf += chunk
            b = time.monotonic()
            line, buf = buf.split(b"\n", 1)
            try:
                guest = float(line)
            except ValueError:
                raise LabError(f"{host}: clock offset: `date +%s.%N` said {line!r}") from None
            got.append((b - a, guest - (a + b) / 2))
    finally:
        sel.close()
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    rtt, offset = min(got)
    return ClockOffset(host, offset, rtt / 2, len(got))


def _local_sample() -> tuple[float, float]:
    a = time.monotonic()
    wall = time.time()
    b = time.monotonic()
    return b - a, wall - (a + b) / 2
