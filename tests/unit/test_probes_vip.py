"""VipProbe against real sockets on 127.0.0.1: classification, fields, schedule, bounds, stop."""

from __future__ import annotations

import http.server
import itertools
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from harness.errors import LabError, ProbeError
from harness.history import HistoryRecorder, Op, pair_operations
from harness.inventory._model import Vip
from harness.probes import Schedule, VipProbe


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        srv = self.server
        srv.hits += 1  # type: ignore[attr-defined]
        n = srv.hits  # type: ignore[attr-defined]
        body = b"ok\n"
        status = srv.status  # type: ignore[attr-defined]
        if srv.delay_s:  # type: ignore[attr-defined]
            time.sleep(srv.delay_s)  # type: ignore[attr-defined]
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
        # some answers name the node, some use X-Backend, some say nothing
        if n % 3 == 0:
            head += "X-Lab-Node: web1\r\n"
        elif n % 3 == 1:
            head += "X-Backend: web2\r\n"
        self.wfile.write((head + "\r\n").encode() + body)  # one write: no Nagle stall

    def log_message(self, *args: object) -> None:
        pass


class _Web:
    """A threaded HTTP server that can be stopped and restarted on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.srv: http.server.ThreadingHTTPServer | None = None
        self.connections = 0

    def start(self, status: int = 200, delay_s: float = 0.0) -> _Web:
        web = self

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):  # type: ignore[no-untyped-def]
                web.connections += 1
                return super().get_request()

        self.srv = Server(("127.0.0.1", self.port), _Handler)
        self.srv.hits = 0  # type: ignore[attr-defined]
        self.srv.status = status  # type: ignore[attr-defined]
        self.srv.delay_s = delay_s  # type: ignore[attr-defined]
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.srv is not None:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None


@pytest.fixture
def web() -> Iterator[_Web]:
    w = _Web().start()
    yield w
    w.stop()


def _completions(h: HistoryRecorder, process: str = "vip-probe") -> list[Op]:
    return [o for o in h.ops() if o.process == process and o.type != "invoke"]


def _wait_for(pred, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.01)


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_ok_then_fail_while_server_down_then_ok_again(web: _Web) -> None:
    h = HistoryRecorder()
    probe = VipProbe(h, "127.0.0.1", web.port, rate_hz=100, max_count=2000, max_duration_s=10, timeout_s=0.5)
    with probe:
        _wait_for(lambda: probe.counts["ok"] >= 10)
        web.stop()
        _wait_for(lambda: probe.counts["fail"] >= 5)
        web.start()
        ok_before = probe.counts["ok"]
        _wait_for(lambda: probe.counts["ok"] >= ok_before + 10)
    assert not probe.is_alive()

    comps = _completions(h)
    runs: list[str] = []
    for op in comps:
        if op.type != "info" and (not runs or runs[-1] != op.type):
            runs.append(op.type)
    assert runs == ["ok", "fail", "ok"]

    for inv, comp in pair_operations(h.ops()):
        assert inv.f == "get" and inv.value == {"vip": "web"}
        assert comp is not None and comp.f == "get"
        assert comp.extra["latency_ms"] >= 0 and comp.extra["late_ms"] >= 0
    oks = [o for o in comps if o.type == "ok"]
    assert all(o.value == 200 for o in oks)
    assert {o.extra["node"] for o in oks} == {"web1", "web2", None}
    assert all("error" not in o.extra for o in oks)
    fails = [o for o in comps if o.type == "fail"]
    assert all(o.value is None and o.extra["node"] is None for o in fails)
    errors = [o.extra["error"] for o in fails]
    assert "connect: connection refused" in errors
    # a connection queued in the backlog when the listener closed is reset before the request
    assert set(errors) <= {"connect: connection refused", "connect: connection reset", "send: connection reset",
                           "send: broken pipe"}, errors
    # history indices are in order and each invoke is completed before the next one
    kinds = [o.type == "invoke" for o in h.ops() if o.process == "vip-probe"]
    assert kinds == [True, False] * (len(kinds) // 2)


def test_http_5xx_is_fail_with_status() -> None:
    w = _Web().start(status=503)
    try:
        h = HistoryRecorder()
        VipProbe(h, "127.0.0.1", w.port, rate_hz=100, max_count=3, max_duration_s=2).run()
    finally:
        w.stop()
    comps = _completions(h)
    assert [o.type for o in comps] == ["fail"] * 3
    assert all(o.value == 503 and o.extra["error"] == "HTTP 503" for o in comps)


def _raw_server(behaviour: str) -> tuple[socket.socket, threading.Event]:
    """Accepts connections; ``silent`` reads the request and never answers, ``reset`` answers
    with a RST after reading it, ``one-shot`` answers as keep-alive then closes anyway."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    lsock.settimeout(0.05)
    done = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            conn.settimeout(1.0)
            try:
                conn.recv(4096)
            except OSError:
                pass
            if behaviour == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif behaviour == "one-shot":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Lab-Node: web7\r\n\r\nok")
                time.sleep(0.005)
                conn.close()
            else:
                held.append(conn)
        for c in held:
            c.close()
        lsock.close()

    threading.Thread(target=serve, daemon=True).start()
    return lsock, done


