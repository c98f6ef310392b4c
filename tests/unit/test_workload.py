"""The standard workload: its two presets, the locustfile's environment, what starts and stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.history import HistoryRecorder
from harness.inventory._model import Host, Inventory, Vip
from harness.workload import POSTS_READ_PREFIX, Workload, WorkloadSpec, start_workload


def test_the_acceptance_preset_keeps_the_rates_its_figures_were_measured_with():
    a = WorkloadSpec.acceptance()
    assert (a.web_probe_hz, a.db_probe_hz, a.probe_timeout_s) == (50.0, 10.0, 0.5)
    assert (a.ledger, a.ledger_workers, a.ledger_hz) == (True, 2, 20.0)
    assert (a.load, a.users, a.moodle_wait_s, a.moodle_timeout_s) == (True, 3, (0.5, 1.5), 10.0)
    assert a == WorkloadSpec()


def test_the_soak_preset_is_lighter():
    s = WorkloadSpec.soak()
    assert (s.web_probe_hz, s.db_probe_hz, s.probe_timeout_s) == (20.0, 5.0, 0.5)
    assert (s.ledger, s.ledger_workers, s.ledger_hz) == (True, 2, 10.0)
    assert (s.load, s.moodle_wait_s, s.moodle_timeout_s, s.post_key_letter) == (True, (0.5, 2.0), 10.0, "s")
    changed = WorkloadSpec.soak(users=7, ledger_hz=4.0)
    assert (changed.users, changed.ledger_hz, changed.web_probe_hz) == (7, 4.0, 20.0)
    with pytest.raises(TypeError):
        WorkloadSpec.soak(probe_hz=1.0)  # a misspelt knob is refused, not ignored


def test_the_locustfile_environment():
    assert WorkloadSpec.acceptance().moodle_env("pab12cd34") == {
        "MOODLE_POST_KEY_PREFIX": "pab12cd34", "MOODLE_WAIT_MIN": "0.5", "MOODLE_WAIT_MAX": "1.5", "MOODLE_TIMEOUT": "10",
    }
    assert WorkloadSpec.soak().moodle_env("s1")["MOODLE_WAIT_MAX"] == "2"
    env = WorkloadSpec.acceptance(load_env={"MOODLE_TIMEOUT": "3", "MOODLE_COURSE": "2"}).moodle_env("p1")
    assert env["MOODLE_TIMEOUT"] == "3" and env["MOODLE_COURSE"] == "2"


class _Started:
    """What a scenario was asked to start and stop, in order."""

    def __init__(self, inventory: Inventory, history: HistoryRecorder) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.cluster = type("C", (), {"inventory": inventory})()
        self.history = history
        self.guard = None

    def vip_probe(self, vip: str, **kw: Any) -> None:
        self.calls.append((f"vip_probe {vip}", kw))

    def session_probe(self, **kw: Any) -> None:
        self.calls.append(("session_probe", kw))

    def ledger(self, **kw: Any) -> str:
        self.calls.append(("ledger", kw))
        return "the ledger"

    def load(self, **kw: Any) -> None:
        self.calls.append(("load", kw))

    def stop_probes(self) -> None:
        self.calls.append(("stop_probes", {}))

    def finish_ledger(self, ledger: str) -> None:
        self.calls.append(("finish_ledger", {"ledger": ledger}))


def _inventory(with_db_vip: bool = True, webs: int = 0) -> Inventory:
    vips = {"web": Vip("web", "198.18.0.100", 80, "http")}
    if with_db_vip:
        vips["db"] = Vip("db", "198.18.0.101", 3306, "mysql")
    hosts = {"dir1": Host("dir1", "198.18.0.11", ("director",))}
    hosts.update({f"web{i}": Host(f"web{i}", f"198.18.0.{20 + i}", ("web",)) for i in range(1, webs + 1)})
    return Inventory("t", hosts, vips)


def test_start_runs_probes_ledger_and_load_at_the_spec_rates(tmp_path: Path):
    sc = _Started(_inventory(), HistoryRecorder(tmp_path / "h.jsonl"))
    wl = start_workload(sc, WorkloadSpec.soak(users=4), 100.0)  # type: ignore[arg-type]  # a recording stand-in
    assert wl.post_prefix.startswith("s") and len(wl.post_prefix) == 9
    names = [c[0] for c in sc.calls]
    assert names == ["vip_probe web", "vip_probe db", "ledger", "load"]
    kw = dict(sc.calls)
    assert kw["vip_probe web"] == {"rate_hz": 20.0, "max_duration_s": 100.0, "timeout_s": 0.5}
    assert kw["vip_probe db"] == {"rate_hz": 5.0, "max_duration_s": 100.0, "mode": "tcp", "timeout_s": 0.5}
    assert kw["ledger"] == {"workers": 2, "rate_hz": 10.0, "max_duration_s": 100.0}
    assert kw["load"]["users"] == kw["load"]["spawn_rate"] == 4 and kw["load"]["run_time_s"] == 100.0
    assert kw["load"]["env"]["MOODLE_POST_KEY_PREFIX"] == wl.post_prefix


def test_without_load_or_ledger_nothing_of_them_starts_or_is_read_back(tmp_path: Path):
    sc = _Started(_inventory(with_db_vip=False), HistoryRecorder(tmp_path / "h.jsonl"))
    wl = start_workload(sc, WorkloadSpec.acceptance(load=False, ledger=False), 10.0)  # type: ignore[arg-type]
    assert [c[0] for c in sc.calls] == ["vip_probe web"]
    assert wl.finish() == {}
    assert [c[0] for c in sc.calls][1:] == ["stop_probes"]
    assert wl.check_config().posts_read_prefix is None


def test_finish_stops_the_ledger_after_the_probes_and_judges_posts_with_load(tmp_path: Path):
    sc = _Started(_inventory(), HistoryRecorder(tmp_path / "h.jsonl"))
    wl = Workload(sc, WorkloadSpec.acceptance(load=False), "p1", "the ledger", None)  # type: ignore[arg-type]
    wl.finish()
    assert sc.calls == [("stop_probes", {}), ("finish_ledger", {"ledger": "the ledger"})]
    with_load = Workload(sc, WorkloadSpec.acceptance(), "p1", None, object())  # type: ignore[arg-type]
    cfg = with_load.check_config(max_outage_s=4.0)
    assert cfg.posts_read_prefix == POSTS_READ_PREFIX and cfg.max_outage_s == 4.0 and cfg.probe_prefix == "vip-probe-web"


def test_the_session_probe_starts_with_two_web_nodes_or_more_leaving_the_load_its_accounts(tmp_path: Path):
    assert (WorkloadSpec.acceptance().sessions, WorkloadSpec.acceptance().session_hz) == (True, 2.0)
    assert WorkloadSpec.soak().session_hz == 0.5
    sc = _Started(_inventory(webs=3), HistoryRecorder(tmp_path / "h.jsonl"))
    start_workload(sc, WorkloadSpec.acceptance(users=5), 60.0)  # type: ignore[arg-type]
    kw = dict(sc.calls)
    assert kw["session_probe"] == {"rate_hz": 2.0, "max_duration_s": 60.0, "reserved_accounts": 5}
    for inv, spec in ((_inventory(webs=1), WorkloadSpec.acceptance()), (_inventory(webs=3), WorkloadSpec.acceptance(sessions=False))):
        sc = _Started(inv, HistoryRecorder(tmp_path / "h2.jsonl"))
        start_workload(sc, spec, 60.0)  # type: ignore[arg-type]
        assert "session_probe" not in dict(sc.calls)
