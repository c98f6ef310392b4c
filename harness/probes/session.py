"""Session probe: one logged-in Moodle session per web node, checked through the web VIP.

Locust users hold one keep-alive connection each, so they are pinned to a web node, and a lost
session is seen only when a user happens to sit on the node that died (issue 14: 2 of 3 repeats
passed with per-node sessions). This probe makes it deterministic: for each web node it logs in
**at that node's own address** (with the Host header the site expects, the web VIP's), so the
session's home is known by construction; then, at a steady rate, it asks "still logged in?"
**through the web VIP on a new connection per request** (``GET /my/``: 200 with
``page-my-index`` = logged in, a redirect to ``/login/`` = logged out), so the balancer spreads
the checks over every node that serves, and records which node answered.

A check that cannot reach the site (connect error, timeout, 5xx) is not a loss: ``fail`` when
it certainly did not reach Moodle, ``info`` when unknown, as the VIP probe classifies. A lost
session (an answer "logged out") is recorded once as an ``ok`` check with ``logged_in`` false;
the probe then logs in again (at its home node when it answers, else through the VIP) so later
losses are counted too. History (docs/history.md): process ``session-<home>``, ``f``
``session-check`` / ``session-login``, invoke value ``{"home": node}``, completion value
``{"home", "logged_in", "served_by"}``. Times are ``took_ms`` (not ``latency_ms``: a check is
not a user's request and must not move the latency SLOs).
"""

from __future__ import annotations

import functools
import http.client
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from ..errors import ProbeError
from ..history import HistoryRecorder, OpenOperation
from ..inventory._model import Inventory
from ._base import Jitter, ProbeThread, Schedule, call_guard, check_bounds

