"""The directory tier's checkers on literal histories: authentication availability, lost
directory writes, contextCSN convergence (CSNs as bookworm's slapd 2.5 writes them)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers import CheckConfig, Validity, applicable, run_all
from harness.checkers.ldap import ldap_availability, ldap_convergence, lost_directory_writes
from harness.errors import HistoryError
from harness.history import Op

LEDGER = "cn=ledger,ou=harness,dc=lms,dc=lab"
CSN_1A = "20261203200153.635150Z#000000#001#000000"
CSN_1B = "20261203200201.000001Z#000000#001#000000"
CSN_2A = "20261203200200.528265Z#000000#002#000000"


def _h(*rows: tuple[float, str, str, str, Any]) -> list[Op]:
    return [Op(i, t, p, typ, f, v) for i, (t, p, typ, f, v) in enumerate(rows)]


def _write(t: float, value: str, outcome: str = "ok", dn: str = LEDGER) -> list[tuple]:
    v = {"dn": dn, "value": value}
    return [(t, "ldap-writer", "invoke", "write", v), (t + 0.05, "ldap-writer", outcome, "write", v)]


def _final(t: float, server: str, values: list[str], dn: str = LEDGER) -> list[tuple]:
    return [(t, f"ldap-final-{server}", "invoke", "read", None),
            (t + 0.05, f"ldap-final-{server}", "ok", "read", {"entries": {dn: values}})]


def _fault(t0: float, t1: float) -> list[tuple]:
    return [(t0, "nemesis", "invoke", "kill-process", {"fault_id": "f1"}),
            (t0 + 0.1, "nemesis", "ok", "kill-process", {"fault_id": "f1"}),
            (t1, "nemesis", "invoke", "heal", {"fault_id": "f1", "fault": "kill-process"}),
            (t1 + 0.1, "nemesis", "ok", "heal", {"fault_id": "f1"})]


def _csn(t: float, **servers: dict[str, str] | None) -> tuple:
    return (t, "ldap-csn", "ok", "context-csn", {"servers": servers})


def _bind(t: float, outcome: str) -> list[tuple]:
    return [(t, "ldap-probe-ldap", "invoke", "bind", {"vip": "ldap"}),
            (t + 0.01, "ldap-probe-ldap", outcome, "bind", None)]


def test_every_acknowledged_write_on_every_server_is_valid() -> None:
    ops = _h(*_write(1, "w1"), *_write(2, "w2"), *_final(9, "ldap1", ["w1", "w2"]), *_final(9, "ldap2", ["w2", "w1"]))
    r = lost_directory_writes(ops)
    assert r.valid is Validity.VALID, r
    assert r.counts["acknowledged"] == 2 and r.counts["servers"] == ["ldap1", "ldap2"]


def test_a_write_missing_on_the_survivor_is_lost_with_server_dn_and_value() -> None:
    ops = _h(*_write(1, "w1"), *_write(2, "w2"), *_final(9, "ldap1", ["w1", "w2"]), *_final(9, "ldap2", ["w1"]))
    r = lost_directory_writes(ops)
    assert r.valid is Validity.INVALID and r.counts["lost"] == 1
    assert r.examples["lost"] == [{"server": "ldap2", "dn": LEDGER, "value": "w2"}]
    assert "1 acknowledged (write, server) pair(s) missing" in r.message


def test_a_failed_write_found_is_invalid_and_an_indeterminate_one_may_be_either() -> None:
    ops = _h(*_write(1, "w1"), *_write(2, "wf", "fail"), *_write(3, "wi", "info"), *_final(9, "ldap1", ["w1", "wf"]))
    r = lost_directory_writes(ops)
    assert r.valid is Validity.INVALID and r.counts["failed_present"] == 1 and r.counts["indeterminate"] == 1
    assert lost_directory_writes(_h(*_write(1, "w1"), *_write(3, "wi", "info"), *_final(9, "ldap1", ["w1"]))).valid \
        is Validity.VALID


def test_nothing_acknowledged_or_no_final_read_proves_nothing() -> None:
    assert lost_directory_writes(_h(*_write(1, "w1"))).valid is Validity.UNKNOWN
    r = lost_directory_writes(_h(*_write(1, "wf", "fail"), *_final(9, "ldap1", [])))
    assert r.valid is Validity.UNKNOWN and "nothing proven" in r.message


def test_an_orphan_completion_fails_closed_and_a_bad_value_names_its_line() -> None:
    ops = _h(*_write(1, "w1"), (2, "ldap-writer", "ok", "write", {"dn": LEDGER, "value": "w9"}),
             *_final(9, "ldap1", ["w1"]))
    assert lost_directory_writes(ops).valid is Validity.UNKNOWN
    with pytest.raises(HistoryError, match=r"line index 0: ldap-writer write value must be"):
        lost_directory_writes(_h((1, "ldap-writer", "invoke", "write", {"dn": LEDGER})))
    with pytest.raises(HistoryError, match=r"line index 1: ldap-final-ldap1 read value must be"):
        lost_directory_writes(_h((8, "ldap-final-ldap1", "invoke", "read", None),
                                 (9, "ldap-final-ldap1", "ok", "read", {"entries": {LEDGER: "w1"}})))


def test_convergence_is_the_first_sample_after_the_heal_where_every_server_agrees() -> None:
    ops = _h(*_fault(1, 5),
             _csn(4, ldap1={"1": CSN_1A}, ldap2={"1": CSN_1A}),  # before the heal: not counted
             _csn(6, ldap1={"1": CSN_1B, "2": CSN_2A}, ldap2=None),  # ldap2 not answering
             _csn(7, ldap1={"1": CSN_1B, "2": CSN_2A}, ldap2={"1": CSN_1A, "2": CSN_2A}),  # behind
             _csn(8.5, ldap1={"1": CSN_1B, "2": CSN_2A}, ldap2={"2": CSN_2A, "1": CSN_1B}))
    r = ldap_convergence(ops, max_s=10)
    assert r.valid is Validity.VALID, r
    assert r.counts["converged_s"] == pytest.approx(8.5 - 5.1)
    assert ldap_convergence(ops, max_s=2).valid is Validity.INVALID


def test_never_agreeing_past_the_bound_is_invalid_and_short_sampling_unknown() -> None:
    behind = [_csn(t, ldap1={"1": CSN_1B}, ldap2={"1": CSN_1A}) for t in (6, 8, 12)]
    r = ldap_convergence(_h(*_fault(1, 5), *behind), max_s=5)
    assert r.valid is Validity.INVALID and "still differ" in r.message
    assert ldap_convergence(_h(*_fault(1, 5), *behind), max_s=30).valid is Validity.UNKNOWN
    assert ldap_convergence(_h(*behind)).valid is Validity.UNKNOWN  # no fault healed
    # one server alone, or two empty sets, is not agreement
    alone = _h(*_fault(1, 5), _csn(6, ldap1={"1": CSN_1A}))
    assert ldap_convergence(alone, max_s=0.5).valid is Validity.INVALID
    empty = _h(*_fault(1, 5), _csn(6, ldap1={}, ldap2={}), _csn(9, ldap1={}, ldap2={}))
    assert ldap_convergence(empty, max_s=2).valid is Validity.INVALID


def test_divergence_inside_the_fault_window_is_counted_and_its_longest_run_measured() -> None:
    apart = {"ldap1": {"1": CSN_1B}, "ldap2": {"1": CSN_1A}}
    same = {"ldap1": {"1": CSN_1A}, "ldap2": {"1": CSN_1A}}
    ops = _h(_csn(0.5, **apart),  # before the fault: replication lag, not the fault's doing
             *_fault(1, 5), _csn(2, **apart), _csn(2.5, ldap1={"1": CSN_1B}, ldap2=None),  # silent: says nothing
             _csn(3, **same), _csn(3.5, **apart), _csn(4.5, **apart), _csn(6, **same))
    r = ldap_convergence(ops, max_s=10)
    assert r.counts["samples_in_faults"] == 5 and r.counts["diverged_in_faults"] == 3
    assert r.counts["longest_divergence_in_faults_s"] == pytest.approx(1.0)
    never = ldap_convergence(_h(*_fault(1, 5), _csn(2, **same), _csn(6, **same)), max_s=10)
    assert never.counts["diverged_in_faults"] == 0 and never.counts["longest_divergence_in_faults_s"] is None


def test_bad_convergence_input_is_one_clear_error() -> None:
    with pytest.raises(HistoryError, match="max_s must be a finite number"):
        ldap_convergence([], max_s=float("nan"))
    with pytest.raises(HistoryError, match=r"line index 4: .*not a CSN"):
        ldap_convergence(_h(*_fault(1, 5), _csn(6, ldap1={"1": "yesterday"})))
    with pytest.raises(HistoryError, match=r"line index 4: ldap-csn server 'ldap1': CSN .* filed under serverID '2'"):
        ldap_convergence(_h(*_fault(1, 5), _csn(6, ldap1={"2": CSN_1A})))


def test_authentication_availability_is_the_bind_probe_outages() -> None:
    ops = _h(*_bind(1, "ok"), *_bind(1.5, "fail"), *_bind(2, "fail"), *_bind(4, "ok"), *_bind(4.5, "ok"))
    r = ldap_availability(ops, max_outage_s=2)
    assert r.checker == "ldap_availability" and r.valid is Validity.INVALID
    assert r.counts["longest_outage_s"] == pytest.approx(3.0)  # last success 1.01 .. next 4.01


def test_run_all_judges_the_directory_tier_only_when_the_history_has_it() -> None:
    plain = _h((1, "vip-probe-web", "invoke", "get", None), (1.1, "vip-probe-web", "ok", "get", 200))
    names = {"ldap_availability", "lost_directory_writes", "ldap_convergence"}
    assert not names & {c.checker for c in run_all(plain)}
    ops = _h(*_bind(1, "ok"), *_write(2, "w1"), *_final(9, "ldap2", []))
    by_name = {c.checker: c for c in run_all(ops, CheckConfig(probe_prefix="vip-probe-web"))}
    assert by_name["lost_directory_writes"].valid is Validity.INVALID  # w1 is lost on ldap2
    assert by_name["ldap_availability"].counts["ok"] == 1
    assert applicable(ops)["ldap_convergence"] is False  # no fault: nothing to converge after
    assert applicable(plain, CheckConfig(ldap_converge_s=30))["ldap_convergence"] is True  # asked: judged
    with pytest.raises(ValueError, match=r"CheckConfig.ldap_max_outage_s: must be a finite number"):
        CheckConfig(ldap_max_outage_s=float("nan"))
