"""The cluster a test talks to: the inventory plus one cached transport per host.

Faults, probes and checks go through ``Cluster`` rather than opening connections themselves, so
one host is one connection, names outside the inventory are refused, and ``close()`` at
teardown releases everything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from testinfra.backend.base import BaseBackend

from .errors import HarnessError
from .inventory._model import Host, Inventory
from .transport import connect
from .transport.base import CommandResult, Transport

if TYPE_CHECKING:
    import testinfra.host

TransportFactory = Callable[[Host], Transport]


class Cluster:
    """``Cluster(inventory)``; pass ``transport_factory`` to use fakes or the lab's transports."""

    def __init__(self, inventory: Inventory, transport_factory: TransportFactory | None = None) -> None:
        self._inventory = inventory
        self._custom_factory = transport_factory is not None
        self._factory: TransportFactory = transport_factory or connect
        self._transports: dict[str, Transport] = {}
        self._testinfra: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def inventory(self) -> Inventory:
        return self._inventory

    def host(self, name: str) -> Host:
        """The inventory's host ``name``; InventoryError for a name not in the inventory."""
        return self._inventory.host(name)

    def _check_open(self) -> None:
        if self._closed:
            raise HarnessError(f"{self._inventory.source}: the cluster connection was closed")

    def transport(self, name: str) -> Transport:
        """The transport for host ``name``, made on first use and reused afterwards."""
        host = self.host(name)
        with self._lock:
            self._check_open()
            t = self._transports.get(name)
            if t is None:
                t = self._transports[name] = self._factory(host)
            return t

    def run(self, name: str, command: str | Sequence[str], *args: object, timeout: float | None = None) -> CommandResult:
        """Run on host ``name``; any exit status is returned (TransportError if unreachable)."""
        return self.transport(name).run(command, *args, timeout=timeout)

    def run_expect(
        self,
        name: str,
        expected: Iterable[int],
        command: str | Sequence[str],
        *args: object,
        timeout: float | None = None,
    ) -> CommandResult:
        """Run on host ``name``; CommandError unless the exit status is in ``expected``."""
        return self.transport(name).run_expect(expected, command, *args, timeout=timeout)

    def testinfra_host(self, name: str) -> testinfra.host.Host:
        """A testinfra host object for ``name`` (``.file(...)``, ``.process``, ``.socket`` ...).

        ssh hosts use testinfra's paramiko backend connected with the same user, port, key,
        timeouts and host-key checking as the transport; local hosts use testinfra's local
        backend. With a custom transport factory, testinfra runs through that transport.
        """
        import testinfra.host

        host = self.host(name)
        with self._lock:
            self._check_open()
            cached = self._testinfra.get(name)
            if cached is not None:
                return cached
        backend: Any
        if self._custom_factory:
            backend = _TransportBackend(name, self.transport(name))
        elif host.transport == "ssh":
            from .transport.ssh import HarnessParamikoBackend

            backend = HarnessParamikoBackend(host)
        elif host.transport == "local":
            from testinfra.backend.local import LocalBackend

            backend = LocalBackend()
        else:
            backend = _TransportBackend(name, self.transport(name))
        th = testinfra.host.Host(backend)
        backend.set_host(th)
        with self._lock:
            return self._testinfra.setdefault(name, th)

    def close(self) -> None:
        """Close every connection (idempotent); errors while closing are not raised."""
        with self._lock:
            self._closed = True
            transports, self._transports = list(self._transports.values()), {}
            hosts, self._testinfra = list(self._testinfra.values()), {}
        for t in transports:
            try:
                t.close()
            except Exception:  # noqa: BLE001 - closing must not mask the test's own failure
                pass
        for th in hosts:
            close = getattr(th.backend, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    pass

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _TransportBackend(BaseBackend):
    """testinfra backend over one of our transports (fakes, lab namespaces): same connection."""

    NAME = "harness"

    def __init__(self, hostname: str, transport: Transport, **kwargs: Any) -> None:
        self.transport = transport
        super().__init__(hostname, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> Any:
        line = self.get_command(command, *args)
        r = self.transport.run(line)
        return self.result(r.exit_status, self.encode(line), r.stdout.encode(), r.stderr.encode())