PROCESS_PREFIX = "session-"
CHECK, LOGIN = "session-check", "session-login"
#: headers naming the web node that answered, tried in order (a cluster file may name its own)
NODE_HEADERS = ("X-Lab-Node", "X-Backend")
COOKIE = "MoodleSession"
#: the locustfile's default password of the lab LMS's numbered students (harness/lab/lms/seed.sql)
DEFAULT_PASSWORD = "LabStudent-1"
MAX_BODY = 1 << 20
MY_MARKER = re.compile(rb'<body[^>]*id="page-my-index"')
LOGIN_MARKER = re.compile(rb'id="page-login-index"')
_INPUT = re.compile(rb"<input\b[^>]*>", re.I)
_ATTR = re.compile(rb"""([^\s=<>/"']+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")

Verdict = Literal["in", "out", "down", "odd"]


@dataclass(frozen=True)
class SessionHome:
    """One web node and the account whose session lives there."""

    node: str
    address: str
    port: int
    username: str
    password: str = field(repr=False, default=DEFAULT_PASSWORD)


def classify_check(status: int, location: str, body: bytes) -> Verdict:
    """What one ``GET /my/`` answer says: ``in`` (logged in), ``out`` (sent to the login
    page: the session is gone), ``down`` (5xx: the site did not serve), ``odd`` (anything else:
    unknown, never a loss)."""
    if status >= 500:
        return "down"
    if status in (301, 302, 303, 307, 308):
        return "out" if "/login/" in urlsplit(location).path else "odd"
    if status == 200:
        if MY_MARKER.search(body):
            return "in"
        if LOGIN_MARKER.search(body[:65536]):
            return "out"
    return "odd"


def login_token(page: bytes) -> str | None:
    """The ``logintoken`` hidden input of a login page (attributes in any order), or None."""
    for tag in _INPUT.findall(page):
        attrs = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _ATTR.finditer(tag)}
        if attrs.get(b"name") == b"logintoken" and attrs.get(b"value"):
            return attrs[b"value"].decode("latin-1")
    return None


def session_cookie(set_cookies: Sequence[str]) -> str | None:
    """The ``MoodleSession`` value of the reply's ``Set-Cookie`` headers (None: not set)."""
    value = None
    for header in set_cookies:
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            value = rest.split(";", 1)[0].strip()
    return value


def probe_accounts(names: Sequence[str], count: int, reserved: int, *, field_name: str = "moodle.accounts") -> list[str]:
    """The last ``count`` accounts of ``names``: the load hands its accounts out from the
    first, so ``reserved`` load users and the probe never share one (a shared account would
    serialise on Moodle's session lock, and the load's logouts would end the probe's session)."""
    if count + reserved > len(names):
        raise ProbeError(f"{field_name}: {len(names)} account(s) cannot give {reserved} load user(s) and "
                         f"{count} session-probe session(s) one each; list more accounts")
    return list(names[len(names) - count:])


class _NoAnswer(Exception):
    """No HTTP answer. ``sent``: the request may have reached the application."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class _Answer:
    status: int
    location: str
    cookie: str | None
    node: str | None
    body: bytes


class _LoginFailed(Exception):
    def __init__(self, message: str, *, certain: bool, reachable: bool, node: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.certain = certain  # certainly not logged in (fail) rather than unknown (info)
        self.reachable = reachable  # the target answered HTTP below 500
        self.node = node
        self.status = status


class _Session:
    """One home's state, touched only by its worker thread."""

    def __init__(self, home: SessionHome) -> None:
        self.home = home
        self.process = f"{PROCESS_PREFIX}{home.node}"
        self.cookie: str | None = None
        self.established = False  # logged in once: later logins may go through the VIP
        self.conn: http.client.HTTPConnection | None = None


class SessionProbe(ProbeThread):
    """One session per :class:`SessionHome`, each checked ``rate_hz`` times a second through
    ``vip_address:vip_port`` until ``max_count`` operations (checks and logins) per session or
    ``max_duration_s``. Counters: ``checks``, ``lost``, ``logins`` per home node."""

    def __init__(
        self,
        history: HistoryRecorder,
        homes: Sequence[SessionHome],
        vip_address: str,
        vip_port: int = 80,
        *,
        rate_hz: float = 2.0,
        max_count: int,
        max_duration_s: float,
        timeout_s: float = 2.0,
        login_timeout_s: float = 10.0,
        host_header: str | None = None,
        node_header: str | None = None,
        guard: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__()
        self.name = f"session-probe ({vip_address}:{vip_port})"
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s, timeout_s=timeout_s)
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s,
                     timeout_s=login_timeout_s)
        if not homes:
            raise ProbeError(f"{self.name}: homes: needs at least one web node")
        if len({h.node for h in homes}) != len(homes) or len({h.username for h in homes}) != len(homes):
            raise ProbeError(f"{self.name}: homes: each web node once, each with its own account")
        for h in (*homes, SessionHome("vip", vip_address, vip_port, "-")):
            if not (isinstance(h.port, int) and 0 < h.port < 65536):
                raise ProbeError(f"{self.name}: port of {h.node} must be 1-65535, not {h.port!r}")
        self.history = history
        self.homes = list(homes)
        self.vip_address = vip_address
        self.vip_port = vip_port
        self.rate_hz = float(rate_hz)
        self.max_count = max_count
        self.max_duration_s = float(max_duration_s)
        self.timeout_s = float(timeout_s)
        self.login_timeout_s = float(login_timeout_s)
        self.host_header = host_header or (vip_address if vip_port == 80 else f"{vip_address}:{vip_port}")
        self.node_headers = (node_header,) if node_header else NODE_HEADERS
        self.guard = guard
        self.jitter = Jitter()
        self._lock_counts = threading.Lock()
        self.checks: dict[str, int] = {h.node: 0 for h in homes}
        self.lost: dict[str, int] = {h.node: 0 for h in homes}
        self.logins: dict[str, int] = {h.node: 0 for h in homes}
        self._sessions = [_Session(h) for h in homes]

    @classmethod
    def for_inventory(cls, history: HistoryRecorder, inventory: Inventory, *, reserved_accounts: int,
                      **kwargs: Any) -> SessionProbe:
        """One session per web node of ``inventory``, on the last accounts of its ``moodle:``
        section (the first ``reserved_accounts`` are the load's), checked through the web VIP."""
        vip = inventory.vip("web")
        webs = inventory.with_role("web")
        moodle = inventory.moodle
        names = probe_accounts(moodle.accounts.names(), len(webs), reserved_accounts)
        password = inventory.moodle_password() or DEFAULT_PASSWORD
        homes = [SessionHome(h.name, h.address, vip.port, name, password) for h, name in zip(webs, names, strict=True)]
        kwargs.setdefault("node_header", moodle.node_header)
        return cls(history, homes, vip.address, vip.port, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------
    def _prepare(self) -> None:
        for address in dict.fromkeys([self.vip_address, *(h.address for h in self.homes)]):
            call_guard(self.name, self.guard, address)

    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        t0 = time.monotonic()
        n = len(self._sessions)
        # staggered: the sessions' checks interleave instead of arriving in bursts of n
        return [(s.process, functools.partial(self._loop, s, t0 + i / (self.rate_hz * n)))
                for i, s in enumerate(self._sessions)]

    def _on_stop(self) -> None:
        for s in self._sessions:
            conn = s.conn
            if conn is not None and conn.sock is not None:
                try:
                    conn.sock.shutdown(2)
                except OSError:
                    pass

    def _loop(self, s: _Session, start: float) -> None:
        t_end = start + self.max_duration_s
        sched = Schedule(self.rate_hz, start, t_end)
        fired = 0
        if not self.sleep_until(start):
            return
        while fired < self.max_count and not self.stopping:
            due = self.next_slot(sched, t_end)
            if due is None:
                break
            late_ms = max(0.0, time.monotonic() - due) * 1000.0
            sched.advance()
            self.jitter.add(late_ms)
            fired += 1
            if s.cookie is None:
                # never logged in yet: at home only (the home is known by construction); after
                # a loss: at home, else through the VIP
                self._login(s, late_ms, via_vip_fallback=s.established)
                continue
            if self._check(s, late_ms) == "out":
                with self._lock_counts:
                    self.lost[s.home.node] += 1
                s.cookie = None
                if fired < self.max_count and not self.stopping:
                    fired += 1
                    self._login(s, 0.0, via_vip_fallback=True)

    # -- one check ---------------------------------------------------------------------------
    def _check(self, s: _Session, late_ms: float) -> Verdict | None:
        home = s.home.node
        op = self.history.invoke(s.process, CHECK, {"home": home})
        t0 = time.monotonic()
        try:
            ans = self._http(s, self.vip_address, self.vip_port, "GET", "/my/", cookie=s.cookie,
                             timeout_s=self.timeout_s)
        except _NoAnswer as exc:
            self._complete(op, "info" if exc.sent else "fail", home, None, None, t0, late_ms, error=str(exc))
            return None
        except BaseException as exc:
            self._complete(op, "info", home, None, None, t0, late_ms, error=f"probe error: {type(exc).__name__}: {exc}")
            raise
        verdict = classify_check(ans.status, ans.location, ans.body)
        with self._lock_counts:
            self.checks[home] += 1
        if verdict in ("in", "out"):
            self._complete(op, "ok", home, verdict == "in", ans.node, t0, late_ms, status=ans.status)
        elif verdict == "down":
            self._complete(op, "fail", home, None, ans.node, t0, late_ms, status=ans.status, error=f"HTTP {ans.status}")
        else:
            self._complete(op, "info", home, None, ans.node, t0, late_ms, status=ans.status,
                           error=f"HTTP {ans.status}: neither the dashboard nor the login page")
        return verdict

    # -- logging in --------------------------------------------------------------------------
    def _login(self, s: _Session, late_ms: float, *, via_vip_fallback: bool) -> bool:
        """Log in at the home node; after a loss, through the VIP if the home does not answer."""
        with self._lock_counts:
            self.logins[s.home.node] += 1
        targets = [("node", s.home.address, s.home.port)]
        if via_vip_fallback:
            targets.append(("vip", self.vip_address, self.vip_port))
        for via, address, port in targets:
            op = self.history.invoke(s.process, LOGIN, {"home": s.home.node, "via": via})
            t0 = time.monotonic()
            try:
                cookie, node = self._login_at(s, address, port)
            except _LoginFailed as exc:
                self._complete(op, "fail" if exc.certain else "info", s.home.node, False, exc.node, t0, late_ms,
                               status=exc.status, error=str(exc), via=via)
                if exc.reachable or self.stopping:
                    return False  # the target answered and refused: the other one would too
                continue
            except BaseException as exc:
                self._complete(op, "info", s.home.node, None, None, t0, late_ms, via=via,
                               error=f"probe error: {type(exc).__name__}: {exc}")
                raise
            s.cookie = cookie
            s.established = True
            self._complete(op, "ok", s.home.node, True, node, t0, late_ms, via=via)
            return True
        return False

    def _login_at(self, s: _Session, address: str, port: int) -> tuple[str, str | None]:
        """GET the login page, POST the credentials with its token, confirm at ``/my/``."""
        deadline = time.monotonic() + self.login_timeout_s
        page = self._step(s, address, port, "GET", "/login/index.php", None, None, deadline, "login page")
        token = login_token(page.body)
        if page.status != 200 or token is None or page.cookie is None:
            raise _LoginFailed(f"login page: HTTP {page.status}, no logintoken or no {COOKIE} cookie",
                               certain=True, reachable=page.status < 500, node=page.node, status=page.status)
        form = urlencode({"anchor": "", "logintoken": token, "username": s.home.username, "password": s.home.password})
        post = self._step(s, address, port, "POST", "/login/index.php", page.cookie, form, deadline, "login post")
        if post.status != 303 or "testsession=" not in post.location or post.cookie is None:
            # Moodle answers a refused login with 303 back to the login page, and no new session
            raise _LoginFailed(f"login {s.home.username}: HTTP {post.status} to {post.location or '-'} (refused)",
                               certain=post.status < 500, reachable=post.status < 500, node=post.node, status=post.status)
        my = self._step(s, address, port, "GET", "/my/", post.cookie, None, deadline, "dashboard after login")
        if classify_check(my.status, my.location, my.body) != "in":
            raise _LoginFailed(f"dashboard after login: HTTP {my.status}, not logged in", certain=my.status < 500,
                               reachable=my.status < 500, node=my.node, status=my.status)
        return post.cookie, my.node

    def _step(self, s: _Session, address: str, port: int, method: str, path: str, cookie: str | None,
              form: str | None, deadline: float, what: str) -> _Answer:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _LoginFailed(f"{what}: login took over {self.login_timeout_s:g}s", certain=False, reachable=True)
        try:
            return self._http(s, address, port, method, path, cookie=cookie, body=form, timeout_s=left)
        except _NoAnswer as exc:
            raise _LoginFailed(f"{what}: {exc}", certain=not exc.sent, reachable=False) from None

    # -- HTTP ----------------------------------------------------------------------------------
    def _http(self, s: _Session, address: str, port: int, method: str, path: str, *, cookie: str | None,
              timeout_s: float, body: str | None = None) -> _Answer:
        """One request on a new connection (no redirects followed)."""
        abort = self.abort_at()
        if abort is not None and time.monotonic() >= abort:
            raise _NoAnswer("probe stopped", sent=False)
        headers = {"Host": self.host_header, "User-Agent": "harness-session-probe", "Accept": "text/html",
                   "Connection": "close"}
        if cookie is not None:
            headers["Cookie"] = f"{COOKIE}={cookie}"
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(address, port, timeout=timeout_s)
        s.conn = conn
        try:
            try:
                conn.connect()
            except OSError as exc:
                raise _NoAnswer(f"connect: {_reason(exc)}", sent=False) from None
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read(MAX_BODY)
            except (OSError, http.client.HTTPException) as exc:
                stopped = self.stopping
                raise _NoAnswer("probe stopped while in flight" if stopped else f"after sending: {_reason(exc)}",
                                sent=True) from None
            node = next((v for v in (resp.getheader(h) for h in self.node_headers) if v), None)
            return _Answer(resp.status, resp.getheader("Location") or "", session_cookie(resp.headers.get_all("Set-Cookie") or []),
                           node, data)
        finally:
            s.conn = None
            conn.close()

    def _complete(self, op: OpenOperation, type_: str, home: str, logged_in: bool | None, served_by: str | None,
                  t0: float, late_ms: float, **extra: Any) -> None:
        value = {"home": home, "logged_in": logged_in, "served_by": served_by}
        fields = {k: v for k, v in extra.items() if v is not None}
        complete = {"ok": op.ok, "fail": op.fail, "info": op.info}[type_]
        complete(value, took_ms=round((time.monotonic() - t0) * 1000.0, 3), late_ms=round(late_ms, 3), **fields)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
