"""pytest plugin (entry point ``pytest11: harness``): options, fixtures, run directory, report.

Thin over the library: the cluster comes from ``--cluster FILE`` or the lab, each test that asks
for ``scenario`` gets a harness.scenario.Scenario in ``<report-dir>/<run-id>/<test>/``, and the
session ends by writing ``run.json`` and the HTML availability report. Imports of the heavy
parts (paramiko, the lab) happen inside fixtures, so a plain ``pytest tests/unit`` stays fast.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import secrets
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ._host_keys import unchecked_host_keys
from ._interrupt import InterruptWatch, interrupted_result
from ._run_record import host_key_header, install_interrupt_watch
from ._secrets import scrub_data
from .inventory._model import LatencyBound
from .report.allure import install_results_scrubber

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
SLO_KEYS = ("availability_percent", "failover_margin_s", "max_error_rate_percent", "recovery_s", "web_failover_s", "director_failover_s")
_SLO_PERCENTS = ("availability_percent", "max_error_rate_percent")  # the rest: >= 0 (s or ms)
_SLO_POSITIVE = ("director_failover_s",)  # a promise: > 0


def parse_duration(text: str) -> float:
    """'90', '90s', '5m', '8h' -> seconds; argparse-friendly error naming the option."""
    m = _DURATION.match(text)
    if not m:
        raise pytest.UsageError(f"--soak-duration: {text!r} is not a duration like 300s, 5m or 8h")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_slo_override(text: str) -> tuple[tuple[str, ...], float]:
    """'availability_percent=99.5' or 'latency_ms.steady.p95=250' -> (path, value); a UsageError
    naming the option for anything else: NaN and infinity, a percentage outside [0, 100], a
    negative time (the ranges of the cluster file's ``slo:``)."""
    key, sep, value = text.partition("=")
    path = tuple(key.strip().split("."))
    ok_path = (len(path) == 1 and path[0] in SLO_KEYS) or (
        len(path) == 3 and path[0] == "latency_ms" and path[1] in ("steady", "fault", "recovery")
        and path[2] in ("p95", "p99")
    )
    if not sep or not ok_path:
        raise pytest.UsageError(
            f"--slo: {text!r}: expected KEY=NUMBER with KEY one of {', '.join(SLO_KEYS)} "
            "or latency_ms.<steady|fault|recovery>.<p95|p99>"
        )
    try:
        number = float(value)
    except ValueError:
        raise pytest.UsageError(f"--slo: {text!r}: {value!r} is not a number") from None
    if not math.isfinite(number):  # x > nan is False: a NaN bound would pass every run
        raise pytest.UsageError(f"--slo: {text!r}: {value.strip()!r} is not a finite number")
    high = 100.0 if path[0] in _SLO_PERCENTS else math.inf
    if path[0] in _SLO_POSITIVE and number <= 0:  # a promise of 0 s can never be kept
        raise pytest.UsageError(f"--slo: {text!r}: {key.strip()} must be > 0, not {value.strip()}")
    if not 0 <= number <= high:
        limit = "between 0 and 100" if high == 100.0 else ">= 0"
        raise pytest.UsageError(f"--slo: {text!r}: {key.strip()} must be {limit}, not {value.strip()}")
    return path, number


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "HA cluster harness")
    group.addoption("--cluster", metavar="FILE", default=None,
                    help="cluster file (docs/cluster-file.md); default: the embedded lab, brought up if not running")
    group.addoption("--lab-name", default="default", help="lab name when no --cluster is given (default: default)")
    group.addoption("--lab-subnet", default=None,
                    help="lab subnet when no --cluster is given (default 198.18.0.0/24; give another to run a second lab)")
    group.addoption("--lab-directors", choices=("haproxy", "lvs", "auto"), default="auto",
                    help="lab directors: auto (default: lvs where a guest boots, else haproxy, saying why), "
                         "lvs (User-Mode Linux guests with IPVS), haproxy (namespaces)")
    group.addoption("--lab-file-tier", choices=("none", "gluster"), default="none",
                    help="lab file servers: none (default), gluster (fs1-fs3, the shared volume mounted at "
                         "each web node's LMS dataroot; the storage tests need it)")
    group.addoption("--lab-auth-tier", choices=("none", "openldap"), default="none",
                    help="lab directory servers: none (default), openldap (ldap1, ldap2: slapd, two "
                         "providers replicating each other, holding the LMS's users)")
    group.addoption("--lab-ldap-hosts", choices=("vip", "servers"), default="vip",
                    help="with --lab-auth-tier: the lab LMS binds through the LDAP VIP (vip, default) or "
                         "to ldap1 then ldap2 itself (servers)")
    group.addoption("--lab-accept-unhealthy", action="store_true",
                    help="run on a lab that is up but not healthy (default: every test's setup fails "
                         "with the reasons `harness lab status` gives)")
    group.addoption("--keep-lab", action="store_true",
                    help="leave a lab this session brought up running at the end")
    group.addoption("--report-dir", metavar="DIR", default="reports",
                    help="where run directories and the HTML report go (default: reports)")
    group.addoption("--seed", type=int, default=None, help="seed for fault schedules (default: random, recorded)")
    group.addoption("--soak-duration", default="5m", help="soak length, e.g. 300s, 30m, 8h (default 5m)")
    group.addoption("--slo", action="append", default=[], metavar="KEY=VALUE",
                    help="override an SLO of the cluster file, e.g. availability_percent=99.5, latency_ms.steady.p95=250")
    group.addoption("--load-users", type=int, default=None,
                    help="Locust virtual users for Moodle load (default: sized for the lab)")
    group.addoption("--harness-audit", choices=("auto", "on", "off"), default="auto",
                    help="read the cluster's configuration at the start and say what will go wrong (docs/audit.md; "
                         "auto: on against the lab, off against --cluster unless asked)")


