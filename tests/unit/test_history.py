"""The history recorder and file: the contract every checker and report reads."""

from __future__ import annotations

import json
import threading

import pytest

from harness.errors import HistoryError
from harness.history import HistoryRecorder, Op, load_history, pair_operations, write_history


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_invoke_and_complete_are_written_in_order_with_times_since_start(tmp_path):
    clock = FakeClock()
    path = tmp_path / "history.jsonl"
    rec = HistoryRecorder(path, clock=clock)
    clock.t = 101.5
    op = rec.invoke("vip-probe", "get", {"vip": "web"})
    clock.t = 101.75
    op.ok(200, node="web2", latency_ms=3.5)
    rec.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines == [
        {"index": 0, "time": 1.5, "process": "vip-probe", "type": "invoke", "f": "get", "value": {"vip": "web"}},
        {"index": 1, "time": 1.75, "process": "vip-probe", "type": "ok", "f": "get", "value": 200,
         "node": "web2", "latency_ms": 3.5},
    ]
    assert load_history(path) == rec.ops()


def test_a_process_has_at_most_one_open_operation():
    rec = HistoryRecorder()
    rec.invoke("ledger-1", "write", "k1")
    with pytest.raises(HistoryError, match="'ledger-1' invoked 'write' while operation 0"):
        rec.invoke("ledger-1", "write", "k2")


def test_completing_without_an_open_operation_is_an_error():
    rec = HistoryRecorder()
    with pytest.raises(HistoryError, match="no open operation"):
        rec.complete("nemesis", "ok")
    rec.invoke("nemesis", "kill")
    with pytest.raises(HistoryError, match="completion type"):
        rec.complete("nemesis", "done")


def test_operation_context_records_info_when_the_body_raises():
    rec = HistoryRecorder()
    with pytest.raises(ConnectionResetError):
        with rec.operation("ledger-1", "write", "k1"):
            raise ConnectionResetError("reset by peer")
    last = rec.ops()[-1]
    assert (last.type, last.f, last.extra["error"]) == ("info", "write", "ConnectionResetError: reset by peer")


def test_operation_context_records_info_when_left_uncompleted():
    rec = HistoryRecorder()
    with rec.operation("state", "sample"):
        pass
    assert [o.type for o in rec.ops()] == ["invoke", "info"]


def test_close_completes_open_operations_as_info(tmp_path):
    rec = HistoryRecorder(tmp_path / "history.jsonl")
    rec.invoke("ledger-2", "write", "k9")
    rec.close()
    ops = load_history(tmp_path)
    assert ops[-1].type == "info" and ops[-1].process == "ledger-2"


