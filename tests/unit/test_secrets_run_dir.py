"""A whole run dir made with planted secrets holds none of them (docs/run-dir.md: secrets
never appear in any of its files).

The run goes through the real writers: the pytest plugin (run.json, result.json, the
availability report, the allure attachments), a Scenario's history and journal, a real
``stop-service`` fault on a FakeCluster whose stop command carries tokens and whose heal runs
a ``start:`` line with ``--password=``, a failed assertion quoting a password, the passwords
the cluster file names by ``password_env`` appearing bare, a file a Locust child wrote, and
allure-pytest's own file logger. Then every file under the output directory is grepped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("known_secrets_restored")


PLANTED = {
    "start": "S3cr3t-start-line",
    "mysql_pwd": "Pl4nted-mysql-pwd",
    "bearer": "b34rer-Pl4nted-tok",
    "url": "Url-Pl4nted-pw",
    "query": "Qu3ry-Pl4nted-tok",
    "cli_token": "Cli-Pl4nted-tok",
    "assert": "Assert-Pl4nted-pw",
    "cookie": "c00kie-Pl4nted",
    "db": "Db-Pl4nted-pw",  # only ever bare: scrubbed because the cluster file names it
    "moodle": "Moodle-Pl4nted-pw",
    "locust": "L0cust-Pl4nted-pw",
}

CLUSTER = """
name: planted
ssh: {user: root, port: 22, connect_timeout_s: 5, command_timeout_s: 60}
database: {kind: galera, user: harness, password_env: SECRETS_TEST_DB_CRED, name: harness, port: 3306}
vips:
  web: {address: 198.18.0.100, port: 80, protocol: http, path: /login/index.php}
hosts:
  web1:
    address: 198.18.0.21
    roles: [web]
    services:
      app:
        manager: command
        process: app
        start: "MYSQL_PWD=%(mysql_pwd)s /usr/sbin/app --password=%(start)s --daemon"
        stop: "curl -s -H 'Authorization: Bearer %(bearer)s' 'http://admin:%(url)s@127.0.0.1:8081/stop?token=%(query)s' --token %(cli_token)s"
moodle: {password_env: SECRETS_TEST_LMS_CRED}
""" % PLANTED

CONFTEST = """
import pytest

from harness.cluster import Cluster
from harness.testing import FakeCluster


@pytest.fixture(scope="session")
def fakes():
    return FakeCluster()


@pytest.fixture(scope="session")
def cluster(cluster_target, fakes):
    c = Cluster(cluster_target.inventory, transport_factory=lambda host: fakes(host.name))
    yield c
    c.close()
"""

TEST = """
import pytest

from harness.errors import HarnessError


@pytest.mark.scenario(title="planted secrets", tier="web", fault="stop-service")
def test_planted(scenario, fakes):
    web = fakes("web1")
    web.on(r"pidof|pgrep", (1, "", ""))  # not running: the heal runs the start line
    web.on(r"--daemon", (1, "", "app: cannot start"))
    web.on(r"^curl", (7, "", "curl: (7) Failed to connect to 127.0.0.1 port 8081"))
    with pytest.raises(HarnessError):
        scenario.nemesis.inject("stop-service", host="web1", service="app")
    h = scenario.history
    h.record("vip-probe-web", "get", "fail", 500, error="HTTP 500: Set-Cookie: MoodleSession={cookie}; path=/")
    h.record("ledger-1", "write", "info", None, error="lost connection; rows {db} and {moodle}")
    (scenario.directory / "locust").mkdir()
    (scenario.directory / "locust" / "locust.log").write_text("login student001 password={locust}\\n")
    assert False, "admin login with password={assert} failed (db {db})"
""".format(**PLANTED)


def test_no_planted_secret_reaches_any_file_of_the_run_dir(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SECRETS_TEST_DB_CRED", PLANTED["db"])
    monkeypatch.setenv("SECRETS_TEST_LMS_CRED", PLANTED["moodle"])
    cluster = pytester.path / "cluster.yml"
    cluster.write_text(CLUSTER)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST)
    args = ["--cluster", str(cluster), "--report-dir", "out", "-p", "no:cacheprovider"]
    try:
        import allure  # noqa: F401  # allure-pytest: its file logger writes out/allure-results
        args += ["--alluredir", "out/allure-results"]
        with_allure = True
    except ImportError:  # pragma: no cover - the report extra is installed by scripts/setup
        with_allure = False
    result = pytester.runpytest(*args)
    result.assert_outcomes(failed=1, errors=1)  # the heal at teardown fails too

    out = pytester.path / "out"
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    # the run went through every writer (else "no secret found" would prove nothing)
    assert {"run.json", "result.json", "history.jsonl", "journal.jsonl", "availability.html", "locust.log"} <= names
    history = next(p for p in files if p.name == "history.jsonl").read_text()
    assert "/usr/sbin/app --password=***" in history and "curl -s -H" in history  # the commands are there, scrubbed
    result_json = next(p for p in files if p.name == "result.json").read_text()
    assert "admin login with password=***" in result_json
    if with_allure:
        results = [p for p in files if p.parent.name == "allure-results"]
        assert any(p.name.endswith("-result.json") for p in results)
        assert any("-attachment" in p.name for p in results)
        assert any("admin login with password=***" in p.read_text() for p in results if p.name.endswith("-result.json"))

    leaks = [(str(p.relative_to(out)), key) for p in files for key, secret in PLANTED.items()
             if secret.encode() in p.read_bytes()]
    assert leaks == []


def test_a_history_file_is_scrubbed_as_it_is_written(tmp_path: Path):
    from harness.history import HistoryRecorder, load_history

    with HistoryRecorder(tmp_path / "history.jsonl") as h:
        with pytest.raises(RuntimeError), h.operation("nemesis", "heal", {"fault_id": "f1"}):
            raise RuntimeError("web1: `/usr/sbin/app --password=S3cr3t-h1 --daemon` exited 1")
        h.record("vip-probe-web", "get", "ok", 200, latency_ms=1.0)
        in_memory = h.ops()
    text = (tmp_path / "history.jsonl").read_text()
    assert "S3cr3t-h1" not in text and "--password=***" in text
    assert "S3cr3t-h1" in in_memory[1].extra["error"]  # the checkers' view is unchanged
    assert [op.process for op in load_history(tmp_path / "history.jsonl")] == ["nemesis", "nemesis", "vip-probe-web", "vip-probe-web"]


def test_a_known_value_never_renames_what_the_checkers_pair_ops_by(tmp_path: Path):
    from harness._secrets import add_secret
    from harness.history import HistoryRecorder, load_history

    add_secret("ledger-77")  # a (bad) password that is also a process name
    with HistoryRecorder(tmp_path / "history.jsonl") as h:
        h.record("ledger-77", "write", "ok", 5, error="auth as ledger-77 failed")
    invoke, done = load_history(tmp_path / "history.jsonl")
    assert (invoke.process, done.process, done.f, done.type) == ("ledger-77", "ledger-77", "write", "ok")
    assert done.extra["error"] == "auth as *** failed"
