"""A director failover judged against the user's promise and the keepalived budget (issue 10).

Before: the bound was the directors' own keepalived budget plus a margin, so ``advert_int 3``
raised it to 12.3 s and a 9.0 s outage passed by construction. Now the cluster file's
``slo.director_failover_s`` is checked beside it: VALID only within both, refused up front when
the configuration's budget already exceeds the promise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.budgets import (
    DIRECTOR_FAILOVER_CHECK,
    FailoverBound,
    director_budget_from_configs,
    director_failover_budget,
    director_failover_budget_s,
)
from harness.checkers import Validity
from harness.cluster import Cluster
from harness.errors import HarnessError
from harness.inventory._model import Host, Inventory, Service, Slo
from harness.report import load_run, render_report
from harness.testing import FakeCluster

SAMPLES = Path(__file__).parent / "samples"


def conf(advert_int: float, priority: int = 100, preempt_delay: float = 0.0, name: str = "VI_WEB") -> str:
    delay = f"    preempt_delay {preempt_delay}\n" if preempt_delay else ""
    return (f"global_defs {{\n    vrrp_version 3\n}}\nvrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n"
            f"    virtual_router_id 51\n    priority {priority}\n    advert_int {advert_int}\n{delay}"
            f"    virtual_ipaddress {{\n        198.18.0.100/24\n    }}\n}}\n")


#: the slow configuration of the issue: advert_int 3 on both directors (3 x 3 + 156 x 3 / 256)
SLOW = director_budget_from_configs([("dir1", "/etc/keepalived/keepalived.conf", conf(3, priority=150)),
                                     ("dir2", "/etc/keepalived/keepalived.conf", conf(3))])
#: the lab's configuration: advert_int 1, the BACKUP at priority 100
LAB = director_budget_from_configs([("dir2", "/etc/keepalived/keepalived.conf", conf(1))])


# -- the budget and the setting behind it -------------------------------------------------------
def test_the_budget_names_the_instance_and_the_keepalived_setting_behind_it():
    assert SLOW.budget_s == pytest.approx(9 + 156 * 3 / 256)
    assert (SLOW.host, SLOW.instance, SLOW.advert_int, SLOW.preempt_delay) == ("dir2", "VI_WEB", 3.0, 0.0)
    assert SLOW.setting == ("dir2:/etc/keepalived/keepalived.conf vrrp_instance VI_WEB: advert_int 3 "
                            "(3 x 3 + skew 1.828 = 10.828 s)")
    slow_db = director_budget_from_configs([("dir1", "/k.conf", conf(1) + conf(0.5, preempt_delay=5, name="VI_DB"))])
    assert slow_db.instance == "VI_DB" and slow_db.budget_s == pytest.approx(1.5 + 156 * 0.5 / 256 + 5)
    assert "preempt_delay 5" in slow_db.setting
    with pytest.raises(HarnessError, match="no vrrp_instance"):
        director_budget_from_configs([("dir1", "/k.conf", "global_defs {\n}\n")])


def test_the_budget_is_read_from_each_directors_own_config_file():
    fake = FakeCluster()
    fake("dir1").on(r"^cat /etc/keepalived/keepalived.conf$", (0, conf(1, priority=150), ""))
    fake("dir2").on(r"^cat /srv/k.conf$", (0, conf(3), ""))
    keepalived = Service("keepalived", "command", start="keepalived", stop="kill", process="keepalived", config="/srv/k.conf")
    inv = Inventory("t", {"dir1": Host("dir1", "198.18.0.11", ("director",)),
                          "dir2": Host("dir2", "198.18.0.12", ("director",), services={"keepalived": keepalived})})
    cluster = Cluster(inv, transport_factory=lambda h: fake(h.name))
    budget = director_failover_budget(cluster)
    assert (budget.host, budget.path, budget.advert_int) == ("dir2", "/srv/k.conf", 3.0)
    assert director_failover_budget_s(cluster) == budget.budget_s
    assert fake("dir1").commands == ["cat /etc/keepalived/keepalived.conf", "cat /etc/keepalived/keepalived.conf"]


# -- the verdict: within both -----------------------------------------------------------------
def test_an_outage_within_the_budget_but_above_the_promise_is_invalid():
    # the configuration can keep a 4 s promise (3.609 s) and tolerates 5.109 s with the margin
    bound = FailoverBound(LAB, margin_s=1.5, promise_s=4.0)
    assert bound.refusal() is None and bound.bound_s == 4.0 and bound.budget_bound_s == 5.109
    verdict = bound.judge(4.5)
    assert verdict.checker == DIRECTOR_FAILOVER_CHECK and verdict.valid is Validity.INVALID
    assert verdict.message == "longest web VIP outage 4.5 s is above the promise slo.director_failover_s 4 s"
    assert verdict.counts == {"promise_s": 4.0, "budget_s": 3.609, "margin_s": 1.5, "budget_bound_s": 5.109,
                              "bound_s": 4.0, "longest_outage_s": 4.5, "refused_before_inject": False}
    assert bound.judge(3.9).valid is Validity.VALID
    assert bound.judge(4.0).valid is Validity.VALID  # the promise itself is kept
    assert "outage 3.9 s within both the promise 4 s and the keepalived budget + margin 5.109 s" in bound.judge(3.9).message
    assert bound.judge(0.595845).message.startswith("longest web VIP outage 0.596 s within both")


def test_an_outage_within_the_promise_but_above_the_budget_is_invalid():
    """A generous promise does not lift the configuration's own bound."""
    bound = FailoverBound(LAB, margin_s=0.5, promise_s=10.0)
    assert bound.bound_s == 4.109
    verdict = bound.judge(6.0)
    assert verdict.valid is Validity.INVALID
    assert "keepalived budget 3.609 s + margin 0.5 s = 4.109 s" in verdict.message
    assert "promise" not in verdict.message
    both = FailoverBound(LAB, margin_s=0.5, promise_s=4.0).judge(6.0)
    assert "promise slo.director_failover_s 4 s and the keepalived budget" in both.message
    assert FailoverBound(LAB, 0.5, 4.0).judge(None).valid is Validity.UNKNOWN


