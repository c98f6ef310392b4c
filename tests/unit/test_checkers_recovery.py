from harness.checkers import FaultWindow, Validity, fault_windows, recovery
from harness.checkers.recovery import HealWatch, RecoveryFacts, follow_heals, judge, probe_processes
from harness.history import Op

GOOD = {
    "vrrp": {"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP"}},
    "vip_holders": {"web": ["dir1"]},
    "db": {
        n: {"wsrep_cluster_size": 3, "wsrep_cluster_status": "Primary", "wsrep_local_state_comment": "Synced", "wsrep_ready": "ON"}
        for n in ("db1", "db2", "db3")
    },
}
DEGRADED = {
    "vrrp": {"dir2": {"VI_WEB": "MASTER"}},
    "vip_holders": {"web": ["dir2"]},
    "db": {
        "db1": {"wsrep_cluster_size": 2, "wsrep_cluster_status": "Primary", "wsrep_local_state_comment": "Synced"},
        "db2": {"wsrep_cluster_size": 2, "wsrep_cluster_status": "Primary", "wsrep_local_state_comment": "Synced"},
        "db3": {"wsrep_cluster_size": 2, "wsrep_cluster_status": "Primary", "wsrep_local_state_comment": "Joined"},
    },
    "unreachable": ["dir1"],
}


def build(events, heal_at=10.0, fault_at=5.0, end_probe=None):
    """events: (time, 'probe-ok'|'probe-fail'|'state', value)."""
    rows = [
        (fault_at, "nemesis", "invoke", "kill-process", {"fault_id": "f1"}),
        (fault_at + 0.1, "nemesis", "ok", "kill-process", {"fault_id": "f1"}),
        (heal_at - 0.1, "nemesis", "invoke", "heal", {"fault_id": "f1"}),
        (heal_at, "nemesis", "ok", "heal", {"fault_id": "f1"}),
    ]
    for t, kind, value in events:
        if kind == "state":
            rows += [(t - 0.01, "state", "invoke", "sample", None), (t, "state", "ok", "sample", value)]
        else:
            rows += [(t - 0.01, "vip-probe", "invoke", "get", None), (t, "vip-probe", "ok" if kind == "probe-ok" else "fail", "get", 200)]
    rows.sort(key=lambda r: r[0])
    return [Op(i, t, p, typ, f, v) for i, (t, p, typ, f, v) in enumerate(rows)]


def test_recovery_time_is_when_probes_and_state_are_both_steady():
    ev = [(1, "state", GOOD), (2, "probe-ok", None), (10.5, "state", DEGRADED), (11, "probe-ok", None), (12, "probe-fail", None),
          (13, "state", GOOD), (14, "probe-ok", None), (30, "probe-ok", None)]
    r = recovery(build(ev), within_s=5)
    assert r.valid is Validity.VALID, r.message
    (h,) = r.examples["heals"]
    assert h["status"] == "recovered" and h["recovery_s"] == 4.0  # state good at 13, probes good again at 14
    assert recovery(build(ev), within_s=3).valid is Validity.INVALID


def test_never_recovered_is_invalid_with_reasons():
    ev = [(1, "state", GOOD), (11, "state", DEGRADED), (12, "probe-ok", None), (80, "probe-ok", None)]
    r = recovery(build(ev), within_s=30)
    assert r.valid is Validity.INVALID and r.counts["never"] == 1
    missing = r.examples["heals"][0]["missing"]
    assert "vrrp VI_WEB: 0 MASTER(s)" not in missing  # dir2 is MASTER
    assert "db db3: Joined" in missing and "db db1: cluster size 2 != 3" in missing
    assert "unreachable: dir1" in missing


def test_history_ending_too_soon_is_unknown_and_no_heal_is_unknown():
    ev = [(1, "state", GOOD), (11, "state", DEGRADED), (12, "probe-ok", None)]
    r = recovery(build(ev), within_s=30)
    assert r.valid is Validity.UNKNOWN and r.counts["unknown"] == 1
    ops = [Op(0, 1.0, "state", "invoke", "sample"), Op(1, 1.1, "state", "ok", "sample", GOOD)]
    assert recovery(ops, within_s=5).valid is Validity.UNKNOWN


def test_custom_steady_predicate():
    ev = [(1, "state", GOOD), (11, "state", DEGRADED), (12, "probe-ok", None), (40, "probe-ok", None)]
    r = recovery(build(ev), within_s=5, steady=lambda s: s["vip_holders"]["web"] == ["dir2"])
    assert r.valid is Validity.VALID and r.examples["heals"][0]["recovery_s"] == 2.0


def test_pass_watches_each_heal_until_steady_or_the_next_fault():
    ops = build([(1, "state", GOOD), (11, "state", DEGRADED), (12, "probe-ok", None), (13, "state", GOOD)])
    second = [(20.0, "invoke", "kill-process", {"fault_id": "f2"}), (20.1, "ok", "kill-process", {"fault_id": "f2"}),
              (25.0, "invoke", "heal", {"fault_id": "f2"}), (25.1, "ok", "heal", {"fault_id": "f2"}),
              (26.0, "invoke", "kill-process", {"fault_id": "f3"})]
    ops += [Op(len(ops) + i, t, "nemesis", typ, f, v) for i, (t, typ, f, v) in enumerate(second)]
    windows = fault_windows(ops)
    facts = follow_heals(ops, windows, lambda s: s is GOOD, probe_processes(ops, "vip-probe"))
    first, cut = facts.watches
    assert facts.probes == {"vip-probe"}
    assert first.recovered_at == 13 and first.last_ok == {"vip-probe": True} and first.last_state is GOOD
    assert cut.recovered_at is None and cut.horizon == 26.0 and cut.last_state is None  # f3 started first


def test_verdict_from_the_facts_alone():
    healed = FaultWindow("f1", "kill-process", 5.0, 10.0, 0, 3)
    late = HealWatch(healed, stop=None, recovered_at=17.5)
    assert judge(RecoveryFacts([late], set(), 20.0), within_s=5).message == "kill-process (f1): 7.500 s > 5 s"
    cut = HealWatch(healed, stop=9, horizon=12.0, last_state={"x": 1}, last_ok={"vip-probe": False})
    r = judge(RecoveryFacts([cut], {"vip-probe"}, 30.0), within_s=5)
    assert r.valid is Validity.UNKNOWN and r.counts["interrupted"] == 1
    assert r.examples["heals"][0]["missing"] == ["steady() false on the last sample", "probes not succeeding: vip-probe"]
