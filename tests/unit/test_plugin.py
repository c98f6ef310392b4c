"""The pytest plugin's options: validated at parse time with messages naming the option."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.inventory._model import Host, Inventory, LatencyBound, Slo
from harness.plugin import _apply_slo_overrides, parse_duration, parse_slo_override
from harness.scenario import slugify


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("5m", 300), ("8h", 28800), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration_names_the_option():
    with pytest.raises(pytest.UsageError, match="--soak-duration: '8 hours'"):
        parse_duration("8 hours")


def test_slo_overrides_parse_and_apply():
    inv = Inventory("x", {"a": Host("a", "198.18.0.2", ("client",))}, slo=Slo())
    overrides = [parse_slo_override("availability_percent=99.5"), parse_slo_override("latency_ms.steady.p95=250")]
    out = _apply_slo_overrides(inv, overrides)
    assert out.slo.availability_percent == 99.5
    assert out.slo.latency_ms["steady"] == LatencyBound(p95=250.0, p99=800.0)
    assert inv.slo.availability_percent == 99.0  # the loaded inventory is not changed


@pytest.mark.parametrize("bad", ["availability=99", "latency_ms.steady.p50=3", "recovery_s", "recovery_s=soon"])
def test_bad_slo_override_names_the_option(bad):
    with pytest.raises(pytest.UsageError, match="--slo"):
        parse_slo_override(bad)


def test_slugify_is_filesystem_safe_and_readable():
    assert slugify("tests/availability/test_directors.py::test_crash[dir1]") == "availability_test_directors-test_crash_dir1"


def test_options_and_fixtures_are_registered(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*HA cluster harness*", "*--cluster=FILE*", "*--soak-duration*", "*--slo=KEY=VALUE*"])
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["*scenario*", "*harness.scenario.Scenario for this test*", "*nemesis*"])


def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--slo", "latency_ms.steady.p42=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--slo: 'latency_ms.steady.p42=1'*"])


def test_scenario_marker_metadata_reaches_result_json(pytester: pytest.Pytester):
    # a negative proof is flagged through the marker; the report keeps its figures apart by it
    import json
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cluster-file.md").read_text()
    cluster = pytester.path / "cluster.yml"
    cluster.write_text(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))
    pytester.makepyfile("""
        import pytest

        @pytest.mark.scenario(title="Broken on purpose", tier="db", fault="lose-writes", negative=True)
        def test_negative(scenario):
            pass

        @pytest.mark.scenario(title="A real one", tier="web", fault="kill-process")
        def test_real(scenario):
            assert scenario.history_in_memory

        @pytest.mark.scenario(title="A long one", history_in_memory=False)
        def test_long(scenario):
            scenario.history.record("vip-probe-web", "get", "ok", 200)
            assert scenario.history.ops() == [] and len(list(scenario.ops())) == 2
    """)
    result = pytester.runpytest("--cluster", str(cluster), "--report-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    results = {r["title"]: r for r in map(json.loads, map(Path.read_text, (pytester.path / "out").glob("*/*/result.json")))}
    assert results["Broken on purpose"]["negative_proof"] is True and results["Broken on purpose"]["tier"] == "db"
    assert results["A real one"]["negative_proof"] is False and results["A real one"]["fault_kind"] == "kill-process"


@pytest.mark.parametrize(
    "bad, message",
    [
        ("availability_percent=nan", "--slo: 'availability_percent=nan': 'nan' is not a finite number"),
        ("availability_percent=inf", "'inf' is not a finite number"),
        ("recovery_s=-inf", "'-inf' is not a finite number"),
        ("latency_ms.fault.p99=NaN", "'NaN' is not a finite number"),
        ("web_failover_s=1e999", "'1e999' is not a finite number"),
        ("availability_percent=101", "availability_percent must be between 0 and 100, not 101"),
        ("max_error_rate_percent=-1", "max_error_rate_percent must be between 0 and 100, not -1"),
        ("failover_margin_s=-0.5", "failover_margin_s must be >= 0, not -0.5"),
        ("latency_ms.steady.p95=-3", "latency_ms.steady.p95 must be >= 0, not -3"),
        ("director_failover_s=0", "director_failover_s must be > 0, not 0"),
    ],
)
def test_slo_override_must_be_finite_and_in_range(bad, message):
    with pytest.raises(pytest.UsageError, match=re.escape(message)):
        parse_slo_override(bad)


def test_a_nan_slo_is_a_usage_error_before_any_test_runs(pytester: pytest.Pytester):
    # on main, --slo availability_percent=nan read VALID on a 10 s outage at 83 %
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--slo", "availability_percent=nan")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--slo: 'availability_percent=nan': 'nan' is not a finite number*"])
    result.stdout.no_fnmatch_line("*passed*")


@pytest.mark.parametrize("content, message", [
    (b"hosts:\n  web1:\n    address: 10.0.0.1\n    roles: [web]\n    ssh: {connect_timeout_s: .nan}\n",
     "*--cluster: *cluster.yml*connect_timeout_s*"),
    (b"hosts: \xff\n", "*--cluster: *cluster.yml*not UTF-8*"),
    (b"a: &a [*a]\n", "*--cluster: *cluster.yml*"),
])
def test_a_bad_cluster_file_is_one_usage_error_before_any_test_runs(
        pytester: pytest.Pytester, content: bytes, message: str) -> None:
    # on main the file was read by a session fixture: a traceback in a test error, exit 1
    (pytester.path / "cluster.yml").write_bytes(content)
    pytester.makepyfile("def test_x(cluster): pass")
    result = pytester.runpytest("--cluster", "cluster.yml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    result.stdout.no_fnmatch_line("*passed*")


# ---- an interrupted run says so: the signal, when, and in which test -------------------------
def _docs_cluster(pytester: pytest.Pytester) -> str:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cluster-file.md").read_text()
    cluster = pytester.path / "cluster.yml"
    cluster.write_text(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))
    return str(cluster)


def _run_dir_docs(pytester: pytest.Pytester) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (run_json,) = (pytester.path / "out").glob("*/run.json")
    results = [json.loads(p.read_text()) for p in sorted((pytester.path / "out").glob("*/*/result.json"))]
    return json.loads(run_json.read_text()), results


@pytest.mark.parametrize("how, name", [
    ("os.kill(os.getpid(), signal.SIGINT)", "SIGINT"),
    ("os.kill(os.getpid(), signal.SIGTERM)", "SIGTERM"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
])
def test_an_interrupted_scenario_records_the_signal_and_when_in_result_and_run_json(
    pytester: pytest.Pytester, how: str, name: str
) -> None:
    # on main: result.json said outcome error, error null, and nothing in run.json
    cluster = _docs_cluster(pytester)
    pytester.makepyfile(f"""
        import os, signal, time

        def test_cut_short(scenario):
            {how}
            time.sleep(30)  # never reached: the signal is handled first
    """)
    before = datetime.now(timezone.utc)
    result = pytester.runpytest_subprocess("--cluster", cluster, "--report-dir", "out", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    run, (res,) = _run_dir_docs(pytester)
    node = "test_an_interrupted_scenario_records_the_signal_and_when_in_result_and_run_json.py::test_cut_short"
    assert res["outcome"] == "error"
    assert res["interrupted"]["signal"] == name and res["interrupted"]["phase"] == "call"
    at = datetime.fromisoformat(res["interrupted"]["at"])
    assert before <= at <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert res["error"] == f"interrupted by {name} at {res['interrupted']['at']} during call"
    assert run["interrupted"] == {"signal": name, "at": res["interrupted"]["at"], "test": node}
    assert run["finished"] and run["tests"] == [node]


def test_sigterm_outside_a_scenario_unwinds_and_finishes_run_json(pytester: pytest.Pytester) -> None:
    # on main SIGTERM killed pytest at once: run.json had no "finished", nothing said why
    cluster = _docs_cluster(pytester)
    pytester.makepyfile("""
        import os, signal, time

        def test_first(scenario):
            pass

        def test_plain(run_record):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
    """)
    result = pytester.runpytest_subprocess("--cluster", cluster, "--report-dir", "out", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    run, (first,) = _run_dir_docs(pytester)
    assert run["interrupted"]["signal"] == "SIGTERM" and run["interrupted"]["test"].endswith("::test_plain")
    assert run["finished"]
    assert first["outcome"] == "passed" and "interrupted" not in first  # finished before the signal


def test_an_interrupted_result_names_the_phase_and_keeps_a_finished_calls_verdict() -> None:
    from harness._interrupt import Interruption, interrupted_phase, interrupted_result

    cut = Interruption("SIGINT", "2026-12-02T15:00:00.000+00:00", "t.py::x")
    assert interrupted_phase({}) == "setup" and interrupted_phase({"setup": 1}) == "call"
    assert interrupted_result(cut, {"setup": 1, "call": 1}, "failed", "assert 1 == 2") == (
        "error", "interrupted by SIGINT at 2026-12-02T15:00:00.000+00:00 during teardown (the call had failed: assert 1 == 2)",
        {"signal": "SIGINT", "at": "2026-12-02T15:00:00.000+00:00", "phase": "teardown"})


# ---- the host-key opt-out, said at the start of every run and kept in run.json ---------------
OPTED_OUT_CLUSTER = """\
name: t
hosts:
  dir1: {address: 198.18.0.11, roles: [director]}
  web2: {address: 198.18.0.22, roles: [web], ssh: {insecure_ignore_host_keys: true}}
  web1: {address: 198.18.0.21, roles: [web], ssh: {insecure_ignore_host_keys: true}}
