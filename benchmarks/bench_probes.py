"""How fast one VipProbe process probes, and how punctually: figures, never assertions.

The HTTP server runs in a SUBPROCESS (a selectors loop answering a fixed reply and closing),
so it shares neither the GIL nor the scheduler thread with the probe. Its own capacity is
measured first, with several client processes, so the probe figures can be read against it.

    .venv/bin/python benchmarks/bench_probes.py [--duration 5]

Goals: >= 200 probes/s from one process; scheduling jitter p99 <= 5 ms at 100/s.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.history import HistoryRecorder
from harness.probes import VipProbe

SERVER = r"""
import selectors, socket, sys
REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Lab-Node: bench\r\nConnection: close\r\n\r\nok\n"
lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("127.0.0.1", 0))
lsock.listen(1024)
lsock.setblocking(False)
print(lsock.getsockname()[1], flush=True)
sel = selectors.DefaultSelector()
sel.register(lsock, selectors.EVENT_READ, None)
sel.register(sys.stdin, selectors.EVENT_READ, "stdin")  # parent closes stdin: exit
bufs = {}
while True:
    for key, _ in sel.select(1.0):
        if key.data == "stdin":
            if not sys.stdin.readline():
                sys.exit(0)
        elif key.data is None:
            try:
                conn, _ = lsock.accept()
            except BlockingIOError:
                continue
            conn.setblocking(False)
            bufs[conn] = b""
            sel.register(conn, selectors.EVENT_READ, "conn")
        else:
            conn = key.fileobj
            try:
                data = conn.recv(4096)
            except OSError:
                data = b""
            if data:
                bufs[conn] += data
                if b"\r\n\r\n" not in bufs[conn]:
                    continue
                try:
                    conn.send(REPLY)
                except OSError:
                    pass
            sel.unregister(conn)
            bufs.pop(conn, None)
            conn.close()
"""


def _closed_loop_client(port: int, duration: float, out: multiprocessing.Queue) -> None:
    """Back-to-back requests, fresh connection each: what the server alone can take."""
    req = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    n = 0
    end = time.monotonic() + duration
    while time.monotonic() < end:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(req)
        while s.recv(4096):
            pass
        s.close()
        n += 1
    out.put(n)


def server_capacity(port: int, duration: float, clients: int) -> float:
    q: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_closed_loop_client, args=(port, duration, q)) for _ in range(clients)]
    for p in procs:
        p.start()
    total = sum(q.get(timeout=duration + 30) for _ in procs)
    for p in procs:
        p.join(10)
    return total / duration


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[max(0, min(len(s), math.ceil(p / 100 * len(s))) - 1)] if s else float("nan")


def run_probe(port: int, rate: float, duration: float, history_dir: Path) -> dict[str, float]:
    h = HistoryRecorder(history_dir / f"history-{rate:g}.jsonl")  # streamed to disk, as in a run
    probe = VipProbe(h, "127.0.0.1", port, rate_hz=rate, max_count=int(rate * duration) + 10,
                     max_duration_s=duration, timeout_s=1.0)
    t0 = time.monotonic()
    probe.start()
    probe.join(duration + 10)
    elapsed = time.monotonic() - t0
    h.close()
    lat = [o.extra["latency_ms"] for o in h.ops() if o.type != "invoke"]
    late = probe.jitter.late_ms
    return {
        "rate": rate, "sent": probe.sent, "per_s": probe.sent / elapsed, "skipped": probe.skipped,
        "ok": probe.counts["ok"], "not_ok": probe.counts["fail"] + probe.counts["info"],
        "late_p50": pct(late, 50), "late_p99": pct(late, 99), "late_max": max(late) if late else float("nan"),
        "lat_p50": pct(lat, 50), "lat_p99": pct(lat, 99),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per measured run (default 5)")
    ap.add_argument("--server-clients", type=int, default=2, help="processes measuring the server alone")
    args = ap.parse_args()

    srv = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert srv.stdout is not None
        port = int(srv.stdout.readline())
        print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; server pid {srv.pid} port {port}")
        cap = server_capacity(port, min(args.duration, 3.0), args.server_clients)
        print(f"server alone ({args.server_clients} closed-loop client processes): {cap:,.0f} req/s")
        with tempfile.TemporaryDirectory(prefix="bench-probes-") as tmp:
            print(f"{'target/s':>9} {'achieved/s':>10} {'sent':>6} {'skipped':>7} {'not ok':>6} "
                  f"{'late p50':>9} {'late p99':>9} {'late max':>9} {'lat p50':>8} {'lat p99':>8}  (ms)")
            for rate in (100.0, 200.0, 500.0, 100_000.0):
                r = run_probe(port, rate, args.duration, Path(tmp))
                label = "max" if rate >= 100_000 else f"{rate:g}"
                print(f"{label:>9} {r['per_s']:>10.1f} {r['sent']:>6} {r['skipped']:>7} {r['not_ok']:>6} "
                      f"{r['late_p50']:>9.3f} {r['late_p99']:>9.3f} {r['late_max']:>9.3f} "
                      f"{r['lat_p50']:>8.3f} {r['lat_p99']:>8.3f}")
        print("'max' = rate 100000/s: slots skipped whenever late, so achieved/s is what one process sustains.")
    finally:
        if srv.stdin:
            srv.stdin.close()
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