@dataclass
class HarnessSettings:
    cluster_file: str | None
    lab_name: str
    lab_subnet: str | None
    lab_directors: str
    keep_lab: bool
    lab_accept_unhealthy: bool
    report_dir: Path
    seed: int
    soak_duration_s: float
    slo_overrides: list[tuple[tuple[str, ...], float]]
    load_users: int | None
    #: ``--cluster FILE`` read and validated at configure (bad input is a usage error, not a
    #: fixture traceback), with the ``--slo`` overrides applied; None for the lab
    inventory: Any = None
    #: the problems of an unhealthy lab used with --lab-accept-unhealthy (run.json records them)
    lab_problems_at_start: list[str] = field(default_factory=list)
    run_id: str = ""
    run_dir: Path = field(default_factory=Path)
    results: list[dict[str, Any]] = field(default_factory=list)
    #: the first SIGINT/SIGTERM of the session (result.json and run.json record it)
    interrupts: InterruptWatch = field(default_factory=InterruptWatch)
    #: --lab-file-tier: the lab's file servers (none, gluster)
    lab_file_tier: str = "none"
    #: --lab-auth-tier: the lab's directory servers (none, openldap)
    lab_auth_tier: str = "none"
    #: --lab-ldap-hosts: where the lab LMS binds with the auth tier (vip, servers)
    lab_ldap_hosts: str = "vip"
    #: --harness-audit: the static audit at the start of the run (auto, on, off)
    audit: str = "auto"


settings_key = pytest.StashKey[HarnessSettings]()
scenario_key = pytest.StashKey[Any]()
declared_key = pytest.StashKey[Any]()  # harness.verdicts.Declarations of a test's markers
report_key = pytest.StashKey[dict[str, pytest.TestReport]]()


_VERDICT_MARKERS = (
    "waive(checker, reason): this checker's verdict is recorded and shown apart but does not decide the test",
    "expect_invalid(checker, reason): a negative proof: this checker must say INVALID",
)


