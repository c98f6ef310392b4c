import argparse
import io
import json
import math
import re

import pytest

from harness.checkers import _cli
from harness.errors import HistoryError
from harness.history import Op, write_history


def parser():
    p = argparse.ArgumentParser(prog="harness")
    _cli.register(p.add_subparsers(dest="command", required=True))
    return p


def history(tmp_path, outage_s=0.5, extra=()):
    ops, t = [], 0.0
    for k in range(40):
        t = k * 0.1
        ok = not (1.0 < t < 1.0 + outage_s)
        ops.append(Op(len(ops), t, "vip-probe", "invoke", "get"))
        ops.append(Op(len(ops), t + 0.01, "vip-probe", "ok" if ok else "fail", "get", 200 if ok else None, {"latency_ms": 10.0 + k}))
    for process, type_, f, value in extra:
        ops.append(Op(len(ops), t + 0.02 + 0.01 * len(ops), process, type_, f, value))
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
    assert "ledger        N/A" in text and "ledger: not applicable: nothing of its kind in the history (no final read)" in text
    assert text.rstrip().endswith("verdict: VALID (exit 0)")
    status, text = run(["check", str(run_dir / "history.jsonl"), "--max-outage", "0.3"])
    assert status == 1 and "availability  INVALID" in text


def test_json_output_and_latency_option(tmp_path):
    run_dir = history(tmp_path)
    status, text = run(["check", str(run_dir), "--json", "--latency", "steady:p99=20"])
    assert status == 1
    results = {r["checker"]: r for r in json.loads(text)}
    assert set(results) == {"availability", "ledger", "latency", "split_brain", "recovery", "sessions"}
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


def main_of(argv, capsys):
    """harness.cli.main: (exit status, stdout, stderr)."""
    from harness.cli import main

    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("option", ["--max-outage", "--min-availability", "--recovery-s", "--recovery-within", "--settle"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_float_options_refuse_nan_and_infinity(option, value, capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["check", "h.jsonl", f"{option}={value}"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("usage: harness check")
    assert f"{option}: {value!r} is not a finite number" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--latency", "steady:p95=nan"], "--latency: 'steady:p95=nan': 'nan' is not a finite number"),
        (["--latency", "fault:p99=inf"], "--latency: 'fault:p99=inf': 'inf' is not a finite number"),
        (["--probe-prefix", ""], "--probe-prefix: must not be empty"),
        (["--posts-read-prefix", ""], "--posts-read-prefix: must not be empty"),
    ],
)
def test_latency_and_prefix_options_refuse_what_proves_nothing(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["check", "h.jsonl", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_a_nan_outage_bound_no_longer_passes_a_long_outage(tmp_path, capsys):
    # on main, --max-outage nan read VALID on a 2 s outage: no outage is "> nan"
    run_dir = history(tmp_path, outage_s=2.0)
    with pytest.raises(SystemExit) as exc:
        main_of(["check", str(run_dir), "--max-outage", "nan"], capsys)
    assert exc.value.code == 2 and "--max-outage: 'nan' is not a finite number" in capsys.readouterr().err


LEDGER_WRITE = [("ledger-1", "invoke", "write", "k1"), ("ledger-1", "ok", "write", "k1")]


def test_unknown_exits_3_and_accept_unknown_makes_it_0(tmp_path, capsys):
    # a ledger write with no final read: the ledger is there but cannot be judged
    run_dir = history(tmp_path, extra=LEDGER_WRITE)
    status, out, _ = main_of(["check", str(run_dir)], capsys)
    assert status == 3
    assert "ledger        UNKNOWN" in out and "verdict: UNKNOWN (exit 3): could not judge: ledger; --accept-unknown to accept" in out
    status, out, _ = main_of(["check", str(run_dir), "--accept-unknown"], capsys)
    assert status == 0 and "ledger        UNKNOWN" in out
    status, out, _ = main_of(["check", str(run_dir), "--accept-unknown", "--max-outage", "0.3"], capsys)
    assert status == 1 and "verdict: INVALID (exit 1): availability" in out


def test_a_bound_the_user_set_makes_its_checker_applicable(tmp_path, capsys):
    # no latency samples of the steady phase... and none at all: asked to judge, it must say it could not
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_history([Op(0, 0.0, "vip-probe", "invoke", "get"), Op(1, 0.1, "vip-probe", "ok", "get", 200)], run_dir / "history.jsonl")
    assert main_of(["check", str(run_dir)], capsys)[0] == 0
    status, out, _ = main_of(["check", str(run_dir), "--latency", "steady:p95=300"], capsys)
    assert status == 3 and "latency       UNKNOWN" in out


def test_nothing_applicable_is_unknown_not_valid(tmp_path, capsys):
    p = tmp_path / "h.jsonl"
    write_history([Op(0, 0.0, "someone", "invoke", "get"), Op(1, 0.1, "someone", "ok", "get")], p)
    status, out, _ = main_of(["check", str(p)], capsys)
    assert status == 3 and "nothing to judge: no checker applies to this history" in out
    assert main_of(["check", str(p), "--accept-unknown"], capsys)[0] == 0


def test_json_output_says_which_checkers_applied(tmp_path):
    run_dir = history(tmp_path)
    status, text = run(["check", str(run_dir), "--json"])
    applied = {r["checker"]: r["applicable"] for r in json.loads(text)}
    assert status == 0 and applied == {"availability": True, "ledger": False, "latency": True, "split_brain": False, "recovery": False,
                                  "sessions": False}


GOOD = b'{"index": 0, "time": 0.0, "process": "vip-probe", "type": "invoke", "f": "get"}\n'


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "history.jsonl: no operations: an empty history proves nothing"),
        (b"\n\n", "history.jsonl: no operations"),
        (GOOD + b'{"index": 1, "time": 0.1, "process": "vip-probe", "type": "ok", "f": "get", "value": "\xe9"}\n', "history.jsonl:2: not UTF-8"),
        (GOOD + b'{"index": 1, "time": 0.1, "proc', "history.jsonl:2: truncated"),
        (GOOD + b'{"index": 1, "time": 0.1, "process": ["vip-probe"], "type": "ok", "f": "get"}\n', "history.jsonl:2: field 'process'"),
    ],
)
def test_bad_history_is_one_line_exit_2_never_a_traceback(tmp_path, capsys, content, message):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "history.jsonl").write_bytes(content)
    (run_dir / "result.json").write_bytes(b"{corrupt\xff")  # harness check reads history.jsonl only
    status, out, err = main_of(["check", str(run_dir)], capsys)
    assert status == 2 and out == ""
    assert err.startswith("harness: error: ") and message in err and len(err.splitlines()) == 1


