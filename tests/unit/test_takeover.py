"""Takeover time of a director failover, from the history (issue 14): the standby's side,
beside the client-visible outage (a crashed keepalived on LVS shows ~0 s outage to clients)."""

from __future__ import annotations

from harness.fault_effects import takeover
from harness.history import Op


def history(rows: list[tuple[float, str, str, str, object]]) -> list[Op]:
    return [Op(i, t, p, ty, f, v) for i, (t, p, ty, f, v) in enumerate(rows)]


def sample(holders: list[str], vrrp: dict[str, str]) -> dict:
    return {"vip_holders": {"web": holders}, "vrrp": {h: {"VI_WEB": s} for h, s in vrrp.items()}}


BEFORE = sample(["dir1"], {"dir1": "MASTER", "dir2": "BACKUP"})
#: a killed keepalived leaves its VIP on dir1's interface: both listed, dir2 MASTER
AFTER = sample(["dir1", "dir2"], {"dir2": "MASTER"})
GET = {"vip": "web"}


def test_takeover_is_bounded_by_the_samples_around_it_and_the_first_probe_served_after():
    ops = history([
        (1.0, "state", "invoke", "sample", None), (1.2, "state", "ok", "sample", BEFORE),
        (2.0, "nemesis", "invoke", "director-failure", {"fault_id": "f1"}),
        (2.1, "nemesis", "ok", "director-failure", {"fault_id": "f1"}),
        (2.5, "state", "invoke", "sample", None), (2.8, "state", "ok", "sample", BEFORE),
        (4.6, "state", "invoke", "sample", None),
        (4.7, "vip-probe", "invoke", "get", GET),  # during the sample: maybe still the old MASTER
        (4.8, "vip-probe", "ok", "get", 200),
        (5.0, "state", "ok", "sample", AFTER),
        (5.1, "vip-probe", "invoke", "get", GET), (5.2, "vip-probe", "ok", "get", 200),
    ])
    t = takeover(ops, "dir1", "director-failure")
    assert t == {"new_holder": "dir2", "takeover_after_s": 0.4, "takeover_s": 2.9, "first_served_s": 3.1}


def test_no_takeover_seen_is_none_and_samples_before_the_fault_do_not_count():
    ops = history([
        (1.0, "state", "invoke", "sample", None), (1.2, "state", "ok", "sample", AFTER),  # before the fault
        (2.0, "nemesis", "invoke", "director-failure", {"fault_id": "f1"}),
        (2.1, "nemesis", "ok", "director-failure", {"fault_id": "f1"}),
        (2.5, "state", "invoke", "sample", None), (2.8, "state", "ok", "sample", BEFORE),
    ])
    assert takeover(ops, "dir1", "director-failure") is None
    failed = history([(2.0, "nemesis", "invoke", "director-failure", {}), (2.1, "nemesis", "fail", "director-failure", {}),
                      (2.5, "state", "invoke", "sample", None), (2.8, "state", "ok", "sample", AFTER)])
    assert takeover(failed, "dir1", "director-failure") is None


def test_a_standby_holding_the_vip_but_not_master_has_not_taken_over():
    half = sample(["dir1", "dir2"], {"dir2": "BACKUP"})
    ops = history([
        (2.0, "nemesis", "invoke", "domain-destroy", {}), (2.1, "nemesis", "ok", "domain-destroy", {}),
        (2.5, "state", "invoke", "sample", None), (2.8, "state", "ok", "sample", half),
        (3.5, "state", "invoke", "sample", None), (3.9, "state", "ok", "sample", AFTER),
    ])
    t = takeover(ops, "dir1", "domain-destroy")
    assert t is not None and (t["takeover_after_s"], t["takeover_s"], t["first_served_s"]) == (0.4, 1.8, None)


def test_the_report_shows_the_takeover_beside_the_outage(tmp_path):
    import json

    from harness.budgets import FailoverBound, director_budget_from_configs
    from harness.report import load_run, render_report

    conf = ("vrrp_instance VI_WEB {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n"
            "    priority 100\n    advert_int 1\n    virtual_ipaddress {\n        198.18.0.100/24\n    }\n}\n")
    verdict = FailoverBound(director_budget_from_configs([("dir2", "k.conf", conf)]), 1.5, 5.0).judge(0.05).to_dict()
    verdict["counts"].update({"new_holder": "<dir2>", "takeover_after_s": 3.1, "takeover_s": 3.9, "first_served_s": 4.2})
    d = tmp_path / "run" / "t"
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps({"test": "t.py::t", "slug": "t", "title": "crash", "outcome": "passed",
                                               "checks": [verdict], "slo": []}), encoding="utf-8")
    html = render_report(load_run(d.parent))
    assert ("<td class='num' data-failover='takeover'>&lt;dir2&gt; between 3.1 and 3.9 s; first served 4.2 s</td>"
            in html)
    assert "<td class='num' data-failover='measured'>0.05 s</td>" in html
