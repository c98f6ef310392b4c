"""The report's transactions section: anomalies by type, witness cycles drawn as SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from harness.checkers.bank import check_bank
from harness.checkers.list_append import check_list_append
from harness.history import Op
from harness.report._txn import cycle_svg, transactions_section


def _write_skew() -> list[Op]:
    rows = [
        ("txn-0", [["r", "x", None], ["append", "y", 1]], [["r", "x", []], ["append", "y", 1]]),
        ("txn-1", [["r", "y", None], ["append", "x", 1]], [["r", "y", []], ["append", "x", 1]]),
        ("txn-2", [["r", "x", None], ["r", "y", None]], [["r", "x", [1]], ["r", "y", [1]]]),
    ]
    ops: list[Op] = []
    for p, inv, done in rows:
        ops.append(Op(len(ops), 0.0, p, "invoke", "txn", inv))
        ops.append(Op(len(ops), 0.0, p, "ok", "txn", done))
    return ops


def test_section_lists_anomalies_and_draws_the_cycle() -> None:
    checks = [check_list_append(_write_skew()).to_dict()]
    html = transactions_section(checks)
    assert "<h3>Transactions</h3>" in html
    assert "data-anomaly='G2-item'" in html and "forbidden" in html
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg
    root = ET.fromstring(svg.group(0))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == 2
    assert [p.get("data-edge") for p in root.findall(f"{ns}path") if p.get("data-edge")] == ["rw", "rw"]
    assert "read x = [] before T1 appended 1" in html


def test_allowed_anomaly_is_marked_allowed() -> None:
    html = transactions_section([check_list_append(_write_skew(), model="read-committed").to_dict()])
    assert "allowed" in html and "class='bad'" not in html


def test_no_transaction_checker_no_section() -> None:
    assert transactions_section([{"checker": "ledger", "counts": {}}]) == ""


def test_bank_line() -> None:
    ops = [Op(0, 0.0, "bank-setup", "ok", "setup", {"accounts": [0], "total": 5}), Op(1, 0.0, "bank-1", "ok", "read", {"0": 4})]
    html = transactions_section([check_bank(ops).to_dict()])
    assert "bank: invalid" in html and "1 with a wrong total" in html


def test_cycle_svg_escapes_and_parses() -> None:
    svg = cycle_svg([{"from": "T<1>", "to": "T2", "kind": "ww", "why": "a & b"}, {"from": "T2", "to": "T<1>", "kind": "wr", "why": "c"}])
    ET.fromstring(svg)
    assert "T&lt;1&gt;" in svg