def test_check_config_refuses_nan_and_out_of_range_bounds_naming_the_field():
    from harness.checkers import CheckConfig

    for kwargs, message in [
        ({"max_outage_s": math.nan}, "CheckConfig.max_outage_s: must be a finite number >= 0, not nan"),
        ({"min_availability_percent": math.nan}, "CheckConfig.min_availability_percent: must be between 0 and 100, not nan"),
        ({"min_availability_percent": 100.5}, "CheckConfig.min_availability_percent: must be between 0 and 100"),
        ({"recovery_s": math.inf}, "CheckConfig.recovery_s: must be a finite number >= 0, not inf"),
        ({"recovery_within_s": -1}, "CheckConfig.recovery_within_s"),
        ({"split_brain_settle_s": "3"}, "CheckConfig.split_brain_settle_s: '3' is not a number"),
        ({"latency_bounds": {"steady": {"p95": math.nan}}}, "CheckConfig.latency_bounds.steady.p95: must be a finite number >= 0"),
        ({"latency_bounds": {"stady": {"p95": 1.0}}}, "CheckConfig.latency_bounds: unknown phase 'stady'"),
        ({"max_outage_s": True}, "CheckConfig.max_outage_s: True is not a number"),
        ({"probe_prefix": ""}, "CheckConfig.probe_prefix: must not be empty"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            CheckConfig(**kwargs)
    assert CheckConfig(max_outage_s=0, min_availability_percent=100, latency_bounds={"fault": {"p99": None}}).max_outage_s == 0


def test_a_reader_that_goes_away_is_no_traceback(tmp_path, monkeypatch):
    # harness check ... | head: the pipe closes while the table is written
    from harness.cli import main

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    run_dir = history(tmp_path)
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["check", str(run_dir), "--json"]) == 141
