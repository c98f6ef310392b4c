"""SessionProbe against a small Moodle stand-in on 127.0.0.1: two web nodes and a round-robin
"VIP" in front of them, sessions shared (database) or per node (files on local disk)."""

from __future__ import annotations

import http.server
import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.checkers import Validity, sessions
from harness.errors import ProbeError
from harness.history import HistoryRecorder, pair_operations
from harness.probes.session import (
    SessionHome,
    SessionProbe,
    classify_check,
    login_token,
    probe_accounts,
    session_cookie,
)

PASSWORD = "pw-1"


class Site:
    """The Moodle behaviour the probe relies on; ``stores`` maps node -> its session store
    (one shared dict = database sessions, one dict per node = per-node sessions)."""

    def __init__(self, per_node: bool) -> None:
        shared: dict[str, dict[str, object]] = {}
        self.stores = {n: ({} if per_node else shared) for n in ("web1", "web2")}
        self.status: int | None = None  # force every answer to this status (e.g. 503)
        self.delay_s = 0.0
        self.requests: list[tuple[str, str, str]] = []  # (node, method, path)
        self.lock = threading.Lock()

    def handle(self, node: str, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(h.path).path
        with self.lock:
            self.requests.append((node, method, path))
        if self.delay_s:
            time.sleep(self.delay_s)
        store = self.stores[node]
        sid = (h.headers.get("Cookie") or "").partition("MoodleSession=")[2].split(";")[0] or None
        sess = store.get(sid) if sid else None
        if self.status is not None:
            return self.reply(h, node, self.status, b"down")
        if path == "/login/index.php" and method == "GET":
            sid = secrets.token_hex(8)
            store[sid] = {"token": secrets.token_hex(16), "user": None}
            body = f'<body id="page-login-index"><input type="hidden" value="{store[sid]["token"]}" name="logintoken">'
            return self.reply(h, node, 200, body.encode(), cookie=sid)
        if path == "/login/index.php" and method == "POST":
            form = parse_qs(h.rfile.read(int(h.headers["Content-Length"])).decode())
            ok = sess is not None and form.get("logintoken") == [sess["token"]] and form.get("password") == [PASSWORD]
            if not ok:
                return self.reply(h, node, 303, b"", location="http://vip.example/login/index.php")
            new = secrets.token_hex(8)
            store[new] = {"user": form["username"][0]}
            return self.reply(h, node, 303, b"", location="http://vip.example/login/index.php?testsession=101", cookie=new)
        if path == "/my/":
            if sess is not None and sess.get("user"):
                return self.reply(h, node, 200, b'<html><body class="x" id="page-my-index">dashboard')
            return self.reply(h, node, 303, b"", location="http://vip.example/login/index.php")
        return self.reply(h, node, 404, b"no")

    @staticmethod
    def reply(h: http.server.BaseHTTPRequestHandler, node: str, status: int, body: bytes, *, location: str = "",
              cookie: str | None = None) -> None:
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nX-Lab-Node: {node}\r\nConnection: close\r\n"
        if location:
            head += f"Location: {location}\r\n"
        if cookie:
            head += f"Set-Cookie: MoodleSession={cookie}; path=/; HttpOnly\r\n"
        h.wfile.write((head + "\r\n").encode() + body)


def _server(site: Site, pick) -> http.server.ThreadingHTTPServer:  # type: ignore[no-untyped-def]
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            site.handle(pick(), self, "GET")

        def do_POST(self) -> None:
            site.handle(pick(), self, "POST")

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return srv


class Cluster:
    def __init__(self, per_node: bool) -> None:
        self.site = Site(per_node)
        self.nodes = {n: _server(self.site, lambda n=n: n) for n in ("web1", "web2")}
        # each node twice in a row: two staggered sessions on a plain alternation would each
        # always meet their own home (seen: no loss at all with per-node sessions)
        rr = itertools.cycle(["web1", "web1", "web2", "web2"])
        lock = threading.Lock()

        def next_node() -> str:
            with lock:
                return next(rr)

        self.vip = _server(self.site, next_node)

    def homes(self, password: str = PASSWORD) -> list[SessionHome]:
        return [SessionHome(n, "127.0.0.1", s.server_address[1], f"student{i}", password)
                for i, (n, s) in enumerate(self.nodes.items())]

    def probe(self, history: HistoryRecorder, **kw: object) -> SessionProbe:
        kw.setdefault("rate_hz", 20.0)
        kw.setdefault("max_count", 6)
        kw.setdefault("max_duration_s", 10.0)
        return SessionProbe(history, self.homes(str(kw.pop("password", PASSWORD))), "127.0.0.1",
                            self.vip.server_address[1], timeout_s=1.0, **kw)  # type: ignore[arg-type]

    def close(self) -> None:
        for s in [*self.nodes.values(), self.vip]:
            s.shutdown()
            s.server_close()


@pytest.fixture
def shared() -> Iterator[Cluster]:
    c = Cluster(per_node=False)
    yield c
    c.close()


@pytest.fixture
def per_node() -> Iterator[Cluster]:
    c = Cluster(per_node=True)
    yield c
    c.close()


def _run(probe: SessionProbe, timeout: float = 10.0) -> None:
    probe.start()
    assert probe.join(timeout), "probe did not end by its count bound"


def test_sessions_made_at_their_home_and_shared_are_checked_through_the_vip_and_never_lost(shared: Cluster):
    h = HistoryRecorder()
    probe = shared.probe(h)
    _run(probe)
    ops = h.ops()
    logins = [o for o in ops if o.f == "session-login" and o.type == "ok"]
    assert sorted(o.value["served_by"] for o in logins) == ["web1", "web2"]
    assert all(o.value["home"] == o.process.removeprefix("session-") for o in logins)
    # the logins went to the nodes' own servers, the checks to the VIP, which spread them
    checks = [o for o in ops if o.f == "session-check" and o.type == "ok"]
    assert len(checks) == 10 and all(o.value["logged_in"] is True for o in checks)
    assert {o.value["served_by"] for o in checks} == {"web1", "web2"}
    assert all("took_ms" in o.extra and "latency_ms" not in o.extra for o in checks)
    assert all(inv.value == {"home": inv.process.removeprefix("session-")} for inv, _ in pair_operations(ops)
               if inv.f == "session-check")
    assert probe.lost == {"web1": 0, "web2": 0} and probe.checks == {"web1": 5, "web2": 5}
    r = sessions(ops, min_checks=5)
    assert r.valid is Validity.VALID, r.message


def test_per_node_sessions_are_lost_when_another_node_answers_and_the_probe_logs_in_again(per_node: Cluster):
    h = HistoryRecorder()
    probe = per_node.probe(h, max_count=8)
    _run(probe)
    ops = h.ops()
    lost = [o for o in ops if o.f == "session-check" and o.type == "ok" and o.value["logged_in"] is False]
    assert lost, "checks answered by the other node must say logged out"
    assert all(o.value["served_by"] != o.value["home"] for o in lost)
    assert sum(probe.lost.values()) == len(lost) and all(probe.lost.values())
    # every loss is followed by a new login of the same home (so later losses are counted too)
    for home in ("web1", "web2"):
        seq = [(o.f, o.value["logged_in"]) for o in ops if o.process == f"session-{home}" and o.type != "invoke"]
        for i, item in enumerate(seq[:-1]):
            if item == ("session-check", False):
                assert seq[i + 1] == ("session-login", True)
    r = sessions(ops)
    assert r.valid is Validity.INVALID
    assert r.counts["lost_by_home"] == probe.lost


def test_a_site_that_does_not_serve_is_not_a_lost_session(shared: Cluster):
    h = HistoryRecorder()
    probe = shared.probe(h, max_count=8, rate_hz=10.0)
    probe.start()
    deadline = time.monotonic() + 5
    while sum(probe.checks.values()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    shared.site.status = 503
    assert probe.join(10)
    ops = h.ops()
    checks = [o for o in ops if o.f == "session-check" and o.type != "invoke"]
    assert [o for o in checks if o.type == "fail" and o.extra.get("status") == 503]
    assert not [o for o in checks if o.type == "ok" and o.value["logged_in"] is False]
    assert sessions(ops, min_checks=1).valid is Validity.VALID


def test_a_refused_connection_is_fail_and_never_a_loss(shared: Cluster):
    h = HistoryRecorder()
    sock_port = shared.vip.server_address[1]
    shared.vip.shutdown()
    shared.vip.server_close()
    probe = SessionProbe(h, shared.homes(), "127.0.0.1", sock_port, rate_hz=20, max_count=3, max_duration_s=5)
    _run(probe)
    checks = [o for o in h.ops() if o.f == "session-check" and o.type != "invoke"]
    assert checks and all(o.type == "fail" and "connect" in o.extra["error"] for o in checks)
    shared.vip = _server(shared.site, lambda: "web1")  # for the fixture's close


def test_a_refused_login_never_establishes_a_session_and_the_checker_says_unknown(shared: Cluster):
    h = HistoryRecorder()
    probe = shared.probe(h, password="wrong", max_count=3)
    _run(probe)
    ops = h.ops()
    logins = [o for o in ops if o.f == "session-login" and o.type != "invoke"]
    assert logins and all(o.type == "fail" and o.value["logged_in"] is False for o in logins)
    assert not [o for o in ops if o.f == "session-check"]
    # never logged in: the retries stay at the home node (the home is known by construction)
    assert all(o.extra["via"] == "node" for o in logins)
    assert sessions(ops).valid is Validity.UNKNOWN


def test_stop_cuts_a_hung_check_short_as_info(shared: Cluster):
    h = HistoryRecorder()
    probe = shared.probe(h, rate_hz=50.0, max_count=1000, max_duration_s=60)
    probe.start()
    deadline = time.monotonic() + 5
    while sum(probe.checks.values()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    shared.site.delay_s = 5.0
    time.sleep(0.1)  # let a check go out into the hung server (not a readiness wait)
    t0 = time.monotonic()
    probe.stop()
    assert time.monotonic() - t0 < 1.0
    assert not probe.is_alive()
    h.close()
    completions = [o for o in h.ops() if o.type != "invoke"]
    assert completions[-1].type == "info" or completions[-2].type == "info"


def test_bad_settings_raise_naming_the_field():
    h = HistoryRecorder()
    home = SessionHome("web1", "127.0.0.1", 80, "a")
    with pytest.raises(ProbeError, match="rate_hz"):
        SessionProbe(h, [home], "127.0.0.1", rate_hz=0, max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match="max_count"):
        SessionProbe(h, [home], "127.0.0.1", max_count=0, max_duration_s=1)
    with pytest.raises(ProbeError, match="homes"):
        SessionProbe(h, [], "127.0.0.1", max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match="own account"):
        SessionProbe(h, [home, SessionHome("web2", "127.0.0.2", 80, "a")], "127.0.0.1", max_count=1, max_duration_s=1)
    with pytest.raises(ProbeError, match="port"):
        SessionProbe(h, [SessionHome("web1", "127.0.0.1", 0, "a")], "127.0.0.1", max_count=1, max_duration_s=1)


def test_a_guard_refusing_an_address_stops_the_start():
    h = HistoryRecorder()
    probe = SessionProbe(h, [SessionHome("web1", "10.9.9.9", 80, "a")], "127.0.0.1", max_count=1, max_duration_s=1,
                         guard=lambda a: a.startswith("127."))
    with pytest.raises(ProbeError, match="10.9.9.9"):
        probe.start()


def test_probe_accounts_come_from_the_end_and_never_overlap_the_load():
    names = [f"s{i}" for i in range(1, 11)]
    assert probe_accounts(names, 3, 7) == ["s8", "s9", "s10"]
    with pytest.raises(ProbeError, match="moodle.accounts: 10 account"):
        probe_accounts(names, 3, 8)


@pytest.mark.parametrize("status, location, body, verdict", [
    (200, "", b'<body class="a" id="page-my-index">', "in"),
    (303, "http://vip/login/index.php", b"", "out"),
    (302, "/login/index.php?x=1", b"", "out"),
    (200, "", b'<body id="page-login-index">', "out"),
    (503, "", b"Database unavailable", "down"),
    (500, "", b"", "down"),
    (404, "", b"", "odd"),
    (303, "http://vip/my/", b"", "odd"),
    (200, "", b"<body id=\"page-site-index\">", "odd"),
])
def test_classify_check(status, location, body, verdict):
    assert classify_check(status, location, body) == verdict


def test_login_token_and_cookie_in_any_attribute_order():
    assert login_token(b'<input name="logintoken" type="hidden" value="abc">') == "abc"
    assert login_token(b'<input type="hidden" value="xyz" name="logintoken">') == "xyz"
    assert login_token(b'<input type="hidden" name="sesskey" value="s">') is None
    assert session_cookie(["a=1", "MoodleSession=s1; path=/", "MoodleSession=s2; HttpOnly"]) == "s2"
    assert session_cookie(["other=1"]) is None


def test_for_inventory_gives_each_web_node_a_session_on_the_last_accounts(monkeypatch: pytest.MonkeyPatch):
    from harness.inventory._model import Host, Inventory, Moodle, MoodleAccounts, Vip

    monkeypatch.setenv("PW_ENV", "s3cret")
    hosts = {f"web{i}": Host(f"web{i}", f"198.18.12.{20 + i}", ("web",)) for i in (1, 2, 3)}
    inv = Inventory("t", hosts, {"web": Vip("web", "198.18.12.100", 8080, "http")},
                    moodle=Moodle(accounts=MoodleAccounts(count=10), password_env="PW_ENV", node_header="X-Served-By"))
    probe = SessionProbe.for_inventory(HistoryRecorder(), inv, reserved_accounts=7, max_count=1, max_duration_s=1)
    assert [(h.node, h.address, h.port, h.username, h.password) for h in probe.homes] == [
        ("web1", "198.18.12.21", 8080, "student008", "s3cret"), ("web2", "198.18.12.22", 8080, "student009", "s3cret"),
        ("web3", "198.18.12.23", 8080, "student010", "s3cret")]
    assert probe.host_header == "198.18.12.100:8080" and probe.node_headers == ("X-Served-By",)
    with pytest.raises(ProbeError, match="moodle.accounts"):
        SessionProbe.for_inventory(HistoryRecorder(), inv, reserved_accounts=8, max_count=1, max_duration_s=1)
