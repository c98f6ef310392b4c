"""The Fault contract: validated up front, injected once, healed idempotently.

A fault is built from a cluster and keyword parameters. Everything that can be checked
without touching a host (parameter types, hosts present in the inventory, services known) is
checked in ``__init__``, so a bad schedule fails before the first command runs (Chaos
Toolkit's lesson). ``inject()`` then applies it; ``heal()`` undoes whatever was done, and is
safe to call when nothing was injected, after a partial inject, or twice.

``describe()`` is the JSON-ready record the journal and the history keep; ``from_journal``
rebuilds a fault from it in another process (``harness heal`` after a crashed run).

A fault never *targets* the supervisor (the machine the harness runs on; a freeze of python3
there stops the harness itself) unless that fault says ``allow_local=True``: neither a host
with ``transport: local`` nor one with ``transport: ssh`` whose address is the supervisor's
(loopback, ``localhost``, its hostname, an address of its interfaces: harness.transport.
supervisor). Running a command on the supervisor as another host's hypervisor (a lab domain
destroy) is not targeting it: only ``targets`` (the hosts the fault breaks) count.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import FaultError, HarnessError, InventoryError
from ..inventory._model import Host
from ..transport import supervisor
from ..transport.base import CommandResult, Transport

if TYPE_CHECKING:  # the cluster module is written in parallel; only its interface is used
    from ..cluster import Cluster

#: the per-fault opt-in for targeting a host with ``transport: local`` (docs/faults.md)
ALLOW_LOCAL = "allow_local"
#: only ``from_journal`` holds this: a rebuilt fault can heal but never inject (state injected)
_REBUILD = object()

#: a name fit for an interface, nft table, qdisc handle... (quoting protects the shell anyway;
#: this catches typos before a host is touched)
_IFACE_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,15}$")


class Fault(ABC):
    """One named fault. Subclasses set ``name``, ``summary`` and implement the three steps.

    Lifecycle (``state``): ``new`` -> ``injecting`` -> ``injected`` -> ``healed``.
    ``touched`` holds the targets on which a side-effecting command was *started*; heal only
    undoes those (a command that raised may still have taken effect, so it counts as touched).
    """

    #: registry name, e.g. "kill-process"
    name: ClassVar[str] = ""
    #: one line for `harness faults`
    summary: ClassVar[str] = ""

    #: seams for tests (a fake clock makes the bounded waits instant)
    _sleep: Callable[[float], None] = staticmethod(time.sleep)
    _clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, cluster: Cluster, *, _token: object = None, **params: Any) -> None:
        self.cluster = cluster
        self.fault_id: str | None = None  # set by the Nemesis
        params = dict(params)
        allow_local = take(params, self.name, ALLOW_LOCAL, bool, False)
        self.params: dict[str, Any] = self.validate(params)
        if allow_local:  # kept (journal, history) only when given: records stay as they were
            self.params[ALLOW_LOCAL] = True
        self.targets: list[str] = self.resolve_targets()
        if _token is not _REBUILD:
            self._refuse_local_targets(allow_local)
        self.state = "new"
        self.touched: set[str] = set()
        #: facts learnt while injecting that heal needs (pids, backend used); JSON-ready
        self.runtime: dict[str, Any] = {}

    # ---- to implement -------------------------------------------------------------------
    @abstractmethod
    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check and normalise the parameters; raise FaultError naming the bad one."""

    @abstractmethod
    def resolve_targets(self) -> list[str]:
        """Host names the fault acts on (all already checked against the inventory)."""

    @abstractmethod
    def _inject(self) -> None:
        """Apply the fault; call ``self.touch(host)`` before each side effect on ``host``."""

    @abstractmethod
    def _heal(self) -> None:
        """Undo what ``touched`` says was (maybe) done. Must tolerate 'already undone'."""

    # ---- lifecycle ----------------------------------------------------------------------
    def inject(self) -> None:
        """Apply the fault once. A second call is refused: make a new fault instead."""
        if self.state != "new":
            raise FaultError(f"{self.name}: already {self.state}; build a new fault to inject again")
        self.state = "injecting"
        self._inject()
        self.state = "injected"

    def heal(self) -> None:
        """Undo the fault. No-op when nothing was touched or it is already healed."""
        if self.state == "healed":
            return
        if not self.touched:
            if self.state != "new":  # inject failed before any side effect: nothing to undo
                self.state = "healed"
            return
        self._heal()
        self.state = "healed"

    def wait_for(self, what: str, probe: Callable[[], str | None], *, timeout_s: float, poll_s: float) -> None:
        """Poll ``probe`` until it returns None (reached); otherwise it returns what it saw.

        Bounded in time and so in count; a probe raising HarnessError (a daemon still
        starting: refused connection, unparsable output) is asked again until the deadline.
        Fails naming ``what`` was not reached and the last thing seen.
        """
        deadline = self._clock() + timeout_s
        while True:
            try:
                last = probe()
            except HarnessError as exc:
                last = f"error: {exc}"
            if last is None:
                return
            if self._clock() >= deadline:
                raise FaultError(f"{self.name}: {what} after {timeout_s:g} s (last: {last})")
            self._sleep(poll_s)

    def touch(self, host: str) -> None:
        """Note that a side effect on ``host`` is about to start (heal must consider it)."""
        self.touched.add(host)

    @property
    def needs_heal(self) -> bool:
        return bool(self.touched) and self.state != "healed"

    # ---- records ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """JSON-ready description for the journal and the history."""
        return {
            "name": self.name,
            "params": _jsonable(self.params),
            "targets": list(self.targets),
            "runtime": _jsonable(self.runtime),
        }

    @classmethod
    def from_journal(cls, cluster: Cluster, record: dict[str, Any]) -> Fault:
        """Rebuild a fault a (crashed) run journaled, ready to heal.

        Whatever the record's state, every target counts as touched: an ``injecting`` record
        means the run died mid-inject, and heal must assume any step may have happened.
        The local-target refusal is not applied: the fault is (maybe) in force already, healing
        it is what is left to do, and a rebuilt fault cannot be injected again.
        """
        params = record.get("params") or {}
        if not isinstance(params, dict):
            raise FaultError(f"{cls.name}: journal record params must be an object, not {params!r}")
        fault = cls(cluster, _token=_REBUILD, **params)
        fault.fault_id = record.get("fault_id")
        fault.runtime = dict(record.get("runtime") or {})
        fault.touched = set(fault.targets)
        fault.state = "injected"
        return fault

    def _refuse_local_targets(self, allow_local: bool) -> None:
        """FaultError for a target that is the supervisor unless this fault opted in: one with
        ``transport: local``, or with ``transport: ssh`` at an address of the supervisor."""
        if allow_local:
            return
        local = [t for t in self.targets if self.host(t).transport == "local"]
        if local:
            which = ", ".join(repr(t) for t in local)
            raise FaultError(
                f"{self.name}: host {which} has transport local (the machine the harness runs on); "
                f"refusing to target it. Pass {ALLOW_LOCAL}=True "
                "to this fault to do it anyway"
            )
        remote = [self.host(t) for t in self.targets if self.host(t).transport == "ssh"]
        if not remote:
            return
        try:
            ident = supervisor.discover()
        except HarnessError as exc:
            raise FaultError(
                f"{self.name}: cannot tell whether {', '.join(repr(h.name) for h in remote)} is the machine "
                f"the harness runs on ({exc}); refusing. Pass {ALLOW_LOCAL}=True to this fault to target it anyway"
            ) from None
        found = [(h, why) for h in remote if (why := supervisor.supervisor_reason(h.address, ident))]
        if found:
            which = "; ".join(f"host {h.name!r} (transport ssh) has address {h.address!r}, {why}" for h, why in found)
            raise FaultError(
                f"{self.name}: {which}: that is the machine the harness runs on; refusing to target it. "
                f"Pass {ALLOW_LOCAL}=True to this fault to do it anyway (a port-forwarded VM at a "
                "loopback address, e.g. vagrant, needs it too)"
            )

    # ---- helpers for subclasses ---------------------------------------------------------
    def host(self, name: str) -> Host:
        """The inventory's host, or a FaultError naming this fault and the host."""
        try:
            return self.cluster.host(name)
        except InventoryError as exc:
            raise FaultError(f"{self.name}: host {name!r} is not in the inventory ({exc})") from None

    def transport(self, host: str) -> Transport:
        return self.cluster.transport(host)

    def run(self, host: str, command: str | Sequence[str], *args: object, timeout: float | None = None) -> CommandResult:
        return self.transport(host).run(command, *args, timeout=timeout)

    def run_expect(
        self,
        host: str,
        expected: Iterable[int],
        command: str | Sequence[str],
        *args: object,
        timeout: float | None = None,
    ) -> CommandResult:
        return self.transport(host).run_expect(expected, command, *args, timeout=timeout)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.targets} {self.state}>"


