"""The transport contract: run a command on a host, get a result. Backends: ssh, local, fake."""

from __future__ import annotations

import math
import shlex
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import CommandError, TransportError

#: at most this many bytes of each stream (stdout, stderr) of a command are kept; the rest is
#: read and counted, not stored (a ``cat`` of a huge log must not exhaust the supervisor's
#: memory). Each transport takes ``output_limit_bytes`` to change it.
DEFAULT_OUTPUT_LIMIT_BYTES = 4 * 1024 * 1024
#: how much is read from a pipe or channel at once
READ_CHUNK_BYTES = 65536


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


class BoundedBuffer:
    """The first ``limit`` bytes of a stream, and a count of the bytes dropped after them.

    Fed chunk by chunk while reading, so memory stays at ``limit`` whatever the stream's size.
    """

    __slots__ = ("_data", "dropped", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self._data)
        if room >= len(chunk):
            self._data.extend(chunk)
        else:
            if room > 0:
                self._data.extend(chunk[:room])
            self.dropped += len(chunk) - max(room, 0)

    @property
    def data(self) -> bytes:
        return bytes(self._data)

    def text(self) -> str:
        """Decoded as UTF-8; a character cut by the bound becomes U+FFFD."""
        return self._data.decode("utf-8", "replace")


def check_output_limit(host: str, limit: object) -> int:
    """The limit if it is a whole number of bytes >= 1, else TransportError naming the host."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise TransportError(host, f"output_limit_bytes must be a whole number of bytes >= 1, not {limit!r}")
    return limit


def check_timeout(host: str, what: str, value: object) -> float:
    """A finite timeout > 0 in seconds, else TransportError naming the host and the setting:
    None or inf would let a dead host hang the run for ever."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise TransportError(host, f"{what} must be a finite number of seconds > 0, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class CommandResult:
    """Outcome of one command on one host.

    ``stdout``/``stderr`` hold at most the transport's output bound; the ``*_truncated_bytes``
    say how many bytes of each stream came after it and were dropped.
    """

    host: str
    command: str
    exit_status: int
    stdout: str
    stderr: str
    duration_s: float = 0.0
    stdout_truncated_bytes: int = 0
    stderr_truncated_bytes: int = 0

    @property
    def truncated(self) -> bool:
        return bool(self.stdout_truncated_bytes or self.stderr_truncated_bytes)

    def truncation_note(self) -> str:
        """``" (stdout truncated: 123 bytes dropped)"`` or ``""``: for messages about the output."""
        parts = [f"{name} truncated: {n} bytes dropped" for name, n in
                 (("stdout", self.stdout_truncated_bytes), ("stderr", self.stderr_truncated_bytes)) if n]
        return f" ({'; '.join(parts)})" if parts else ""

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
                self.host, result.command, result.exit_status, result.stdout, result.stderr, allowed,
                stdout_truncated_bytes=result.stdout_truncated_bytes,
                stderr_truncated_bytes=result.stderr_truncated_bytes,
            )
        return result

    def check_output(self, command: str | Sequence[str], *args: object, timeout: float | None = None) -> str:
        """Run, require exit 0, return stdout without the trailing newline."""
        return self.run_expect([0], command, *args, timeout=timeout).stdout.rstrip("\n")

    def close(self) -> None:
        """Release the connection (idempotent); a concrete no-op, not abstract, because a
        transport without a connection (``LocalTransport``) has nothing to release."""
        return None