def test_without_a_promise_todays_bound_holds_and_the_verdict_says_no_promise_was_given():
    # the issue's run: advert_int 3, 9.0 s outage, 1.5 s margin: it passed, and still does ...
    bound = FailoverBound.of(SLOW, Slo(failover_margin_s=1.5))
    assert bound.promise_s is None and bound.refusal() is None and bound.bound_s == round(SLOW.budget_s + 1.5, 3)
    verdict = bound.judge(9.0)
    assert verdict.valid is Validity.VALID
    # ... but it says why that proves little
    assert "no director failover promise given (slo.director_failover_s" in verdict.message
    assert bound.note() is not None and FailoverBound(SLOW, 1.5, 20.0).note() is None
    assert FailoverBound(SLOW, 1.5, None).judge(20.0).valid is Validity.INVALID


# -- refused up front -----------------------------------------------------------------------------
def test_a_budget_above_the_promise_is_refused_naming_both_figures_and_the_setting():
    bound = FailoverBound.of(SLOW, Slo(failover_margin_s=1.5, director_failover_s=2.0))
    refusal = bound.refusal()
    assert refusal is not None
    assert "allows a takeover of 10.828 s, more than the promised slo.director_failover_s 2 s" in refusal
    assert "dir2:/etc/keepalived/keepalived.conf vrrp_instance VI_WEB: advert_int 3" in refusal
    assert refusal.endswith("Refused before injecting any fault")
    refused = bound.refused()
    assert refused.valid is Validity.INVALID and refused.counts["refused_before_inject"] is True
    assert refused.counts["longest_outage_s"] is None and refused.message == refusal
    # even a short outage cannot make a configuration that cannot keep the promise pass
    assert bound.judge(1.0).valid is Validity.INVALID
    # the budget equal to the promise can keep it
    assert FailoverBound(LAB, 1.5, LAB.budget_s).refusal() is None


