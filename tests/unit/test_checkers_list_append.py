"""The list-append checker on literal histories: every anomaly, clean ones, models, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers._result import Validity
from harness.checkers._txn_history import TxnHistoryError
from harness.checkers.list_append import check_list_append
from harness.errors import HarnessError
from harness.history import Op


def hist(*txns: tuple[str, str, list[list[Any]], list[list[Any]] | None]) -> list[Op]:
    """Each (process, type, invoke mops, ok mops or None): invoke then completion, in turn."""
    ops: list[Op] = []
    for process, typ, inv, done in txns:
        i = len(ops)
        ops.append(Op(i, float(i), process, "invoke", "txn", inv))
        ops.append(Op(i + 1, float(i + 1), process, typ, "txn", done if done is not None else inv))
    return ops


def ap(k: Any, v: int) -> list[Any]:
    return ["append", k, v]


def r(k: Any, v: list[int] | None = None) -> list[Any]:
    return ["r", k, v]


def ok(p: str, *mops: list[Any]) -> tuple[str, str, list[list[Any]], list[list[Any]]]:
    inv = [[m[0], m[1], None] if m[0] == "r" else m for m in mops]
    return (p, "ok", inv, list(mops))


def types(res: Any) -> list[str]:
    return list(res.counts["anomaly_types"])


def test_clean_serial_history_valid() -> None:
    res = check_list_append(hist(ok("txn-0", ap("x", 1)), ok("txn-1", r("x", [1]), ap("x", 2)), ok("txn-0", r("x", [1, 2]))))
    assert res.valid is Validity.VALID, res
    assert types(res) == []


def test_clean_history_with_fail_and_info_valid() -> None:
    ops = hist(
        ok("txn-0", ap(1, 1), ap(2, 1)),
        ("txn-1", "fail", [ap(1, 9)], None),
        ("txn-2", "info", [ap(1, 2)], None),
        ok("txn-3", r(1, [1, 2]), r(2, [1])),
        ok("txn-0", r(3, []), ap(3, 1)),
    )
    res = check_list_append(ops)
    assert res.valid is Validity.VALID, res


def test_clean_concurrent_reads_of_same_prefix_without_writes_valid() -> None:
    ops = hist(ok("txn-0", ap("k", 1)), ok("txn-1", r("k", [1])), ok("txn-2", r("k", [1])), ok("txn-1", ap("k", 2), r("k", [1, 2])))
    res = check_list_append(ops)
    assert res.valid is Validity.VALID, res


def test_incompatible_order() -> None:
    res = check_list_append(hist(ok("txn-0", ap("x", 1)), ok("txn-1", ap("x", 2)), ok("txn-2", r("x", [1, 2])), ok("txn-3", r("x", [2]))))
    assert res.valid is Validity.INVALID
    assert "incompatible-order" in types(res)
    assert res.examples["incompatible-order"][0]["read"] == [2]


def test_duplicate_elements() -> None:
    res = check_list_append(hist(ok("txn-0", ap("x", 1)), ok("txn-1", r("x", [1, 1]))))
    assert "duplicate-elements" in types(res)
    assert res.valid is Validity.INVALID


def test_g1a_aborted_read() -> None:
    res = check_list_append(hist(("txn-0", "fail", [ap("x", 1)], None), ok("txn-1", r("x", [1]))))
    assert types(res) == ["G1a"]
    assert res.valid is Validity.INVALID
    assert "failed" in res.examples["G1a"][0]["explanation"]


def test_info_append_read_is_not_g1a() -> None:
    res = check_list_append(hist(("txn-0", "info", [ap("x", 1)], None), ok("txn-1", r("x", [1]))))
    assert res.valid is Validity.VALID, res


def test_g1b_intermediate_read() -> None:
    res = check_list_append(hist(("txn-0", "info", [ap("x", 1), ap("x", 2)], None), ok("txn-1", r("x", [1])), ok("txn-2", r("x", [1, 2]))))
    assert "G1b" in types(res)
    assert res.valid is Validity.INVALID


def test_g0_write_cycle() -> None:
    # T0 appends x1 y2, T1 appends x2 y1: x says T0 < T1, y says T1 < T0
    ops = hist(ok("txn-0", ap("x", 1), ap("y", 2)), ok("txn-1", ap("x", 2), ap("y", 1)), ok("txn-2", r("x", [1, 2]), r("y", [1, 2])))
    res = check_list_append(ops)
    assert "G0" in types(res), res
    cyc = res.examples["G0"][0]["cycle"]
    assert len(cyc) == 2 and all("-ww->" in e for e in cyc)


def test_g1c_circular_information_flow() -> None:
    # T0 appends x1 and reads y=[1] (T1's); T1 appends y1 and reads x=[1] (T0's)
    ops = hist(ok("txn-0", ap("x", 1), r("y", [1])), ok("txn-1", ap("y", 1), r("x", [1])))
    res = check_list_append(ops)
    assert types(res) == ["G1c"], res
    assert any("-wr->" in e for e in res.examples["G1c"][0]["cycle"])
    assert check_list_append(ops, model="read-committed").valid is Validity.INVALID


def test_g_single_read_skew() -> None:
    # T0 reads x=[] (before T1's x1) but reads y=[1] (after T1's y1): one rw, one wr
    ops = hist(ok("txn-0", r("x", []), r("y", [1])), ok("txn-1", ap("x", 1), ap("y", 1)), ok("txn-2", r("x", [1])))
    res = check_list_append(ops)
    assert types(res) == ["G-single"], res
    words = res.examples["G-single"][0]["cycle"]
    assert any("read x = [] before T1 appended 1" in w for w in words), words
    assert check_list_append(ops, model="snapshot-isolation").valid is Validity.INVALID
    assert check_list_append(ops, model="read-committed").valid is Validity.VALID


def test_g2_item_write_skew() -> None:
    # T0 reads x=[] appends y; T1 reads y=[] appends x: two rw edges
    ops = hist(ok("txn-0", r("x", []), ap("y", 1)), ok("txn-1", r("y", []), ap("x", 1)), ok("txn-2", r("x", [1]), r("y", [1])))
    res = check_list_append(ops)
    assert types(res) == ["G2-item"], res
    assert res.valid is Validity.INVALID
    assert check_list_append(ops, model="snapshot-isolation").valid is Validity.VALID
    assert check_list_append(ops, model="repeatable-read").valid is Validity.INVALID


def test_lost_update_like_galera_report() -> None:
    # Jepsen MariaDB Galera 12.1.2: two txns read key 10 = [1 2] and both append to it
    ops = hist(
        ok("txn-0", ap(10, 1), ap(10, 2)),
        ok("txn-1", r(10, [1, 2]), ap(10, 3)),
        ok("txn-2", r(10, [1, 2]), ap(10, 4)),
        ok("txn-3", r(10, [1, 2, 3, 4])),
    )
    res = check_list_append(ops)
    assert "lost-update" in types(res), res
    assert res.counts["anomalies"]["lost-update"] == 1
    ex = res.examples["lost-update"][0]
    assert ex["read"] == [1, 2] and len(ex["txns"]) == 2
    assert res.valid is Validity.INVALID
    assert check_list_append(ops, model="read-committed").valid is Validity.VALID
    assert check_list_append(ops, model="snapshot-isolation").valid is Validity.INVALID


def test_same_history_valid_under_read_committed_invalid_under_serializable() -> None:
    ops = hist(ok("txn-0", r("x", []), ap("y", 1)), ok("txn-1", r("y", []), ap("x", 1)), ok("txn-2", r("x", [1]), r("y", [1])))
    rc = check_list_append(ops, model="read-committed")
    assert rc.valid is Validity.VALID and "G2-item" in types(rc)
    assert check_list_append(ops, model="serializable").valid is Validity.INVALID


def test_realtime_cycle_only_under_strict_serializable() -> None:
    # T0 appends x1 and completes; T1 starts after, reads x=[] (stale): fine serializably
    ops = hist(ok("txn-0", ap("x", 1)), ok("txn-1", r("x", [])), ok("txn-2", r("x", [1])))
    assert check_list_append(ops).valid is Validity.VALID
    res = check_list_append(ops, model="strict-serializable")
    assert res.valid is Validity.INVALID
    assert types(res) == ["G-single-realtime"], res


def test_thin_history_unknown() -> None:
    res = check_list_append(hist(ok("txn-0", ap("x", 1)), ok("txn-1", ap("x", 2))))
    assert res.valid is Validity.UNKNOWN
    assert check_list_append([]).valid is Validity.UNKNOWN


def test_unknown_model_refused() -> None:
    with pytest.raises(ValueError, match="model"):
        check_list_append([], model="snapshot")


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([["append", "x"]], "value[0]"),
        ([["write", "x", 1]], "(f)"),
        ([["append", "x", "1"]], "append value"),
        ([["append", None, 1]], "key"),
        ("x", "not a list"),
    ],
)
def test_malformed_invoke_names_line_and_field(value: Any, field: str) -> None:
    ops = [Op(0, 0.0, "txn-0", "invoke", "txn", []), Op(1, 1.0, "txn-0", "ok", "txn", []), Op(7, 2.0, "txn-1", "invoke", "txn", value)]
    with pytest.raises(TxnHistoryError, match=r"index 7") as err:
        check_list_append(ops)
    assert field in str(err.value)
    assert isinstance(err.value, HarnessError)


def test_malformed_ok_read_names_field() -> None:
    ops = [Op(0, 0.0, "txn-0", "invoke", "txn", [["r", "x", None]]), Op(3, 1.0, "txn-0", "ok", "txn", [["r", "x", None]])]
    with pytest.raises(TxnHistoryError, match=r"index 3.*read value"):
        check_list_append(ops)


def test_anomaly_types_is_also_an_attribute() -> None:
    res = check_list_append(hist(("txn-0", "fail", [ap("x", 1)], None), ok("txn-1", r("x", [1]))))
    assert res.anomaly_types == ["G1a"]


def test_process_order_cycle_under_strong_session() -> None:
    # one process appends x1, then reads x = []: its own write vanished (a session anomaly)
    ops = hist(ok("txn-0", ap("x", 1)), ok("txn-0", r("x", [])), ok("txn-1", r("x", [1])))
    assert check_list_append(ops).valid is Validity.VALID
    res = check_list_append(ops, model="strong-session-serializable")
    assert types(res) == ["G-single-process"], res
    assert any("-process->" in e for e in res.examples["G-single-process"][0]["cycle"])


def test_malformed_through_run_all_is_unknown_naming_the_line() -> None:
    from harness.checkers import run_all

    ops = [Op(0, 0.0, "txn-0", "invoke", "txn", [["append", "x", "one"]])]
    res = {r.checker: r for r in run_all(ops)}["list_append"]
    assert res.valid is Validity.UNKNOWN and "index 0" in res.message and "append value" in res.message
