"""The lab LMS's file uploads (Moodle 4.x's flow): a draft upload through the file picker's
repository_ajax.php, then the forum post naming that draft area in ``attachments``. Real Apache
+ mod_php and MariaDB (conftest.py); each web node has its own dataroot, as on its own disk.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid

import pytest
import requests

from .conftest import LmsStack
from .test_lms_contract import TIMEOUT, login, post_form

pytestmark = pytest.mark.lms


def _upload(s: requests.Session, base: str, key: str, itemid: str, content: bytes, name: str = "notes.txt",
            ) -> requests.Response:
    return s.post(f"{base}/repository/repository_ajax.php", params={"action": "upload"},
                  data={"sesskey": key, "itemid": itemid, "repo_id": "5", "savepath": "/", "title": name},
                  files={"repo_upload_file": (name, content, "application/octet-stream")}, timeout=TIMEOUT)


def _pool_path(content: bytes) -> str:
    h = hashlib.sha1(content).hexdigest()
    return f"filedir/{h[:2]}/{h[2:4]}/{h}"


def test_upload_then_post_keeps_the_file_in_the_pool_and_attaches_it(lms_stack: LmsStack) -> None:
    node = lms_stack.nodes[0]
    s, key = login(node.url, "student011")
    page = s.get(f"{node.url}/mod/forum/view.php?id=1", timeout=TIMEOUT).text
    fields = post_form(page, f"att-{uuid.uuid4().hex[:10]}", "<p>with a file</p>")
    draft = fields["attachments"]
    assert draft.isdigit() and draft != fields["message[itemid]"]  # its own draft area
    content = secrets.token_bytes(3000)
    r = _upload(s, node.url, key, draft, content)
    assert r.status_code == 200, r.text[:300]
    reply = r.json()
    assert reply["id"] == int(draft) and reply["file"] == "notes.txt" and "/user/draft/" in reply["url"]
    stored = node.dataroot / _pool_path(content)
    assert stored.read_bytes() == content  # content-addressed by SHA-1, whole
    assert not list(stored.parent.glob("*.tmp"))
    r = s.post(f"{node.url}/mod/forum/post.php", data=fields, timeout=TIMEOUT)
    assert "Your post was successfully added." in r.text
    rows = lms_stack.query(
        "SELECT f.component, f.filearea, f.itemid, f.contenthash, f.filesize, p.attachment FROM mdl_files f"
        " JOIN mdl_forum_posts p ON p.id = f.itemid WHERE f.contenthash = %s", hashlib.sha1(content).hexdigest())
    assert len(rows) == 1
    component, filearea, postid, _, size, attachment = rows[0]
    assert (component, filearea, size, attachment) == ("mod_forum", "attachment", 3000, "1")


def test_an_upload_on_one_nodes_own_disk_is_missing_on_the_other(lms_stack: LmsStack) -> None:
    """What the file tier exists for: without shared storage the other node has no such file."""
    a, b = lms_stack.nodes[:2]
    s, key = login(a.url, "student012")
    content = secrets.token_bytes(500)
    r = _upload(s, a.url, key, "123456789", content)
    assert r.status_code == 200 and "error" not in r.json()
    assert (a.dataroot / _pool_path(content)).exists()
    assert not (b.dataroot / _pool_path(content)).exists()


@pytest.mark.parametrize(("case", "errorcode"), [("anonymous", "requireloginerror"), ("bad-sesskey", "invalidsesskey"),
                                                ("no-itemid", "missingparam"), ("no-file", "upload_error_no_file")])
def test_upload_errors_are_moodle_json_and_store_nothing(lms_stack: LmsStack, case: str, errorcode: str) -> None:
    base = lms_stack.url
    content = secrets.token_bytes(64)
    if case == "anonymous":
        s, key = requests.Session(), "x"
    else:
        s, key = login(base, "student013")
    if case == "bad-sesskey":
        key = "wrongkey00"
    data = {"sesskey": key, "itemid": "" if case == "no-itemid" else "42", "repo_id": "5"}
    files = None if case == "no-file" else {"repo_upload_file": ("a.bin", content, "application/octet-stream")}
    r = s.post(f"{base}/repository/repository_ajax.php", params={"action": "upload"}, data=data, files=files,
               timeout=TIMEOUT)
    assert r.status_code == 200
    assert json.loads(r.text)["errorcode"] == errorcode
    assert not (lms_stack.nodes[0].dataroot / _pool_path(content)).exists()
