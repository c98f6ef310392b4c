"""The file tier's checkers on literal histories: lost / corrupt files, self-heal convergence."""

from __future__ import annotations

from typing import Any

import pytest

from harness.checkers import Validity
from harness.checkers.storage import lost_files, storage_convergence
from harness.errors import HistoryError
from harness.history import Op


def _h(*rows: tuple[float, str, str, str, Any]) -> list[Op]:
    return [Op(i, t, p, typ, f, v) for i, (t, p, typ, f, v) in enumerate(rows)]


def _write(t: float, host: str, path: str, sha: str, outcome: str = "ok") -> list[tuple]:
    v = {"path": path, "sha256": sha}
    return [(t, f"storage-probe-{host}", "invoke", "write", v), (t + 0.1, f"storage-probe-{host}", outcome, "write", v)]


def _final(t: float, host: str, files: dict[str, str]) -> list[tuple]:
    return [(t, f"storage-final-{host}", "invoke", "list", None),
            (t + 0.1, f"storage-final-{host}", "ok", "list", {"files": files})]


def test_every_acknowledged_file_on_every_node_is_valid() -> None:
    ops = _h(*_write(1, "web1", "a", "s1"), *_write(2, "web2", "b", "s2"),
             *_final(9, "web1", {"a": "s1", "b": "s2"}), *_final(9, "web2", {"a": "s1", "b": "s2", "x": "s9"}))
    r = lost_files(ops)
    assert r.valid is Validity.VALID, r
    assert r.counts["acknowledged"] == 2 and r.counts["nodes"] == ["web1", "web2"]


def test_a_file_missing_on_one_node_and_a_corrupt_one_are_invalid_with_node_and_path() -> None:
    ops = _h(*_write(1, "web1", "a", "s1"), *_write(2, "web1", "b", "s2"),
             *_final(9, "web1", {"a": "s1", "b": "s2"}), *_final(9, "web2", {"b": "bad"}))
    r = lost_files(ops)
    assert r.valid is Validity.INVALID
    assert r.counts["lost"] == 1 and r.counts["corrupt"] == 1
    assert r.examples["lost"] == [{"node": "web2", "path": "a"}]
    assert r.examples["corrupt"] == [{"node": "web2", "path": "b", "sha256": "bad", "expected": "s2"}]


def test_a_failed_write_found_is_invalid_and_an_indeterminate_one_is_not() -> None:
    ops = _h(*_write(1, "web1", "a", "s1"), *_write(2, "web1", "f", "sf", "fail"),
             *_write(3, "web1", "i", "si", "info"), *_final(9, "web1", {"a": "s1", "f": "sf", "i": "si"}))
    r = lost_files(ops)
    assert r.valid is Validity.INVALID and r.counts["failed_present"] == 1
    assert r.counts["indeterminate"] == 1
    ops = _h(*_write(1, "web1", "a", "s1"), *_write(3, "web1", "i", "si", "info"), *_final(9, "web1", {"a": "s1"}))
    assert lost_files(ops).valid is Validity.VALID  # an info write may be absent


def test_lms_uploads_are_judged_like_probe_writes() -> None:
    v = {"path": "u1", "sha256": "su"}
    ops = _h((1, "locust-0", "invoke", "upload", v), (1.2, "locust-0", "ok", "upload", v),
             *_final(9, "web1", {}))
    r = lost_files(ops)
    assert r.valid is Validity.INVALID and r.examples["lost"] == [{"node": "web1", "path": "u1"}]


def test_thin_evidence_is_unknown_never_valid() -> None:
    assert lost_files(_h(*_write(1, "web1", "a", "s1"))).valid is Validity.UNKNOWN  # no final listing
    assert lost_files(_h(*_final(9, "web1", {}))).valid is Validity.UNKNOWN  # nothing acknowledged
    orphan = _h((1, "storage-probe-web1", "ok", "write", {"path": "a", "sha256": "s"}), *_write(2, "web1", "b", "s"),
                *_final(9, "web1", {"b": "s"}))
    r = lost_files(orphan)
    assert r.valid is Validity.UNKNOWN and r.counts["orphan_completions"] == 1


def test_malformed_storage_ops_name_the_line() -> None:
    with pytest.raises(HistoryError, match="line index 0: write value must be"):
        lost_files(_h((1, "storage-probe-web1", "invoke", "write", {"path": "a"})))
    with pytest.raises(HistoryError, match="line index 1: storage-final-web1 list value"):
        lost_files(_h((1, "storage-final-web1", "invoke", "list", None),
                      (2, "storage-final-web1", "ok", "list", {"files": ["a"]})))


def _fault(t0: float, t1: float) -> list[tuple]:
    return [(t0, "nemesis", "invoke", "kill-brick", {"fault_id": "f1"}),
            (t0 + 0.1, "nemesis", "ok", "kill-brick", {"fault_id": "f1"}),
            (t1, "nemesis", "invoke", "heal", {"fault_id": "f1", "fault": "kill-brick"}),
            (t1 + 0.1, "nemesis", "ok", "heal", {"fault_id": "f1"})]


