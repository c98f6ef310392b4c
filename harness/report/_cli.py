"""``harness report RUN_DIR``: write RUN_DIR/availability.html and print its path.

``--allure`` also turns the run's allure results into an HTML site, offline, when an allure
command line is installed (see harness/report/allure.py and docs/report.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report",
        help="write the HTML availability report of a run directory",
        description="Build RUN_DIR/availability.html (self-contained: inline CSS and SVG, no network) from run.json, "
        "each test's result.json and history.jsonl.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (reports/<run-id>/) or one test's directory")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of RUN_DIR/availability.html")
    p.add_argument(
        "--allure",
        action="store_true",
        help="also build the allure HTML report from RUN_DIR/allure-results into RUN_DIR/allure-report (needs the allure command line)",
    )
    p.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    # imported here, not for a circle (there is none) but so that every other ``harness``
    # subcommand starts without loading the report's reader and renderer
    from . import build_report

    path = build_report(args.run_dir, out=args.output)
    print(path)
    if getattr(args, "allure", False):
        from .allure import build_allure_html

        site = build_allure_html(args.run_dir)
        print(site)
    sys.stdout.flush()
    return 0