def pytest_configure(config: pytest.Config) -> None:
    install_results_scrubber()  # allure results are scrubbed for every test, not only scenarios
    for line in _VERDICT_MARKERS:  # registered here too: a project using the plugin may be --strict-markers
        config.addinivalue_line("markers", line)
    seed = config.getoption("--seed")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)
    report_dir = Path(config.getoption("--report-dir")).resolve()
    config.stash[settings_key] = HarnessSettings(
        cluster_file=config.getoption("--cluster"),
        lab_name=config.getoption("--lab-name"),
        lab_subnet=config.getoption("--lab-subnet"),
        lab_directors=config.getoption("--lab-directors"),
        lab_file_tier=config.getoption("--lab-file-tier"),
        lab_auth_tier=config.getoption("--lab-auth-tier"),
        lab_ldap_hosts=config.getoption("--lab-ldap-hosts"),
        keep_lab=config.getoption("--keep-lab"),
        lab_accept_unhealthy=config.getoption("--lab-accept-unhealthy"),
        report_dir=report_dir,
        seed=seed,
        soak_duration_s=parse_duration(config.getoption("--soak-duration")),
        slo_overrides=[parse_slo_override(s) for s in config.getoption("--slo")],
        load_users=config.getoption("--load-users"),
        audit=config.getoption("--harness-audit"),
        run_id=run_id,
        run_dir=report_dir / run_id,
    )
    settings = config.stash[settings_key]
    if settings.cluster_file:
        settings.inventory = _read_cluster_file(settings.cluster_file, settings.slo_overrides)
    install_interrupt_watch(config, settings.interrupts)


