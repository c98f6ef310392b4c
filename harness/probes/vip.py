"""VIP probe: HTTP GET or TCP connect to a virtual IP at a fixed rate, every attempt recorded.

The availability checker measures outages from these operations, so the probe must see a
failover as a client would: a fresh connection per request by default (a reused keep-alive
connection stays pinned to the old director and hides the switch), an absolute schedule that
neither drifts nor bursts after a stall, and a classification that never calls "unknown"
a failure: refused/reset before anything was sent is ``fail``; a timeout or reset after the
request went out is ``info``.

The client is a small non-blocking socket loop rather than http.client so that it knows
exactly whether request bytes left, and so that stop() can cut a hung request short.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from collections.abc import Callable
from typing import Any, Literal

from ..errors import ProbeError
from ..history import HistoryRecorder
from ..inventory._model import Vip
from ._base import POLL_SLICE_S, Jitter, ProbeThread, Schedule, call_guard, check_bounds

NODE_HEADERS = ("x-lab-node", "x-backend")
MAX_HEADER_BYTES = 64 * 1024
_RECV = 65536


class _Failed(Exception):
    """The attempt certainly did not reach the server's application (completion ``fail``)."""


class _Unknown(Exception):
    """The request may have been processed (completion ``info``)."""

    def __init__(self, message: str, status: int | None = None, node: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.node = node


class _Stopped(_Unknown):
    """stop() ran out of grace while this attempt was in flight."""


class _Stale(_Unknown):
    """A reused keep-alive connection was closed or reset before any byte of a reply."""


class _Timeout(Exception):
    pass


class VipProbe(ProbeThread):
    """Probe ``address:port`` ``rate_hz`` times a second until ``max_count`` or ``max_duration_s``.

    Records, per attempt, ``invoke`` (value ``{"vip": vip_name}``) then ``ok``/``fail``/``info``
    with ``latency_ms``, ``node`` (from ``X-Lab-Node`` or ``X-Backend``), ``late_ms`` (how late the
    slot fired) and ``error`` (on fail/info). Jitter and counters are also kept on the object.
    """

    def __init__(
        self,
        history: HistoryRecorder,
        address: str,
        port: int,
        *,
        mode: Literal["http", "tcp"] = "http",
        path: str = "/",
        rate_hz: float = 100,
        max_count: int,
        max_duration_s: float,
        timeout_s: float = 1.0,
        vip_name: str = "web",
        process: str = "vip-probe",
        guard: Callable[[str], Any] | None = None,
        keepalive: bool = False,
        host_header: str | None = None,
    ) -> None:
        super().__init__()
        self.name = f"{process} ({address}:{port})"
        check_bounds(self.name, rate_hz=rate_hz, max_count=max_count, max_duration_s=max_duration_s,
                     timeout_s=timeout_s)
        if mode not in ("http", "tcp"):
            raise ProbeError(f"{self.name}: mode must be 'http' or 'tcp', not {mode!r}")
        if mode == "http" and not path.startswith("/"):
            raise ProbeError(f"{self.name}: path must start with '/', not {path!r}")
        if not (isinstance(port, int) and 0 < port < 65536):
            raise ProbeError(f"{self.name}: port must be 1-65535, not {port!r}")
        self.history = history
        self.address = address
        self.port = port
        self.mode = mode
        self.path = path
        self.rate_hz = float(rate_hz)
        self.max_count = max_count
        self.max_duration_s = float(max_duration_s)
        self.timeout_s = float(timeout_s)
        self.vip_name = vip_name
        self.process = process
        self.guard = guard
        self.keepalive = keepalive
        self.host_header = host_header or (f"[{address}]" if ":" in address else address)
        self.jitter = Jitter()
        self.counts: dict[str, int] = {"ok": 0, "fail": 0, "info": 0}
        self.schedule: Schedule | None = None
        self._sockaddr: tuple[Any, ...] | None = None
        self._family = socket.AF_INET
        self._conn: socket.socket | None = None  # kept only with keepalive=True
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host_header}\r\nUser-Agent: harness-vip-probe\r\n"
            f"Accept: */*\r\nConnection: {'keep-alive' if keepalive else 'close'}\r\n\r\n"
        ).encode("latin-1")

    @classmethod
    def for_vip(cls, history: HistoryRecorder, vip: Vip, **kwargs: Any) -> VipProbe:
        """A probe for an inventory VIP: HTTP for ``protocol: http`` (GET ``vip.path``), else TCP.

        The process is ``vip-probe`` for the VIP called ``web``, ``vip-probe-<name>`` otherwise.
        """
        kwargs.setdefault("mode", "http" if vip.protocol == "http" else "tcp")
        kwargs.setdefault("path", vip.path)
        kwargs.setdefault("vip_name", vip.name)
        kwargs.setdefault("process", "vip-probe" if vip.name == "web" else f"vip-probe-{vip.name}")
        return cls(history, vip.address, vip.port, **kwargs)

    # -- public figures ----------------------------------------------------------------------
    @property
    def sent(self) -> int:
        return sum(self.counts.values())

    @property
    def skipped(self) -> int:
        """Slots skipped because the probe was late by a whole period or more."""
        return self.schedule.skipped if self.schedule else 0

    def run(self) -> None:
        """Run in the calling thread until a bound is reached (start() runs this in a thread)."""
        if not self._started:
            self._started = True
            self._prepare()
        self._loop()

    # -- lifecycle ---------------------------------------------------------------------------
    def _prepare(self) -> None:
        call_guard(self.name, self.guard, self.address)
        try:
            infos = socket.getaddrinfo(self.address, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ProbeError(f"{self.name}: cannot resolve {self.address!r}: {exc}") from exc
        self._family, _, _, _, self._sockaddr = infos[0]

    def _workers(self) -> list[tuple[str, Callable[[], None]]]:
        return [(self.process, self._loop)]

    def _loop(self) -> None:
        t0 = time.monotonic()
        t_end = t0 + self.max_duration_s
        sched = self.schedule = Schedule(self.rate_hz, t0, t_end)
        fired = 0
        try:
            while fired < self.max_count and not self.stopping:
                due = self.next_slot(sched, t_end)
                if due is None:
                    break
                late_s = max(0.0, time.monotonic() - due)
                sched.advance()
                self.jitter.add(late_s * 1000.0)
                self._attempt(late_s * 1000.0)
                fired += 1
        finally:
            self._drop_conn()

    # -- one attempt -------------------------------------------------------------------------
    def _attempt(self, late_ms: float) -> None:
        f = "get" if self.mode == "http" else "connect"
        op = self.history.invoke(self.process, f, {"vip": self.vip_name})
        t0 = time.monotonic()
        status: int | None = None
        node: str | None = None
        try:
            if self.mode == "http":
                status, node = self._http_get(t0 + self.timeout_s)
            else:
                self._tcp_connect(t0 + self.timeout_s)
        except _Failed as exc:
            self._drop_conn()
            self.counts["fail"] += 1
            op.fail(None, latency_ms=_ms(t0), node=None, late_ms=round(late_ms, 3), error=str(exc))
            return
        except _Unknown as exc:
            self._drop_conn()
            self.counts["info"] += 1
            op.info(exc.status, latency_ms=_ms(t0), node=exc.node, late_ms=round(late_ms, 3), error=str(exc))
            return
        except BaseException as exc:
            self._drop_conn()
            self.counts["info"] += 1
            op.info(None, latency_ms=_ms(t0), node=None, late_ms=round(late_ms, 3),
                    error=f"probe error: {type(exc).__name__}: {exc}")
            raise
        if status is not None and status >= 500:
            # the balancer answered for a backend it could not reach: not served
            self.counts["fail"] += 1
            op.fail(status, latency_ms=_ms(t0), node=node, late_ms=round(late_ms, 3), error=f"HTTP {status}")
        else:
            self.counts["ok"] += 1
            op.ok(status, latency_ms=_ms(t0), node=node, late_ms=round(late_ms, 3))

    def _tcp_connect(self, deadline: float) -> None:
        sock = self._connect(deadline)
        sock.close()

    def _http_get(self, deadline: float) -> tuple[int, str | None]:
        try:
            return self._http_get_once(deadline)
        except _Stale:
            # the server dropped an idle keep-alive connection (or the old director did): retry
            # once on a fresh connection, as a browser does for a GET; a timeout is not retried
            self._drop_conn()
            return self._http_get_once(deadline)

    def _http_get_once(self, deadline: float) -> tuple[int, str | None]:
        reused = self._conn is not None
        sock = self._conn if self._conn is not None else self._connect(deadline)
        self._conn = sock if self.keepalive else None
        try:
            try:
                self._send(sock, self._request, deadline)
            except _Failed as exc:
                if reused:
                    raise _Stale(f"reused connection: {exc}") from None
                raise
            status, headers, buf = self._read_head(sock, deadline, reused)
            node = next((headers[h] for h in NODE_HEADERS if h in headers), None)
            try:
                can_reuse = self._read_body(sock, status, headers, buf, deadline)
            except _Unknown as exc:
                raise _Unknown(f"{exc} (after HTTP {status})", status, node) from None
        finally:
            if not self.keepalive:
                sock.close()
        if self.keepalive and not can_reuse:
            self._drop_conn()
        return status, node

    # -- socket plumbing ---------------------------------------------------------------------
    def _wait(self, sock: socket.socket, events: int, deadline: float) -> None:
        """Block until ``sock`` is ready, in short slices so stop() is honoured promptly."""
        poller = select.poll()
        poller.register(sock, events | select.POLLERR | select.POLLHUP)
        while True:
            now = time.monotonic()
            abort = self.abort_at()
            if abort is not None and now >= abort:
                raise _Stopped("probe stopped while in flight")
            if now >= deadline:
                raise _Timeout()
            if poller.poll(max(0.0, min(POLL_SLICE_S, deadline - now)) * 1000.0):
                return

    def _connect(self, deadline: float) -> socket.socket:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = sock.connect_ex(self._sockaddr)  # type: ignore[arg-type]
            if err not in (0, errno.EINPROGRESS):
                raise _Failed(_errname("connect", err))
            if err == errno.EINPROGRESS:
                try:
                    self._wait(sock, select.POLLOUT, deadline)
                except _Timeout:
                    raise _Failed(f"connect timed out after {self.timeout_s:g}s") from None
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise _Failed(_errname("connect", err))
        except BaseException:
            sock.close()
            raise
        return sock

    def _send(self, sock: socket.socket, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        sent = 0
        while sent < len(data):
            try:
                sent += sock.send(view[sent:])
            except BlockingIOError:
                try:
                    self._wait(sock, select.POLLOUT, deadline)
                except _Timeout:
                    raise _Unknown("timed out while sending") if sent else _Failed("timed out before sending") from None
            except OSError as exc:
                # nothing of this request left the host: the server cannot have seen it
                if sent == 0:
                    raise _Failed(_errname("send", exc.errno)) from None
                raise _Unknown(_errname("send", exc.errno)) from None

    def _recv(self, sock: socket.socket, deadline: float) -> bytes:
        while True:
            try:
                return sock.recv(_RECV)
            except BlockingIOError:
                try:
                    self._wait(sock, select.POLLIN, deadline)
                except _Timeout:
                    raise _Unknown(f"timed out after sending ({self.timeout_s:g}s)") from None
            except OSError as exc:
                raise _Unknown(_errname("recv", exc.errno)) from None

    def _read_head(self, sock: socket.socket, deadline: float, reused: bool) -> tuple[int, dict[str, str], bytes]:
        buf = b""
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buf) > MAX_HEADER_BYTES:
                raise _Unknown("reply headers too long")
            try:
                chunk = self._recv(sock, deadline)
            except _Unknown as exc:
                if reused and not buf and not isinstance(exc, _Stopped) and "reset" in str(exc):
                    raise _Stale(f"reused connection: {exc}") from None
                raise
            if not chunk:
                if reused and not buf:
                    raise _Stale("reused connection closed before a reply")
                raise _Unknown("connection closed before a reply")
            buf += chunk
        head, rest = buf[:end].decode("latin-1"), buf[end + 4:]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise _Unknown(f"bad status line {lines[0][:80]!r}")
        headers: dict[str, str] = {"_version": parts[0]}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers, rest

    def _read_body(self, sock: socket.socket, status: int, headers: dict[str, str], buf: bytes,
                   deadline: float) -> bool:
        """Read (and drop) the body; True when the connection may carry another request."""
        persistent = headers["_version"] == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        if status in (204, 304) or 100 <= status < 200:
            return persistent
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._read_chunked(sock, buf, deadline)
            return persistent
        length = headers.get("content-length")
        if length is not None and length.isdigit():
            remaining = int(length) - len(buf)
            while remaining > 0:
                chunk = self._recv(sock, deadline)
                if not chunk:
                    raise _Unknown("connection closed inside the body")
                remaining -= len(chunk)
            return persistent
        while self._recv(sock, deadline):  # body delimited by close
            pass
        return False

    def _read_chunked(self, sock: socket.socket, buf: bytes, deadline: float) -> None:
        pos = 0
        while True:
            while (nl := buf.find(b"\r\n", pos)) < 0:
                buf = self._more(sock, buf, deadline)
            size_text = buf[pos:nl].split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Unknown(f"bad chunk size {size_text[:20]!r}") from None
            pos = nl + 2
            if size == 0:  # trailers end with an empty line
                while buf.find(b"\r\n", pos) < 0:
                    buf = self._more(sock, buf, deadline)
                while (nl := buf.find(b"\r\n", pos)) != pos:
                    pos = nl + 2
                    while buf.find(b"\r\n", pos) < 0:
                        buf = self._more(sock, buf, deadline)
                return
            while len(buf) < pos + size + 2:
                buf = self._more(sock, buf, deadline)
            pos += size + 2
            if pos > _RECV:  # drop what was consumed
                buf, pos = buf[pos:], 0

    def _more(self, sock: socket.socket, buf: bytes, deadline: float) -> bytes:
        chunk = self._recv(sock, deadline)
        if not chunk:
            raise _Unknown("connection closed inside a chunked body")
        return buf + chunk

    def _drop_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000.0, 3)


def _errname(stage: str, err: int | None) -> str:
    names = {
        errno.ECONNREFUSED: "connection refused",
        errno.ECONNRESET: "connection reset",
        errno.EPIPE: "broken pipe",
        errno.EHOSTUNREACH: "host unreachable",
        errno.ENETUNREACH: "network unreachable",
        errno.ETIMEDOUT: "timed out",
    }
    if err is None:
        return f"{stage}: error"
    return f"{stage}: {names.get(err, errno.errorcode.get(err, str(err)))}"
