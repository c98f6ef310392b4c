"""clustercheck: a tiny HTTP health check for one Galera node (stdlib only, run by /usr/bin/python3).

HAProxy's DB backend checks port 9200 of each node: 200 only when the local mariadbd says
`wsrep_local_state_comment = Synced` and `wsrep_ready = ON`, else 503. A plain mysql-check kept
a non-Primary node in rotation (docs/lab-measurements.md). The body is JSON with the wsrep figures, which the
lab's status and readiness waits read too. It asks the local server over its unix socket with
the `mariadb` client (root by socket authentication), with short timeouts.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WSREP_VARS = (
    "wsrep_local_state_comment",
    "wsrep_ready",
    "wsrep_cluster_size",
    "wsrep_cluster_status",
    "wsrep_connected",
    "wsrep_local_index",
    "wsrep_last_committed",
)


def parse_status(text: str) -> dict[str, str]:
    """`mariadb -N -B` output (name TAB value per line) -> dict with lower-case names.

    The harness's parser of this output is harness.parsers.wsrep; this program runs on the
    system python3 inside a lab host, without the harness installed, so it keeps its own."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        if name:
            out[name.strip().lower()] = value.strip()
    return out


def is_healthy(status: dict[str, str]) -> bool:
    return status.get("wsrep_local_state_comment") == "Synced" and status.get("wsrep_ready") == "ON"


class _Prober:
    """Caches one answer for ``ttl`` seconds: two directors checking every 200 ms cost one query."""

    def __init__(self, socket_path: str, timeout_s: float, ttl: float) -> None:
        self.socket_path = socket_path
        self.timeout_s = timeout_s
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = 0.0
        self._value: tuple[dict[str, str], str] = ({}, "not checked yet")

    def get(self) -> tuple[dict[str, str], str]:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self.ttl:
                self._value = self._query()
                self._at = time.monotonic()
            return self._value

    def _query(self) -> tuple[dict[str, str], str]:
        names = ",".join(f"'{v}'" for v in WSREP_VARS)
        argv = ["mariadb", f"--socket={self.socket_path}", "--connect-timeout=1", "-N", "-B", "-e",
                f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            return {}, f"query timed out after {self.timeout_s}s"
        except OSError as exc:
            return {}, str(exc)
        if proc.returncode != 0:
            return {}, (proc.stderr.strip().splitlines() or ["mariadb failed"])[-1]
        return parse_status(proc.stdout), ""


def make_handler(prober: _Prober, node: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            status, error = prober.get()
            healthy = is_healthy(status)
            body = json.dumps({"node": node, "healthy": healthy, "error": error, "status": status}).encode()
            self.send_response(200 if healthy else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815 (http.server's naming)

        def log_message(self, format: str, *args: object) -> None:  # silence per-request logs
            return

    return Handler


def _set_comm(name: str) -> None:
    """Name the process (`pidof clustercheck`, `ps`) rather than `python3`."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Galera node health check over HTTP")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--socket", default="/run/mysqld/mysqld.sock")
    parser.add_argument("--node", default=os.uname().nodename)
    parser.add_argument("--timeout", type=float, default=1.5)
    parser.add_argument("--ttl", type=float, default=0.15)
    parser.add_argument("--pidfile", default="/run/clustercheck.pid")
    args = parser.parse_args(argv)
    _set_comm("clustercheck")
    server = ThreadingHTTPServer((args.bind, args.port), make_handler(_Prober(args.socket, args.timeout, args.ttl), args.node))
    server.daemon_threads = True
    with open(args.pidfile, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    try:
        server.serve_forever(poll_interval=1.0)
    finally:
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
