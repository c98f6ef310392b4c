"""Elle's in-transaction anomalies of the list-append checker: ``internal`` and ``future-read``."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers._result import Validity
from harness.checkers.list_append import MODELS, check_list_append
from harness.history import Op


def hist(*txns: tuple[str, str, list[list[Any]]]) -> list[Op]:
    """Each (process, type, completed mops): invoke (reads null) at 10*n, completion at 10*n + 1."""
    ops: list[Op] = []
    for n, (process, typ, done) in enumerate(txns):
        inv = [[f, k, None] if f == "r" else [f, k, v] for f, k, v in done]
        ops.append(Op(len(ops), 10.0 * n, process, "invoke", "txn", inv))
        ops.append(Op(len(ops), 10.0 * n + 1, process, typ, "txn", done if typ == "ok" else inv))
    return ops


def ap(k: Any, v: int) -> list[Any]:
    return ["append", k, v]


def r(k: Any, v: list[int]) -> list[Any]:
    return ["r", k, v]


#: x = [1, 2] written by two earlier txns, read back whole: the background every case builds on
BASE = (("txn-0", "ok", [ap("x", 1)]), ("txn-1", "ok", [ap("x", 2)]), ("txn-2", "ok", [r("x", [1, 2])]))


def check(*txns: tuple[str, str, list[list[Any]]], model: str = "serializable") -> Any:
    return check_list_append(hist(*BASE, *txns), model=model)


def test_append_then_read_without_it_is_internal() -> None:
    res = check(("txn-3", "ok", [ap("x", 7), r("x", [1, 2])]))
    assert res.counts["anomaly_types"] == ["internal"], res
    (ex,) = res.examples["internal"]
    assert ex["explanation"] == "T3 appended 7 to x then read x = [1, 2], not ending in [7]"
    assert ex["expected"] == ["...", 7] and ex["read"] == [1, 2] and ex["key"] == "x"
    assert res.valid is Validity.INVALID and "internal" in res.message


def test_read_append_read_must_be_the_first_read_plus_the_append() -> None:
    res = check(("txn-3", "ok", [r("x", [1, 2]), ap("x", 3), r("x", [1, 2])]))
    assert res.counts["anomaly_types"] == ["internal"], res
    (ex,) = res.examples["internal"]
    assert ex["explanation"] == "T3 read x = [1, 2] and appended 3, then read x = [1, 2], not [1, 2, 3]"
    assert ex["expected"] == [1, 2, 3]


def test_two_reads_without_an_append_between_must_agree() -> None:
    res = check(("txn-3", "ok", [r("x", [1, 2]), r("y", []), r("x", [1])]))
    # the second read, stale against T1's append of 2 that T3 saw, is also an external rw: G-single
    assert res.counts["anomalies"] == {"G-single": 1, "internal": 1}, res
    assert res.examples["internal"][0]["explanation"] == "T3 read x = [1, 2], then read x = [1] with no append between"


def test_two_appends_before_any_read_expect_both_at_the_end() -> None:
    res = check(("txn-3", "ok", [ap("x", 5), ap("x", 6), r("x", [1, 2, 5])]))
    assert res.counts["anomaly_types"] == ["internal"], res
    assert res.examples["internal"][0]["expected"] == ["...", 5, 6]
    assert "appended 5, 6 to x then read x = [1, 2, 5], not ending in [5, 6]" in res.examples["internal"][0]["explanation"]


def test_a_read_shorter_than_the_own_appends_is_internal() -> None:
    res = check(("txn-3", "ok", [ap("z", 5), ap("z", 6), r("z", [])]))  # [] fits z's order [5, 6]: only internal
    assert res.counts["anomaly_types"] == ["internal"], res
    assert res.examples["internal"][0]["explanation"] == "T3 appended 5, 6 to z then read z = [], not ending in [5, 6]"


def test_only_the_first_internal_case_of_a_txn_is_reported() -> None:
    res = check(("txn-3", "ok", [ap("x", 7), r("x", [1]), r("x", [1, 2])]))
    assert res.counts["anomalies"]["internal"] == 1
    assert res.examples["internal"][0]["read"] == [1]


def test_reading_an_own_append_before_making_it_is_future_read() -> None:
    res = check(("txn-3", "ok", [r("x", [1, 2, 7]), ap("x", 7)]))
    assert res.counts["anomaly_types"] == ["future-read"], res
    (ex,) = res.examples["future-read"]
    assert ex["explanation"] == "T3 read x = [1, 2, 7], containing 7, before appending 7 itself"
    assert ex["element"] == 7 and ex["txn"]["txn"] == "T3"
    assert res.valid is Validity.INVALID


@pytest.mark.parametrize(
    "mops",
    [
        [ap("x", 3), r("x", [1, 2, 3])],  # appends then reads its own append
        [r("x", [1, 2]), ap("x", 3), r("x", [1, 2, 3])],  # read, append, read the two together
        [r("x", [1, 2]), r("x", [1, 2]), ap("y", 1), r("y", [1])],  # repeated reads agree
        [ap("x", 3), ap("x", 4), r("x", [1, 2, 3, 4]), ap("x", 5), r("x", [1, 2, 3, 4, 5])],
        [ap("y", 1), r("x", [1, 2])],  # a key the txn never appended to: nothing expected
    ],
)
def test_a_txn_consistent_with_itself_is_clean(mops: list[list[Any]]) -> None:
    res = check(("txn-3", "ok", mops))
    assert res.valid is Validity.VALID, res
    assert res.counts["anomaly_types"] == []


def test_failed_and_info_txns_are_not_judged_internally() -> None:
    # their value is the invocation's (reads null): nothing of theirs was observed
    res = check(("txn-3", "fail", [ap("z", 1), r("z", [])]), ("txn-4", "info", [ap("w", 1), r("w", [])]))
    assert "internal" not in res.counts["anomaly_types"]


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize(
    ("kind", "mops"),
    [("internal", [ap("x", 7), r("x", [1, 2])]), ("future-read", [r("x", [1, 2, 7]), ap("x", 7)])],
)
def test_every_model_forbids_both(model: str, kind: str, mops: list[list[Any]]) -> None:
    assert kind in MODELS[model]
    res = check(("txn-3", "ok", mops), model=model)
    assert res.valid is Validity.INVALID, res
    assert res.counts["forbidden_anomaly_types"] == [kind]


def test_witnesses_carry_the_txn_times_for_the_timeline() -> None:
    res = check(("txn-3", "ok", [ap("x", 7), r("x", [1, 2])]), ("txn-4", "ok", [r("x", [1, 2, 8]), ap("x", 8)]))
    assert res.examples["internal"][0]["txn"]["time"] == 30.0
    assert res.examples["internal"][0]["txn"]["end"] == 31.0
    assert (res.examples["future-read"][0]["txn"]["time"], res.examples["future-read"][0]["txn"]["end"]) == (40.0, 41.0)


def test_a_never_completed_txn_in_a_cycle_has_no_end() -> None:
    # T1 never completes (info): it appended x 1 and y 2; T0 read x = [1] and appended y 1 before
    # T1's y 2 (T3 read y = [1, 2]): T1 -wr-> T0 -ww-> T1, a G1c through a txn with no end
    ops = [
        Op(0, 1.0, "txn-1", "invoke", "txn", [ap("x", 1), ap("y", 2)]),
        Op(1, 2.0, "txn-0", "invoke", "txn", [["r", "x", None], ap("y", 1)]),
        Op(2, 3.0, "txn-0", "ok", "txn", [r("x", [1]), ap("y", 1)]),
        Op(3, 4.0, "txn-3", "invoke", "txn", [["r", "x", None], ["r", "y", None]]),
        Op(4, 5.0, "txn-3", "ok", "txn", [r("x", [1]), r("y", [1, 2])]),
    ]
    res = check_list_append(ops)
    (cycle,) = res.examples["G1c"]
    times = {t["txn"]: (t["time"], t["end"], t["type"]) for t in cycle["txns"]}
    assert times == {"T0": (1.0, None, "info"), "T1": (2.0, 3.0, "ok")}
