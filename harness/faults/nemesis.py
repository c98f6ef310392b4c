"""The nemesis: injects faults into the history like any client, and always heals them.

"Always" means: on normal exit, on a failing assertion, on any exception, on Ctrl-C, and on
SIGTERM (inside ``nemesis.running()``). Every fault is journaled on disk before its first
command, so even SIGKILL of the run leaves enough for ``harness heal``. Heals run in reverse
injection order; a failed heal is recorded (``info`` with ``error``), does not stop the others,
and all failures are raised together as one FaultError at the end.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import FaultError
from ..history import NEMESIS, HistoryRecorder
from ._journal import Journal
from ._registry import get_fault
from .base import Fault, error_text

if TYPE_CHECKING:
    from ..cluster import Cluster


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C so every ``finally`` (and so every heal) runs."""


class Nemesis:
    """Fault injector for one run: one history, one journal, faults tracked by id."""

    def __init__(
        self,
        cluster: Cluster,
        history: HistoryRecorder,
        journal: Journal,
        *,
        cluster_file: str | None = None,
    ) -> None:
        self.cluster = cluster
        self.history = history
        self.journal = journal
        if journal.cluster_file is None:
            journal.cluster_file = cluster_file or _cluster_file_of(cluster)
        self._active: dict[str, Fault] = {}  # insertion order = injection order
        self._lock = threading.RLock()  # the nemesis process has one operation open at a time
        self._healing = False
        self._deferred: list[int] = []

    # ---- faults -------------------------------------------------------------------------
    def create(self, name: str, **params: Any) -> Fault:
        """Build (and so validate) a fault without touching any host."""
        return get_fault(name)(self.cluster, **params)

    def inject(self, fault: Fault | str, **params: Any) -> str:
        """Journal, record and apply a fault; returns its id. A failed inject is healed at
        once (what was done is undone) and re-raised."""
        if isinstance(fault, str):
            fault = self.create(fault, **params)
        elif params:
            raise FaultError(f"{fault.name}: pass parameters when creating the fault, not to inject()")
        with self._lock:
            fault_id = self.journal.new_id()
            fault.fault_id = fault_id
            self.journal.write(fault_id, fault, "injecting")
            self._active[fault_id] = fault
            desc = fault.describe()
            op = self.history.invoke(
                NEMESIS, fault.name, {"fault_id": fault_id, "targets": desc["targets"], **desc["params"]}
            )
            try:
                fault.inject()
            except BaseException as exc:
                value = {"fault_id": fault_id}
                if fault.touched:
                    op.info(value, error=error_text(exc))  # part of it may be in force
                else:
                    op.fail(value, error=error_text(exc))  # nothing was changed
                heal_error = self._heal_quietly(fault_id)
                if heal_error is not None:
                    exc.add_note(f"heal after the failed inject also failed: {heal_error}")
                raise
            self.journal.write(fault_id, fault, "injected")
            op.ok({"fault_id": fault_id, **({"runtime": fault.runtime} if fault.runtime else {})})
            return fault_id

    def heal(self, fault_id: str | None = None) -> list[str]:
        """Heal one fault, or every active one (newest first). Returns the ids healed.

        Every heal is attempted; failures are raised together afterwards as one FaultError.
        """
        with self._lock, self._shielded():
            if fault_id is None:
                ids = list(reversed(self._active))
            elif fault_id in self._active:
                ids = [fault_id]
            else:
                return []  # unknown or already healed: idempotent
            return self._heal_ids(ids, [])

    def _heal_ids(self, ids: list[str], failures: list[str]) -> list[str]:
        healed: list[str] = []
        for fid in ids:
            error = self._heal_one(fid)
            if error is None:
                healed.append(fid)
            else:
                failures.append(error)
        if failures:
            raise FaultError(f"{len(failures)} heal(s) failed: " + "; ".join(failures))
        return healed

    def heal_all(self) -> list[str]:
        """Heal every active fault and every fault the journal still lists as pending (left
        by an earlier, crashed run using the same journal). Idempotent: run it at setup and at
        teardown. Unreadable journal lines do not stop the heals; they are raised with the
        heal failures afterwards (one of them may be a fault still in force)."""
        with self._lock:
            rebuilt: dict[str, Fault] = {}
            failures: list[str] = []
            for rec in self.journal.pending():
                fid = rec["fault_id"]
                if fid in self._active:
                    continue
                try:
                    rebuilt[fid] = get_fault(rec["name"]).from_journal(self.cluster, rec)
                except Exception as exc:  # cannot even rebuild it: record, go on with the rest
                    op = self.history.invoke(NEMESIS, "heal", {"fault_id": fid, "fault": rec.get("name")})
                    text = f"cannot rebuild from the journal: {error_text(exc)}"
                    op.info({"fault_id": fid}, error=text)
                    failures.append(f"{fid} {rec.get('name')} {rec.get('targets')}: {text}")
            # a journal line nobody can read may be a fault in force: heal the rest, then fail
            failures += [f"{p.text()} (heal by hand whatever it recorded)" for p in self.journal.problems()]
            # journaled ones are older than anything injected in this process: healed last
            self._active = {**rebuilt, **self._active}
            with self._shielded():
                return self._heal_ids(list(reversed(self._active)), failures)

    @contextmanager
    def fault(self, name: str, **params: Any) -> Iterator[Fault]:
        """``with nemesis.fault("partition", a=[...], b=[...]) as f:`` heals on any exit.

        If the body raised and the heal fails too, the body's exception propagates with the
        heal failure attached as a note (the history has the heal's ``info`` as well).
        """
        fault = self.create(name, **params)
        fault_id = self.inject(fault)
        try:
            yield fault
        except BaseException as exc:
            try:
                self.heal(fault_id)
            except FaultError as heal_exc:
                exc.add_note(str(heal_exc))
            raise
        else:
            self.heal(fault_id)

    @contextmanager
    def running(self) -> Iterator[Nemesis]:
        """Heal at entry and at exit, and turn SIGTERM into an unwinding exception meanwhile
        (the previous handler is restored at exit)."""
        with self.sigterm_heals():
            self.heal_all()
            try:
                yield self
            finally:
                self.heal_all()

    @contextmanager
    def sigterm_heals(self) -> Iterator[None]:
        """While inside, SIGTERM raises Terminated in the main thread, so ``finally`` blocks
        and fault context managers heal; outside the main thread this does nothing."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_term(signum: int, frame: FrameType | None) -> None:
            if self._healing:
                self._deferred.append(signum)  # finish healing first; re-raised afterwards
                return
            raise Terminated(f"signal {signum}")

        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    @property
    def active(self) -> dict[str, Fault]:
        """Faults injected and not yet healed, by id (a copy)."""
        return dict(self._active)

    # ---- internals ----------------------------------------------------------------------
    def _heal_one(self, fault_id: str) -> str | None:
        """Heal and record one fault; returns an error description instead of raising."""
        fault = self._active[fault_id]
        op = self.history.invoke(NEMESIS, "heal", {"fault_id": fault_id, "fault": fault.name})
        try:
            fault.heal()
        except Exception as exc:
            text = error_text(exc)
            op.info({"fault_id": fault_id}, error=text)
            return f"{fault_id} {fault.name} {fault.targets}: {text}"
        self.journal.write(fault_id, fault, "healed")
        healed = getattr(fault, "healed", None)  # what a heal measured (db-tier-power-loss: down time)
        op.ok({"fault_id": fault_id, **({"healed": healed} if healed else {})})
        del self._active[fault_id]
        return None

    def _heal_quietly(self, fault_id: str) -> str | None:
        with self._shielded():
            fault = self._active.get(fault_id)
            if fault is None:
                return None
            if not fault.touched:  # nothing happened: no heal op, but close the journal entry
                self.journal.write(fault_id, fault, "healed", note="inject failed before any change")
                del self._active[fault_id]
                return None
            return self._heal_one(fault_id)

    @contextmanager
    def _shielded(self) -> Iterator[None]:
        """Defer Ctrl-C and SIGTERM while a heal runs (each step is bounded by transport
        timeouts), then deliver them: a second Ctrl-C must not leave a half-healed cluster."""
        if self._healing or threading.current_thread() is not threading.main_thread():
            yield
            return
        self._healing = True
        self._deferred = []

        def defer(signum: int, frame: FrameType | None) -> None:
            self._deferred.append(signum)

        previous_int = signal.signal(signal.SIGINT, defer)
        previous_term = signal.getsignal(signal.SIGTERM)
        if previous_term in (signal.SIG_DFL, None) or callable(previous_term):
            signal.signal(signal.SIGTERM, defer)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous_int)
            if previous_term is not None:
                signal.signal(signal.SIGTERM, previous_term)
            self._healing = False
            deferred, self._deferred = self._deferred, []
        if signal.SIGINT in deferred:
            raise KeyboardInterrupt
        if signal.SIGTERM in deferred:
            raise Terminated(f"signal {signal.SIGTERM}")


def _cluster_file_of(cluster: Any) -> str | None:
    """The cluster file a loaded inventory came from, as an absolute path (for the journal)."""
    source = getattr(getattr(cluster, "inventory", None), "source", None)
    if isinstance(source, str) and source and not source.startswith("<"):
        path = Path(source)
        if path.is_file():
            return str(path.resolve())
    return None
