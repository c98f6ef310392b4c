import math

from harness.checkers import Phases, fault_windows
from harness.history import Op


def nem(rows):
    """rows: (time, type, f, value) of the nemesis."""
    return [Op(i, t, "nemesis", typ, f, v) for i, (t, typ, f, v) in enumerate(rows)]


def test_fault_window_from_invoke_to_heal_completion():
    ops = nem(
        [
            (1.0, "invoke", "kill-process", {"fault_id": "f1", "targets": ["dir1"]}),
            (1.2, "ok", "kill-process", {"fault_id": "f1"}),
            (5.0, "invoke", "heal", {"fault_id": "f1", "fault": "kill-process"}),
            (5.5, "ok", "heal", {"fault_id": "f1"}),
        ]
    )
    (w,) = fault_windows(ops)
    assert (w.fault_id, w.fault, w.start, w.end, w.healed) == ("f1", "kill-process", 1.0, 5.5, True)
    p = Phases(fault_windows(ops), recovery_s=2.0)
    assert [p.phase_at(t) for t in (0.5, 1.0, 5.49, 5.5, 7.49, 7.5, 100)] == [
        "steady", "fault", "fault", "recovery", "recovery", "steady", "steady"
    ]


def test_failed_fault_opens_no_window_failed_heal_keeps_it_open_and_unhealed_runs_to_end():
    ops = nem(
        [
            (1.0, "invoke", "partition", {"fault_id": "f1"}),
            (1.1, "fail", "partition", {"fault_id": "f1"}),
            (2.0, "invoke", "pause", {"fault_id": "f2"}),
            (2.1, "ok", "pause", {"fault_id": "f2"}),
            (3.0, "invoke", "heal", {"fault_id": "f2"}),
            (3.1, "fail", "heal", {"fault_id": "f2"}),
        ]
    )
    (w,) = fault_windows(ops)
    assert w.fault_id == "f2" and not w.healed and w.end == math.inf
    assert Phases([w], 10).phase_at(1e9) == "fault"


def test_recovery_cut_by_next_fault_and_heal_without_id_heals_all():
    ops = nem(
        [
            (1.0, "invoke", "a", {"fault_id": "f1"}),
            (1.1, "ok", "a", None),
            (1.5, "invoke", "b", {"fault_id": "f2"}),
            (1.6, "ok", "b", None),
            (2.0, "invoke", "heal", {}),
            (2.2, "info", "heal", None),
            (3.0, "invoke", "c", {"fault_id": "f3"}),
            (3.1, "ok", "c", None),
            (4.0, "invoke", "heal", {"fault_id": "f3"}),
            (4.0, "ok", "heal", None),
        ]
    )
    ws = fault_windows(ops)
    assert [(w.fault_id, w.end) for w in ws] == [("f1", 2.2), ("f2", 2.2), ("f3", 4.0)]
    p = Phases(ws, recovery_s=10)
    classify = p.classifier()
    times = [0.0, 1.2, 2.5, 2.99, 3.0, 3.5, 4.0, 13.99, 14.0, 2.5]  # last one goes back in time
    assert [classify(t) for t in times] == [
        "steady", "fault", "recovery", "recovery", "fault", "fault", "recovery", "recovery", "steady", "recovery"
    ]
    assert [classify(t) for t in times] == [p.phase_at(t) for t in times]