"""


def test_the_header_names_the_hosts_whose_keys_are_not_checked_and_run_json_keeps_them(pytester: pytest.Pytester) -> None:
    cluster = pytester.path / "cluster.yml"
    cluster.write_text(OPTED_OUT_CLUSTER)
    pytester.makepyfile("def test_x(run_record): pass")
    result = pytester.runpytest("--cluster", str(cluster), "--report-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["harness: cluster=*", "harness: WARNING: SSH host keys are NOT checked for 2 host(s): "
                                 "web1, web2 (ssh.insecure_ignore_host_keys): whoever answers at their address is trusted"])
    (run_json,) = (pytester.path / "out").glob("*/run.json")
    assert json.loads(run_json.read_text())["cluster"]["host_keys_unchecked"] == ["web1", "web2"]


def test_no_host_key_line_when_every_key_is_checked(pytester: pytest.Pytester) -> None:
    cluster = pytester.path / "cluster.yml"
    cluster.write_text(OPTED_OUT_CLUSTER.replace(", ssh: {insecure_ignore_host_keys: true}", ""))
    pytester.makepyfile("def test_x(run_record): pass")
    result = pytester.runpytest("--cluster", str(cluster), "--report-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*host keys*")
    (run_json,) = (pytester.path / "out").glob("*/run.json")
    assert json.loads(run_json.read_text())["cluster"]["host_keys_unchecked"] == []


# ---- the lab: torn down only by the session that built it; an unhealthy one is not tested ----
class _FakeLab:
    """Stands in for harness.lab.Lab: records what the session did to it."""

    def __init__(self, tmp: Path, statuses: list[Any]) -> None:
        self.statuses = statuses
        self.calls: list[str] = []
        self.inventory_path = tmp / "cluster.yml"
        self.inventory_path.write_text("hosts:\n  web1: {address: 198.18.0.21, roles: [web]}\n")

    def status(self) -> Any:
        self.calls.append("status")
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def up(self, progress: Any = None) -> None:
        self.calls.append("up")

    def down(self) -> None:
        self.calls.append("down")

    def db_password(self) -> str:
        return "lab-db-pw"

    def ldap_password(self) -> str | None:
        return None  # no auth tier

    def guard(self, address: str) -> None:
        pass


def _status(built: bool, problems: list[str]) -> Any:
    from harness.lab._records import LabStatus

    return LabStatus(name="t", state_dir="/nonexistent", built=built, problems=problems)


def _settings(tmp: Path, **kw: Any) -> Any:
    from harness.plugin import HarnessSettings

    base: dict[str, Any] = dict(cluster_file=None, lab_name="t", lab_subnet=None, lab_directors="auto",
                                keep_lab=False, lab_accept_unhealthy=False, report_dir=tmp, seed=1,
                                soak_duration_s=60.0, slo_overrides=[], load_users=None)
    base.update(kw)
    return HarnessSettings(**base)


@pytest.fixture(autouse=False)
def lab_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables lab_target sets, restored after the test."""
    monkeypatch.setenv("HARNESS_DB_PASSWORD", "before")
    monkeypatch.setenv("HARNESS_MOODLE_PASSWORD", "before")


