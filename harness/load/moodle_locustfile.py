"""Moodle user behaviour for Locust, per the HTTP contract in docs/moodle-http.md.

Works unchanged against a real Moodle 4.x and the lab LMS (harness/lab/lms). Each virtual user
takes its own account (requests of one Moodle session are serialised by the session lock), logs
in with a fresh logintoken, browses the dashboard, my courses, a course and a forum with the
AJAX calls a browser makes, posts forum discussions whose subject is a unique ledger key, and
logs out and in again.

Every request fires Locust's ``request`` event with a name from {login, dashboard, courses,
course, forum, post, ajax, logout}; outcomes are judged by content (``catch_response=True``),
never by status alone. The event ``context`` carries ``user``, ``node`` (the ``X-Lab-Node``
header, when present) and, for posts, ``key`` and ``outcome`` (ok: acknowledged; fail: certainly
not stored; info: unknown, e.g. a timeout or a 5xx after the request was sent). A logged-in
request sent back to the login page (the session was lost) fires its own ``forced_relogin``
event, then the user logs in again.

It ships inside the package so an installed wheel can drive load (``harness.load.LocustLoad``
runs it by path); ``locustfiles/moodle.py`` in a checkout re-exports its user class. The harness
writes the ``moodle:`` section of the cluster file into the ``MOODLE_*`` variables below
(harness/load/moodle_env.py); set them yourself for a run by hand (docs/cluster-file.md lists
them). The file imports nothing from the harness but its error root, so a copy of it alone runs
on a load-generator box.

Configuration (environment):
  MOODLE_USERS="user1:pass1,user2"         explicit accounts (a name without ':' takes
                                           MOODLE_USER_PASSWORD), or else
  MOODLE_USER_PREFIX (student), MOODLE_USER_COUNT (200), MOODLE_USER_DIGITS (3),
  MOODLE_USER_PASSWORD (LabStudent-1), MOODLE_USER_START (1): accounts student001..student200
  MOODLE_COURSE_ID (2), MOODLE_FORUM_CMID (1)
  MOODLE_POST_KEY_PREFIX (lt-<random>): keys are <prefix>-<username>-<counter>
  MOODLE_WAIT_MIN / MOODLE_WAIT_MAX (1 / 3 seconds between tasks)
  MOODLE_TIMEOUT (30 seconds per request)
  MOODLE_ATTACH_FRACTION (0): share of forum posts that first upload an attachment (Moodle 4.x:
                      repository_ajax.php?action=upload into the form's ``attachments`` draft
                      area, then the post); MOODLE_UPLOAD_BYTES (2048) random bytes each;
                      MOODLE_UPLOAD_REPO_ID: the site's "Upload a file" repository id (default:
                      found in the page's file picker options, else 5)
  MOODLE_WORKERS (1): in a distributed run, the number of workers; worker i takes accounts
                      i, i+N, i+2N, ... so workers never share an account
  MOODLE_SAMPLES_FILE: if set, every request event is appended to it as one JSON line
                       (the harness runs Locust as a subprocess and reads raw samples from it)

Keep Locust out of the pytest process (it monkey-patches with gevent on import): run this file
with ``locust -f`` in a subprocess, never import it from a test.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import random
import re
import secrets
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task
from locust.exception import StopUser

if TYPE_CHECKING:
    from harness.errors import HarnessError as _ErrorBase
else:
    try:  # the harness's error root when it is importable; the file also runs on its own
        from harness.errors import HarnessError as _ErrorBase
    except ImportError:  # pragma: no cover - standalone copy on a load-generator box
        _ErrorBase = Exception


class MoodleConfigError(_ErrorBase):
    """A MOODLE_* environment variable is malformed; the message names it."""


# --- configuration ------------------------------------------------------------------------------

def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise MoodleConfigError(f"{name}={raw!r}: not an integer") from None
    if value < minimum:
        raise MoodleConfigError(f"{name}={value}: must be >= {minimum}")
    return value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise MoodleConfigError(f"{name}={raw!r}: not a number") from None
    if value < 0:
        raise MoodleConfigError(f"{name}={value}: must be >= 0")
    return value


def parse_accounts(environ: dict[str, str]) -> list[tuple[str, str]]:
    """Accounts from MOODLE_USERS, or generated from MOODLE_USER_PREFIX/COUNT/DIGITS/START; MOODLE_USER_PASSWORD."""
    password = environ.get("MOODLE_USER_PASSWORD", "LabStudent-1")
    explicit = environ.get("MOODLE_USERS", "").strip()
    if explicit:
        accounts = []
        for i, item in enumerate(p.strip() for p in explicit.split(",")):
            if not item:
                continue
            user, sep, own_password = item.partition(":")
            if not user:
                raise MoodleConfigError(f"MOODLE_USERS[{i}]={item!r}: expected user:password or user")
            accounts.append((user, own_password if sep else password))
        if not accounts:
            raise MoodleConfigError("MOODLE_USERS is set but lists no account")
        return accounts
    prefix = environ.get("MOODLE_USER_PREFIX", "student")
    count = _env_int("MOODLE_USER_COUNT", 200, minimum=1)
    digits = _env_int("MOODLE_USER_DIGITS", 3)
    start = _env_int("MOODLE_USER_START", 1)
    return [(f"{prefix}{n:0{digits}d}", password) for n in range(start, start + count)]


ACCOUNTS = parse_accounts(dict(os.environ))
COURSE_ID = _env_int("MOODLE_COURSE_ID", 2, minimum=1)
FORUM_CMID = _env_int("MOODLE_FORUM_CMID", 1, minimum=1)
KEY_PREFIX = os.environ.get("MOODLE_POST_KEY_PREFIX", "").strip() or f"lt-{secrets.token_hex(3)}"
WAIT_MIN = _env_float("MOODLE_WAIT_MIN", 1.0)
WAIT_MAX = max(WAIT_MIN, _env_float("MOODLE_WAIT_MAX", 3.0))
TIMEOUT = _env_float("MOODLE_TIMEOUT", 30.0)
if not (math.isfinite(TIMEOUT) and TIMEOUT > 0):  # requests would wait for ever (inf) or refuse 0
    raise MoodleConfigError(f"MOODLE_TIMEOUT={TIMEOUT}: must be a finite number of seconds > 0")
WORKERS = _env_int("MOODLE_WORKERS", 1, minimum=1)
ATTACH_FRACTION = _env_float("MOODLE_ATTACH_FRACTION", 0.0)
if ATTACH_FRACTION > 1:
    raise MoodleConfigError(f"MOODLE_ATTACH_FRACTION={ATTACH_FRACTION}: must be a share between 0 and 1")
UPLOAD_BYTES = _env_int("MOODLE_UPLOAD_BYTES", 2048, minimum=1)
UPLOAD_REPO_ID = os.environ.get("MOODLE_UPLOAD_REPO_ID", "").strip()
if UPLOAD_REPO_ID and not UPLOAD_REPO_ID.isdigit():
    raise MoodleConfigError(f"MOODLE_UPLOAD_REPO_ID={UPLOAD_REPO_ID!r}: not a repository id (digits)")
SAMPLES_FILE = os.environ.get("MOODLE_SAMPLES_FILE", "").strip()

# --- account pool: one account per virtual user -------------------------------------------------


class AccountPool:
    """Free accounts of this process; a worker only ever sees its own share."""

    def __init__(self, accounts: list[tuple[str, str]]) -> None:
        self._all = accounts
        self._free: deque[tuple[str, str]] | None = None
        self._lock = threading.Lock()

    def take(self, worker_index: int) -> tuple[str, str] | None:
        with self._lock:
            if self._free is None:
                self._free = deque(self._all[worker_index % WORKERS :: WORKERS])
            return self._free.popleft() if self._free else None

    def give_back(self, account: tuple[str, str]) -> None:
        with self._lock:
            if self._free is not None:
                self._free.append(account)


POOL = AccountPool(ACCOUNTS)
#: per-account post counters survive an account changing hands, so keys never repeat in a run
_COUNTERS: dict[str, int] = {}

# --- page parsing: cheap regexes, hidden inputs attribute by attribute --------------------------

SESSKEY_RE = re.compile(r'"sesskey":"([^"]+)"')
INPUT_RE = re.compile(r"<input\b[^>]*>", re.I)
ATTR_RE = re.compile(r"""([^\s=<>/"']+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
FORM_RE = re.compile(r"<form\b[^>]*\bid=[\"']mformforum[\"'][^>]*>", re.I)
LOGIN_ERROR_RE = re.compile(r"loginerrormessage|alert-danger[^>]*>\s*Invalid login", re.I)
POST_OK_TEXT = "Your post was successfully added."
#: the file picker's options list the site's repositories; the upload one has type "upload"
UPLOAD_REPO_RE = re.compile(r'"id":"?(\d+)"?,[^{}]*?"type":"upload"')
CONTEXT_ID_RE = re.compile(r'"contextid":(\d+)')


def pool_path(content: bytes) -> str:
    """Where Moodle keeps ``content`` under its dataroot (file_system_filedir: by SHA-1)."""
    h = hashlib.sha1(content).hexdigest()  # noqa: S324 - Moodle's content hash, not a security use
    return f"filedir/{h[:2]}/{h[2:4]}/{h}"


def hidden_inputs(fragment: str) -> dict[str, str]:
    """name -> value of the hidden inputs; attributes may come in any order."""
    out: dict[str, str] = {}
    for tag in INPUT_RE.findall(fragment):
        attrs = {}
        for m in ATTR_RE.finditer(tag[6:]):
            value = m.group(2) if m.group(2) is not None else (m.group(3) if m.group(3) is not None else m.group(4))
            attrs[m.group(1).lower()] = html.unescape(value or "")
        if attrs.get("type", "").lower() == "hidden" and "name" in attrs:
            out[attrs["name"]] = attrs.get("value", "")
    return out


def forum_form_fields(page: str) -> dict[str, str] | None:
    """Hidden fields of the inline forum form (id="mformforum"), or None if it is absent."""
    m = FORM_RE.search(page)
    if m is None:
        return None
    end = page.find("</form>", m.end())
    return hidden_inputs(page[m.end() : end if end >= 0 else len(page)])


def is_login_page(resp: Any) -> bool:
    """The response is Moodle's login page (where a lost session lands)."""
    path = urlsplit(resp.url or "").path
    return path.endswith("/login/index.php") or 'id="page-login-index"' in (resp.text or "")[:20000]


# --- raw samples out of the process -------------------------------------------------------------

if SAMPLES_FILE:
    _samples = open(SAMPLES_FILE, "a", buffering=1, encoding="utf-8")

    @events.request.add_listener
    def _write_sample(request_type: str, name: str, response_time: float, response_length: int,
                      exception: BaseException | None = None, context: dict | None = None,
                      start_time: float | None = None, **_: Any) -> None:
        _samples.write(json.dumps({
            "time": start_time if start_time is not None else time.time(),
            "request_type": request_type, "name": name, "response_time_ms": round(response_time, 3),
            "response_length": response_length, "ok": exception is None,
            "error": None if exception is None else str(exception), "context": context or {},
        }, default=str) + "\n")


# --- the user -----------------------------------------------------------------------------------

Judge = Callable[[Any], "tuple[str, str | None]"]
OK, FAIL, RELOGIN, UNKNOWN = "ok", "fail", "relogin", "info"


class MoodleUser(HttpUser):
    """A student: log in, browse, post to the forum, log out and in again."""

    wait_time = between(WAIT_MIN, WAIT_MAX)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account: tuple[str, str] | None = None
        self.username = ""
        self.sesskey: str | None = None
        self.logged_in = False

    def context(self) -> dict[str, Any]:
        return {"user": self.username}

    # lifecycle

    def on_start(self) -> None:
        runner = self.environment.runner
        self.account = POOL.take(getattr(runner, "worker_index", 0) or 0)
        if self.account is None:
            raise StopUser()  # no free account: a shared account would serialise on the session lock
        self.username = self.account[0]
        self.login()

    def on_stop(self) -> None:
        if self.account is not None:
            POOL.give_back(self.account)
            self.account = None

    # plumbing

    def _request(self, method: str, name: str, path: str, judge: Judge, *,
                 extra_context: dict[str, Any] | None = None, **kwargs: Any) -> tuple[Any, str]:
        """One request, judged by content; returns (response, verdict)."""
        kwargs.setdefault("timeout", TIMEOUT)
        with self.client.request(method, path, name=name, catch_response=True,
                                 context=dict(extra_context or {}), **kwargs) as resp:
            ctx = resp.request_meta["context"]
            node = resp.headers.get("X-Lab-Node") if resp.status_code else None
            if node:
                ctx["node"] = node
            why: str | None
            if not resp.status_code:
                verdict, why = UNKNOWN, f"{name}: no response ({type(resp.error).__name__}: {resp.error})"
            elif resp.status_code >= 500:
                verdict, why = UNKNOWN, f"{name}: HTTP {resp.status_code}"
            else:
                verdict, why = judge(resp)
            if verdict == OK:
                resp.success()
                self._note_sesskey(resp)
            elif verdict == RELOGIN:
                resp.failure(f"{name}: redirected to the login page (session lost)")
                ctx["forced_relogin"] = True
            else:
                resp.failure(why or f"{name}: unexpected response (HTTP {resp.status_code})")
            if name in ("post", "upload"):
                ctx["outcome"] = {OK: "ok", FAIL: "fail", RELOGIN: "fail"}.get(verdict, "info")
                first = resp.history[0].headers.get("Location", "") if getattr(resp, "history", None) else ""
                if verdict == RELOGIN and first and "/login/" not in first:
                    # the POST itself was answered (a redirect past it: stored) and the session was
                    # lost only on the way to the next page: not a write that certainly failed
                    ctx["outcome"] = "info"
        return resp, verdict

    def _note_sesskey(self, resp: Any) -> None:
        if "json" in resp.headers.get("Content-Type", ""):
            return
        m = SESSKEY_RE.search(resp.text or "")
        if m:
            self.sesskey = m.group(1)

    def _forced_relogin(self, after: str, node: str | None) -> None:
        """Count a lost session as its own event, then log in again."""
        ctx: dict[str, Any] = {"user": self.username, "after": after, "forced_relogin": True}
        if node:
            ctx["node"] = node
        self.environment.events.request.fire(
            request_type="MOODLE", name="forced_relogin", response_time=0, response_length=0,
            exception=None, context=ctx, response=None, url=None, start_time=time.time(),
        )
        self.logged_in = False
        self.sesskey = None
        self.login()

    def _page(self, name: str, path: str, marker: re.Pattern[str]) -> tuple[Any, str]:
        """GET a logged-in page; a detour to the login page is a forced re-login."""

        def judge(resp: Any) -> tuple[str, str | None]:
            if is_login_page(resp):
                return RELOGIN, None
            if resp.status_code == 200 and marker.search(resp.text or ""):
                return OK, None
            return FAIL, f"{name}: HTTP {resp.status_code}, {marker.pattern!r} not in page"

        resp, verdict = self._request("GET", name, path, judge)
        if verdict == RELOGIN:
            self._forced_relogin(name, resp.headers.get("X-Lab-Node"))
        return resp, verdict

    def _ajax(self, methodname: str, args: dict[str, Any]) -> str:
        """One AJAX web-service call; HTTP 200 with "error": true is a failure."""
        body = json.dumps([{"index": 0, "methodname": methodname, "args": args}])

        def judge(resp: Any) -> tuple[str, str | None]:
            if resp.status_code != 200:
                return FAIL, f"ajax {methodname}: HTTP {resp.status_code}"
            try:
                reply = resp.json()
            except ValueError:
                return (RELOGIN, None) if is_login_page(resp) else (FAIL, f"ajax {methodname}: not JSON")
            item = reply[0] if isinstance(reply, list) and reply else reply
            if isinstance(item, dict) and item.get("error") is False:
                return OK, None
            code = ""
            if isinstance(item, dict):
                code = str(item.get("errorcode") or (item.get("exception") or {}).get("errorcode") or item.get("error"))
            if code in ("servicerequireslogin", "requireloginerror"):
                return RELOGIN, None
            return FAIL, f"ajax {methodname}: error {code or reply!r}"

        resp, verdict = self._request(
            "POST", "ajax", f"/lib/ajax/service.php?sesskey={self.sesskey or ''}&info={methodname}", judge,
            extra_context={"method": methodname}, data=body,
            headers={"Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest"},
        )
        if verdict == RELOGIN:
            self._forced_relogin("ajax", resp.headers.get("X-Lab-Node"))
        return verdict

    def _ensure_login(self) -> bool:
        return self.logged_in or self.login()

    # login / logout

    def login(self, attempts: int = 2) -> bool:
        """Fetch a fresh logintoken and post the credentials (tokens are single use)."""
        assert self.account is not None
        user, password = self.account
        token: dict[str, str | None] = {"value": None}  # what judge_page found on this attempt
        for _ in range(attempts):
            token["value"] = None

            def judge_page(resp: Any) -> tuple[str, str | None]:
                fields = hidden_inputs(resp.text or "")
                if resp.status_code == 200 and len(fields.get("logintoken", "")) >= 16:
                    token["value"] = fields["logintoken"]
                    return OK, None
                if resp.status_code == 200 and "logout.php?sesskey=" in (resp.text or ""):
                    return OK, None  # "You are already logged in": this session is still ours
                return FAIL, f"login page: HTTP {resp.status_code}, no logintoken"

            resp, verdict = self._request("GET", "login", "/login/index.php", judge_page)
            if verdict != OK:
                continue
            if token["value"] is None:
                self.logged_in = True
                return True

            def judge_post(resp: Any) -> tuple[str, str | None]:
                text = resp.text or ""
                if LOGIN_ERROR_RE.search(text):
                    return FAIL, f"login {user}: Invalid login"
                if resp.status_code == 200 and not is_login_page(resp) and SESSKEY_RE.search(text):
                    return OK, None
                # Moodle sends an accepted login through ?testsession= to the page remembered
                # before it; after a forced re-login that may be a POST-only target (the forum
                # post form's), which then answers 404: the login itself succeeded
                accepted = any("testsession=" in (r.headers.get("Location") or "") for r in resp.history or [])
                if accepted and not is_login_page(resp):
                    return OK, None
                return FAIL, f"login {user}: HTTP {resp.status_code} at {urlsplit(resp.url or '').path}"

            resp, verdict = self._request(
                "POST", "login", "/login/index.php", judge_post,
                data={"anchor": "", "logintoken": token["value"], "username": user, "password": password},
            )
            if verdict == OK:
                self.logged_in = True
                if self.sesskey is None:  # landed on a page without one: the dashboard, as a user would
                    self._request("GET", "dashboard", "/my/", lambda r: (OK, None) if r.status_code == 200
                                  and SESSKEY_RE.search(r.text or "") else
                                  (FAIL, f"dashboard after login: HTTP {r.status_code}, no sesskey"))
                return True
        self.logged_in = False
        return False

    def logout(self) -> bool:
        def judge(resp: Any) -> tuple[str, str | None]:
            if resp.status_code == 200 and "logout.php?sesskey=" not in (resp.text or ""):
                return OK, None
            return FAIL, f"logout: HTTP {resp.status_code}, still logged in"

        _, verdict = self._request("GET", "logout", f"/login/logout.php?sesskey={self.sesskey or ''}", judge)
        self.logged_in = False
        self.sesskey = None
        return verdict == OK

    # tasks

    @task(4)
    def dashboard(self) -> None:
        if not self._ensure_login():
            return
        _, verdict = self._page("dashboard", "/my/", re.compile(r'<body[^>]*id="page-my-index"'))
        if verdict != OK:
            return
        midnight = int(time.time()) // 86400 * 86400
        if self._ajax("core_calendar_get_action_events_by_timesort",
                      {"limitnum": 6, "timesortfrom": midnight, "limittononsuspendedevents": True}) == OK:
            self._ajax("block_recentlyaccesseditems_get_recent_items", {"limit": 9})

    @task(2)
    def my_courses(self) -> None:
        if not self._ensure_login():
            return
        _, verdict = self._page("courses", "/my/courses.php", re.compile(r'<body[^>]*id="page-my-'))
        if verdict == OK:
            self._ajax("core_course_get_enrolled_courses_by_timeline_classification",
                       {"offset": 0, "limit": 0, "classification": "all", "sort": "fullname",
                        "customfieldname": "", "customfieldvalue": ""})

    @task(4)
    def course(self) -> None:
        if not self._ensure_login():
            return
        _, verdict = self._page("course", f"/course/view.php?id={COURSE_ID}",
                                re.compile(r'<body[^>]*id="page-course-view-'))
        if verdict == OK:
            self._ajax("core_courseformat_get_state", {"courseid": COURSE_ID})

    @task(3)
    def forum_post(self) -> None:
        if not self._ensure_login():
            return
        resp, verdict = self._page("forum", f"/mod/forum/view.php?id={FORUM_CMID}", re.compile(r'id="mformforum"'))
        if verdict != OK:
            return
        fields = forum_form_fields(resp.text) or {}
        n = _COUNTERS.get(self.username, 0) + 1
        _COUNTERS[self.username] = n
        key = f"{KEY_PREFIX}-{self.username}-{n:06d}"
        data = {"course": str(COURSE_ID), "discussion": "0", "parent": "0", "groupid": "", "edit": "0",
                "reply": "0", "discussionsubscribe": "1", "_qf__mod_forum_post_form": "1",
                "message[format]": "1"}
        data.update(fields)
        data.update({"sesskey": fields.get("sesskey") or self.sesskey or "", "subject": key,
                     "message[text]": f"<p>Load-test post {key}</p>", "submitbutton": "Post to forum"})
        title = f'title="{html.escape(key, quote=True)}"'
        if ATTACH_FRACTION and fields.get("attachments") and random.random() < ATTACH_FRACTION:
            self._upload(key, fields["attachments"], resp.text or "")

        def judge(resp: Any) -> tuple[str, str | None]:
            text = resp.text or ""
            if is_login_page(resp):
                return RELOGIN, None
            if resp.status_code == 200 and (POST_OK_TEXT in text or title in text):
                return OK, None
            if resp.status_code == 404:
                return FAIL, "post: 404 (sesskey rejected)"
            if resp.status_code == 200 and FORM_RE.search(text):
                return FAIL, "post: form shown again (not accepted)"
            return UNKNOWN, f"post: HTTP {resp.status_code}, no confirmation"

        resp, verdict = self._request("POST", "post", "/mod/forum/post.php", judge,
                                      extra_context={"key": key}, data=data)
        if verdict == RELOGIN:
            self._forced_relogin("post", resp.headers.get("X-Lab-Node"))

    def _upload(self, key: str, draft_itemid: str, page: str) -> str:
        """Upload one attachment into the post form's draft area (Moodle's file picker); the
        sample carries the file's place in Moodle's pool and its SHA-256, so the harness can
        read it back on every web node. Returns the verdict."""
        content = secrets.token_bytes(UPLOAD_BYTES)
        repo = UPLOAD_REPO_ID or ((m := UPLOAD_REPO_RE.search(page)) and m.group(1)) or "5"
        ctx_id = (m.group(1) if (m := CONTEXT_ID_RE.search(page)) else "")

        def judge(resp: Any) -> tuple[str, str | None]:
            if is_login_page(resp):
                return RELOGIN, None
            try:
                reply = resp.json()
            except ValueError:
                return UNKNOWN, f"upload: HTTP {resp.status_code}, not JSON"
            if isinstance(reply, dict) and reply.get("error"):  # refused before anything was stored
                return FAIL, f"upload: {reply.get('errorcode') or reply['error']}"
            if resp.status_code == 200 and isinstance(reply, dict) and "id" in reply:
                return OK, None
            return UNKNOWN, f"upload: HTTP {resp.status_code}, no file in the reply"

        resp, verdict = self._request(
            "POST", "upload", "/repository/repository_ajax.php?action=upload", judge,
            extra_context={"key": key, "path": pool_path(content), "sha256": hashlib.sha256(content).hexdigest()},
            data={"sesskey": self.sesskey or "", "itemid": draft_itemid, "repo_id": repo, "ctx_id": ctx_id,
                  "savepath": "/", "title": f"{key}.bin", "env": "filemanager"},
            files={"repo_upload_file": (f"{key}.bin", content, "application/octet-stream")})
        if verdict == RELOGIN:
            self._forced_relogin("upload", resp.headers.get("X-Lab-Node"))
        return verdict

    @task(1)
    def logout_and_login(self) -> None:
        if not self._ensure_login():
            return
        self.logout()
        self.login()
