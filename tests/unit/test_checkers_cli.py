import argparse
import io
import json

import pytest

from harness.checkers import _cli
from harness.errors import HistoryError
from harness.history import Op, write_history


def parser():
    p = argparse.ArgumentParser(prog="harness")
    _cli.register(p.add_subparsers(dest="command", required=True))
    return p


def history(tmp_path, outage_s=0.5):
    ops, t = [], 0.0
    for k in range(40):
        t = k * 0.1
        ok = not (1.0 < t < 1.0 + outage_s)
        ops.append(Op(len(ops), t, "vip-probe", "invoke", "get"))
        ops.append(Op(len(ops), t + 0.01, "vip-probe", "ok" if ok else "fail", "get", 200 if ok else None, {"latency_ms": 10.0 + k}))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_history(ops, run_dir / "history.jsonl")
    return run_dir


def run(argv):
    args = parser().parse_args(argv)
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


def test_table_and_exit_status(tmp_path):
    run_dir = history(tmp_path)
    status, text = run(["check", str(run_dir)])
    assert status == 0
    assert "availability  VALID" in text and "longest_outage_s=0.5" in text
    assert "ledger        UNKNOWN" in text and "no final read" in text
    status, text = run(["check", str(run_dir / "history.jsonl"), "--max-outage", "0.3"])
    assert status == 1 and "availability  INVALID" in text


def test_json_output_and_latency_option(tmp_path):
    run_dir = history(tmp_path)
    status, text = run(["check", str(run_dir), "--json", "--latency", "steady:p99=20"])
    assert status == 1
    results = {r["checker"]: r for r in json.loads(text)}
    assert set(results) == {"availability", "ledger", "latency", "split_brain", "recovery"}
    assert results["latency"]["valid"] == "invalid" and results["latency"]["examples"]["violations"][0]["bound_ms"] == 20


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--max-outage", "-1"], "--max-outage: must be >= 0"),
        (["--max-outage", "soon"], "--max-outage: 'soon' is not a number"),
        (["--min-availability", "101"], "--min-availability: 101 is over 100"),
        (["--latency", "steady=300"], "--latency: 'steady=300' is not PHASE:pNN=MS"),
        (["--latency", "fast:p95=3"], "--latency: unknown phase 'fast'"),
    ],
)
def test_options_validated_at_parse_time(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["check", "h.jsonl", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_missing_history_raises_history_error(tmp_path):
    with pytest.raises(HistoryError, match="cannot read history"):
        run(["check", str(tmp_path / "nope.jsonl")])


def test_through_harness_cli_main(tmp_path, capsys):
    pytest.importorskip("harness.lab._cli")
    pytest.importorskip("harness.faults._cli")
    from harness.cli import main

    run_dir = history(tmp_path)
    assert main(["check", str(run_dir), "--max-outage", "0.3"]) == 1
    assert "availability  INVALID" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "missing")]) == 2
