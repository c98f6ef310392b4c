"""The wheel is self-sufficient: installed into a fresh venv, used from a directory outside the checkout.

Builds the wheel from a copy of the checkout's files (never from the checkout itself: a stale
``build/`` there would leak old files into the wheel), installs it with the ``load`` extra into
a venv in a temp directory (dependencies through pip), then works from another temp directory,
as a user's own test repository would: the CLI, ``harness check`` on a literal history, a
throwaway pytest file using the plugin's fixtures against a cluster file, and the packaged
locustfile. About a minute, most of it pip.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.package

REPO = Path(__file__).resolve().parents[2]

#: a run by hand on a Moodle-less box: a local host, the moodle: section of a real site
CLUSTER_YML = """\
name: my-site
hosts:
  sup: {address: 127.0.0.1, roles: [client], transport: local}
moodle:
  accounts: {usernames: [alice, bob]}
  password_env: SITE_MOODLE_PASSWORD
  course_id: 7
  forum_cmid: 42
  database: moodle_prod
  table_prefix: m4_
  wait_s: {min: 0.5, max: 2}
"""

USER_TEST = '''\
"""A user's own test: the harness plugin's fixtures against their cluster file."""


def test_options_reach_the_settings(harness_settings, load_users):
    assert harness_settings.seed == 1234 and load_users == 7
    assert harness_settings.cluster_file == "cluster.yml"


def test_cluster_file_and_commands(cluster):
    moodle = cluster.inventory.moodle
    assert (moodle.database, moodle.forum_posts_table, moodle.course_id) == ("moodle_prod", "m4_forum_posts", 7)
    assert moodle.accounts.names() == ["alice", "bob"]
    assert cluster.inventory.moodle_password() == "from-the-environment"
    assert cluster.run("sup", "echo hello from $0").stdout.split()[:2] == ["hello", "from"]
'''

#: an acknowledged ledger write missing from the final read: the ledger checker must say INVALID
HISTORY_LOST_WRITE = """\
{"index": 0, "time": 0.0, "process": "vip-probe", "type": "invoke", "f": "get", "value": null}
{"index": 1, "time": 0.01, "process": "vip-probe", "type": "ok", "f": "get", "value": 200, "latency_ms": 10.0}
{"index": 2, "time": 0.1, "process": "ledger-1", "type": "invoke", "f": "write", "value": "k1"}
{"index": 3, "time": 0.12, "process": "ledger-1", "type": "ok", "f": "write", "value": "k1", "latency_ms": 20.0}
{"index": 4, "time": 0.5, "process": "vip-probe", "type": "invoke", "f": "get", "value": null}
{"index": 5, "time": 0.51, "process": "vip-probe", "type": "ok", "f": "get", "value": 200, "latency_ms": 10.0}
{"index": 6, "time": 1.0, "process": "ledger-read-db1", "type": "invoke", "f": "read", "value": {"node": "db1"}}
{"index": 7, "time": 1.1, "process": "ledger-read-db1", "type": "ok", "f": "read", "value": READ, "node": "db1"}
"""


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    #: a directory outside the checkout, standing in for the user's own repository
    workdir: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        full_env = _clean_env()
        full_env.update(env or {})
        return subprocess.run(list(argv), cwd=self.workdir, env=full_env, capture_output=True, text=True,
                              timeout=timeout)


def _clean_env() -> dict[str, str]:
    """Our environment without anything that would let the checkout leak in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO)))
    return env


