"""`harness` command line: a thin shell over the library (locust's lesson: API first).

Each area registers its own subcommands from a private `_cli` module, so this file only
dispatches and turns HarnessError into one red line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
