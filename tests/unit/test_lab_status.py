"""Lab status as typed records: folding per-host answers, judging the directors, to_dict's shape."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from harness.inventory import inventory_from_dict
from harness.lab import LMS_STUDENT_PASSWORD, MOODLE_PASSWORD_ENV, DirectorStatus, Lab, LabStatus
from harness.lab._directors import HAProxyDirectors, LVSDirectors, directors_for
from harness.lab._files import hostctl_script
from harness.lab._interfaces import HostDomain, LabContext
from harness.lab._paths import LabPaths
from harness.lab._records import HttpAnswer
from harness.lab._state import LabState
from harness.lab._status import add_db, add_director, add_web, judge_directors
from harness.lab._topology import build_topology

TOPO = build_topology("t", "198.18.9.0/24")
MASTER = {"VI_WEB": "MASTER", "VI_DB": "MASTER"}
BACKUP = {"VI_WEB": "BACKUP", "VI_DB": "BACKUP"}


def _healthy(directors: str) -> LabStatus:
    st = LabStatus(name="t", state_dir="/x", built=True, directors=directors)
    st.hosts = {h: "running" for h in TOPO.hosts}
    web = {"web1": "UP", "web2": "UP", "web3": "UP"}
    db = {"db1": "UP", "db2": "UP", "db3": "UP"}
    for d, vrrp, held in (("dir1", MASTER, True), ("dir2", BACKUP, False)):
        add_director(st, d, DirectorStatus(vrrp=vrrp, vips_held={"web": held, "db": held},
                                           backends={"web": web, "db": db},
                                           ipvs_table="IP Virtual Server" if directors == "lvs" else None))
    return st


def test_a_healthy_status_has_no_director_problems_for_either_kind() -> None:
    for kind in ("haproxy", "lvs"):
        st = _healthy(kind)
        assert judge_directors(st, TOPO) == [], kind
        assert st.vip_holders == {"web": ["dir1"], "db": ["dir1"]}
    assert _healthy("haproxy").ipvs == {} and set(_healthy("lvs").ipvs) == {"dir1", "dir2"}


def test_split_brain_and_no_master_are_named() -> None:
    st = _healthy("haproxy")
    add_director(st, "dir2", DirectorStatus(vrrp=MASTER, vips_held={"web": True, "db": False},
                                            backends=st.backends["dir1"]))
    assert judge_directors(st, TOPO) == ["VIP web held by ['dir1', 'dir2']", "VRRP VI_WEB: 2 MASTER(s) ['dir1', 'dir2']",
                                         "VRRP VI_DB: 2 MASTER(s) ['dir1', 'dir2']"]
    st.hosts["dir1"] = st.hosts["dir2"] = "shutoff"
    assert judge_directors(st, TOPO) == ["no director running"]


def test_each_kind_judges_its_backends_by_its_own_rule() -> None:
    ha = _healthy("haproxy")
    ha.backends["dir1"]["web"] = {"web1": "UP", "web2": "DOWN(L4CON Connection refused)"}
    ha.backends["dir2"] = {}
    assert judge_directors(ha, TOPO) == ["dir1: backend web: web2 DOWN(L4CON Connection refused) not UP",
                                         "dir2: haproxy backends unknown (admin socket not answering)"]
    lvs = _healthy("lvs")
    lvs.backends["dir1"]["web"] = {"web1": "UP", "web2": "DRAIN"}
    del lvs.ipvs["dir2"]  # dir2 did not answer: already a problem of its own, not judged again
    lvs.backends["dir2"] = {}
    assert judge_directors(lvs, TOPO) == ["dir1: IPVS web: web2, web3 not in the table"]


def test_a_director_that_could_not_be_asked_adds_its_error() -> None:
    st = LabStatus(name="t", state_dir="/x", built=True, directors="lvs")
    add_director(st, "dir1", DirectorStatus(ipvs_table="", error="ssh failed: refused"))
    assert st.problems == ["dir1: ssh failed: refused"] and st.ipvs == {"dir1": ""} and st.vrrp == {"dir1": {}}


def test_web_and_db_answers_fold_into_the_status() -> None:
    st = LabStatus(name="t", state_dir="/x", built=True)
    add_web(st, "web1", HttpAnswer(200, {"X-Lab-Node": "web1"}, "<html>"))
    add_web(st, "web2", HttpAnswer(None, {}, "", "timed out"))
    body = ('{"node": "db1", "healthy": true, "status": {"wsrep_cluster_size": "2", "wsrep_ready": "ON", '
            '"wsrep_local_state_comment": "Synced", "wsrep_cluster_status": "Primary", "wsrep_connected": "ON"}}')
    add_db(st, "db1", HttpAnswer(200, {}, body), cluster_size=3)
    add_db(st, "db2", HttpAnswer(503, {}, '{"status": {"wsrep_local_state_comment": "Donor/Desynced"}}'), 3)
    assert st.web == {"web1": "200 web1", "web2": "error: timed out"}
    assert st.db["db1"] == {"wsrep_cluster_size": 2, "wsrep_ready": "ON", "wsrep_local_state_comment": "Synced",
                            "wsrep_cluster_status": "Primary"}
    assert st.problems == ["web2: apache answers timed out", "db1: wsrep_cluster_size 2",
                           "db2: clustercheck answers 503 (wsrep Donor/Desynced)"]


def test_to_dict_keeps_its_field_order_and_healthy() -> None:
    st = LabStatus(name="t", state_dir="/x", built=True)
    assert list(st.to_dict()) == ["name", "state_dir", "built", "hosts", "vrrp", "vip_holders", "backends", "web",
                                  "db", "ssh", "problems", "directors", "ipvs", "storage", "ldap", "healthy"]
    assert st.to_dict()["healthy"] is True and not LabStatus("t", "/x", False).healthy


def test_the_strategy_is_chosen_once_from_the_kind(tmp_path: Path) -> None:
    assert isinstance(directors_for("lvs"), LVSDirectors) and isinstance(directors_for("haproxy"), HAProxyDirectors)
    lvs = Lab("t", "198.18.9.0/24", state_dir=tmp_path / "l", directors="lvs")
    ha = Lab("t", "198.18.9.0/24", state_dir=tmp_path / "h", directors="haproxy")
    assert [h.name for h in lvs.strategy.namespace_hosts(lvs.topo) if h.has_role("director")] == []
    assert lvs.is_guest("dir1") and not lvs.is_guest("web1") and not ha.is_guest("dir1")
    assert lvs.inventory_dict()["hosts"]["dir1"]["services"]["keepalived"]["start"] == \
        f"sh {tmp_path / 'l'}/bin/guestctl dir1 start keepalived"
    assert list(ha.inventory_dict()["hosts"]["dir1"]["services"]) == ["sshd", "haproxy", "keepalived"]


def test_hostctl_runs_the_installed_package_without_pythonpath() -> None:
    script = hostctl_script(LabPaths(Path("/var/lib/harness-lab/t")), "/opt/venv/bin/python")
    assert "PYTHONPATH" not in script
    assert script.splitlines()[-1] == ('exec /opt/venv/bin/python -m harness.lab._hostctl '
                                       '--state-dir /var/lib/harness-lab/t "$@"')


def test_the_in_host_command_loads_none_of_the_labs_machinery() -> None:
    """hostctl runs on every service start, stop and heal: it must stay a light import."""
    import sys

    code = ("import sys, harness.lab._hostctl; "
            "print(sorted(m for m in sys.modules if m.startswith(('harness.lab._lab', 'harness.transport', "
            "'harness.inventory', 'harness.lab._uml', 'pymysql'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class _Recorder(HostDomain):
    """A HostDomain in a given state whose steps only record themselves (no lab needed for act)."""

    def __init__(self, current: str) -> None:
        super().__init__(cast(LabContext, None), TOPO.host("web1"))
        self.current = current
        self.steps: list[str] = []

    def state(self, state: LabState) -> str:
        return self.current

    def _destroy(self, state: LabState) -> None:
        self.steps.append("destroy")

    def _shutdown(self, state: LabState, current: str) -> str:
        self.steps.append(f"shutdown from {current}")
        return " (how)"

    def _freeze(self, state: LabState, frozen: bool) -> None:
        self.steps.append(f"freeze {frozen}")

    def _boot(self, state: LabState) -> None:
        self.steps.append("boot")

    def hostctl(self, action: str, daemon: str = "all", wait: float = 90.0) -> str:
        raise AssertionError("not used")

    def exec(self, argv: Sequence[str], *, timeout: float = 60.0, input: str | None = None,
             check: bool = False) -> subprocess.CompletedProcess[str]:
        raise AssertionError("not used")

    def services(self) -> dict[str, Any]:
        return {}

def test_domain_actions_share_one_set_of_rules() -> None:
    cases = {
        ("destroy", "running"): ("web1 destroyed", ["destroy"]),
        ("destroy", "shutoff"): ("web1 already shut off", []),
        ("shutdown", "paused"): ("web1 shut down (how)", ["shutdown from paused"]),
        ("shutdown", "shutoff"): ("web1 already shut off", []),
        ("pause", "running"): ("web1 paused", ["freeze True"]),
        ("pause", "shutoff"): ("web1 is shutoff", []),
        ("unpause", "paused"): ("web1 running", ["freeze False"]),
        ("unpause", "running"): ("web1 is running", []),
        ("start", "running"): ("web1 already running", []),
        ("start", "paused"): ("web1 was paused: resumed", ["freeze False"]),
        ("start", "shutoff"): ("web1 started", ["boot"]),
    }
    for (action, current), (summary, steps) in cases.items():
        rec = _Recorder(current)
        assert rec.act(action, LabState(Path("/nonexistent/state.json"))) == summary, (action, current)
        assert rec.steps == steps, (action, current)


def test_the_lab_cluster_file_names_its_moodle_and_keeps_the_password_out(tmp_path: Path, monkeypatch: Any) -> None:
    doc = Lab("t", "198.18.9.0/24", state_dir=tmp_path, directors="haproxy").inventory_dict()
    assert LMS_STUDENT_PASSWORD not in repr(doc)
    monkeypatch.setenv(MOODLE_PASSWORD_ENV, LMS_STUDENT_PASSWORD)
    moodle = inventory_from_dict(doc, source="lab").moodle
    assert moodle.password_env == MOODLE_PASSWORD_ENV and moodle.password() == LMS_STUDENT_PASSWORD
    assert (moodle.database, moodle.forum_posts_table, moodle.course_id, moodle.forum_cmid) == \
        ("moodle", "mdl_forum_posts", 2, 1)
    assert moodle.accounts.names()[0] == "student001" and len(moodle.accounts.names()) == 200
