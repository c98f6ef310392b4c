"""How a run was interrupted: the first SIGINT or SIGTERM (or bare KeyboardInterrupt), when,
and in which test, so result.json and run.json say so instead of ``outcome: error, error: null``.

The watch notes the signal and then lets it do what it did before (Ctrl-C raises
KeyboardInterrupt; SIGTERM raises ``Terminated``, which unwinds like Ctrl-C, instead of
killing pytest before run.json is finished). Layers stack: the plugin installs one for the
session and one inside each scenario (over the nemesis's own SIGTERM handler), each restoring
what it found. A signal that arrives while a heal runs is deferred by the nemesis and
re-raised without passing through the watch: a SIGTERM is still known by its exception
(``Terminated``), a Ctrl-C is then recorded as ``KeyboardInterrupt``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from types import FrameType
from typing import Any

from .faults import Terminated

WATCHED = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Interruption:
    """The first interruption of a run."""

    #: SIGINT, SIGTERM, or KeyboardInterrupt (raised with no signal seen)
    signal: str
    #: UTC, ISO 8601 with milliseconds
    at: str
    #: the pytest node id running then, None between tests
    test: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "at": self.at, "test": self.test}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class InterruptWatch:
    """Notes the first interruption of a session; ``current_test`` is kept by the plugin."""

    def __init__(self) -> None:
        self.first: Interruption | None = None
        self.current_test: str | None = None

    def note(self, name: str) -> None:
        if self.first is None:
            self.first = Interruption(name, _now(), self.current_test)

    def note_exception(self, exc: BaseException) -> None:
        """pytest saw a KeyboardInterrupt: note it unless a signal was noted already."""
        self.note("SIGTERM" if isinstance(exc, Terminated) else "KeyboardInterrupt")

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Note SIGINT/SIGTERM while inside (main thread only; elsewhere nothing changes)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in WATCHED}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            before = previous[signal.Signals(signum)]
            if before == signal.SIG_IGN:
                return
            self.note(signal.Signals(signum).name)
            if callable(before):
                before(signum, frame)
            elif signum == signal.SIGINT:
                raise KeyboardInterrupt
            else:  # SIG_DFL would kill us before run.json says why: unwind instead
                raise Terminated(f"signal {signum}")

        for sig in WATCHED:
            signal.signal(sig, on_signal)
        try:
            yield
        finally:
            for sig, before in previous.items():
                if signal.getsignal(sig) is on_signal and before is not None:
                    signal.signal(sig, before)


def interrupted_phase(reports: Mapping[str, Any]) -> str:
    """The pytest phase a test was in when interrupted, from the reports it got (pure)."""
    if "call" in reports:
        return "teardown"
    return "call" if "setup" in reports else "setup"


def interrupted_result(interruption: Interruption, reports: Mapping[str, Any], outcome: str,
                       error: str | None) -> tuple[str, str, dict[str, Any]]:
    """(outcome, error, result.json ``interrupted``) for a test the run was interrupted in
    (pure). The outcome is ``error``: every reader already counts it as not passed. A call
    that finished before a teardown was cut keeps its own verdict in the error text."""
    phase = interrupted_phase(reports)
    text = f"interrupted by {interruption.signal} at {interruption.at} during {phase}"
    if phase == "teardown":
        text += f" (the call had {outcome}{': ' + error if error else ''})"
    return "error", text, {"signal": interruption.signal, "at": interruption.at, "phase": phase}
