"""The cluster file's moodle: section reaches the packaged locustfile intact, through MOODLE_*."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness.errors import InventoryError
from harness.history import HistoryRecorder
from harness.inventory import Moodle, MoodleAccounts
from harness.load import DEFAULT_LOCUSTFILE, LocustLoad, moodle_environment
from harness.load.locust_runner import RECORDER

#: what the locustfile made of its environment (run in a subprocess: locust patches with gevent)
_PROBE = """
import json
import harness.load.moodle_locustfile as m
print(json.dumps({"accounts": m.ACCOUNTS, "course_id": m.COURSE_ID, "forum_cmid": m.FORUM_CMID,
                  "wait": [m.WAIT_MIN, m.WAIT_MAX], "timeout": m.TIMEOUT}))
"""


def _locustfile_reads(env: dict[str, str]) -> dict[str, object]:
    if importlib.util.find_spec("locust") is None:
        pytest.skip("locust is not installed")
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load(tmp_path: Path, moodle: Moodle | None, env: dict[str, str] | None = None) -> LocustLoad:
    history = HistoryRecorder(tmp_path / "history.jsonl")
    return LocustLoad(history, "http://127.0.0.1:1", moodle=moodle, moodle_source="site.yml", env=env,
                      workdir=tmp_path / "locust")


def test_the_locustfile_ships_inside_the_package() -> None:
    package = Path(harness.__file__).resolve().parent
    assert DEFAULT_LOCUSTFILE.resolve() == package / "load" / "moodle_locustfile.py"
    assert DEFAULT_LOCUSTFILE.is_file() and RECORDER.is_file()


def test_command_runs_the_packaged_locustfile_with_the_recorder(tmp_path: Path) -> None:
    cmd = _load(tmp_path, None).command()
    assert cmd[cmd.index("-f") + 1] == f"{DEFAULT_LOCUSTFILE},{RECORDER}"


def test_a_real_moodle_reaches_the_locustfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITE_PW", "pa,ss:word")
    moodle = Moodle(accounts=MoodleAccounts(usernames=("alice", "bob")), password_env="SITE_PW", course_id=7,
                    forum_cmid=42, wait_min_s=0.25, wait_max_s=0.5, timeout_s=12.0)
    env = _load(tmp_path, moodle).environment()
    assert env["MOODLE_USER_PASSWORD"] == "pa,ss:word" and env["MOODLE_USERS"] == "alice,bob"
    seen = _locustfile_reads(env)
    assert seen == {"accounts": [["alice", "pa,ss:word"], ["bob", "pa,ss:word"]], "course_id": 7, "forum_cmid": 42,
                    "wait": [0.25, 0.5], "timeout": 12.0}


def test_a_numbered_series_wins_over_a_stale_account_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOODLE_USERS", "stale:x")
    moodle = Moodle(accounts=MoodleAccounts(prefix="lt", digits=2, first=9, count=3))
    seen = _locustfile_reads(_load(tmp_path, moodle).environment())
    assert seen["accounts"] == [["lt09", "LabStudent-1"], ["lt10", "LabStudent-1"], ["lt11", "LabStudent-1"]]


def test_default_section_equals_the_locustfile_defaults(tmp_path: Path) -> None:
    """The lab needs no moodle: section: its values are the defaults on both sides."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MOODLE_")}
    with_section = _locustfile_reads(_load(tmp_path, Moodle()).environment(base))
    without = _locustfile_reads(_load(tmp_path, None).environment(base))
    assert with_section == without
    assert without["accounts"][0] == ["student001", "LabStudent-1"] and len(without["accounts"]) == 200
    assert (without["course_id"], without["forum_cmid"], without["wait"], without["timeout"]) == (2, 1, [1.0, 3.0], 30.0)


def test_callers_env_wins_over_the_section(tmp_path: Path) -> None:
    env = _load(tmp_path, Moodle(wait_min_s=2.0), env={"MOODLE_WAIT_MIN": "0.5", "MOODLE_POST_KEY_PREFIX": "p1"}).environment({})
    assert env["MOODLE_WAIT_MIN"] == "0.5" and env["MOODLE_POST_KEY_PREFIX"] == "p1"
    assert env["MOODLE_WAIT_MAX"] == "3.0" and env["HARNESS_LOCUST_SAMPLES"].endswith("locust-samples.jsonl")


def test_without_a_section_the_environment_is_as_before(tmp_path: Path) -> None:
    env = _load(tmp_path, None, env={"MOODLE_USERS": "u:p"}).environment({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "MOODLE_USERS": "u:p", "HARNESS_LOCUST_SAMPLES": str(tmp_path / "locust" / "locust-samples.jsonl")}


def test_an_unset_password_variable_stops_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITE_PW", raising=False)
    load = _load(tmp_path, Moodle(password_env="SITE_PW"))
    with pytest.raises(InventoryError, match=r"^site\.yml: moodle\.password_env: environment variable 'SITE_PW' is not set$"):
        load.start()
    assert load._proc is None and not (tmp_path / "locust").exists()
    with pytest.raises(InventoryError, match="SITE_PW"):
        moodle_environment(Moodle(password_env="SITE_PW"))
