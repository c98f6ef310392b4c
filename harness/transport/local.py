"""Run commands on the supervisor itself (`bash -c LINE`), e.g. lab hypervisor operations."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence

from ..errors import TransportError
from ..inventory._model import Host
from .base import (
    DEFAULT_OUTPUT_LIMIT_BYTES,
    READ_CHUNK_BYTES,
    BoundedBuffer,
    CommandResult,
    Transport,
    check_output_limit,
    check_timeout,
    quote_command,
)

#: after bash exits, how long to wait for EOF on its pipes: a daemon it started in the
#: background may hold them open for ever, and we must not wait for the daemon.
PIPE_GRACE_S = 0.5


class LocalTransport(Transport):
    """Each command runs in its own session (process group) so a timeout can kill all of it.

    Of each stream at most ``output_limit_bytes`` are kept (the rest is read and counted).
    """

    NAME = "local"

    def __init__(
        self,
        host: str = "localhost",
        command_timeout_s: float = 60.0,
        output_limit_bytes: int = DEFAULT_OUTPUT_LIMIT_BYTES,
    ) -> None:
        super().__init__(host)
        self.command_timeout_s = check_timeout(host, "command_timeout_s", command_timeout_s)
        self.output_limit_bytes = check_output_limit(host, output_limit_bytes)

    @classmethod
    def from_host(cls, host: Host, output_limit_bytes: int = DEFAULT_OUTPUT_LIMIT_BYTES) -> LocalTransport:
        return cls(host.name, command_timeout_s=host.ssh.command_timeout_s, output_limit_bytes=output_limit_bytes)

    def run(self, command: str | Sequence[str], *args: object, timeout: float | None = None) -> CommandResult:
        line = quote_command(command, *args)
        limit = self.command_timeout_s if timeout is None else check_timeout(self.host, "timeout", timeout)
        started = time.monotonic()
        deadline = started + limit
        try:
            proc = subprocess.Popen(
                ["bash", "-c", line],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise TransportError(self.host, f"cannot start bash for {line!r}: {exc}") from exc
        assert proc.stdout is not None and proc.stderr is not None
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        chunks = {out_fd: BoundedBuffer(self.output_limit_bytes), err_fd: BoundedBuffer(self.output_limit_bytes)}
        exited_at: float | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            sel.register(proc.stderr, selectors.EVENT_READ)
            try:
                while sel.get_map():
                    now = time.monotonic()
                    if exited_at is None and proc.poll() is not None:
                        exited_at = now
                    if exited_at is not None and now - exited_at > PIPE_GRACE_S:
                        break  # something bash started keeps the pipes; do not wait for it
                    if now >= deadline:
                        self._kill(proc)
                        raise TransportError(
                            self.host, f"command {line!r} timed out after {limit:g}s (process group killed)"
                        )
                    for key, _ in sel.select(timeout=min(deadline - now, 0.1 if exited_at else 0.5)):
                        data = os.read(key.fd, READ_CHUNK_BYTES)
                        if data:
                            chunks[key.fd].feed(data)
                        else:
                            sel.unregister(key.fileobj)
                status = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._kill(proc)
                raise TransportError(self.host, f"command {line!r} timed out after {limit:g}s (process group killed)") from None
            finally:
                proc.stdout.close()
                proc.stderr.close()
        return CommandResult(
            host=self.host,
            command=line,
            exit_status=status,
            stdout=chunks[out_fd].text(),
            stderr=chunks[err_fd].text(),
            duration_s=time.monotonic() - started,
            stdout_truncated_bytes=chunks[out_fd].dropped,
            stderr_truncated_bytes=chunks[err_fd].dropped,
        )

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        """Kill the whole process group we started (bash and what it spawned), then reap bash."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL not delivered
            pass

