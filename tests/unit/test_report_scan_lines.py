"""The report's fast scan refuses every line the history reader refuses, with the same error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HistoryError
from harness.history import load_history
from harness.report._scan import aggregate_file


def good_lines(n: int = 40) -> list[bytes]:
    """Lines as the recorder writes them (its key order: the scan's regex path)."""
    out = []
    for k in range(n):
        t = round(0.1 * k, 6)
        out.append(json.dumps({"index": 2 * k, "time": t, "process": "vip-probe", "type": "invoke", "f": "get", "value": {"vip": "web"}}).encode())
        out.append(json.dumps({"index": 2 * k + 1, "time": t + 0.002, "process": "vip-probe", "type": "ok", "f": "get", "value": 200, "latency_ms": 2.0}).encode())
    return out


PROBE_OK = b'{"index": 100, "time": 5.0, "process": "vip-probe", "type": "ok", "f": "get", "value": 200, "latency_ms": 2.0}'

BAD_LINES = {
    # the regex path used to take these: bad bytes in a field it decoded with "replace", a
    # line cut short inside (a torn write) or at the end, an infinite time
    "not UTF-8 in the process": PROBE_OK.replace(b"vip-probe", b"vip-probe-\xff"),
    "cut short mid-file": PROBE_OK[:80],
    "infinite time": PROBE_OK.replace(b'"time": 5.0', b'"time": 1e999'),
    # the json path used to take these: no type check, NaN accepted, a raw decoding error
    "NaN time": PROBE_OK.replace(b'"time": 5.0', b'"time": NaN'),
    "time a string": PROBE_OK.replace(b'"time": 5.0', b'"time": "5.0"'),
    "process a number": PROBE_OK.replace(b'"vip-probe"', b"7"),
    "index a float": PROBE_OK.replace(b'"index": 100', b'"index": 1.5'),
    "not UTF-8 in a value": b'{"process": "vip-probe", "index": 100, "time": 5.0, "type": "ok", "f": "get", "value": "\xc3("}',
}


def write(path: Path, lines: list[bytes], *, end_newline: bool = True) -> Path:
    path.write_bytes(b"\n".join(lines) + (b"\n" if end_newline else b""))
    return path


def reader_error(path: Path) -> str:
    with pytest.raises(HistoryError) as exc:
        load_history(path)
    return str(exc.value)


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_scan_gives_the_readers_error_for_a_bad_line(tmp_path, case):
    lines = good_lines()
    lines.insert(30, BAD_LINES[case])  # line 31
    path = write(tmp_path / "history.jsonl", lines)
    expected = reader_error(path)
    assert f"{path}:31:" in expected
    with pytest.raises(HistoryError) as exc:
        aggregate_file(path)
    assert str(exc.value) == expected


def test_a_torn_last_line_is_refused_as_the_reader_refuses_it_and_a_whole_one_taken(tmp_path):
    lines = [*good_lines(), PROBE_OK[:90]]  # the writer stopped mid-line: no newline
    path = write(tmp_path / "history.jsonl", lines, end_newline=False)
    expected = reader_error(path)
    assert "truncated" in expected and f":{len(lines)}:" in expected
    with pytest.raises(HistoryError) as exc:
        aggregate_file(path)
    assert str(exc.value) == expected
    # the same line whole (only its newline missing) is an op for both
    whole = write(tmp_path / "whole.jsonl", [*good_lines(), PROBE_OK], end_newline=False)
    assert len(load_history(whole)) == 81
    timeline, _ = aggregate_file(whole)
    assert timeline.probe_attempts == 41 and timeline.probe_ok == 41
