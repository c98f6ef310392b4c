"""locustfiles/moodle.py drives the lab LMS headless: judged by content, posts land as keyed rows.

Locust monkey-patches with gevent on import, so it only ever runs in a subprocess here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import LMS_PASSWORD, REPO, LmsStack

pytestmark = pytest.mark.lms

LOCUSTFILE = REPO / "locustfiles" / "moodle.py"
NAMES = {"login", "dashboard", "courses", "course", "forum", "post", "ajax", "logout"}


def _locust_binary() -> str:
    candidate = Path(sys.executable).with_name("locust")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("locust")
    if found is None:
        pytest.skip("locust is not installed (.venv/bin/pip install locust)")
    return found


def run_locust(stack: LmsStack, tmp_path: Path, *, users: int, accounts: list[str], seconds: int,
               prefix: str, during: Callable[[], None] | None = None) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    samples = tmp_path / "samples.jsonl"
    env = dict(os.environ)
    env.update({
        "MOODLE_USERS": ",".join(f"{a}:{LMS_PASSWORD}" for a in accounts),
        "MOODLE_COURSE_ID": "2", "MOODLE_FORUM_CMID": "1", "MOODLE_POST_KEY_PREFIX": prefix,
        "MOODLE_WAIT_MIN": "0.1", "MOODLE_WAIT_MAX": "0.4", "MOODLE_TIMEOUT": "20",
        "MOODLE_SAMPLES_FILE": str(samples), "PYTHONPATH": str(REPO),
    })
    cmd = [_locust_binary(), "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users),
           "-t", f"{seconds}s", "--stop-timeout", "15", "--host", stack.url, "--only-summary"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if during is not None:
        during()
    try:
        out, _ = proc.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
        pytest.fail(f"locust did not finish: {out[-3000:]}")
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, "")
    lines = samples.read_text().splitlines() if samples.exists() else []
    return result, [json.loads(line) for line in lines]


def keyed_subjects(stack: LmsStack, prefix: str) -> list[str]:
    rows = stack.query(
        "SELECT p.subject FROM mdl_forum_discussions d JOIN mdl_forum_posts p ON p.id = d.firstpost"
        " WHERE d.forum = 1 AND p.subject LIKE %s", prefix + "-%")
    return [r[0] for r in rows]


def test_headless_run_no_failures_and_posts_land(lms_stack: LmsStack, tmp_path: Path) -> None:
    prefix = f"lt{uuid.uuid4().hex[:8]}"
    accounts = ["student190", "student191", "student192"]
    # 4 users for 3 accounts: the 4th finds none free and stops (one account per virtual user).
    result, samples = run_locust(lms_stack, tmp_path, users=4, accounts=accounts, seconds=10, prefix=prefix)
    assert result.returncode == 0, result.stdout[-3000:]
    assert samples, result.stdout[-3000:]
    failed = [s for s in samples if not s["ok"]]
    assert failed == [], failed[:5]
    assert {s["name"] for s in samples} <= NAMES
    assert {"login", "post", "ajax", "forum"} <= {s["name"] for s in samples}
    assert {s["context"]["user"] for s in samples} == set(accounts)
    assert all(s["context"].get("node") == "web-a" for s in samples)

    posts = [s for s in samples if s["name"] == "post"]
    keys = [s["context"]["key"] for s in posts]
    assert len(keys) == len(set(keys)) >= 3
    for s in posts:
        assert s["context"]["outcome"] == "ok"
        assert re.fullmatch(rf"{prefix}-{s['context']['user']}-\d{{6}}", s["context"]["key"])
    # every acknowledged post is in the database with the key as its subject, and nothing else is
    assert sorted(keyed_subjects(lms_stack, prefix)) == sorted(keys)


def test_lost_sessions_are_counted_as_forced_relogin(lms_stack: LmsStack, tmp_path: Path) -> None:
    prefix = f"lt{uuid.uuid4().hex[:8]}"
    accounts = ["student195", "student196"]
    userids = (295, 296)

    def drop_sessions() -> None:
        # like a web node with file sessions dying: the sessions vanish under the users
        time.sleep(4)
        lms_stack.query("DELETE FROM mdl_sessions WHERE userid IN (%s, %s)", *userids)

    result, samples = run_locust(lms_stack, tmp_path, users=2, accounts=accounts, seconds=10, prefix=prefix,
                                 during=drop_sessions)
    relogins = [s for s in samples if s["name"] == "forced_relogin"]
    assert relogins, result.stdout[-3000:]
    assert all(s["context"]["forced_relogin"] is True and s["context"]["user"] in accounts for s in relogins)
    # the request that met the login page failed; the user then logged in again and carried on
    for r in relogins:
        later = [s for s in samples if s["context"]["user"] == r["context"]["user"] and s["time"] > r["time"]]
        assert any(s["name"] == "login" and s["ok"] for s in later)
        assert any(s["name"] != "login" and s["ok"] for s in later)
    assert all(s["context"].get("forced_relogin") for s in samples if not s["ok"]), \
        [(s["name"], s["error"], s["context"]) for s in samples if not s["ok"]][:5]
    ok_keys = sorted(s["context"]["key"] for s in samples if s["name"] == "post" and s["ok"])
    # a post whose session vanished under it may be committed and then answer 503 (its session
    # write failed): indeterminate ("info"), so only the posts that certainly failed must be absent
    failed_keys = {s["context"]["key"] for s in samples if s["name"] == "post" and not s["ok"]
                   and s["context"].get("outcome") == "fail"}
    stored = keyed_subjects(lms_stack, prefix)
    assert set(ok_keys) <= set(stored) and not (failed_keys & set(stored))
