"""`harness heal` (undo what a crashed run left behind) and `harness faults` (the catalogue)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .._host_keys import host_key_warning, unchecked_host_keys
from ..errors import FaultError
from ._children import ChildOutcome, stop_children
from ._journal import JOURNAL_FILE, HealOutcome, Journal, heal_journal
from ._registry import FAULTS

if TYPE_CHECKING:
    from ..cluster import Cluster, TransportFactory

#: seam for tests (and the lab): transports for `harness heal`; None = the real ones
TRANSPORT_FACTORY: TransportFactory | None = None

#: how deep under ./reports to look for run directories with a journal (bounded walk)
_SEARCH_DEPTH = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "heal",
        help="heal every fault a (crashed) run's journal still lists as in force",
        description="Stop the child processes (Locust) and heal the pending faults of a run "
        "journal (journal.jsonl). Exit 0 when all stopped and healed (or none pending), 1 when a "
        "heal failed, a child could not be stopped or a journal line is unreadable (the "
        "readable ones are healed anyway), 2 for bad usage or a journal that cannot be read at all.",
    )
    p.add_argument("--journal", metavar="DIR", help="run directory holding journal.jsonl "
                   "(default: the newest one under ./reports/)")
    p.add_argument("--cluster", metavar="FILE", help="cluster file (default: the one the journal recorded)")
    p.set_defaults(func=cmd_heal)

    q = subparsers.add_parser("faults", help="list the fault catalogue")
    q.set_defaults(func=cmd_faults)


def cmd_faults(args: argparse.Namespace) -> int:
    width = max(len(n) for n in FAULTS)
    for name in FAULTS:
        print(f"{name:<{width}}  {FAULTS[name].summary}")
    return 0


def cmd_heal(args: argparse.Namespace) -> int:
    run_dir = Path(args.journal) if args.journal else newest_journal_dir(Path("reports"))
    journal = Journal(run_dir)
    if not journal.path.is_file():
        raise FaultError(f"{run_dir}: no {JOURNAL_FILE} here")
    pending = journal.pending()
    problems = journal.problems()
    outcomes: list[HealOutcome] = []
    stopped: list[ChildOutcome] = []
    if journal.pending_children():  # first: load on a cluster being healed only muddies it
        print(f"{journal.path}: {len(journal.pending_children())} child process(es) journaled as running")
        stopped = stop_children(journal)
        for child in stopped:
            print(f"  {child.line()}")
    if not pending:
        if not stopped:
            print(f"{journal.path}: nothing to heal" + (" among the readable records" if problems else ""))
    else:
        cluster_file = args.cluster or next((r["cluster_file"] for r in pending if r.get("cluster_file")), None)
        if not cluster_file:
            raise FaultError(f"{journal.path}: the journal names no cluster file; pass --cluster FILE")
        journal.cluster_file = str(cluster_file)
        print(f"{journal.path}: {len(pending)} pending fault(s), cluster {cluster_file}")
        cluster = open_cluster(str(cluster_file))
        try:
            outcomes = heal_journal(journal, cluster)
        finally:
            cluster.close()
        for outcome in outcomes:
            print(f"  {outcome.line()}")
    for problem in problems:
        print(f"  {problem.text()}")
    failed = [o for o in outcomes if not o.healed]
    running = [c for c in stopped if not c.ok]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} fault(s) NOT healed; fix and run `harness heal` again",
              file=sys.stderr)
    if running:
        print(f"{len(running)} child process(es) NOT stopped; stop them by hand (kill -KILL PID)", file=sys.stderr)
    if problems:
        print(f"{len(problems)} journal line(s) unreadable: whatever they recorded may still be in force; "
              "check those hosts by hand", file=sys.stderr)
    return 1 if failed or running or problems else 0


def open_cluster(cluster_file: str) -> Cluster:
    """Load the cluster file and connect (through ``TRANSPORT_FACTORY`` when set)."""
    # imported here, not at the top: `harness faults` lists the catalogue without paying for
    # testinfra and paramiko (no import circle is involved)
    from ..cluster import Cluster
    from ..inventory import load_inventory

    inventory = load_inventory(cluster_file)
    warning = host_key_warning(unchecked_host_keys(inventory))
    if warning:
        print(f"harness: {warning}")
    return Cluster(inventory, transport_factory=TRANSPORT_FACTORY)


def newest_journal_dir(reports: Path) -> Path:
    """The run directory under ``reports`` whose journal was written last."""
    found: list[tuple[float, Path]] = []
    if reports.is_dir():
        frontier = [reports]
        for _ in range(_SEARCH_DEPTH):
            nxt: list[Path] = []
            for d in frontier:
                try:  # a directory we may not read (another user's run) cannot hold ours
                    children = sorted(d.iterdir())
                except OSError:
                    continue
                for child in children:
                    if child.is_dir():
                        nxt.append(child)
                        j = child / JOURNAL_FILE
                        try:
                            if j.is_file():
                                found.append((j.stat().st_mtime, child))
                        except OSError:
                            continue
            frontier = nxt
    if not found:
        raise FaultError(f"{reports}: no run directory with a {JOURNAL_FILE}; pass --journal DIR")
    return max(found, key=lambda item: item[0])[1]
