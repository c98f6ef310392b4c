"""The self-heal backlog of the shared volume, sampled: what ``storage_convergence`` judges.

After a file server comes back, the replicas it missed must be healed before the volume has
its redundancy again; until then one more fault can lose files. The backlog is asked of the
file servers over their transports, in turn (the one that was killed may not answer), at a
steady rate; each sample is recorded as ``storage-heal`` ``heal-info`` with ``{"pending": n}``
(``null`` while a brick does not answer: unknown is not zero), ``fail`` when no server answered.

GlusterFS: ``gluster --mode=script volume heal VOLUME info``, parsed by
harness.parsers.gluster (per brick ``Number of entries``).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping

from ..checkers.storage import STORAGE_HEAL_PROCESS
from ..errors import ParseError, ProbeError, TransportError
from ..history import HistoryRecorder
from ..inventory._model import Inventory
from ..parsers.gluster import heal_pending, parse_heal_info
from ..transport.base import Transport
from ._base import ProbeThread, check_bounds
from .ledger import _ms

__all__ = ["HealBacklogProbe"]


class HealBacklogProbe(ProbeThread):
    """Sample the volume's self-heal backlog at ``rate_hz`` (see the module)."""

    name = "storage-heal"

    def __init__(self, history: HistoryRecorder, servers: Mapping[str, Transport], volume: str, *,
                 rate_hz: float = 1.0, max_count: int, max_duration_s: float, timeout_s: float = 10.0) -> None:
        super().__init__()
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s,
                     timeout_s=timeout_s)
        if not servers:
            raise ProbeError("storage-heal: no file server to ask")
        if not isinstance(volume, str) or not volume or shlex.quote(volume) != volume:
            raise ProbeError(f"storage-heal: volume {volume!r} must be a plain name")
        self.history = history
        self.servers = dict(servers)
        self.volume = volume
        self.rate_hz, self.max_count, self.max_duration_s, self.timeout_s = rate_hz, max_count, max_duration_s, timeout_s
        self.samples = 0
        #: (monotonic time, pending) of the latest answered sample
        self.last: tuple[float, int | None] | None = None

    @classmethod
    def for_inventory(cls, history: HistoryRecorder, inventory: Inventory,
                      transport: Callable[[str], Transport], **kwargs: object) -> HealBacklogProbe:
        """The inventory's ``storage:`` volume, asked of its ``fileserver`` hosts."""
        storage = inventory.storage
        if storage is None:
            raise ProbeError("storage-heal: the cluster file has no storage: section")
        if storage.kind != "glusterfs":
            raise ProbeError(f"storage-heal: storage kind {storage.kind!r} has no backlog command here")
        servers = {h.name: transport(h.name) for h in inventory.with_role("fileserver")}
        return cls(history, servers, storage.volume, **kwargs)  # type: ignore[arg-type]

    def sample(self) -> int | None:
        """One sample, recorded; the pending count (None: unknown or no answer)."""
        op = self.history.invoke(STORAGE_HEAL_PROCESS, "heal-info", None)
        t0 = time.monotonic()
        errors = []
        for host, transport in self.servers.items():
            try:
                r = transport.run(f"timeout -k 1 {self.timeout_s:g} gluster --mode=script volume heal {self.volume} info",
                                  timeout=self.timeout_s + 2.0)
            except TransportError as exc:
                errors.append(f"{host}: {exc}")
                continue
            if r.exit_status != 0:
                errors.append(f"{host}: exit {r.exit_status}: {(r.stderr or r.stdout).strip()[-200:]}")
                continue
            try:
                backlog = parse_heal_info(r.stdout)
            except ParseError as exc:
                errors.append(f"{host}: {exc}")
                continue
            pending = heal_pending(backlog)
            self.last = (time.monotonic(), pending)
            op.ok({"pending": pending}, took_ms=_ms(t0), host=host,
                  bricks={b.brick: b.entries for b in backlog})
            self.samples += 1
            return pending
        op.fail(None, took_ms=_ms(t0), error="; ".join(errors)[-500:])
        return None

    def wait_for_zero(self, timeout_s: float) -> float | None:
        """Wait, at most ``timeout_s``, until a sample taken from now on says the backlog is 0
        (a workload lets self-heal finish before it stops sampling); seconds waited, or None."""
        return self.wait_for_sample(timeout_s, lambda pending: pending == 0)

    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        return [("storage-heal", self._run)]

    def _run(self) -> None:
        self.run_slots(self.rate_hz, self.max_count, self.max_duration_s, lambda n: self.sample())
