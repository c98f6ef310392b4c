"""The transport contract: run a command on a host, get a result. Backends: ssh, local, fake."""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import CommandError


def quote_command(command: str | Sequence[str], *args: object) -> str:
    """Build a shell command line.

    ``quote_command(["ip", "link", "set", dev, "down"])`` quotes every element;
    ``quote_command("kill -%s %s", sig, pid)`` quotes each argument into the template
    (testinfra's convention), so callers never glue untrusted strings into a shell line.
    """
    if isinstance(command, str):
        if args:
            return command % tuple(shlex.quote(str(a)) for a in args)
        return command
    if args:
        raise TypeError("pass either an argument list or a template with args, not both")
    return " ".join(shlex.quote(str(a)) for a in command)


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one command on one host."""

    host: str
    command: str
    exit_status: int
    stdout: str
    stderr: str
    duration_s: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.exit_status == 0

    @property
    def failed(self) -> bool:
        return self.exit_status != 0


class Transport(ABC):
    """Runs shell command lines on one host. Subclasses hold the connection."""

    #: registry name, e.g. "ssh", "local", "fake"
    NAME: str = ""

    def __init__(self, host: str) -> None:
        self.host = host

    @abstractmethod
    def run(self, command: str | Sequence[str], *args: object, timeout: float | None = None) -> CommandResult:
        """Run a command and return its result, whatever the exit status.

        Raises TransportError when the host cannot be reached or the command times out.
        """

    def run_expect(
        self,
        expected: Iterable[int],
        command: str | Sequence[str],
        *args: object,
        timeout: float | None = None,
    ) -> CommandResult:
        """Run and raise CommandError unless the exit status is one of ``expected``."""
        allowed = tuple(expected)
        result = self.run(command, *args, timeout=timeout)
        if result.exit_status not in allowed:
            raise CommandError(
                self.host, result.command, result.exit_status, result.stdout, result.stderr, allowed
            )
        return result

    def check_output(self, command: str | Sequence[str], *args: object, timeout: float | None = None) -> str:
        """Run, require exit 0, return stdout without the trailing newline."""
        return self.run_expect([0], command, *args, timeout=timeout).stdout.rstrip("\n")

    def close(self) -> None:
        """Release the connection (idempotent); a concrete no-op, not abstract, because a
        transport without a connection (``LocalTransport``) has nothing to release."""
        return None
