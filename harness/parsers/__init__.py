"""Parsers of real command output: pure functions from captured text to small records.

Each parser raises :class:`harness.errors.ParseError` naming the command and the offending
line, so a failed audit says "ipvsadm -Ln: line 4: ..." rather than a bare IndexError.
Submodules are imported on use (``from harness.parsers.ipvsadm import parse_ipvsadm_list``).
"""

from __future__ import annotations

from ..errors import ParseError


def parse_error(command: str, lineno: int | None, line: str | None, why: str) -> ParseError:
    """Build the ParseError every parser raises: command, 1-based line number, line, reason."""
    where = f": line {lineno}" if lineno is not None else ""
    shown = f": {line.strip()!r}" if line is not None else ""
    return ParseError(f"{command}{where}: {why}{shown}")


__all__ = ["ParseError", "parse_error"]
