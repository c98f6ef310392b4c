"""Transports run shell command lines on hosts. Backends are registered by name and imported
only when first asked for (testinfra's habit), so ``fake`` costs no paramiko import."""

from __future__ import annotations

import importlib

from ..errors import UnknownTransport
from ..inventory._model import Host
from .base import CommandResult, Transport, quote_command

#: name -> "module.Class"; a backend class may offer ``from_host(host: Host)``, else it is
#: built as ``Class(host.name)``.
BACKENDS: dict[str, str] = {
    "ssh": "harness.transport.ssh.SshTransport",
    "local": "harness.transport.local.LocalTransport",
    "fake": "harness.testing.FakeTransport",
}


def get_backend(name: str) -> type[Transport]:
    """The Transport class registered as ``name``, imported now."""
    try:
        dotted = BACKENDS[name]
    except (KeyError, TypeError):
        raise UnknownTransport(f"Unknown transport {name!r} (known: {', '.join(sorted(BACKENDS))})") from None
    module, cls = dotted.rsplit(".", 1)
    backend = getattr(importlib.import_module(module), cls)
    if not (isinstance(backend, type) and issubclass(backend, Transport)):
        raise UnknownTransport(f"transport {name!r} -> {dotted} is not a Transport class")
    return backend


def connect(host: Host) -> Transport:
    """A transport for ``host``, chosen by ``host.transport`` (no connection is made yet)."""
    backend = get_backend(host.transport)
    from_host = getattr(backend, "from_host", None)
    if from_host is not None:
        return from_host(host)
    return backend(host.name)


__all__ = [
    "BACKENDS",
    "CommandResult",
    "Transport",
    "UnknownTransport",
    "connect",
    "get_backend",
    "quote_command",
]