def test_timeout_after_sending_is_info() -> None:
    lsock, done = _raw_server("silent")
    try:
        h = HistoryRecorder()
        t0 = time.monotonic()
        VipProbe(h, "127.0.0.1", lsock.getsockname()[1], rate_hz=100, max_count=2, max_duration_s=5,
                 timeout_s=0.2).run()
        elapsed = time.monotonic() - t0
    finally:
        done.set()
    comps = _completions(h)
    assert [o.type for o in comps] == ["info", "info"]
    assert all("timed out after sending" in o.extra["error"] and o.value is None for o in comps)
    assert all(180 <= o.extra["latency_ms"] < 400 for o in comps)
    assert elapsed < 1.0


def test_reset_while_reading_is_info() -> None:
    lsock, done = _raw_server("reset")
    try:
        h = HistoryRecorder()
        VipProbe(h, "127.0.0.1", lsock.getsockname()[1], rate_hz=100, max_count=3, max_duration_s=5).run()
    finally:
        done.set()
    comps = _completions(h)
    assert [o.type for o in comps] == ["info"] * 3
    assert all(o.extra["error"] in ("recv: connection reset", "connection closed before a reply") for o in comps)


def test_tcp_mode_ok_then_refused() -> None:
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)  # never accepts: the kernel completes the handshake from the backlog
    port = lsock.getsockname()[1]
    h = HistoryRecorder()
    VipProbe(h, "127.0.0.1", port, mode="tcp", rate_hz=200, max_count=5, max_duration_s=2, vip_name="db",
             process="vip-probe-db").run()
    lsock.close()
    VipProbe(h, "127.0.0.1", port, mode="tcp", rate_hz=200, max_count=3, max_duration_s=2, vip_name="db",
             process="vip-probe-db").run()
    ops = [o for o in h.ops() if o.process == "vip-probe-db"]
    assert {o.f for o in ops} == {"connect"}
    assert all(o.value == {"vip": "db"} for o in ops if o.type == "invoke")
    comps = [o for o in ops if o.type != "invoke"]
    assert [o.type for o in comps] == ["ok"] * 5 + ["fail"] * 3
    assert all(o.value is None for o in comps)
    assert all(o.extra["error"] == "connect: connection refused" for o in comps[5:])


def test_schedule_is_absolute_and_bounded_by_duration(web: _Web) -> None:
    h = HistoryRecorder()
    probe = VipProbe(h, "127.0.0.1", web.port, rate_hz=50, max_count=10_000, max_duration_s=1.0)
    t0 = time.monotonic()
    probe.start()
    assert probe.join(timeout=3.0)  # stops by itself
    elapsed = time.monotonic() - t0
    # slots at 0, 0.02, ..., 0.98: exactly 50 fit in one second, none skipped on a fast server
    assert 45 <= probe.sent <= 50  # a loaded machine may skip a slot or two, never add one
    assert probe.sent + probe.skipped == 50
    assert 0.95 <= elapsed < 1.3
    invokes = [o.time for o in h.ops() if o.type == "invoke"]
    # no drift: the last invoke lies within a few ms of its slot (start + 49/50 s)
    assert invokes[-1] - invokes[0] == pytest.approx((len(invokes) - 1 + probe.skipped) / 50, abs=0.03)


def test_late_slots_are_skipped_not_burst() -> None:
    w = _Web().start(delay_s=0.05)  # each reply takes 50 ms: 5 periods at 100/s
    try:
        h = HistoryRecorder()
        probe = VipProbe(h, "127.0.0.1", w.port, rate_hz=100, max_count=10_000, max_duration_s=1.0)
        probe.run()
    finally:
        w.stop()
    assert 12 <= probe.sent <= 21
    assert probe.sent + probe.skipped == 100  # every slot of the second is fired or counted
    # a burst would fire slots back to back: consecutive invokes stay >= ~one reply apart
    invokes = [o.time for o in h.ops() if o.type == "invoke"]
    gaps = [b - a for a, b in itertools.pairwise(invokes)]
    assert min(gaps) >= 0.045
    # the fired slot is the latest missed one: lateness stays under one period
    assert max(probe.jitter.late_ms) < 10.0 + 5.0


def test_max_count_bounds_the_run(web: _Web) -> None:
    h = HistoryRecorder()
    t0 = time.monotonic()
    probe = VipProbe(h, "127.0.0.1", web.port, rate_hz=100, max_count=7, max_duration_s=60)
    probe.start()
    assert probe.join(timeout=2.0)
    assert time.monotonic() - t0 < 0.5
    assert len(_completions(h)) == 7 and probe.counts["ok"] == 7


