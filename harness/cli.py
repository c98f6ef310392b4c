"""`harness` command line: a thin shell over the library (locust's lesson: API first).

Each area registers its own subcommands from a private `_cli` module, so this file only
dispatches and turns HarnessError into one red line and a non-zero exit.

Exit statuses shared by every command: 2 bad input (argparse usage errors, and every
HarnessError: one line naming the file, field or host, never a traceback), 130 interrupted,
141 the reader of stdout went away (``harness check ... | head``, as a shell's SIGPIPE). The
rest is each command's own: ``harness check`` 0 VALID, 1 INVALID, 3 UNKNOWN
(harness.checkers._cli); ``harness heal`` 1 when a heal failed; ``harness audit`` 0 clean,
1 findings, 3 a host or file could not be judged (harness.config_audit).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .errors import HarnessError

#: modules exposing ``register(subparsers)``; each adds parsers with ``set_defaults(func=...)``
#: where ``func(args) -> int`` is the exit status.
_AREAS = (
    "harness.lab._cli",
    "harness.checkers._cli",
    "harness.faults._cli",
    "harness.report._cli",
    "harness.config_audit._cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Chaos and acceptance test harness for HA Linux clusters.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _AREAS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not print a second
    BrokenPipeError at exit (the recipe of the signal module's docs)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (a test's capture): nothing to flush
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