def _source_files() -> list[Path]:
    """The checkout's files as a clean clone would have them (tracked, or new and not ignored)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [Path(p) for p in out.split("\0") if p and (REPO / p).is_file()]


def _build_wheel(src: Path, out: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the checkout's files")
    for rel in _source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    if importlib.util.find_spec("build") is not None:  # the dev extra installs it
        cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)]
    else:
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(src)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = sorted(out.glob("ha_harness-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    assert REPO not in root.parents, "the temp directory must be outside the checkout"
    wheel = _build_wheel(root / "src", root / "dist")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"{wheel}[load]"],
                         capture_output=True, text=True, timeout=600, env=_clean_env())
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    workdir = root / "my-repo"
    workdir.mkdir()
    yield Installed(wheel, venv, workdir)


def test_the_wheel_ships_every_file_of_the_package(installed: Installed) -> None:
    """Templates, the LMS tree (nested folders too), UML sources and the locustfile: all inside."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    shipped = {n for n in names if n.startswith("harness/")}
    expected = {p.as_posix() for p in _source_files() if p.parts[0] == "harness" and p.suffix != ".pyc"}
    assert expected - shipped == set(), "files of the package missing from the wheel"
    folders = Counter(n.rsplit("/", 1)[0] for n in shipped)
    for folder in ("harness/lab/templates", "harness/lab/uml", "harness/lab/lms/public/mod/forum",
                   "harness/lab/lms/public/lib/ajax", "harness/load"):
        assert folders[folder] > 0, folder
    assert "harness/load/moodle_locustfile.py" in shipped and "harness/load/_recorder.py" in shipped
    assert not any(n.startswith("harness/lab/bin/") for n in names)


def test_the_cli_runs(installed: Installed) -> None:
    done = installed.run(installed.bin("harness"), "--help")
    assert done.returncode == 0, done.stderr
    for command in ("lab", "check", "heal", "faults", "report"):
        assert command in done.stdout


def test_harness_check_judges_a_history(installed: Installed) -> None:
    (installed.workdir / "lost.jsonl").write_text(HISTORY_LOST_WRITE.replace("READ", "[]"))
    (installed.workdir / "kept.jsonl").write_text(HISTORY_LOST_WRITE.replace("READ", '["k1"]'))
    lost = installed.run(installed.bin("harness"), "check", "lost.jsonl")
    assert lost.returncode == 1, lost.stdout + lost.stderr
    assert "ledger        INVALID" in lost.stdout and "lost=1" in lost.stdout
    kept = installed.run(installed.bin("harness"), "check", "kept.jsonl")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "ledger        VALID" in kept.stdout and "availability  VALID" in kept.stdout


def test_a_users_own_tests_use_the_plugin(installed: Installed) -> None:
    (installed.workdir / "cluster.yml").write_text(CLUSTER_YML)
    (installed.workdir / "test_my_site.py").write_text(USER_TEST)
    python = installed.bin("python")
    helped = installed.run(python, "-m", "pytest", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "HA cluster harness" in helped.stdout and "--cluster=FILE" in helped.stdout
    done = installed.run(python, "-m", "pytest", "-p", "no:cacheprovider", "test_my_site.py", "--cluster", "cluster.yml",
                         "--seed", "1234", "--load-users", "7", "--report-dir", "reports",
                         env={"SITE_MOODLE_PASSWORD": "from-the-environment"})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
    assert "harness: cluster=cluster.yml seed=1234" in done.stdout


def test_the_packaged_locustfile_imports(installed: Installed) -> None:
    python = installed.bin("python")
    where = installed.run(python, "-c", "import harness, harness.load as l; print(harness.__file__); print(l.DEFAULT_LOCUSTFILE)")
    assert where.returncode == 0, where.stderr
    package_file, locustfile = (Path(line) for line in where.stdout.split())
    assert installed.venv in package_file.parents, "harness was imported from outside the fresh venv"
    assert locustfile.is_file() and installed.venv in locustfile.parents
    # importing it imports locust (gevent patches): a subprocess, and no load is run
    imported = installed.run(python, "-c", "import harness.load.moodle_locustfile as m; print(m.MoodleUser.__name__, len(m.ACCOUNTS))",
                             env={"MOODLE_USERS": "alice,bob"})
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert imported.stdout.split()[-2:] == ["MoodleUser", "2"]
    listed = installed.run(installed.bin("locust"), "-f", f"{locustfile},{locustfile.with_name('_recorder.py')}", "--list")
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert "MoodleUser" in listed.stdout
