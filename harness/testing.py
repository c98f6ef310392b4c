"""Test helpers shipped with the library (structlog's habit): a scripted fake transport."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import TransportError
from .transport.base import BoundedBuffer, CommandResult, Transport, check_output_limit, quote_command

Responder = Callable[[str], "tuple[int, str, str] | CommandResult"]


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    response: tuple[int, str, str] | Responder | Exception


class FakeTransport(Transport):
    """Records every command; answers from rules (first regex that matches wins), else exit 0.

    ``fake.on(r"^pidof keepalived", (0, "123 124\\n", ""))``
    ``fake.on(r"^ip link", TransportError("dir1", "connection lost"))``

    With ``output_limit_bytes`` the answers are cut to it as a real transport cuts output
    (``stdout_truncated_bytes``...), so callers' handling of cut output can be tested.
    """

    NAME = "fake"

    def __init__(
        self, host: str, rules: Sequence[tuple[str, object]] = (), output_limit_bytes: int | None = None
    ) -> None:
        super().__init__(host)
        self.output_limit_bytes = None if output_limit_bytes is None else check_output_limit(host, output_limit_bytes)
        self.commands: list[str] = []
        self._rules: list[_Rule] = []
        self.closed = False
        for pattern, response in rules:
            self.on(pattern, response)  # type: ignore[arg-type]

    def on(self, pattern: str, response: tuple[int, str, str] | Responder | Exception) -> FakeTransport:
        self._rules.append(_Rule(re.compile(pattern), response))
        return self

    def run(self, command: str | Sequence[str], *args: object, timeout: float | None = None) -> CommandResult:
        line = quote_command(command, *args)
        self.commands.append(line)
        for rule in self._rules:
            if rule.pattern.search(line):
                response = rule.response
                if isinstance(response, Exception):
                    raise response
                answer = response(line) if callable(response) else response
                if isinstance(answer, CommandResult):
                    return self._bounded(answer)
                status, out, err = answer
                return self._bounded(CommandResult(self.host, line, status, out, err))
        return CommandResult(self.host, line, 0, "", "")

    def _bounded(self, result: CommandResult) -> CommandResult:
        if self.output_limit_bytes is None:
            return result
        out, err = BoundedBuffer(self.output_limit_bytes), BoundedBuffer(self.output_limit_bytes)
        out.feed(result.stdout.encode("utf-8"))
        err.feed(result.stderr.encode("utf-8"))
        if not (out.dropped or err.dropped):
            return result
        return dataclasses.replace(
            result, stdout=out.text(), stderr=err.text(),
            stdout_truncated_bytes=result.stdout_truncated_bytes + out.dropped,
            stderr_truncated_bytes=result.stderr_truncated_bytes + err.dropped,
        )

    def close(self) -> None:
        self.closed = True


def unreachable(host: str) -> TransportError:
    """The error a transport raises for a host that is down (for fake rules)."""
    return TransportError(host, "connection timed out")


@dataclass
class FakeCluster:
    """Per-host FakeTransports keyed by host name, created on first use."""

    transports: dict[str, FakeTransport] = field(default_factory=dict)

    def __call__(self, host_name: str) -> FakeTransport:
        if host_name not in self.transports:
            self.transports[host_name] = FakeTransport(host_name)
        return self.transports[host_name]