def _session(settings: Any, lab: _FakeLab) -> None:
    from harness.plugin import lab_target

    gen = lab_target(settings, lab)
    target = next(gen)
    assert target.inventory.hosts["web1"].address == "198.18.0.21"
    with pytest.raises(StopIteration):
        next(gen)


def test_a_lab_the_session_did_not_build_is_left_up(tmp_path, lab_env) -> None:
    lab = _FakeLab(tmp_path, [_status(True, [])])
    _session(_settings(tmp_path), lab)
    assert "up" not in lab.calls and "down" not in lab.calls


def test_a_lab_the_session_built_is_torn_down_unless_kept(tmp_path, lab_env) -> None:
    lab = _FakeLab(tmp_path, [_status(False, ["not built"])])
    _session(_settings(tmp_path), lab)
    assert lab.calls[-2:] == ["up", "down"]
    kept = _FakeLab(tmp_path, [_status(False, ["not built"])])
    _session(_settings(tmp_path, keep_lab=True), kept)
    assert "up" in kept.calls and "down" not in kept.calls


def test_an_unhealthy_lab_fails_setup_with_its_problems_and_is_left_alone(tmp_path, monkeypatch) -> None:
    # on main: "lab already up: nothing to do", the tests ran (PASS), and the lab was removed
    monkeypatch.setattr("harness.plugin.LAB_HEALTH_WAIT_S", 0.0)
    lab = _FakeLab(tmp_path, [_status(True, ["web3 DOWN in dir1's HAProxy"])])
    from harness.plugin import lab_target

    with pytest.raises(pytest.fail.Exception, match="not healthy: web3 DOWN in dir1's HAProxy.*--lab-accept-unhealthy"):
        next(lab_target(_settings(tmp_path), lab))
    assert "up" not in lab.calls and "down" not in lab.calls