# ---- parameter checking helpers (shared by the fault modules) -----------------------------
def take(params: dict[str, Any], fault: str, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    """Pop ``key`` from ``params`` checking its type; ``default`` ... means required."""
    if key not in params or params[key] is None:
        if default is ...:
            raise FaultError(f"{fault}: parameter {key!r} is required")
        params.pop(key, None)
        return default
    value = params.pop(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and kind is not bool and not (isinstance(kind, tuple) and bool in kind):
        raise FaultError(f"{fault}: parameter {key!r} must be {_kind_name(kind)}, not {value!r}")
    if not isinstance(value, kind):
        raise FaultError(f"{fault}: parameter {key!r} must be {_kind_name(kind)}, not {value!r}")
    return value


def no_extra(params: dict[str, Any], fault: str, known: Iterable[str]) -> None:
    """Refuse parameters nobody took (typos would otherwise be silently ignored)."""
    if params:
        raise FaultError(
            f"{fault}: unknown parameter(s) {', '.join(sorted(params))} "
            f"(known: {', '.join(sorted({*known, ALLOW_LOCAL}))})"
        )


def check_iface(fault: str, key: str, value: str) -> str:
    if not _IFACE_RE.match(value):
        raise FaultError(f"{fault}: parameter {key!r}: {value!r} is not an interface name")
    return value


def positive(fault: str, key: str, value: float) -> float:
    if not value > 0:
        raise FaultError(f"{fault}: parameter {key!r} must be > 0, not {value!r}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in items]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def error_text(exc: BaseException) -> str:
    """One line for history ``error`` fields and CLI output."""
    if isinstance(exc, HarnessError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
