"""``harness check`` on transaction histories: list_append and bank join, --isolation, exit 1."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path
from typing import Any

import yaml

from harness.checkers import _cli
from harness.history import Op, write_history

DOC = Path(__file__).resolve().parents[2] / "docs" / "cluster-file.md"


def run(argv: list[str]) -> tuple[int, str]:
    p = argparse.ArgumentParser(prog="harness")
    _cli.register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


def write_skew(tmp_path: Path) -> Path:
    """G2-item (write skew): allowed by read-committed, forbidden by serializable; a good bank."""
    txns: list[tuple[str, Any, Any]] = [
        ("txn-0", [["r", "x", None], ["append", "y", 1]], [["r", "x", []], ["append", "y", 1]]),
        ("txn-1", [["r", "y", None], ["append", "x", 1]], [["r", "y", []], ["append", "x", 1]]),
        ("txn-2", [["r", "x", None], ["r", "y", None]], [["r", "x", [1]], ["r", "y", [1]]]),
        ("bank-setup", {"accounts": [0, 1], "total": 10}, {"accounts": [0, 1], "total": 10}),
        ("bank-0", None, {"0": 4, "1": 6}),
    ]
    ops: list[Op] = []
    for process, inv, done in txns:
        f = "txn" if process.startswith("txn") else ("setup" if process == "bank-setup" else "read")
        ops.append(Op(len(ops), float(len(ops)), process, "invoke", f, inv))
        ops.append(Op(len(ops), float(len(ops)), process, "ok", f, done))
    path = tmp_path / "history.jsonl"
    write_history(ops, path)
    return path


def test_serializable_by_default_invalid_with_anomaly_types(tmp_path: Path) -> None:
    status, text = run(["check", str(write_skew(tmp_path)), "--json"])
    results = {r["checker"]: r for r in json.loads(text)}
    assert status == 1
    assert results["list_append"]["valid"] == "invalid"
    assert results["list_append"]["anomaly_types"] == ["G2-item"]
    assert results["list_append"]["counts"]["model"] == "serializable"
    assert results["bank"]["valid"] == "valid"


def test_isolation_option_allows_what_the_model_allows(tmp_path: Path) -> None:
    status, text = run(["check", str(write_skew(tmp_path)), "--json", "--isolation", "read-committed"])
    results = {r["checker"]: r for r in json.loads(text)}
    assert results["list_append"]["valid"] == "valid"
    assert results["list_append"]["anomaly_types"] == ["G2-item"]
    assert status != 1


def test_cluster_file_isolation_is_the_model(tmp_path: Path) -> None:
    m = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert m
    data = yaml.safe_load(m.group(1))
    data["database"]["isolation"] = "read-committed"
    cluster = tmp_path / "cluster.yml"
    cluster.write_text(yaml.safe_dump(data))
    _status, text = run(["check", str(write_skew(tmp_path)), "--json", "--cluster", str(cluster)])
    results = {r["checker"]: r for r in json.loads(text)}
    assert results["list_append"]["counts"]["model"] == "read-committed"
    assert results["list_append"]["valid"] == "valid"
