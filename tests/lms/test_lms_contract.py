"""The lab LMS honours the Moodle HTTP contract (docs/moodle-http.md) a load-test user meets.

Runs against a real Apache prefork + mod_php and a throwaway MariaDB (fixture in conftest.py).
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
import requests

from .conftest import LMS_PASSWORD, LmsStack

pytestmark = pytest.mark.lms

TIMEOUT = 15
SESSKEY_RE = re.compile(r'"sesskey":"([^"]+)"')
INPUT_RE = re.compile(r"<input\b[^>]*>", re.I)
ATTR_RE = re.compile(r'([a-zA-Z_:][-a-zA-Z0-9_:.\[\]]*)\s*=\s*"([^"]*)"')


def hidden_inputs(html: str) -> dict[str, str]:
    """Hidden inputs, attribute by attribute (their order varies)."""
    out: dict[str, str] = {}
    for tag in INPUT_RE.findall(html):
        attrs = dict(ATTR_RE.findall(tag))
        if attrs.get("type", "").lower() == "hidden" and "name" in attrs:
            out[attrs["name"]] = attrs.get("value", "")
    return out


def attribute_orders(html: str, name: str) -> set[tuple[str, ...]]:
    orders = set()
    for tag in INPUT_RE.findall(html):
        attrs = [a for a, _ in ATTR_RE.findall(tag)]
        if f'name="{name}"' in tag:
            orders.add(tuple(a for a in attrs if a in ("name", "type", "value")))
    return orders


def sesskey(html: str) -> str:
    m = SESSKEY_RE.search(html)
    assert m, "no M.cfg sesskey in page"
    return m.group(1)


def login_page(s: requests.Session, base: str) -> tuple[requests.Response, str]:
    r = s.get(f"{base}/login/index.php", timeout=TIMEOUT)
    assert r.status_code == 200
    return r, hidden_inputs(r.text)["logintoken"]


def login(base: str, username: str = "student001") -> tuple[requests.Session, str]:
    s = requests.Session()
    _, token = login_page(s, base)
    r = s.post(f"{base}/login/index.php", data={"anchor": "", "logintoken": token, "username": username,
                                                 "password": LMS_PASSWORD}, timeout=TIMEOUT)
    assert 'id="page-my-index"' in r.text, r.text[:500]
    return s, sesskey(r.text)


def post_form(html: str, subject: str, message: str, key: str | None = None) -> dict[str, str]:
    form = html[html.index('id="mformforum"'):]
    form = form[: form.index("</form>")]
    fields = hidden_inputs(form)
    fields.update({"subject": subject, "message[text]": message, "submitbutton": "Post to forum"})
    if key is not None:
        fields["sesskey"] = key
    return fields


def ajax(s: requests.Session, base: str, key: str | None, calls: list[dict]) -> list[dict]:
    params = {"info": calls[0]["methodname"]}
    if key is not None:
        params["sesskey"] = key
    r = s.post(f"{base}/lib/ajax/service.php", params=params, data=json.dumps(calls),
               headers={"Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest"}, timeout=TIMEOUT)
    assert r.status_code == 200
    return r.json()


def discussions_with_subject(stack: LmsStack, subject: str) -> list[tuple]:
    return stack.query(
        "SELECT d.id, d.course, d.forum, d.name, p.subject, p.message, p.parent, p.userid FROM mdl_forum_discussions d"
        " JOIN mdl_forum_posts p ON p.id = d.firstpost WHERE d.forum = 1 AND p.subject = %s", subject)


# --- login -------------------------------------------------------------------------------------

def test_login_page_sets_cookie_and_single_token(lms_stack: LmsStack) -> None:
    r = requests.get(f"{lms_stack.url}/login/index.php", timeout=TIMEOUT)
    cookie = r.headers["Set-Cookie"]
    assert re.match(r"MoodleSession=[a-z0-9]+;", cookie)
    assert "path=/" in cookie and "HttpOnly" in cookie
    assert len(hidden_inputs(r.text)["logintoken"]) == 32
    assert r.headers["X-Lab-Node"] == "web-a"
    assert 'id="page-login-index"' in r.text
    assert len(r.content) > 20_000, "pages should be tens of KB like Moodle's"


def test_health_check_page_starts_no_session_and_writes_nothing(lms_stack: LmsStack) -> None:
    """The directors' check: a database write stall must not fail it on every web node at once."""
    before = lms_stack.query("SELECT COUNT(*) FROM mdl_sessions")
    r = requests.get(f"{lms_stack.url}/healthz.php", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text.startswith("ok ")
    assert "Set-Cookie" not in r.headers
    assert lms_stack.query("SELECT COUNT(*) FROM mdl_sessions") == before
    requests.get(f"{lms_stack.url}/login/index.php", timeout=TIMEOUT)  # the test can see a write
    assert lms_stack.query("SELECT COUNT(*) FROM mdl_sessions") != before


def test_login_success_redirects_and_rotates_cookie_and_sesskey(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s = requests.Session()
    page, token = login_page(s, base)
    anon_cookie = s.cookies["MoodleSession"]
    anon_sesskey = sesskey(page.text)
    r = s.post(f"{base}/login/index.php", data={"anchor": "", "logintoken": token, "username": "student002",
                                                 "password": LMS_PASSWORD}, timeout=TIMEOUT)
    assert [h.status_code for h in r.history] == [303, 303]
    assert r.history[0].headers["Location"] == f"{base}/login/index.php?testsession=102"
    assert r.history[1].headers["Location"] == f"{base}/my/"
    assert r.status_code == 200 and r.url == f"{base}/my/"
    assert re.search(r'<body[^>]*id="page-my-index"', r.text)
    assert s.cookies["MoodleSession"] != anon_cookie, "session id must be regenerated at login"
    key = sesskey(r.text)
    assert key != anon_sesskey and len(key) == 10
    assert hidden_inputs(r.text)["sesskey"] == key
    assert f"logout.php?sesskey={key}" in r.text
    # The anonymous session is gone: the old cookie is no longer logged in.
    old = requests.get(f"{base}/my/", cookies={"MoodleSession": anon_cookie}, allow_redirects=False, timeout=TIMEOUT)
    assert old.status_code == 303


def test_wrong_password_redirects_back_with_error(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s = requests.Session()
    _, token = login_page(s, base)
    r = s.post(f"{base}/login/index.php", data={"anchor": "", "logintoken": token, "username": "student003",
                                                 "password": "wrong"}, timeout=TIMEOUT)
    assert [h.status_code for h in r.history] == [303]
    assert r.history[0].headers["Location"] == f"{base}/login/index.php"
    assert '<div class="alert alert-danger">Invalid login, please try again</div>' in r.text
    assert 'id="loginerrormessage"' in r.text
    assert 'page-my-index' not in r.text


def test_stale_login_token_fails_like_wrong_password(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s = requests.Session()
    _, token = login_page(s, base)
    s.post(f"{base}/login/index.php", data={"anchor": "", "logintoken": token, "username": "student004",
                                             "password": "wrong"}, timeout=TIMEOUT)
    _, fresh = login_page(s, base)
    assert fresh != token, "the token rotates after each validation"
    r = s.post(f"{base}/login/index.php", data={"anchor": "", "logintoken": token, "username": "student004",
                                                 "password": LMS_PASSWORD}, timeout=TIMEOUT)
    assert "Invalid login, please try again" in r.text
    assert "page-my-index" not in r.text
    # and the token handed out after that failure works
    _, fresh = login_page(s, base)
    r = s.post(f"{base}/login/index.php", data={"anchor": "", "logintoken": fresh, "username": "student004",
                                                 "password": LMS_PASSWORD}, timeout=TIMEOUT)
    assert 'id="page-my-index"' in r.text


def test_hidden_input_attribute_order_varies(lms_stack: LmsStack) -> None:
    orders: set[tuple[str, ...]] = set()
    for _ in range(12):
        orders |= attribute_orders(requests.get(f"{lms_stack.url}/login/index.php", timeout=TIMEOUT).text, "logintoken")
    assert {("name", "type", "value"), ("type", "name", "value")} <= orders


# --- pages -------------------------------------------------------------------------------------

def test_logged_in_pages(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s, key = login(base, "student005")
    for path, bodyid in [("/my/", "page-my-index"), ("/my/courses.php", "page-my-index"),
                         ("/course/view.php?id=2", "page-course-view-topics"),
                         ("/mod/forum/view.php?id=1", "page-mod-forum-view"), ("/", "page-site-index")]:
        r = s.get(base + path, timeout=TIMEOUT)
        assert r.status_code == 200, path
        assert f'id="{bodyid}"' in r.text, path
        assert sesskey(r.text) == key, path
        assert hidden_inputs(r.text)["sesskey"] == key, path
        assert f"logout.php?sesskey={key}" in r.text, path
        assert r.headers["X-Lab-Node"] == "web-a"
    r = s.get(f"{base}/course/view.php?id=999", timeout=TIMEOUT)
    assert r.status_code == 404
    forum = s.get(f"{base}/mod/forum/view.php?id=1", timeout=TIMEOUT).text
    assert re.search(r'<form[^>]*action="[^"]*/mod/forum/post\.php"[^>]*id="mformforum"', forum)
    fields = hidden_inputs(forum[forum.index('id="mformforum"'):])
    assert {k: fields[k] for k in ("course", "forum", "discussion", "parent", "groupid", "edit", "reply",
                                    "discussionsubscribe", "_qf__mod_forum_post_form", "message[format]")} == {
        "course": "2", "forum": "1", "discussion": "0", "parent": "0", "groupid": "", "edit": "0", "reply": "0",
        "discussionsubscribe": "1", "_qf__mod_forum_post_form": "1", "message[format]": "1"}
    assert fields["message[itemid]"].isdigit() and fields["sesskey"] == key


@pytest.mark.parametrize("path", ["/my/", "/my/courses.php", "/course/view.php?id=2", "/mod/forum/view.php?id=1"])
def test_anonymous_is_sent_to_login(lms_stack: LmsStack, path: str) -> None:
    r = requests.get(lms_stack.url + path, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 303
    assert r.headers["Location"] == f"{lms_stack.url}/login/index.php"


def test_login_returns_to_wanted_page(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s = requests.Session()
    s.get(f"{base}/course/view.php?id=2", timeout=TIMEOUT)
    _, token = login_page(s, base)
    r = s.post(f"{base}/login/index.php", data={"anchor": "", "logintoken": token, "username": "student006",
                                                 "password": LMS_PASSWORD}, timeout=TIMEOUT)
    assert r.history[1].headers["Location"] == f"{base}/course/view.php?id=2"
    assert 'id="page-course-view-topics"' in r.text


def test_missing_course_404_even_anonymous(lms_stack: LmsStack) -> None:
    assert requests.get(f"{lms_stack.url}/course/view.php?id=999", allow_redirects=False, timeout=TIMEOUT).status_code == 404


# --- forum -------------------------------------------------------------------------------------

def test_forum_post_success_and_row_stored_as_sent(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s, key = login(base, "student007")
    subject = f"lab-key-{uuid.uuid4().hex[:12]} <b>&amp; ünïcode \"quoted\""
    message = "<p>Body of the post</p>\nsecond line & more"
    page = s.get(f"{base}/mod/forum/view.php?id=1", timeout=TIMEOUT).text
    r = s.post(f"{base}/mod/forum/post.php", data=post_form(page, subject, message), timeout=TIMEOUT)
    assert [h.status_code for h in r.history] == [303]
    assert r.history[0].headers["Location"] == f"{base}/mod/forum/view.php?f=1"
    assert r.status_code == 200 and "Your post was successfully added." in r.text
    rows = discussions_with_subject(lms_stack, subject)
    assert len(rows) == 1
    did, course, forum, name, psubject, pmessage, parent, userid = rows[0]
    assert (course, forum, name, psubject, pmessage, parent, userid) == (2, 1, subject, subject, message, 0, 107)
    escaped = subject.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert re.search(rf'discuss\.php\?d={did}"[^>]*title="{re.escape(escaped)}"', r.text)
    # the notification is shown once
    assert "Your post was successfully added." not in s.get(f"{base}/mod/forum/view.php?f=1", timeout=TIMEOUT).text
    d = s.get(f"{base}/mod/forum/discuss.php?d={did}", timeout=TIMEOUT)
    assert d.status_code == 200 and 'id="page-mod-forum-discuss"' in d.text


@pytest.mark.parametrize("bad", ["wrongkey00", None], ids=["bad-sesskey", "missing-sesskey"])
def test_forum_post_bad_sesskey_404_nothing_created(lms_stack: LmsStack, bad: str | None) -> None:
    base = lms_stack.url
    s, _ = login(base, "student008")
    subject = f"lab-bad-{uuid.uuid4().hex[:12]}"
    fields = post_form(s.get(f"{base}/mod/forum/view.php?id=1", timeout=TIMEOUT).text, subject, "m")
    if bad is None:
        del fields["sesskey"]
    else:
        fields["sesskey"] = bad
    r = s.post(f"{base}/mod/forum/post.php", data=fields, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 404
    expected = "A required parameter (sesskey) was missing" if bad is None else "Your session has most likely timed out"
    assert expected in r.text
    assert discussions_with_subject(lms_stack, subject) == []


def test_forum_post_empty_subject_200_form_again_nothing_created(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s, _ = login(base, "student009")
    message = f"orphan-message-{uuid.uuid4().hex}"
    before = lms_stack.query("SELECT COUNT(*) FROM mdl_forum_posts")[0][0]
    r = s.post(f"{base}/mod/forum/post.php",
               data=post_form(s.get(f"{base}/mod/forum/view.php?id=1", timeout=TIMEOUT).text, "   ", message),
               allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 200
    assert 'id="mformforum"' in r.text and "Your post was successfully added." not in r.text
    assert lms_stack.query("SELECT COUNT(*) FROM mdl_forum_posts WHERE message = %s", message)[0][0] == 0
    assert lms_stack.query("SELECT COUNT(*) FROM mdl_forum_posts")[0][0] == before


def test_forum_post_anonymous_redirected_to_login(lms_stack: LmsStack) -> None:
    r = requests.post(f"{lms_stack.url}/mod/forum/post.php", data={"forum": "1", "subject": "x", "sesskey": "x",
                                                                   "_qf__mod_forum_post_form": "1"},
                      allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 303 and r.headers["Location"].endswith("/login/index.php")


# --- AJAX --------------------------------------------------------------------------------------

ENROLLED = {"index": 0, "methodname": "core_course_get_enrolled_courses_by_timeline_classification",
            "args": {"offset": 0, "limit": 0, "classification": "all", "sort": "fullname",
                     "customfieldname": "", "customfieldvalue": ""}}


def test_ajax_success(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s, key = login(base, "student010")
    reply = ajax(s, base, key, [ENROLLED])
    assert len(reply) == 1 and reply[0]["error"] is False
    assert [c["id"] for c in reply[0]["data"]["courses"]] == [2]
    assert reply[0]["data"]["courses"][0]["fullname"] == "Lab course"
    assert reply[0]["data"]["nextoffset"] == 1
    s.get(f"{base}/mod/forum/view.php?id=1", timeout=TIMEOUT)
    reply = ajax(s, base, key, [
        {"index": 0, "methodname": "core_calendar_get_action_events_by_timesort",
         "args": {"limitnum": 6, "timesortfrom": 0, "limittononsuspendedevents": True}},
        {"index": 1, "methodname": "block_recentlyaccesseditems_get_recent_items", "args": {"limit": 9}},
    ])
    assert [r["error"] for r in reply] == [False, False]
    assert reply[0]["data"]["events"] == []
    assert [item["cmid"] for item in reply[1]["data"]] == [1]
    state = ajax(s, base, key, [{"index": 0, "methodname": "core_courseformat_get_state", "args": {"courseid": 2}}])
    assert state[0]["error"] is False
    assert json.loads(state[0]["data"])["course"]["id"] == "2"
    missing = ajax(s, base, key, [{"index": 0, "methodname": "core_courseformat_get_state", "args": {"courseid": 999}}])
    assert missing[0]["error"] is True


def test_ajax_errors(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    anon = ajax(requests.Session(), base, "whatever", [ENROLLED])
    assert anon[0]["error"] is True and anon[0]["exception"]["errorcode"] == "servicerequireslogin"
    s, key = login(base, "student011")
    bad = ajax(s, base, "wrongkey00", [ENROLLED, ENROLLED | {"index": 1}])
    assert len(bad) == 1, "calls after a failed one are not run"
    assert bad[0]["error"] is True and bad[0]["exception"]["errorcode"] == "invalidsesskey"
    assert ajax(s, base, None, [ENROLLED])[0]["exception"]["errorcode"] == "invalidsesskey"


# --- logout ------------------------------------------------------------------------------------

def test_logout(lms_stack: LmsStack) -> None:
    base = lms_stack.url
    s, key = login(base, "student012")
    confirm = s.get(f"{base}/login/logout.php", allow_redirects=False, timeout=TIMEOUT)
    assert confirm.status_code == 200 and "Do you really want to log out?" in confirm.text
    assert s.get(f"{base}/my/", allow_redirects=False, timeout=TIMEOUT).status_code == 200, "still logged in"
    old_cookie = s.cookies["MoodleSession"]
    r = s.get(f"{base}/login/logout.php", params={"sesskey": key}, allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 303 and r.headers["Location"] == f"{base}/"
    new_cookie = r.cookies.get("MoodleSession")
    assert new_cookie and new_cookie != old_cookie
    assert s.get(f"{base}/my/", allow_redirects=False, timeout=TIMEOUT).status_code == 303
    old = requests.get(f"{base}/my/", cookies={"MoodleSession": old_cookie}, allow_redirects=False, timeout=TIMEOUT)
    assert old.status_code == 303 and old.headers["Location"] == f"{base}/login/index.php"


# --- sessions in the database ------------------------------------------------------------------

def test_session_served_by_any_node(lms_stack: LmsStack) -> None:
    a, b = lms_stack.nodes[0], lms_stack.nodes[1]
    s, key = login(a.url, "student013")
    r = requests.get(f"{b.url}/my/", cookies={"MoodleSession": s.cookies["MoodleSession"]},
                     allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 200 and 'id="page-my-index"' in r.text
    assert r.headers["X-Lab-Node"] == "web-b" and sesskey(r.text) == key
    row = lms_stack.query("SELECT userid FROM mdl_sessions WHERE sid = %s", s.cookies["MoodleSession"])
    assert row == [(113,)]


def test_requests_of_one_session_are_serialised_by_get_lock(lms_stack: LmsStack) -> None:
    s, _ = login(lms_stack.url, "student014")
    sid = s.cookies["MoodleSession"]
    holder = lms_stack.db()
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 1)", (f"moodle-session-{sid}",))
            assert cur.fetchone() == (1,)
            with pytest.raises(requests.ReadTimeout):
                s.get(f"{lms_stack.url}/my/", timeout=(2, 1.5))
    finally:
        holder.close()  # the lock goes with the connection, as when a web node dies
    r = s.get(f"{lms_stack.url}/my/", timeout=TIMEOUT)
    assert r.status_code == 200 and 'id="page-my-index"' in r.text


def test_database_down_answers_503_cleanly(lms_stack: LmsStack) -> None:
    from .conftest import free_port

    node = lms_stack.start_node("web-nodb", db_port=free_port())
    try:
        r = requests.get(f"{node.url}/login/index.php", timeout=TIMEOUT)
        assert r.status_code == 503
        assert r.headers["X-Lab-Node"] == "web-nodb"
        assert "Database unavailable" in r.text and "cannot connect to database moodle" in r.text
        assert "Warning" not in r.text and "Fatal error" not in r.text and "Stack trace" not in r.text
        assert "MoodleSession" not in r.headers.get("Set-Cookie", "")
    finally:
        lms_stack.stop_node(node)
