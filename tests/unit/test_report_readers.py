"""`harness report` on broken run.json / result.json: one error naming the file (and line or
field), exit 2, never a traceback and never a half-written report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main

RESULT: dict[str, Any] = {
    "test": "tests/availability/test_x.py::test_a", "slug": "availability-test_x-test_a", "title": "A",
    "outcome": "passed", "tier": "web", "fault_kind": "kill-apache", "negative_proof": False,
    "duration_s": 4.5, "phases": [{"name": "steady", "start": 0.0, "end": 1.0}],
    "checks": [{"checker": "availability", "validity": "valid", "message": "ok"}],
    "slo": [{"name": "longest VIP outage", "measured": 0.1, "bound": 3.0, "unit": "s", "verdict": "valid"}],
    "error": None,
}
RUN: dict[str, Any] = {
    "run_id": "20261202T000000Z-abcd", "started": "2026-12-02T00:00:00+00:00", "seed": 7,
    "harness_version": "0.1.0", "tests": [RESULT["test"]],
    "cluster": {"name": "lab", "hosts": {"web1": {"address": "198.18.0.21", "roles": ["web"]}}, "vips": {"web": "198.18.0.100:80"}},
}


def _run_dir(tmp_path: Path, result: bytes | dict[str, Any] = RESULT, run: bytes | dict[str, Any] = RUN) -> Path:
    root = tmp_path / "run"
    (root / RESULT["slug"]).mkdir(parents=True)
    for path, doc in ((root / "run.json", run), (root / RESULT["slug"] / "result.json", result)):
        path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
    return root


def _report(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(["report", str(root)])
    err = capsys.readouterr().err
    return rc, err


@pytest.mark.parametrize(
    ("which", "content", "message"),
    [
        ("result", b'{"test": "t",\n "title": "caf\xe9"}', r"result\.json:2: not UTF-8 \(byte 0xe9"),
        ("run", b'{"run_id":\n\n "\xff"}', r"run\.json:3: not UTF-8 \(byte 0xff"),
        ("result", b"[" * 100_000, r"result\.json: not JSON the report can read: nested too deeply"),
    ],
)
def test_unreadable_json_is_one_error_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str, content: bytes, message: str
) -> None:
    root = _run_dir(tmp_path, **{which: content})  # type: ignore[arg-type]
    rc, err = _report(root, capsys)
    assert rc == 2
    assert err.startswith("harness: error: ") and err.count("\n") == 1, err
    assert re.search(message, err), err
    assert not (root / "availability.html").exists()


@pytest.mark.parametrize(
    ("which", "field", "value", "message"),
    [
        ("result", "checks", 5, "result.json: checks: expected a list (or null), not 5"),
        ("result", "phases", True, "result.json: phases: expected a list (or null), not True"),
        ("result", "slo", [{"name": "x"}, "oops"], "result.json: slo[1]: expected an object (or null), not 'oops'"),
        ("result", "duration_s", "41s", "result.json: duration_s: expected a number (or null), not '41s'"),
        ("result", "slug", ["a"], "result.json: slug: expected a string (or null), not ['a']"),
        ("result", "soak", {"steps": 3}, "result.json: soak.steps: expected a list (or null), not 3"),
        ("result", "soak", {"audits": [{"problems": 1}]}, "result.json: soak.audits[0].problems: expected a list"),
        ("result", "soak", {"steps": [{"audit": {"problems": 2}}]}, "result.json: soak.steps[0].audit.problems: expected a list"),
        ("run", "tests", 3, "run.json: tests: expected a list (or null), not 3"),
        ("run", "cluster", {"hosts": {"web1": {"roles": 1}}}, "run.json: cluster.hosts.web1.roles: expected a list (or null), not 1"),
    ],
)
def test_wrong_shape_is_one_error_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str, field: str, value: Any, message: str
) -> None:
    doc = {**(RESULT if which == "result" else RUN), field: value}
    root = _run_dir(tmp_path, **{which: doc})
    rc, err = _report(root, capsys)
    assert rc == 2
    assert err.startswith("harness: error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert not (root / "availability.html").exists()
