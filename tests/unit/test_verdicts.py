"""Which checker verdicts decide an acceptance test (harness.verdicts), on literal CheckResults."""

from __future__ import annotations

import pytest

from harness.budgets import DIRECTOR_FAILOVER_CHECK
from harness.checkers import CheckConfig, CheckResult, Validity, run_all
from harness.history import Op
from harness.verdicts import KNOWN_CHECKERS, Declarations, Declared, VerdictUsageError, declarations, judge

V, I, U = Validity.VALID, Validity.INVALID, Validity.UNKNOWN
ALL = dict.fromkeys(("availability", "ledger", "latency", "split_brain", "recovery"), True)


def _c(name: str, valid: Validity, message: str = "") -> CheckResult:
    return CheckResult(name, valid, message=message or f"{name} says {valid.value}")


def test_all_valid_passes_and_every_checker_is_listed_as_judged():
    j = judge([_c("availability", V), _c("ledger", V)], ALL, Declarations())
    assert j.failures == ()
    assert [v.checker for v in j.judged] == ["availability", "ledger"]


def test_an_invalid_checker_the_test_did_not_assert_fails_it_with_checker_verdict_and_message():
    # issue 14: the lost-writes test asserted the ledger only; availability at 81 % passed
    checks = [_c("ledger", V), _c("availability", I, "availability 81.2% < 98%")]
    j = judge(checks, ALL, Declarations())
    assert j.failures == ("availability: INVALID: availability 81.2% < 98%",)
    assert "availability: INVALID: availability 81.2% < 98%" in j.message()


def test_unknown_fails_too_it_is_never_a_pass():
    j = judge([_c("recovery", U, "a heal never recovered")], ALL, Declarations())
    assert j.failures == ("recovery: UNKNOWN: a heal never recovered",)


def test_a_checker_with_nothing_of_its_kind_is_not_applicable_and_never_fails():
    applicable = dict(ALL, ledger=False)
    j = judge([_c("ledger", U, "no ledger writes"), _c("availability", V)], applicable, Declarations())
    assert j.failures == () and j.not_applicable == ("ledger",)
    assert [v.checker for v in j.judged] == ["availability"]


def test_a_verdict_outside_the_standard_set_is_applicable_when_present():
    j = judge([_c(DIRECTOR_FAILOVER_CHECK, I, "outage 6 s > promise 5 s")], ALL, Declarations())
    assert j.failures == ("director_failover: INVALID: outage 6 s > promise 5 s",)


def test_a_waived_invalid_checker_is_recorded_apart_with_its_reason_and_does_not_fail():
    declared = Declarations(waived=(Declared("availability", "one failover in 40 s"),))
    j = judge([_c("availability", I), _c("ledger", V)], ALL, declared)
    assert j.failures == ()
    assert [(v.checker, v.valid, v.reason) for v in j.waived] == [("availability", I, "one failover in 40 s")]
    assert [v.checker for v in j.judged] == ["ledger"]
    assert j.to_dict()["waived"] == [{"checker": "availability", "valid": "invalid",
                                      "message": "availability says invalid", "reason": "one failover in 40 s"}]


def test_a_waiver_covers_only_its_own_checker():
    declared = Declarations(waived=(Declared("availability", "why"),))
    j = judge([_c("availability", I), _c("split_brain", I, "split after heal")], ALL, declared)
    assert j.failures == ("split_brain: INVALID: split after heal",)


def test_expected_invalid_passes_only_when_invalid():
    declared = Declarations(expect_invalid=(Declared("ledger", "rows deleted on purpose"),))
    caught = judge([_c("ledger", I), _c("availability", V)], ALL, declared)
    assert caught.failures == () and [v.checker for v in caught.expected_invalid] == ["ledger"]
    missed = judge([_c("ledger", V, "nothing lost")], ALL, declared)
    assert missed.failures == ("ledger: VALID, expected INVALID (rows deleted on purpose): nothing lost",)
    unknown = judge([_c("ledger", U, "no reads")], dict(ALL, ledger=False), declared)
    assert unknown.failures and "expected INVALID" in unknown.failures[0]


def test_expected_invalid_that_never_ran_fails():
    declared = Declarations(expect_invalid=(Declared("posts", "posts deleted"),))
    j = judge([_c("ledger", V)], ALL, declared)
    assert j.failures == ("posts: expected INVALID (posts deleted) but it did not run",)


def test_to_dict_records_where_the_checkers_ran_and_every_group():
    j = judge([_c("ledger", U)], dict(ALL, ledger=False), Declarations(), checked_in="teardown")
    assert j.to_dict() == {"checked_in": "teardown", "judged": [], "waived": [], "expected_invalid": [],
                           "not_applicable": ["ledger"], "failures": []}


def test_markers_become_declarations():
    d = declarations([("waive", ("availability",), {"reason": " short run "}),
                      ("expect_invalid", ("ledger",), {"reason": "broken on purpose"}),
                      ("scenario", (), {"title": "x"})], where="t.py::test_x")
    assert d.waived == (Declared("availability", "short run"),)
    assert d.expect_invalid == (Declared("ledger", "broken on purpose"),)


@pytest.mark.parametrize("mark, message", [
    (("waive", ("availability",), {}), "needs reason="),
    (("waive", ("availability",), {"reason": "  "}), "needs reason="),
    (("expect_invalid", ("ledger",), {}), "needs reason="),
    (("waive", ("availabilty",), {"reason": "typo"}), "unknown checker 'availabilty' (known: availability, "),
    (("waive", (), {"reason": "no checker"}), "expected waive(CHECKER, reason=\"why\")"),
    (("waive", ("availability", "ledger"), {"reason": "two"}), "expected waive(CHECKER"),
    (("waive", ("availability",), {"reason": "r", "because": "x"}), "unexpected because"),
])
def test_a_misused_marker_is_a_usage_error_naming_the_test_and_marker(mark, message):
    with pytest.raises(VerdictUsageError) as err:
        declarations([mark], where="tests/x.py::test_y")
    assert str(err.value).startswith(f"tests/x.py::test_y: @pytest.mark.{mark[0]}(")
    assert message in str(err.value)


def test_the_same_checker_declared_twice_is_refused():
    with pytest.raises(VerdictUsageError, match="'ledger' is already declared by @pytest.mark.waive"):
        declarations([("waive", ("ledger",), {"reason": "a"}), ("expect_invalid", ("ledger",), {"reason": "b"})],
                     where="t")


def test_known_checkers_are_exactly_what_the_harness_produces():
    txn_ops = [Op(0, 0.0, "txn-0", "invoke", "txn", []), Op(1, 0.0, "bank-0", "invoke", "read", None),
               Op(2, 0.0, "storage-probe-web1", "invoke", "write", {"path": "a", "sha256": "s"}),
               Op(3, 0.0, "storage-heal", "invoke", "heal-info", None),
               Op(4, 0.0, "nemesis", "invoke", "kill-process", {"fault_id": "f1"}),
               Op(5, 0.0, "ldap-probe-ldap", "invoke", "bind", None), Op(6, 0.0, "ldap-writer", "invoke", "write", None),
               Op(7, 0.0, "ldap-csn", "invoke", "context-csn", None)]
    produced = {c.checker for c in run_all(txn_ops, CheckConfig(posts_read_prefix="posts-read-"))} | {DIRECTOR_FAILOVER_CHECK}
    assert set(KNOWN_CHECKERS) == produced
