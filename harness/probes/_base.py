"""What every probe shares: an absolute schedule, count/time bounds, and a thread lifecycle.

Probes run beside faults and load, so they must never outlive a test: each one is bounded by a
count AND a duration, stops by itself, and `stop()` returns in well under half a second.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from ..errors import HarnessError, ProbeError

#: how long an operation already in flight may keep running after stop() before it is aborted
STOP_GRACE_S = 0.25
#: longest blocking wait between two looks at the stop flag
POLL_SLICE_S = 0.05


def check_bounds(
    who: str, *, rate_hz: float, max_count: int, max_duration_s: float, timeout_s: float | None = None
) -> None:
    """Refuse unbounded or nonsensical settings before anything runs (ProbeError names the field)."""
    if not (isinstance(rate_hz, (int, float)) and math.isfinite(rate_hz) and rate_hz > 0):
        raise ProbeError(f"{who}: rate_hz must be a positive finite number, not {rate_hz!r}")
    if not (isinstance(max_count, int) and not isinstance(max_count, bool) and max_count >= 1):
        raise ProbeError(f"{who}: max_count must be an integer >= 1, not {max_count!r}")
    if not (isinstance(max_duration_s, (int, float)) and math.isfinite(max_duration_s) and max_duration_s > 0):
        raise ProbeError(f"{who}: max_duration_s must be a positive finite number, not {max_duration_s!r}")
    if timeout_s is not None and not (
        isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0
    ):
        raise ProbeError(f"{who}: timeout_s must be a positive finite number, not {timeout_s!r}")


class Schedule:
    """Slots at ``start + n / rate``: no drift, and no burst after a stall.

    When the caller is late by a whole period or more (a request hung for a second), the
    missed slots are skipped and counted rather than fired back to back, which would distort
    both the load on the target and the availability figures.
    """

    def __init__(self, rate_hz: float, start: float, end: float | None = None) -> None:
        self.period = 1.0 / rate_hz
        self.rate_hz = rate_hz
        self.start = start
        self.n = 0  # index of the next slot to fire
        self.skipped = 0
        # slots due before ``end``: those past it are neither fired nor counted as skipped
        self.last_n = None if end is None else max(0, math.ceil((end - start) * rate_hz - 1e-9))

    def due(self) -> float:
        return self.start + self.n * self.period

    def catch_up(self, now: float) -> float:
        """Skip slots missed by a whole period or more; return the due time of the slot to fire."""
        due = self.due()
        if now - due >= self.period:
            latest = int((now - self.start) * self.rate_hz)
            # float rounding can leave `latest` one short; never move backwards
            latest = max(latest, self.n)
            if self.last_n is not None:
                latest = max(self.n, min(latest, self.last_n))
            self.skipped += latest - self.n
            self.n = latest
            due = self.due()
        return due

    def advance(self) -> None:
        self.n += 1


@dataclass
class Jitter:
    """Scheduling lateness of fired slots, in milliseconds (bounded by the probe's max_count)."""

    late_ms: list[float] = field(default_factory=list)

    def add(self, late_ms: float) -> None:
        self.late_ms.append(late_ms)

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile of the raw samples (None when empty)."""
        if not self.late_ms:
            return None
        xs = sorted(self.late_ms)
        rank = max(1, math.ceil(p / 100.0 * len(xs)))
        return xs[min(rank, len(xs)) - 1]

    def summary(self) -> dict[str, float | None]:
        return {
            "p50_ms": self.percentile(50),
            "p99_ms": self.percentile(99),
            "max_ms": max(self.late_ms) if self.late_ms else None,
        }


class ProbeThread:
    """start()/stop()/join() and a context manager around one or more worker threads.

    Subclasses implement ``_workers()`` returning the callables to run; each worker checks
    ``self.stopping`` between operations and uses ``self.abort_at()`` to cut an in-flight
    operation short once the stop grace has run out.
    """

    name = "probe"

    def __init__(self) -> None:
        self._stop_event = threading.Event()
        self._stop_requested_at: float | None = None  # stop time + grace: abort in-flight work after
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._started = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Synchronous setup before the threads start (guards, table creation); may raise."""

    def _workers(self) -> list[tuple[str, Callable[[], None]]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _on_stop(self) -> None:
        """Called by stop() once the grace has passed and a worker is still busy: abort I/O."""

    def start(self) -> Self:
        """Run setup in the caller's thread (errors surface here), then start the workers."""
        with self._lock:
            if self._started:
                raise ProbeError(f"{self.name}: already started (a probe runs once)")
            self._started = True
        self._prepare()
        for tname, target in self._workers():
            t = threading.Thread(target=self._guarded, args=(target,), name=tname, daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def _guarded(self, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - recorded here, re-raised by join()
            with self._lock:
                self._errors.append(exc)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Ask the workers to stop; an operation in flight gets ``grace_s`` to finish, then is
        aborted (its completion is ``info``). Returns within about ``grace_s + 0.1`` s."""
        if self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic() + grace_s
        self._stop_event.set()
        deadline = time.monotonic() + grace_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            self._on_stop()
            end = time.monotonic() + 0.1
            for t in self._threads:
                t.join(max(0.0, end - time.monotonic()))

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the workers; True when all ended. Re-raises a worker's crash as ProbeError."""
        end = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if end is None else max(0.0, end - time.monotonic()))
        done = not any(t.is_alive() for t in self._threads)
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            exc = errors[0]
            if isinstance(exc, HarnessError):
                raise exc
            raise ProbeError(f"{self.name}: worker crashed: {type(exc).__name__}: {exc}") from exc
        return done

    def is_alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def abort_at(self) -> float | None:
        """Monotonic time after which in-flight work must be abandoned (None: not stopping)."""
        return self._stop_requested_at

    def next_slot(self, sched: Schedule, t_end: float) -> float | None:
        """Wait for ``sched``'s next slot (missed ones skipped); its due time, or None when the
        probe should stop: the slot or the clock passed ``t_end``, or stop was requested."""
        now = time.monotonic()
        due = sched.catch_up(now)
        if due >= t_end or now >= t_end:
            return None
        if due > now and not self.sleep_until(due):
            return None
        return due

    def run_slots(self, rate_hz: float, max_count: int, max_duration_s: float, step: Callable[[int], object]) -> None:
        """Call ``step(n)`` once per slot of an absolute schedule, at most ``max_count`` times
        and for ``max_duration_s``; returns when either is spent or stop is asked."""
        start = time.monotonic()
        t_end = start + max_duration_s
        sched = Schedule(rate_hz, start, t_end)
        for n in range(max_count):
            if self.stopping or self.next_slot(sched, t_end) is None:
                return
            step(n)
            sched.advance()

    def wait_for_sample(self, timeout_s: float, done: Callable[[Any], bool]) -> float | None:
        """Wait, at most ``timeout_s``, for a sample taken from now on (``self.last``: the
        monotonic time and value of the latest) for which ``done(value)``; seconds waited, or
        None (also when the probe has ended)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s and self.is_alive():
            last = getattr(self, "last", None)
            if last is not None and last[0] >= t0 and done(last[1]):
                return round(last[0] - t0, 3)
            self.sleep_until(time.monotonic() + 0.1)
        return None

    def sleep_until(self, when: float) -> bool:
        """Sleep until monotonic ``when``; False if stop was requested meanwhile."""
        delay = when - time.monotonic()
        if delay > 0:
            return not self._stop_event.wait(delay)
        return not self._stop_event.is_set()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop()
        if exc_type is None:
            self.join(timeout=5.0)
        else:  # do not mask the body's exception with a worker's
            try:
                self.join(timeout=5.0)
            except HarnessError:
                pass


def call_guard(who: str, guard: Callable[[str], Any] | None, address: str) -> None:
    """Ask the caller's guard whether ``address`` may be touched; it raises or returns False to refuse."""
    if guard is None:
        return
    try:
        allowed = guard(address)
    except HarnessError:
        raise
    except Exception as exc:
        raise ProbeError(f"{who}: guard refused {address}: {type(exc).__name__}: {exc}") from exc
    if allowed is False:
        raise ProbeError(f"{who}: guard refused {address}: not an address this run may probe")