def test_recorder_is_thread_safe_indices_are_dense_and_unique():
    rec = HistoryRecorder()

    def worker(n: int) -> None:
        for i in range(500):
            rec.invoke(f"p{n}", "get").ok(i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ops = rec.ops()
    assert [o.index for o in ops] == list(range(8 * 500 * 2))
    pairs = list(pair_operations(ops))
    assert len(pairs) == 4000 and all(c is not None and c.process == i.process for i, c in pairs)


def test_load_rejects_lines_breaking_the_contract(tmp_path):
    p = tmp_path / "history.jsonl"
    p.write_text('{"index": 0, "time": 0, "process": "x", "type": "invoke", "f": "get"}\n{"index": 1}\n')
    with pytest.raises(HistoryError, match=r"history.jsonl:2: missing field"):
        load_history(p)
    p.write_text('{"index": 0, "time": 0, "process": "x", "type": "done", "f": "get"}\n')
    with pytest.raises(HistoryError, match=r":1: field 'type': 'done'"):
        load_history(p)
    p.write_text("not json\n")
    with pytest.raises(HistoryError, match=r":1: not JSON"):
        load_history(p)
    with pytest.raises(HistoryError, match="cannot read history"):
        load_history(tmp_path / "missing.jsonl")


def test_extra_fields_round_trip_and_blank_lines_are_skipped(tmp_path):
    ops = [Op(0, 0.0, "nemesis", "invoke", "partition", {"fault_id": "f1"}),
           Op(1, 0.5, "nemesis", "ok", "partition", {"fault_id": "f1"}, {"targets": ["dir1"]})]
    p = tmp_path / "h.jsonl"
    write_history(ops, p)
    p.write_text(p.read_text() + "\n\n")
    assert load_history(p) == ops


def test_pair_operations_leaves_unfinished_invocations_unpaired():
    ops = [Op(0, 0.0, "a", "invoke", "get"), Op(1, 0.1, "b", "invoke", "get"), Op(2, 0.2, "a", "fail", "get")]
    pairs = list(pair_operations(ops))
    assert [(i.process, c.type if c else None) for i, c in pairs] == [("a", "fail"), ("b", None)]


def test_load_pauses_the_gc_and_gives_the_callers_state_back(tmp_path, monkeypatch):
    # load_history pauses the cyclic GC for speed; a caller must never find it changed, not even
    # after a load that failed half-way
    import gc

    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    write_history([Op(0, 0.0, "p", "invoke", "get"), Op(1, 0.1, "p", "ok", "get", 200)], good)
    bad.write_text(good.read_text() + '{"index": 2, "time": 0.2, "process": "p", "type": "nope", "f": "get"}\n')
    seen: list[bool] = []
    real_op = Op

    def spy(*a, **kw):  # the GC state while the lines are turned into ops
        seen.append(gc.isenabled())
        return real_op(*a, **kw)

    monkeypatch.setattr("harness.history.Op", spy)
    assert gc.isenabled()
    assert [op.value for op in load_history(good)] == [None, 200]
    assert seen == [False, False] and gc.isenabled()
    with pytest.raises(HistoryError, match="field 'type'"):
        load_history(bad)
    assert gc.isenabled()
    gc.disable()
    try:
        load_history(good)
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_a_history_file_streams_anew_on_every_pass_and_checkers_agree_with_the_list(tmp_path):
    # a soak's checkers read its history from disk (bounded memory), several passes each: the
    # verdicts must be those of the same history loaded into memory
    from harness.checkers import CheckConfig, run_all
    from harness.history import HistoryFile, iter_history
    from harness.report._demo import db_partition, director_crash

    for ops, recovery_verdict in ((director_crash(), "valid"), (db_partition(), "unknown")):  # no state samples
        path = tmp_path / "history.jsonl"
        write_history(ops, path)
        on_file = HistoryFile(tmp_path)  # a run directory names its history.jsonl
        assert list(on_file) == list(on_file) == load_history(path)
        cfg = CheckConfig(max_outage_s=4.7, min_availability_percent=95.0, recovery_s=10.0, recovery_within_s=10.0)
        from_file = [r.to_dict() for r in run_all(on_file, cfg)]
        from_list = [r.to_dict() for r in run_all(load_history(path), cfg)]
        assert from_file == from_list
        assert {r["checker"]: r["valid"] for r in from_file}["recovery"] == recovery_verdict
        # a one-shot iterator is read once, not silently empty on the checkers' second pass
        assert [r.to_dict() for r in run_all(iter_history(path), cfg)] == from_list


def test_history_file_names_a_missing_file(tmp_path):
    from harness.history import HistoryFile, iter_history

    with pytest.raises(HistoryError, match="no history file"):
        HistoryFile(tmp_path / "nope.jsonl")
    with pytest.raises(HistoryError, match="cannot read history"):
        next(iter_history(tmp_path / "nope.jsonl"))


GOOD_LINE = b'{"index": 0, "time": 0.5, "process": "vip-probe", "type": "invoke", "f": "get"}\n'


@pytest.mark.parametrize(
    "content, message",
    [
        (GOOD_LINE + b'{"index": 1, "time": 0.6, "process": "vip-\xff", "type": "ok", "f": "get"}\n',
         r"h.jsonl:2: not UTF-8 \(byte 0xff at column 43\)"),
        (GOOD_LINE + b'{"index": 1, "time": 0.6, "pro', r"h.jsonl:2: truncated: the last line has no end"),
        (b'{"index": "0", "time": 0.5, "process": "p", "type": "invoke", "f": "get"}\n', r"h.jsonl:1: field 'index': '0' is not an integer"),
        (b'{"index": 0, "time": "soon", "process": "p", "type": "invoke", "f": "get"}\n', r"h.jsonl:1: field 'time': 'soon' is not a finite number"),
        (b'{"index": 0, "time": true, "process": "p", "type": "invoke", "f": "get"}\n', r"h.jsonl:1: field 'time': True is not a finite number"),
        (b'{"index": 0, "time": 0.5, "process": 7, "type": "invoke", "f": "get"}\n', r"h.jsonl:1: field 'process': 7 is not a string"),
        (b'{"index": 0, "time": 0.5, "process": "p", "type": "invoke", "f": null}\n', r"h.jsonl:1: field 'f': None is not a string"),
    ],
)
def test_every_broken_line_is_one_history_error_naming_file_and_line(tmp_path, content, message):
    p = tmp_path / "h.jsonl"
    p.write_bytes(content)
    with pytest.raises(HistoryError, match=message):
        load_history(p)


def test_a_nan_time_is_refused_by_the_stdlib_json_reader_too(tmp_path, monkeypatch):
    import harness.history as history

    monkeypatch.setattr(history, "_loads", json.loads)  # accepts NaN and Infinity
    monkeypatch.setattr(history, "_DecodeError", json.JSONDecodeError)
    p = tmp_path / "h.jsonl"
    p.write_bytes(b'{"index": 0, "time": NaN, "process": "p", "type": "invoke", "f": "get"}\n')
    with pytest.raises(HistoryError, match=r"h.jsonl:1: field 'time': nan is not a finite number"):
        load_history(p)
    p.write_bytes(GOOD_LINE + b'{"index": 1, "time": 1, "process": "\xc3", "type": "ok", "f": "get"}\n')
    with pytest.raises(HistoryError, match=r"h.jsonl:2: not UTF-8"):
        load_history(p)


def test_a_sessions_run_dir_is_named_with_its_test_folders(tmp_path):
    for name in ("test_a", "test_b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "history.jsonl").write_bytes(GOOD_LINE)
    with pytest.raises(HistoryError, match="session's run directory: give one test's folder, e.g. test_a, test_b"):
        load_history(tmp_path)
    assert len(load_history(tmp_path / "test_a")) == 1
