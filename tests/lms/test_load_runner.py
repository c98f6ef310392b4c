"""harness.load.LocustLoad: Locust in a subprocess, its raw samples streamed into the history."""

from __future__ import annotations

import hashlib
import importlib.util
import re

import pytest

from harness.checkers import Validity
from harness.checkers.storage import lost_files
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


def test_uploads_carry_their_pool_path_and_checksum_and_a_node_without_the_share_lacks_them(lms_stack: LmsStack,
                                                                                          tmp_path):
    """MOODLE_ATTACH_FRACTION=1: every post uploads an attachment first. The history's upload
    names the file's place in Moodle's pool and its SHA-256; the node that served it holds it
    intact. The stack's nodes keep their own dataroot (own disks, no share), so a listing of the
    other node makes lost_files INVALID: what a web node without the shared volume looks like."""
    if importlib.util.find_spec("locust") is None:
        pytest.skip("locust is not installed")
    history = HistoryRecorder(tmp_path / "history.jsonl")
    env = {
        "MOODLE_USERS": f"student081:{LMS_PASSWORD}", "MOODLE_COURSE_ID": "2", "MOODLE_FORUM_CMID": "1",
        "MOODLE_POST_KEY_PREFIX": "upl", "MOODLE_WAIT_MIN": "0.05", "MOODLE_WAIT_MAX": "0.1",
        "MOODLE_ATTACH_FRACTION": "1", "MOODLE_UPLOAD_BYTES": "700",
    }
    served, other = lms_stack.nodes[0], lms_stack.nodes[1]
    load = LocustLoad(history, served.url, users=1, spawn_rate=1, run_time_s=6, env=env, workdir=tmp_path / "locust")
    load.start()
    assert load.wait() == 0, load.log_tail()
    ops = load_history(tmp_path / "history.jsonl")
    uploads = [(i, c) for i, c in pair_operations(ops) if i.f == "upload" and c is not None and c.type == "ok"]
    assert uploads, load.log_tail()
    for inv, _ in uploads:
        assert re.fullmatch(r"filedir/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{40}", inv.value["path"])
        data = (served.dataroot / inv.value["path"]).read_bytes()
        assert len(data) == 700 and hashlib.sha256(data).hexdigest() == inv.value["sha256"]
    attached = lms_stack.query("SELECT COUNT(*) FROM mdl_files WHERE component = 'mod_forum' AND filearea = 'attachment'"
                               " AND contenthash IN (" + ",".join(["%s"] * len(uploads)) + ")",
                               *[inv.value["path"].rsplit("/", 1)[1] for inv, _ in uploads])[0][0]
    assert attached >= len(uploads) - 1  # the last upload's post may have been cut by the end of the run
    for node in (served, other):
        files = {p: hashlib.sha256((node.dataroot / p).read_bytes()).hexdigest()
                 for p in (inv.value["path"] for inv, _ in uploads) if (node.dataroot / p).exists()}
        history.invoke(f"storage-final-{node.name}", "list", None).ok({"files": files})
    history.close()
    verdict = lost_files(history.ops(), write_prefixes=("locust-",))
    assert verdict.valid is Validity.INVALID
    assert verdict.counts["lost"] == len(uploads) and {e["node"] for e in verdict.examples["lost"]} == {other.name}
