"""The plugin makes every scenario test's checkers decide it (issue 14), end to end in pytester."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

#: a body that records half-failed web VIP probes: availability 50 % < the docs' 99 %: INVALID
_HALF_DOWN = """
def half_down(scenario):
    for i in range(20):
        scenario.history.record("vip-probe-web", "get", "ok" if i % 2 else "fail", 200 if i % 2 else "refused")
"""


def _cluster(pytester: pytest.Pytester) -> str:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cluster-file.md").read_text()
    cluster = pytester.path / "cluster.yml"
    cluster.write_text(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))
    return str(cluster)


def _run(pytester: pytest.Pytester, body: str) -> tuple[pytest.RunResult, dict[str, dict[str, Any]]]:
    pytester.makepyfile(_HALF_DOWN + body)
    result = pytester.runpytest("--cluster", _cluster(pytester), "--report-dir", "out", "-p", "no:cacheprovider")
    results = {r["test"].rsplit("::", 1)[-1]: r for r in map(json.loads, map(Path.read_text, (pytester.path / "out").glob("*/*/result.json")))}
    return result, results


def test_a_passing_body_with_an_invalid_unwaived_checker_fails_naming_it(pytester: pytest.Pytester):
    result, results = _run(pytester, """
def test_asserts_only_its_theme(scenario):
    half_down(scenario)
    scenario.check()  # the test looks at nothing: its checkers decide
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*1 checker verdict(s) fail this test*", "*availability: INVALID: *"])
    r = results["test_asserts_only_its_theme"]
    assert r["outcome"] == "failed" and "availability: INVALID" in r["error"]
    assert [v["checker"] for v in r["verdicts"]["judged"]] == ["availability"]
    assert r["verdicts"]["failures"][0].startswith("availability: INVALID")
    assert "ledger" in r["verdicts"]["not_applicable"]  # no ledger ops: N/A, not a failure


def test_the_same_with_a_waiver_passes_and_the_waiver_is_recorded_and_shown(pytester: pytest.Pytester):
    result, results = _run(pytester, """
import pytest

@pytest.mark.waive("availability", reason="the outage bound is asserted instead")
def test_waived(scenario):
    half_down(scenario)
    scenario.check()
""")
    result.assert_outcomes(passed=1)
    r = results["test_waived"]
    assert r["verdicts"]["waived"] == [{"checker": "availability", "valid": "invalid",
                                        "message": r["verdicts"]["waived"][0]["message"],
                                        "reason": "the outage bound is asserted instead"}]
    assert r["verdicts"]["judged"] == [] and r["verdicts"]["failures"] == []
    html = next((pytester.path / "out").glob("*/availability.html")).read_text()
    assert "waived: the outage bound is asserted instead" in html


def test_a_failing_wait_still_writes_the_checkers_figures(pytester: pytest.Pytester):
    result, results = _run(pytester, """
from harness.scenario import ScenarioError

def test_wait_fails(scenario):
    half_down(scenario)
    raise ScenarioError("web1 still UP in the pool: not reached within 30s")
""")
    result.assert_outcomes(failed=1)  # the wait's failure only: no second error at teardown
    r = results["test_wait_fails"]
    assert "web1 still UP" in r["error"]
    avail = next(c for c in r["checks"] if c["checker"] == "availability")
    assert avail["counts"]["attempts"] == 20 and avail["counts"]["availability_percent"] == 50.0
    assert r["verdicts"]["checked_in"] == "teardown" and r["verdicts"]["failures"]


def test_a_negative_proof_passes_only_when_its_checker_says_invalid(pytester: pytest.Pytester):
    result, results = _run(pytester, """
import pytest

@pytest.mark.expect_invalid("availability", reason="broken on purpose")
def test_caught(scenario):
    half_down(scenario)
    scenario.check()

@pytest.mark.expect_invalid("availability", reason="broken on purpose")
def test_missed(scenario):
    for _ in range(20):
        scenario.history.record("vip-probe-web", "get", "ok", 200)
    scenario.check()
""")
    result.assert_outcomes(passed=1, failed=1)
    assert results["test_caught"]["verdicts"]["expected_invalid"][0]["valid"] == "invalid"
    assert "availability: VALID, expected INVALID (broken on purpose)" in results["test_missed"]["error"]


@pytest.mark.parametrize("mark, message", [
    ("waive('availability')", "needs reason="),
    ("waive('availabilty', reason='typo')", "unknown checker 'availabilty'"),
])
def test_a_bad_waiver_is_a_usage_error_before_any_test_runs(pytester: pytest.Pytester, mark: str, message: str):
    pytester.makepyfile(f"""
import pytest

@pytest.mark.{mark}
def test_x():
    pass
""")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*test_x: @pytest.mark.{mark}*{message}*"])
