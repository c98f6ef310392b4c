"""The report shows waived and not-applicable verdicts apart from the ones that decided a test."""

from __future__ import annotations

from harness.report._html import _checks, _chip
from harness.report._model import TestModel as Model

_VERDICTS = {
    "checked_in": "body",
    "judged": [{"checker": "ledger", "valid": "valid", "message": ""}],
    "waived": [{"checker": "availability", "valid": "invalid", "message": "95.1% < 98%", "reason": "short run"}],
    "expected_invalid": [],
    "not_applicable": ["recovery"],
    "failures": [],
}
_CHECKS = [{"checker": "availability", "valid": "invalid", "message": "95.1% < 98%"},
           {"checker": "ledger", "valid": "valid", "message": ""},
           {"checker": "recovery", "valid": "unknown", "message": "no healed fault"}]


def _test(verdicts=_VERDICTS) -> Model:
    return Model(slug="t", test="t", title="t", outcome="passed", checks=list(_CHECKS), verdicts=verdicts)


def test_a_waived_invalid_is_a_grey_chip_with_its_reason_not_a_red_one():
    t = _test()
    chip = _chip(t, _CHECKS[0])
    assert 'class="badge waived"' in chip and "availability waived" in chip
    assert "waived: short run (verdict invalid: 95.1% &lt; 98%)" in chip
    assert 'class="badge valid"' in _chip(t, _CHECKS[1])
    assert 'class="badge waived"' in _chip(t, _CHECKS[2]) and "recovery n/a" in _chip(t, _CHECKS[2])


def test_the_verdict_table_says_waived_and_does_not_mark_it_as_a_failure():
    html = _checks(_test())
    row = next(r for r in html.split("<tr") if "<b>availability</b>" in r)
    assert "waived: short run" in row and "hot" not in row


def test_a_run_from_before_verdicts_shows_every_chip_as_judged():
    t = _test(verdicts=None)
    assert t.verdict_role("availability") == ("judged", "")
    assert 'class="badge invalid"' in _chip(t, _CHECKS[0])
    assert "<tr class='hot'><td><b>availability</b>" in _checks(t)
