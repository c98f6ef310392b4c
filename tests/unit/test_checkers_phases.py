import math

import pytest

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


class _Budget(Exception):
    pass


class _CountedTime(float):
    """A time that counts its order comparisons (sorting, bisect and interval tests all go
    through them) and stops the run once over budget, so a quadratic build fails fast."""

    count = 0
    budget = 10**12

    @classmethod
    def _tick(cls) -> None:
        cls.count += 1
        if cls.count > cls.budget:
            raise _Budget(f"over {cls.budget} comparisons")

    def __lt__(self, other):
        self._tick()
        return float(self) < other

    def __le__(self, other):
        self._tick()
        return float(self) <= other

    def __gt__(self, other):
        self._tick()
        return float(self) > other

    def __ge__(self, other):
        self._tick()
        return float(self) >= other


def test_twenty_thousand_fault_windows_take_n_log_n_comparisons_not_n_squared():
    # 20,000 faults, each healed 0.5 s later, 1 s apart, recovery 0.3 s; one lookup per window
    # phase. Quadratic (every point against every window) needs ~10^9 comparisons; the sweep 1.5 * 10^6.
    n = 20_000
    rows = []
    for k in range(n):
        t = float(k)
        rows += [
            (_CountedTime(t), "invoke", "pause", {"fault_id": f"f{k}"}),
            (_CountedTime(t + 0.01), "ok", "pause", None),
            (_CountedTime(t + 0.4), "invoke", "heal", {"fault_id": f"f{k}"}),
            (_CountedTime(t + 0.5), "ok", "heal", None),
        ]
    ops = nem(rows)
    windows = fault_windows(ops)
    assert len(windows) == n
    _CountedTime.count, _CountedTime.budget = 0, 10 * n * math.ceil(math.log2(n))
    p = Phases(windows, recovery_s=0.3)
    looked_up = [p.phase_at(k + d) for k in range(0, n, 97) for d in (0.2, 0.6, 0.9)]
    used = _CountedTime.count
    assert looked_up == ["fault", "recovery", "steady"] * len(range(0, n, 97))
    assert len(p.segments) == 3 * n
    assert used <= 10 * n * math.ceil(math.log2(n)), used


def test_nan_recovery_is_refused():
    with pytest.raises(ValueError, match="recovery_s must be >= 0, not nan"):
        Phases([], recovery_s=math.nan)
