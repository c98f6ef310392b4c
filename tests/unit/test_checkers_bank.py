"""The bank checker on literal histories."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers._result import Validity
from harness.checkers._txn_history import TxnHistoryError
from harness.checkers.bank import check_bank
from harness.history import Op


def bank(*reads: Any, total: int = 100) -> list[Op]:
    ops = [Op(0, 0.0, "bank-setup", "invoke", "setup", {"accounts": [0, 1], "total": total}),
           Op(1, 0.1, "bank-setup", "ok", "setup", {"accounts": [0, 1], "total": total}),
           Op(2, 0.2, "bank-0", "invoke", "transfer", {"from": 0, "to": 1, "amount": 5}),
           Op(3, 0.3, "bank-0", "ok", "transfer", {"from": 0, "to": 1, "amount": 5})]
    for v in reads:
        i = len(ops)
        ops += [Op(i, float(i), "bank-1", "invoke", "read", None), Op(i + 1, float(i + 1), "bank-1", "ok", "read", v)]
    return ops


def test_good_reads_valid() -> None:
    res = check_bank(bank({"0": 50, "1": 50}, {"0": 45, "1": 55}))
    assert res.valid is Validity.VALID
    assert res.counts["reads"] == 2 and res.counts["transfers"]["ok"] == 1


def test_wrong_total_invalid_with_example() -> None:
    res = check_bank(bank({"0": 50, "1": 50}, {"0": 45, "1": 50}))
    assert res.valid is Validity.INVALID
    assert res.counts["wrong_total"] == 1
    assert res.examples["wrong_total"][0]["difference"] == -5


def test_negative_balance_invalid_unless_allowed() -> None:
    ops = bank({"0": -10, "1": 110})
    assert check_bank(ops).valid is Validity.INVALID
    assert check_bank(ops, allow_negative=True).valid is Validity.VALID


def test_missing_account_invalid() -> None:
    assert check_bank(bank({"0": 100})).counts["missing_accounts"] == 1


def test_no_read_unknown() -> None:
    assert check_bank(bank()).valid is Validity.UNKNOWN
    assert check_bank(bank({"0": 50, "1": 50})[2:]).valid is Validity.UNKNOWN


def test_malformed_read_names_line() -> None:
    with pytest.raises(TxnHistoryError, match="index 5"):
        check_bank(bank({"0": "x", "1": 50}))