def _read_cluster_file(path: str, overrides: list[tuple[tuple[str, ...], float]]) -> Any:
    """The cluster file with the ``--slo`` overrides applied; one line naming the file and
    field for anything wrong with it (pytest exits 4, as for any bad option)."""
    from .errors import HarnessError
    from .inventory import load_inventory

    try:
        return _apply_slo_overrides(load_inventory(path), overrides)
    except HarnessError as exc:
        raise pytest.UsageError(f"--cluster: {exc}") from None


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[settings_key]
    target = s.cluster_file or f"the lab ({s.lab_name})"
    return [f"harness: cluster={target} seed={s.seed} run={s.run_id}", *host_key_header(s.inventory)]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    item.stash.setdefault(report_key, {})[rep.when] = rep
    return rep


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Read every test's waivers before anything runs: a waiver without a reason, or naming
    a checker that does not exist, is a usage error of the whole run (exit 4)."""
    from .errors import HarnessError
    from .verdicts import MARKERS, declarations

    for item in items:
        marks = [(m.name, m.args, m.kwargs) for m in item.iter_markers() if m.name in MARKERS]
        try:
            item.stash[declared_key] = declarations(marks, where=item.nodeid)
        except HarnessError as exc:
            raise pytest.UsageError(str(exc)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """After a scenario test's body passed, its checkers decide too (harness.verdicts): one
    that is INVALID or UNKNOWN and not waived fails the test, with every such verdict said."""
    result = yield
    sc = item.stash.get(scenario_key, None)
    if sc is not None:
        if sc.check_config is None:
            sc.close()  # stop probes and load first: the checkers judge a finished history
        judgement = sc.judge(_declared(item))
        if judgement.failures:
            pytest.fail(judgement.message(), pytrace=False)
    return result


def _declared(item: pytest.Item) -> Any:
    from .verdicts import Declarations

    return item.stash.get(declared_key, None) or Declarations()


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def harness_settings(pytestconfig: pytest.Config) -> HarnessSettings:
    """The harness options of this session (cluster, report dir, seed, soak duration, SLOs)."""
    return pytestconfig.stash[settings_key]


@dataclass
class ClusterTarget:
    """What the session tests against: the inventory, a guard for addresses, the lab if any."""

    inventory: Any
    cluster_file: str
    guard: Any = None
    lab: Any = None
    brought_up: bool = False


def _apply_slo_overrides(inventory: Any, overrides: list[tuple[tuple[str, ...], float]]) -> Any:
    slo = inventory.slo
    for path, value in overrides:
        if len(path) == 1:
            slo = replace(slo, **{path[0]: value})
        else:
            _, phase, pct = path
            bounds = dict(slo.latency_ms)
            old = bounds.get(phase, LatencyBound())
            bounds[phase] = replace(old, **{pct: value})
            slo = replace(slo, latency_ms=bounds)
    return replace(inventory, slo=slo)


@pytest.fixture(scope="session")
def cluster_target(harness_settings: HarnessSettings) -> Iterator[ClusterTarget]:
    """The cluster under test: ``--cluster FILE``, or the lab (brought up if not built)."""
    s = harness_settings
    if s.cluster_file:
        yield ClusterTarget(s.inventory, str(Path(s.cluster_file).resolve()))
        return
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (it creates network namespaces); run as root or pass --cluster FILE")
    from .lab import Lab

    if s.lab_subnet:
        lab = Lab(name=s.lab_name, directors=s.lab_directors, subnet=s.lab_subnet, file_tier=s.lab_file_tier,
                  auth_tier=s.lab_auth_tier, ldap_hosts=s.lab_ldap_hosts)
    else:  # the lab's own default subnet
        lab = Lab(name=s.lab_name, directors=s.lab_directors, file_tier=s.lab_file_tier,
                  auth_tier=s.lab_auth_tier, ldap_hosts=s.lab_ldap_hosts)
    yield from lab_target(s, lab)


def lab_target(s: HarnessSettings, lab: Any) -> Iterator[ClusterTarget]:
    """Use, or build and afterwards tear down, the lab: only a lab this session built is torn
    down by it, and a built lab that stays unhealthy fails every test's setup with its problems
    (unless --lab-accept-unhealthy)."""
    from .inventory import load_inventory
    from .lab import LDAP_PASSWORD_ENV, LMS_STUDENT_PASSWORD, MOODLE_PASSWORD_ENV

    st = lab.status()
    if st.built and not st.healthy:
        st = _wait_for_health(lab, LAB_HEALTH_WAIT_S)
    action = lab_session_action(st.built, st.healthy, st.problems, accept_unhealthy=s.lab_accept_unhealthy)
    if action.kind == "refuse":
        pytest.fail(action.message, pytrace=False)  # every test's setup fails with the reasons
    if action.message:
        print(f"\nharness: {action.message}", flush=True)
        s.lab_problems_at_start = list(st.problems)
    brought_up = action.kind == "up"
    if brought_up:
        print(f"\nharness: bringing up the lab {s.lab_name!r} (no --cluster given) ...", flush=True)
        t0 = time.monotonic()
        lab.up(progress=lambda msg: print(f"  lab: {msg}", flush=True))
        print(f"harness: lab up in {time.monotonic() - t0:.1f}s", flush=True)
    try:
        # the lab's password is authoritative (a lab rebuilt in this session has a new one)
        os.environ["HARNESS_DB_PASSWORD"] = lab.db_password()
        ldap_password = lab.ldap_password()
        if ldap_password is not None:  # the directory: section names it (the auth tier)
            os.environ[LDAP_PASSWORD_ENV] = ldap_password
        os.environ.setdefault(MOODLE_PASSWORD_ENV, LMS_STUDENT_PASSWORD)  # the load logs in as the LMS's students
        inv = _apply_slo_overrides(load_inventory(lab.inventory_path), s.slo_overrides)
        yield ClusterTarget(inv, str(lab.inventory_path), guard=lab.guard, lab=lab, brought_up=brought_up)
    finally:
        if brought_up and not s.keep_lab:
            print("\nharness: tearing down the lab this session brought up", flush=True)
            lab.down()


#: how long a built lab that is not healthy at the start gets to become healthy (a heal settling)
LAB_HEALTH_WAIT_S = 30.0


@dataclass(frozen=True)
class LabSessionAction:
    """What the session does with the lab: ``up`` (build it, and tear it down at the end),
    ``use`` (someone else built it: leave it as found) or ``refuse`` (setup fails with
    ``message``). ``message`` is also the warning for a lab used although unhealthy."""

    kind: str
    message: str = ""


def lab_session_action(built: bool, healthy: bool, problems: Sequence[str], *,
                       accept_unhealthy: bool) -> LabSessionAction:
    """Only a lab this session builds is torn down by it; a built lab that is not healthy is
    not silently tested (a PASS on it would prove nothing) unless the user says so."""
    if not built:
        return LabSessionAction("up")
    if healthy:
        return LabSessionAction("use")
    reasons = "; ".join(problems) or "no reason given"
    if accept_unhealthy:
        return LabSessionAction("use", f"WARNING: the lab is NOT healthy ({reasons}); running anyway "
                                       "(--lab-accept-unhealthy): every verdict is taken on an unhealthy cluster")
    return LabSessionAction("refuse", f"the lab is up but not healthy: {reasons}. Fix it (`harness lab status`), "
                                      "or `harness lab down` and rerun to rebuild it, or pass --lab-accept-unhealthy")


def _wait_for_health(lab: Any, wait_s: float) -> Any:
    """Poll ``lab status`` (bounded in time and count) until healthy; the last status."""
    deadline = time.monotonic() + wait_s
    st = lab.status()
    for _ in range(int(wait_s) + 1):
        if st.healthy or time.monotonic() >= deadline:
            break
        time.sleep(1.0)  # a poll interval between real readiness checks, not a wait for readiness
        st = lab.status()
    return st


@pytest.fixture(scope="session")
def cluster(cluster_target: ClusterTarget) -> Iterator[Any]:
    """harness.cluster.Cluster for the cluster under test (SSH to every host, reused)."""
    from .cluster import Cluster

    c = Cluster(cluster_target.inventory)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="session")
def audit_findings(cluster: Any) -> list[Any]:
    """The static audit of the cluster under test (harness.config_audit), read once a session."""
    from .config_audit import audit_cluster

    return audit_cluster(cluster)


def _say_now(config: pytest.Config, lines: list[str]) -> None:
    """Lines on the terminal from inside a fixture (past pytest's output capture)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capman is None:
        print("\n".join(lines), flush=True)
        return
    with capman.global_and_fixture_disabled():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


def _audit_at_start(request: pytest.FixtureRequest, s: HarnessSettings, target: ClusterTarget) -> dict[str, Any] | None:
    """The audit's summary line at the top of the run and audit.json in the run dir; None when
    off (``--harness-audit``; auto: on against the lab). An audit that fails is said, not fatal."""
    if s.audit == "off" or (s.audit == "auto" and target.lab is None):
        return None
    from .config_audit import Severity, exit_status

    try:
        findings = request.getfixturevalue("audit_findings")
    except Exception as exc:  # noqa: BLE001 - the tests still run; the summary says the audit failed
        _say_now(request.config, [f"harness: audit: could not run: {type(exc).__name__}: {exc}"])
        return {"error": f"{type(exc).__name__}: {exc}"}
    counts = {sev.value: sum(f.severity is sev for f in findings) for sev in Severity}
    worst = [f for f in findings if f.severity is not Severity.INFO][:3]
    lines = ["harness: audit: " + ", ".join(f"{n} {k}" for k, n in counts.items())]
    lines += [f"  {f.severity.value.upper()} {f.rule}: {f.message}" for f in worst]
    lines += ["  (`harness audit` for all of them)"] if findings else []
    _say_now(request.config, lines)
    (s.run_dir / "audit.json").write_text(json.dumps(scrub_data(
        {"findings": [f.to_dict() for f in findings], "exit_status": exit_status(findings)}), indent=2) + "\n")
    return dict(counts, exit_status=exit_status(findings))


@pytest.fixture(scope="session")
def run_record(request: pytest.FixtureRequest, harness_settings: HarnessSettings,
               cluster_target: ClusterTarget) -> Iterator[HarnessSettings]:
    """The run directory; ``run.json`` is rewritten as tests finish, the report built at the end."""
    s = harness_settings
    s.run_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    inv = cluster_target.inventory
    from . import __version__

    base = {
        "run_id": s.run_id, "started": started, "seed": s.seed, "harness_version": __version__,
        "cluster": {
            "name": inv.name, "source": cluster_target.cluster_file,
            "hosts": {h.name: {"address": h.address, "roles": list(h.roles)} for h in inv.hosts.values()},
            "vips": {n: f"{v.address}:{v.port}" for n, v in inv.vips.items()},
            "host_keys_unchecked": unchecked_host_keys(inv),
            # a lab used although unhealthy (--lab-accept-unhealthy): its problems at the start
            "unhealthy_at_start": list(s.lab_problems_at_start),
        },
    }

    def write(finished: bool) -> None:
        doc = dict(base, tests=[r["test"] for r in s.results])
        if s.interrupts.first is not None:
            doc["interrupted"] = s.interrupts.first.to_dict()
        if finished:
            doc["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        (s.run_dir / "run.json").write_text(json.dumps(scrub_data(doc), indent=2) + "\n")  # scrubbed: node ids, paths

    s.run_dir.mkdir(parents=True, exist_ok=True)
    audit = _audit_at_start(request, s, cluster_target)
    if audit is not None:
        base["audit"] = audit
    s._write_run = write  # type: ignore[attr-defined]
    write(False)
    try:
        yield s
    finally:
        write(True)
        _build_report(s.run_dir)


def _build_report(run_dir: Path) -> None:
    try:
        from .report import build_report
    except ImportError:
        return
    try:
        path = build_report(run_dir)
        print(f"\nharness: availability report: {path}", flush=True)
    except Exception as exc:  # a report failure must not hide the test results
        print(f"\nharness: could not build the report for {run_dir}: {exc}", flush=True)


@pytest.fixture
def scenario(request: pytest.FixtureRequest, cluster: Any, cluster_target: ClusterTarget,
             run_record: HarnessSettings) -> Iterator[Any]:
    """A harness.scenario.Scenario for this test: history, nemesis (heals at setup and
    teardown whatever happened), probes, Moodle load; writes result.json at the end."""
    from .scenario import Scenario, slugify

    item = request.node
    marker = item.get_closest_marker("scenario")
    meta = dict(marker.kwargs) if marker else {}
    sc = Scenario(
        cluster, run_record.run_dir / slugify(item.nodeid), test=item.nodeid,
        title=meta.get("title", item.name), tier=meta.get("tier", ""), fault_kind=meta.get("fault", ""),
        negative_proof=bool(meta.get("negative", False)), history_in_memory=bool(meta.get("history_in_memory", True)),
        guard=cluster_target.guard,
    )
    item.stash[scenario_key] = sc
    from .report import allure as allure_report  # no-ops without allure-pytest

    allure_report.label_test(tier=sc.tier or None, fault_kind=sc.fault_kind or None, title=sc.title)
    with sc.nemesis.sigterm_heals(), run_record.interrupts.watching():  # the watch over the nemesis's SIGTERM
        sc.nemesis.heal_all()
        try:
            yield sc
        finally:
            try:
                sc.close()
            finally:
                if sc.judgement is None:  # the body failed (a wait ran out): figures all the same
                    try:
                        sc.judge(_declared(item))
                    except Exception as exc:  # the test's own failure is the one to show
                        print(f"harness: checkers after {item.nodeid} failed: {exc}")
                reports = item.stash.get(report_key, {})
                call = reports.get("call")
                if call is None:
                    sc.outcome = "error"
                elif call.passed:
                    sc.outcome = "passed"
                elif call.skipped:
                    sc.outcome = "skipped"
                else:
                    sc.outcome = "failed"
                    sc.error = str(call.longrepr.reprcrash.message) if hasattr(call.longrepr, "reprcrash") else str(call.longrepr)[-2000:]
                cut = run_record.interrupts.first
                if cut is not None and cut.test == item.nodeid:
                    sc.outcome, sc.error, sc.interrupted = interrupted_result(cut, reports, sc.outcome, sc.error)
                result_path = sc.write_result()
                _attach_to_allure(allure_report, sc, result_path)
                run_record.results.append(sc.result())
                run_record._write_run(False)  # type: ignore[attr-defined]


def _attach_to_allure(allure_report: Any, sc: Any, result_path: Path) -> None:
    """History, checker verdicts and the availability figure as allure attachments."""
    try:
        availability = next((c for c in sc.checks if c.checker == "availability"), None)
        if availability is not None:
            allure_report.attach_json("availability", availability.to_dict())
        allure_report.attach_json("checks", [c.to_dict() for c in sc.checks])
        allure_report.attach_json("slo", [s.to_dict() for s in sc.slo])
        allure_report.attach_file(result_path, "result.json")
        allure_report.attach_file(sc.directory / "history.jsonl", "history.jsonl")
    except Exception as exc:  # attachments must never fail a test
        print(f"harness: allure attachments for {sc.test} failed: {exc}")


@pytest.fixture
def history(scenario: Any) -> Any:
    """The run's single history (harness.history.HistoryRecorder) for this test."""
    return scenario.history


@pytest.fixture
def nemesis(scenario: Any) -> Any:
    """The fault injector (harness.faults.Nemesis); every fault is healed at teardown."""
    return scenario.nemesis


@pytest.fixture
def load_users(harness_settings: HarnessSettings) -> int:
    """Locust users for Moodle load: --load-users, else a size below the lab's capacity."""
    return harness_settings.load_users or 4
