"""harness.load.LocustLoad: Locust in a subprocess, its raw samples streamed into the history."""

from __future__ import annotations

import importlib.util

import pytest

from harness.history import HistoryRecorder, load_history, pair_operations
from harness.load import LocustLoad

from .conftest import LMS_PASSWORD, LmsStack

pytestmark = pytest.mark.lms


def test_samples_land_in_the_history_with_latency_node_and_post_keys(lms_stack: LmsStack, tmp_path):
    if importlib.util.find_spec("locust") is None:  # never import it here: gevent patches on import
        pytest.skip("locust is not installed")
    history = HistoryRecorder(tmp_path / "history.jsonl")
    env = {
        "MOODLE_USERS": ",".join(f"student0{n}:{LMS_PASSWORD}" for n in (71, 72)),
        "MOODLE_COURSE_ID": "2", "MOODLE_FORUM_CMID": "1", "MOODLE_POST_KEY_PREFIX": "runner",
        "MOODLE_WAIT_MIN": "0.1", "MOODLE_WAIT_MAX": "0.3",
    }
    load = LocustLoad(history, lms_stack.url, users=2, spawn_rate=2, run_time_s=6, env=env, workdir=tmp_path / "locust")
    load.start()
    rc = load.wait()
    history.close()
    assert rc == 0, load.log_tail()
    ops = load_history(tmp_path / "history.jsonl")
    pairs = [(i, c) for i, c in pair_operations(ops) if i.process.startswith("locust-")]
    assert load.samples == len(pairs) > 10
    names = {i.f for i, _ in pairs}
    assert {"login", "post"} <= names
    completions = [c for _, c in pairs]
    assert all(c is not None and isinstance(c.extra.get("latency_ms"), (int, float)) for c in completions)
    assert {c.extra.get("node") for c in completions} - {None} <= {"web-a", "web-b"}
    posted = [c.extra["key"] for c in completions if c.f == "post" and c.type == "ok"]
    assert posted, "no successful post sampled"
    subjects = {row[0] for row in lms_stack.query("SELECT subject FROM moodle.mdl_forum_posts")}
    assert all(any(k in s for s in subjects) for k in posted)


def test_bad_arguments_are_refused_before_anything_starts(tmp_path):
    from harness.load import LoadError

    h = HistoryRecorder()
    with pytest.raises(LoadError, match="users must be >= 1"):
        LocustLoad(h, "http://127.0.0.1:1", users=0)
    with pytest.raises(LoadError, match="does not exist"):
        LocustLoad(h, "http://127.0.0.1:1", locustfile=tmp_path / "nope.py").start()
