"""Deterministic isolation schedules: the plan, bad schedules, and Adya's P4 on a real mariadbd.

The database tests reuse the ledger tests' throwaway mariadbd (skipped when it is not
installed): one InnoDB, so what decides the outcome is InnoDB's locking at each isolation level.
"""

from __future__ import annotations

import pytest

from harness.checkers import Validity
from harness.checkers.list_append import check_list_append
from harness.errors import ProbeError
from harness.history import HistoryRecorder
from harness.probes.txn_schedule import LOST_UPDATE, ScheduleRun, plan_schedule

from .test_probes_ledger import _MariaDB, mariadb  # noqa: F401 - the fixture


def test_lost_update_plan_gives_unique_values_in_schedule_order() -> None:
    plans = plan_schedule(LOST_UPDATE)
    assert plans == {
        0: [("append", 1)],
        1: [("r", None), ("append", 2)],
        2: [("r", None), ("append", 3)],
        3: [("r", None)],
    }


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ((), "no steps"),
        (((0, "begin"), (0, "upsert"), (0, "commit")), r"step 1 \(0, 'upsert'\): action is not one of"),
        (((0, "r"),), "step 0: T0 r before its begin"),
        (((0, "begin"), (0, "commit"), (0, "append")), "step 2: T0 append after its commit"),
        (((0, "begin"), (0, "begin")), "step 1: T0 begins twice"),
        (((0, "begin"), (0, "r")), "T0 never commits"),
        (((-1, "begin"),), "transaction -1 is not an integer >= 0"),
        ((("a", "begin"),), "transaction 'a' is not an integer"),
        (((0, "begin", 1),), r"step 0 is \(0, 'begin', 1\), not \(transaction, action\)"),
    ],
)
def test_bad_schedules_are_one_clear_error(schedule: tuple, message: str) -> None:
    with pytest.raises(ProbeError, match=message):
        plan_schedule(schedule)


def test_bad_schedule_settings_are_refused() -> None:
    base = {"default": ("127.0.0.1", 1), "user": "u", "password": "p", "database": "d", "run_id": "r"}
    h = HistoryRecorder()
    with pytest.raises(ProbeError, match="isolation 'snapshot'"):
        ScheduleRun(h, isolation="snapshot", **base)
    with pytest.raises(ProbeError, match="step_wait_s must be a number in"):
        ScheduleRun(h, step_wait_s=float("nan"), **base)
    with pytest.raises(ProbeError, match="lock_wait_timeout_s"):
        ScheduleRun(h, lock_wait_timeout_s=0, **base)
    with pytest.raises(ProbeError, match="key must be an INT"):
        ScheduleRun(h, key=2**31, **base)
    with pytest.raises(ProbeError, match="wsrep_sync_wait"):
        ScheduleRun(h, wsrep_sync_wait=True, **base)


def _run(db: _MariaDB, run_id: str, isolation: str) -> tuple[dict[int, str], HistoryRecorder]:
    h = HistoryRecorder()
    s = ScheduleRun(h, default=("127.0.0.1", db.port), user="h", password="pw", database="harness",
                    run_id=run_id, isolation=isolation, step_wait_s=0.5, lock_wait_timeout_s=3)
    return s.run(LOST_UPDATE), h


def test_p4_at_repeatable_read_both_commit_and_the_checker_sees_lost_update(mariadb: _MariaDB) -> None:  # noqa: F811
    outcomes, h = _run(mariadb, "p4rr", "repeatable-read")
    assert outcomes == {0: "ok", 1: "ok", 2: "ok", 3: "ok"}
    ops = h.ops()
    by_process = {o.process: o for o in ops if o.type == "ok"}
    key = 1_000_000_000
    assert by_process["txn-sched-p4rr-1"].value == [["r", key, [1]], ["append", key, 2]]
    assert by_process["txn-sched-p4rr-2"].value == [["r", key, [1]], ["append", key, 3]]
    assert by_process["txn-sched-p4rr-3"].value == [["r", key, [1, 2, 3]]]
    invokes = [o for o in ops if o.type == "invoke" and o.process == "txn-sched-p4rr-2"]
    assert invokes[0].value == [["r", key, None], ["append", key, 3]]  # reads unknown at invoke
    result = check_list_append(ops, model="repeatable-read")
    assert {"lost-update", "G-single"} <= set(result.counts["anomaly_types"])
    assert result.valid is Validity.INVALID


def test_p4_at_serializable_one_transaction_fails_and_nothing_is_found(mariadb: _MariaDB) -> None:  # noqa: F811
    outcomes, h = _run(mariadb, "p4sr", "serializable")
    assert outcomes[0] == "ok" and outcomes[3] == "ok"
    assert sorted((outcomes[1], outcomes[2])) == ["fail", "ok"]  # InnoDB's deadlock victim
    failed = next(o for o in h.ops() if o.type == "fail")
    assert "1213" in failed.extra["error"]
    final = next(o for o in h.ops() if o.type == "ok" and o.process == "txn-sched-p4sr-3")
    assert len(final.value[0][2]) == 2  # [1, 2] or [1, 3]: the loser's append is gone
    result = check_list_append(h.ops(), model="serializable")
    assert result.counts["anomaly_types"] == []
    assert result.valid is Validity.VALID