# -- the lab's own promise ------------------------------------------------------------------------
@pytest.mark.parametrize("directors", ["lvs", "haproxy"])
def test_the_lab_promises_a_director_failover_its_own_configuration_can_keep(tmp_path: Path, directors: str):
    from harness.inventory import inventory_from_dict
    from harness.lab import Lab
    from harness.lab._configs import render_host_configs

    lab = Lab("t", "198.18.9.0/24", state_dir=tmp_path, directors=directors)
    inv = inventory_from_dict(lab.inventory_dict(), source="lab cluster.yml")
    # measured takeovers: MASTER crash ~0.2 s, guest destroy ~3.5 s, namespace link down 4.0-4.3 s
    assert inv.slo.director_failover_s == 5.0
    topo = lab.topo
    texts = []
    for name in ("dir1", "dir2"):
        files = render_host_configs(topo, topo.host(name), lab.paths, lab.advert_int, "pw", directors)
        texts.append((name, "keepalived.conf", files[lab.paths.conf(name, "keepalived.conf")][0]))
    bound = FailoverBound.of(director_budget_from_configs(texts), inv.slo)
    assert bound.refusal() is None and bound.bound_s == 5.0


# -- result.json and the report -------------------------------------------------------------------
def _run(tmp_path: Path, *checks: dict) -> Path:
    d = tmp_path / "run" / "availability-test_directors-test_crash"
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps({
        "test": "tests/availability/test_directors.py::test_crash", "slug": d.name, "title": "MASTER crash",
        "outcome": "failed", "tier": "director", "fault_kind": "director-failure", "checks": list(checks),
        "slo": [{"name": "longest web VIP outage", "measured": 4.5, "bound": 4.0, "unit": "s", "verdict": "invalid"}],
    }), encoding="utf-8")
    return d.parent


def test_the_report_shows_promise_budget_and_measurement_side_by_side(tmp_path: Path):
    verdict = FailoverBound(LAB, margin_s=1.5, promise_s=4.0).judge(4.5).to_dict()
    run = load_run(_run(tmp_path, verdict))
    (t,) = run.tests
    assert t.failover is not None and t.failover["counts"]["promise_s"] == 4.0
    html = render_report(run)
    assert "<h3>Director failover</h3>" in html
    assert "<td class='num' data-failover='promise'>4 s</td>" in html
    assert "<td class='num' data-failover='budget'>3.609 s + 1.5 s = 5.109 s</td>" in html
    assert "<td class='num' data-failover='measured'>4.5 s</td>" in html
    assert "above the promise slo.director_failover_s 4 s" in html
    assert "budget from dir2:/etc/keepalived/keepalived.conf vrrp_instance VI_WEB: advert_int 1" in html


def test_the_report_shows_a_refused_run_and_a_missing_promise(tmp_path: Path):
    refused = FailoverBound(SLOW, 1.5, 2.0).refused().to_dict()
    html = render_report(load_run(_run(tmp_path, refused)))
    assert "<td class='num' data-failover='measured'>not run: refused before any fault</td>" in html
    none_given = FailoverBound(LAB, 1.5, None).judge(1.0).to_dict()
    none_given["message"] = "<script>x</script>"  # result.json is untrusted: escaped
    html = render_report(load_run(_run(tmp_path / "b", none_given)))
    assert "<td class='num' data-failover='promise'>none given</td>" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


def test_a_test_without_a_failover_verdict_has_no_failover_panel(tmp_path: Path):
    html = render_report(load_run(_run(tmp_path)))
    assert "Director failover" not in html and load_run(_run(tmp_path / "c")).tests[0].failover is None