def _heal_info(*points: tuple[float, int | None]) -> list[tuple]:
    rows = []
    for t, pending in points:
        rows += [(t, "storage-heal", "invoke", "heal-info", None),
                 (t + 0.05, "storage-heal", "ok", "heal-info", {"pending": pending})]
    return rows


def test_backlog_back_to_zero_for_good_gives_the_time_from_the_heal() -> None:
    ops = _h(*_fault(1, 5), *_heal_info((3, 40), (6, 30), (7, None), (8, 0), (9, 2), (10, 0), (11, 0)))
    r = storage_convergence(ops, max_s=10)
    assert r.valid is Validity.VALID, r
    assert r.counts["converged_s"] == pytest.approx(10.05 - 5.1)  # the final zero run, not the first zero
    assert r.counts["max_pending"] == 40


def test_late_or_never_converged_is_invalid_and_too_short_sampling_unknown() -> None:
    late = _h(*_fault(1, 5), *_heal_info((6, 9), (12, 0)))
    assert storage_convergence(late, max_s=3).valid is Validity.INVALID
    never = _h(*_fault(1, 5), *_heal_info((6, 9), (7, 9), (10, 9)))
    r = storage_convergence(never, max_s=3)
    assert r.valid is Validity.INVALID and "not 0" in r.message
    short = _h(*_fault(1, 5), *_heal_info((6, 9), (7, None)))
    assert storage_convergence(short, max_s=30).valid is Validity.UNKNOWN
    assert storage_convergence(_h(*_heal_info((6, 0)))).valid is Validity.UNKNOWN  # no heal at all
    assert storage_convergence(_h(*_fault(1, 5), *_heal_info((3, 0)))).valid is Validity.UNKNOWN  # none after


def test_bad_convergence_input_is_one_clear_error() -> None:
    with pytest.raises(HistoryError, match="max_s must be a finite number"):
        storage_convergence([], max_s=float("nan"))
    with pytest.raises(HistoryError, match="line index 4: storage-heal heal-info value"):
        storage_convergence(_h(*_fault(1, 5), (6, "storage-heal", "ok", "heal-info", {"pending": -1})))


def test_run_all_judges_the_file_tier_only_when_the_history_has_it() -> None:
    from harness.checkers import CheckConfig, applicable, run_all

    plain = _h((1, "vip-probe-web", "invoke", "get", None), (1.1, "vip-probe-web", "ok", "get", 200))
    assert not {"lost_files", "storage_availability", "storage_convergence"} & {c.checker for c in run_all(plain)}
    ops = _h(*_write(1, "web1", "a", "s1"), *_write(2, "web1", "b", "s2"), *_final(9, "web2", {"a": "s1"}))
    by_name = {c.checker: c for c in run_all(ops, CheckConfig(probe_prefix="vip-probe-web"))}
    assert by_name["lost_files"].valid is Validity.INVALID  # b is lost on web2
    assert by_name["storage_availability"].counts["ok"] == 2
    assert applicable(ops)["storage_convergence"] is False
    assert applicable(plain, CheckConfig(storage_converge_s=30))["storage_convergence"] is True  # asked: judged
    samples = _h(*_heal_info((1, 0), (2, 0)))
    assert applicable(samples)["storage_convergence"] is False  # no fault: nothing to converge
    assert applicable(_h(*_fault(0.5, 1.5), *_heal_info((2, 0))))["storage_convergence"] is True


def test_a_read_of_an_acknowledged_file_that_finds_it_missing_or_different_is_invalid() -> None:
    v = {"path": "a", "sha256": "s1"}
    reads = [(3, "storage-probe-web2", "invoke", "read", v), (3.1, "storage-probe-web2", "ok", "read", {"path": "a", "sha256": None}),
             (4, "storage-probe-web3", "invoke", "read", v), (4.1, "storage-probe-web3", "ok", "read", {"path": "a", "sha256": "zz"}),
             (5, "storage-probe-web2", "invoke", "read", v), (5.1, "storage-probe-web2", "ok", "read", v)]
    finals = [*_final(9, "web1", {"a": "s1"}), *_final(9, "web2", {"a": "s1"})]
    r = lost_files(_h(*_write(1, "web1", "a", "s1"), *reads, *finals))
    assert r.valid is Validity.INVALID
    assert (r.counts["read_missing"], r.counts["read_corrupt"], r.counts["lost"]) == (1, 1, 0)
    assert r.examples["read_missing"][0]["node"] == "web2" and r.examples["read_corrupt"][0]["sha256"] == "zz"
    assert "1 read(s) of an acknowledged file missing" in r.message
    clean = lost_files(_h(*_write(1, "web1", "a", "s1"), *reads[4:], *finals))
    assert clean.valid is Validity.VALID  # a read that found the file whole is no finding
