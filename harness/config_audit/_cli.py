"""`harness audit`: the static audit of a cluster's configuration, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from ._model import Finding, Severity


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit", help="read the cluster's configuration and say what will go wrong before any fault",
        description="Read each host's configuration over SSH, compare peers and promises, list findings "
                    "(exit 0 clean, 1 findings, 3 a host or file could not be judged).")
    p.add_argument("--cluster", metavar="FILE", default=None,
                   help="cluster file (default: the default lab's, /var/lib/harness-lab/default/cluster.yml)")
    p.add_argument("--json", action="store_true", help="findings as JSON on stdout")
    p.set_defaults(func=cmd_audit)


def render_table(findings: list[Finding]) -> str:
    """One block per finding, worst first: severity, rule, message, evidence, confirming test."""
    if not findings:
        return "audit: no findings"
    lines = []
    for f in findings:
        lines.append(f"{f.severity.value.upper():8} {f.rule}: {f.message}")
        lines.extend(f"         at {e.where()}: {e.text}" for e in f.evidence)
        if f.confirm:
            lines.append(f"         confirm with: {f.confirm}")
    counts = {s: sum(f.severity is s for f in findings) for s in Severity}
    lines.append("audit: " + ", ".join(f"{n} {s.value}" for s, n in counts.items()))
    return "\n".join(lines)


def cmd_audit(args: argparse.Namespace) -> int:
    from ..faults._cli import open_cluster
    from ..lab._state import STATE_ROOT
    from ._collect import audit_cluster, exit_status

    cluster_file = args.cluster or str(STATE_ROOT / "default" / "cluster.yml")
    cluster = open_cluster(cluster_file)
    try:
        findings = audit_cluster(cluster)
    finally:
        cluster.close()
    if args.json:
        json.dump({"cluster": cluster_file, "findings": [f.to_dict() for f in findings],
                   "exit_status": exit_status(findings)}, sys.stdout, indent=2)
        print()
    else:
        print(render_table(findings))
    return exit_status(findings)