def test_an_unhealthy_lab_that_heals_within_the_wait_is_used(tmp_path, monkeypatch, lab_env) -> None:
    monkeypatch.setattr("harness.plugin.time.sleep", lambda s: None)
    lab = _FakeLab(tmp_path, [_status(True, ["db2 not Synced"]), _status(True, ["db2 not Synced"]), _status(True, [])])
    settings = _settings(tmp_path)
    _session(settings, lab)
    assert lab.calls.count("status") == 3 and "down" not in lab.calls
    assert settings.lab_problems_at_start == []


def test_an_unhealthy_lab_is_used_when_the_user_accepts_it(tmp_path, monkeypatch, capsys, lab_env) -> None:
    monkeypatch.setattr("harness.plugin.LAB_HEALTH_WAIT_S", 0.0)
    lab = _FakeLab(tmp_path, [_status(True, ["db2 not Synced"])])
    settings = _settings(tmp_path, lab_accept_unhealthy=True)
    _session(settings, lab)
    assert settings.lab_problems_at_start == ["db2 not Synced"]
    assert "WARNING: the lab is NOT healthy (db2 not Synced)" in capsys.readouterr().out
    assert "up" not in lab.calls and "down" not in lab.calls


# ---- the static audit at the start of the run -----------------------------------------------
def test_the_audit_summary_heads_the_run_and_lands_in_run_json_and_audit_json(pytester: pytest.Pytester) -> None:
    cluster = pytester.path / "cluster.yml"
    cluster.write_text(OPTED_OUT_CLUSTER.replace(", ssh: {insecure_ignore_host_keys: true}", ""))
    pytester.makeconftest("""
        import pytest
        from harness.config_audit import Evidence, Finding, Severity

        @pytest.fixture(scope="session")
        def audit_findings():  # what the audit would have read from the hosts
            return [Finding("lvs-no-health-check", Severity.CRITICAL, "dir1: real server web2 has no health check",
                            (Evidence("dir1", "/etc/keepalived/keepalived.conf", 12, "real_server web2"),)),
                    Finding("vrrp-no-garp-refresh", Severity.INFO, "dir1: VI_WEB sends gratuitous ARP only once")]
    """)
    pytester.makepyfile("def test_x(run_record): pass")
    result = pytester.runpytest("--cluster", str(cluster), "--report-dir", "out", "-p", "no:cacheprovider",
                                "--harness-audit", "on")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["harness: audit: 1 critical, 0 warning, 1 info",
                                 "  CRITICAL lvs-no-health-check: dir1: real server web2 has no health check",
                                 "  (`harness audit` for all of them)"])
    (run_json,) = (pytester.path / "out").glob("*/run.json")
    assert json.loads(run_json.read_text())["audit"] == {"critical": 1, "warning": 0, "info": 1, "exit_status": 1}
    audit = json.loads(run_json.with_name("audit.json").read_text())
    assert audit["findings"][0]["evidence"][0]["line"] == 12 and audit["exit_status"] == 1
    # against a cluster file the audit is off unless asked (auto): no line, no file
    again = pytester.runpytest("--cluster", str(cluster), "--report-dir", "out2", "-p", "no:cacheprovider")
    again.assert_outcomes(passed=1)
    again.stdout.no_fnmatch_line("harness: audit:*")
    assert not list((pytester.path / "out2").glob("*/audit.json"))
