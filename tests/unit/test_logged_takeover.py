"""The takeover as the new MASTER logged it (issue 14): keepalived's own transitions read over the
director's transport, put on the history's clock, beside the state samples' coarse bounds."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from harness.errors import HarnessError
from harness.fault_effects import logged_takeover
from harness.history import Op
from harness.inventory._model import Service
from harness.parsers.keepalived_notify import parse_journal, parse_transitions
from harness.probes.vrrp_log import ClockOffset, clock_offset, default_command, offset_from_readings

# `journalctl -u keepalived -o short-unix` on a Debian 12 director over a failover and back
JOURNAL = """\
1796223070.113402 dir2 Keepalived_vrrp[812]: (VI_WEB) Entering BACKUP STATE (init)
1796223070.113511 dir2 Keepalived_vrrp[812]: (VI_DB) Entering BACKUP STATE (init)
1796223081.904467 dir2 Keepalived_vrrp[812]: (VI_WEB) Receive advertisement timeout
1796223081.904502 dir2 Keepalived_vrrp[812]: (VI_WEB) Entering MASTER STATE
1796223081.904611 dir2 Keepalived_vrrp[812]: (VI_WEB) setting VIPs.
1796223081.951022 dir2 Keepalived_vrrp[812]: (VI_DB) Entering MASTER STATE
1796223099.000001 dir2 Keepalived_vrrp[812]: (VI_WEB) Master received advert from 198.18.0.11 with higher priority 150, ours 100
1796223099.000101 dir2 Keepalived_vrrp[812]: (VI_WEB) Entering BACKUP STATE
1796223100.5 dir1 Keepalived_vrrp[77]: VRRP_Instance(VI_WEB) Transition to MASTER STATE
1796223101.5 dir1 Keepalived_vrrp[77]: VRRP_Instance(VI_WEB) Entering MASTER STATE
"""


def test_journal_lines_give_each_entering_state_with_its_microsecond_time():
    got = parse_journal(JOURNAL)
    assert [(t.host, t.instance, t.state) for t in got] == [
        ("dir2", "VI_WEB", "BACKUP"), ("dir2", "VI_DB", "BACKUP"), ("dir2", "VI_WEB", "MASTER"),
        ("dir2", "VI_DB", "MASTER"), ("dir2", "VI_WEB", "BACKUP"), ("dir1", "VI_WEB", "MASTER")]
    assert got[2].time == 1796223081.904502 and got[2].line == 4 and got[2].priority is None
    # keepalived 1.x's "Transition to" precedes the change: only "Entering" counts
    assert got[-1].time == 1796223101.5


def test_notify_lines_win_over_journal_lines_and_nothing_parses_to_empty():
    notify = "1796223081.900000001 2026-12-02T14:51:21.900000001Z dir2 VI_WEB MASTER 100\n"
    got = parse_transitions(JOURNAL + notify)
    assert [(t.instance, t.state, t.priority) for t in got] == [("VI_WEB", "MASTER", 100)]
    assert parse_transitions(JOURNAL)[2].state == "MASTER"
    assert parse_transitions("-- No entries --\n") == []


def test_clock_offset_keeps_the_tightest_round_trip():
    off = offset_from_readings("dir2", [(10.0, 10.2, "1000.15\n"), (11.0, 11.02, "1001.02\n"), (12.0, 12.1, "1002.0")])
    assert off == ClockOffset("dir2", pytest.approx(990.01), pytest.approx(0.01), 3)
    assert off.history_time(1001.01, started_at=5.0) == pytest.approx(6.0)
    with pytest.raises(HarnessError, match="dir2: clock offset: unusable reading 'nan'"):
        offset_from_readings("dir2", [(1.0, 1.1, "nan")])
    with pytest.raises(HarnessError, match="dir2: clock offset: `date"):
        offset_from_readings("dir2", [(1.0, 1.1, "%N")])


@dataclass
class _Result:
    stdout: str
    exit_status: int = 0
    stderr: str = ""


def test_clock_offset_runs_date_and_refuses_a_failing_one():
    ticks = iter([0.0, 0.04, 1.0, 1.01])
    answers = iter(["100.02", "101.006"])
    off = clock_offset(lambda cmd: _Result(next(answers)), "dir1", samples=2, clock=lambda: next(ticks))
    assert off.samples == 2 and off.offset_s == pytest.approx(100.001) and off.uncertainty_s == pytest.approx(0.005)
    with pytest.raises(HarnessError, match="dir1: clock offset: `date .*` exited 127: date: not found"):
        clock_offset(lambda cmd: _Result("", 127, "date: not found"), "dir1", samples=1)


def test_the_command_is_the_setting_else_a_systemd_journal_else_none():
    assert default_command(Service("keepalived", "command", start="x", stop="y", process="keepalived",
                                   transitions="cat /run/n.log")) == "cat /run/n.log"
    assert default_command(Service("keepalived", "systemd", unit="keepalived.service")).startswith(
        "journalctl -u keepalived.service -o short-unix --no-pager")
    assert default_command(Service("keepalived", "sysv", sysv_name="keepalived")) is None


def history(rows: list[tuple[float, str, str, str, object]]) -> list[Op]:
    return [Op(i, t, p, ty, f, v) for i, (t, p, ty, f, v) in enumerate(rows)]


GET = {"vip": "web"}
OPS = history([
    (1.0, "vip-probe-web", "invoke", "get", GET), (1.01, "vip-probe-web", "ok", "get", 200),
    (2.0, "nemesis", "invoke", "director-failure", {"fault_id": "f1"}),
    (2.1, "nemesis", "ok", "director-failure", {"fault_id": "f1"}),
    (4.9, "vip-probe-web", "invoke", "get", GET), (5.3, "vip-probe-web", "ok", "get", 200),  # began before
    (5.4, "vip-probe-db", "invoke", "connect", {"vip": "db"}), (5.41, "vip-probe-db", "ok", "connect", None),
    (5.5, "vip-probe-web", "invoke", "get", GET), (5.52, "vip-probe-web", "ok", "get", 200),
])


def test_logged_takeover_is_the_first_master_of_the_instance_after_the_fault():
    points = [(-50.0, "VI_WEB", "MASTER"),  # an earlier test's takeover: long before
              (5.0, "VI_DB", "MASTER"), (5.2, "VI_WEB", "MASTER"), (9.0, "VI_WEB", "MASTER")]
    got = logged_takeover(OPS, "director-failure", points, instance="VI_WEB")
    assert got == {"logged_takeover_s": 3.1, "logged_first_served_s": 3.42}
    # any instance when the web VIP's instance is not known
    assert logged_takeover(OPS, "director-failure", points, instance=None) == {
        "logged_takeover_s": 2.9, "logged_first_served_s": 3.42}


def test_no_fault_ok_or_no_master_after_it_is_none():
    assert logged_takeover(OPS, "director-failure", [(-50.0, "VI_WEB", "MASTER")], instance="VI_WEB") is None
    assert logged_takeover(OPS, "director-failure", [(5.2, "VI_WEB", "BACKUP")], instance="VI_WEB") is None
    assert logged_takeover(OPS, "domain-destroy", [(5.2, "VI_WEB", "MASTER")], instance="VI_WEB") is None
    # a standby that moves a moment before the kill command returns still counts
    assert logged_takeover(OPS, "director-failure", [(1.9, "VI_WEB", "MASTER")], instance="VI_WEB") == {
        "logged_takeover_s": -0.2, "logged_first_served_s": 3.2}


def test_the_report_shows_the_logged_takeover_or_why_there_is_none(tmp_path):
    from harness.budgets import FailoverBound, director_budget_from_configs
    from harness.report import load_run, render_report

    conf = ("vrrp_instance VI_WEB {\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n"
            "    priority 100\n    advert_int 1\n    virtual_ipaddress {\n        198.18.0.100/24\n    }\n}\n")

    def page(counts: dict) -> str:
        verdict = FailoverBound(director_budget_from_configs([("dir2", "k.conf", conf)]), 1.5, 5.0).judge(0.05).to_dict()
        verdict["counts"].update(counts)
        d = tmp_path / str(len(list(tmp_path.iterdir()))) / "t"
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps({"test": "t.py::t", "slug": "t", "title": "crash", "outcome": "passed",
                                                   "checks": [verdict], "slo": []}), encoding="utf-8")
        return render_report(load_run(d.parent))

    html = page({"logged_takeover_s": 2.95, "logged_first_served_s": 3.02, "logged_clock_uncertainty_s": 0.004,
                 "logged_takeover_source": "dir2: cat /run/keepalived/notify.log"})
    assert "<td class='num' data-failover='logged'>2.95 s (&plusmn;0.004 s); first served 3.02 s</td>" in html
    assert "logged takeover: dir2: cat /run/keepalived/notify.log" in html
    html = page({"logged_takeover_error": "dir2: no transitions command & no unit"})
    assert "<td class='num' data-failover='logged'>–</td>" in html
    assert "no logged takeover: dir2: no transitions command &amp; no unit" in html


def _director_cluster(dir2_service: Service):
    from harness.cluster import Cluster
    from harness.inventory._model import Host, Inventory, Vip
    from harness.testing import FakeCluster

    fake = FakeCluster()
    inv = Inventory("t", {"dir2": Host("dir2", "198.18.0.12", ("director",), services={"keepalived": dir2_service})},
                    {"web": Vip("web", "198.18.0.100", 80, "http")})
    return Cluster(inv, transport_factory=lambda h: fake(h.name)), fake


def test_read_over_the_transport_with_the_directors_own_command_and_clock():
    from harness.probes.vrrp_log import read_logged_transitions

    svc = Service("keepalived", "command", start="k", stop="s", process="keepalived",
                  transitions="cat /run/keepalived/notify.log")
    cluster, fake = _director_cluster(svc)
    fake("dir2").on(r"^date \+%s\.%N$", (0, "1796223000.000000000\n", ""))
    fake("dir2").on(r"^cat /run/keepalived/notify.log$",
                    (0, "1796223081.900000001 2026-12-02T14:51:21.900000001Z dir2 VI_WEB MASTER 100\n", ""))
    logged = read_logged_transitions(cluster, "dir2")
    assert logged is not None and logged.command == "cat /run/keepalived/notify.log"
    assert [(t.instance, t.state) for t in logged.transitions] == [("VI_WEB", "MASTER")]
    assert logged.clock.samples == 5 and fake("dir2").commands.count("date +%s.%N") == 5
    # a command that fails names host, command and what it said
    failing, fake3 = _director_cluster(svc)
    fake3("dir2").on(r"^date", (0, "1796223000.0\n", "")).on(r"^cat ", (1, "", "cat: No such file or directory"))
    with pytest.raises(HarnessError, match=r"dir2: `cat /run/keepalived/notify.log` exited 1: cat: No such file"):
        read_logged_transitions(failing, "dir2")
    # nothing to read with: None, no command run
    bare, fake2 = _director_cluster(Service("keepalived", "sysv", sysv_name="keepalived"))
    assert read_logged_transitions(bare, "dir2") is None and fake2("dir2").commands == []