def test_stop_is_prompt_with_a_request_in_flight() -> None:
    lsock, done = _raw_server("silent")
    try:
        h = HistoryRecorder()
        probe = VipProbe(h, "127.0.0.1", lsock.getsockname()[1], rate_hz=10, max_count=100,
                         max_duration_s=60, timeout_s=30)
        probe.start()
        _wait_for(lambda: "vip-probe" in h.open_processes())
        time.sleep(0.05)
        t0 = time.monotonic()
        probe.stop()
        assert time.monotonic() - t0 < 0.5
        assert not probe.is_alive()
    finally:
        done.set()
    comps = _completions(h)
    assert [o.type for o in comps] == ["info"]
    assert comps[0].extra["error"] == "probe stopped while in flight"
    assert h.open_processes() == {}


def test_stop_while_idle_between_slots(web: _Web) -> None:
    h = HistoryRecorder()
    probe = VipProbe(h, "127.0.0.1", web.port, rate_hz=0.5, max_count=100, max_duration_s=60)
    probe.start()
    _wait_for(lambda: probe.sent == 1)
    t0 = time.monotonic()
    probe.stop()
    assert time.monotonic() - t0 < 0.1 and not probe.is_alive()


def test_fresh_connection_per_request_unless_keepalive(web: _Web) -> None:
    h = HistoryRecorder()
    VipProbe(h, "127.0.0.1", web.port, rate_hz=200, max_count=10, max_duration_s=5).run()
    assert web.connections == 10
    VipProbe(h, "127.0.0.1", web.port, rate_hz=200, max_count=10, max_duration_s=5, keepalive=True,
             process="vip-probe-ka").run()
    assert web.connections == 11
    assert [o.type for o in _completions(h, "vip-probe-ka")] == ["ok"] * 10


def test_guard_is_asked_before_anything_is_sent() -> None:
    port = _free_port()
    h = HistoryRecorder()
    asked: list[str] = []

    def refuse(address: str) -> bool:
        asked.append(address)
        return False

    with pytest.raises(ProbeError, match="guard refused 192.0.2.7"):
        VipProbe(h, "192.0.2.7", port, max_count=1, max_duration_s=1, guard=refuse).start()
    assert asked == ["192.0.2.7"]

    def lab_guard(address: str) -> None:
        raise LabError(f"{address} is not routed via the lab bridge")

    with pytest.raises(LabError, match="not routed"):
        VipProbe(h, "192.0.2.7", port, max_count=1, max_duration_s=1, guard=lab_guard).start()
    assert h.ops() == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate_hz": 0}, "rate_hz"),
        ({"max_count": 0}, "max_count"),
        ({"max_duration_s": float("inf")}, "max_duration_s"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"mode": "udp"}, "mode"),
        ({"path": "login"}, "path"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, field: str) -> None:
    args = {"max_count": 1, "max_duration_s": 1.0, **kwargs}
    with pytest.raises(ProbeError, match=field):
        VipProbe(HistoryRecorder(), "127.0.0.1", 80, **args)


def test_schedule_skips_whole_missed_periods() -> None:
    s = Schedule(10, start=100.0, end=101.0)
    assert s.catch_up(100.05) == 100.0  # late by half a period: fire now
    s.advance()
    assert s.catch_up(100.35) == pytest.approx(100.3)  # slots 1 and 2 missed
    assert s.skipped == 2
    s.advance()
    assert s.catch_up(100.39) == pytest.approx(100.4) and s.skipped == 2  # early: wait
    s.advance()
    assert s.catch_up(102.0) == pytest.approx(101.0)  # past the end: nothing left to fire
    assert s.skipped == 2 + 5  # slots 5..9 were missed; none past the end is counted


def test_keepalive_retries_once_when_the_server_dropped_the_connection() -> None:
    lsock, done = _raw_server("one-shot")
    try:
        h = HistoryRecorder()
        probe = VipProbe(h, "127.0.0.1", lsock.getsockname()[1], rate_hz=50, max_count=5, max_duration_s=5,
                         keepalive=True)
        probe.run()
    finally:
        done.set()
    comps = _completions(h)
    assert [(o.type, o.value, o.extra["node"]) for o in comps] == [("ok", 200, "web7")] * 5


def test_for_vip_takes_mode_path_and_process_from_the_inventory(web: _Web) -> None:
    h = HistoryRecorder()
    VipProbe.for_vip(h, Vip("web", "127.0.0.1", web.port, "http", "/login/index.php"), max_count=2,
                     max_duration_s=2).run()
    p = VipProbe.for_vip(h, Vip("db", "127.0.0.1", web.port, "mysql"), max_count=2, max_duration_s=2)
    assert (p.mode, p.process, p.vip_name) == ("tcp", "vip-probe-db", "db")
    p.run()
    assert [(o.process, o.f, o.type) for o in h.ops() if o.type != "invoke"] == [
        ("vip-probe", "get", "ok")] * 2 + [("vip-probe-db", "connect", "ok")] * 2
