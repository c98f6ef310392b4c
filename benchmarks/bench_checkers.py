"""How fast the checkers are on a long history (figures only: no assertion on time).

Generates a seeded history of ``--ops`` operations shaped like a soak run: a VIP probe at
100/s, four ledger writers, a state sampler at 1/s, a handful of nemesis faults (director
kills with a VIP outage, a partition with a split brain, a database kill), then the final
ledger reads on three nodes. Writes it as history.jsonl in a temporary directory, then
prints the time to load it and the time each checker takes.

    .venv/bin/python benchmarks/bench_checkers.py [--ops N] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.checkers import availability, latency, ledger, recovery, split_brain  # noqa: E402
from harness.history import load_history  # noqa: E402

PROBE_HZ = 100
WRITERS = 4
WRITE_HZ = 10  # per writer
DB_NODES = ("db1", "db2", "db3")


def _state(t: float, faults: list[tuple[float, float, str]]) -> dict:
    active = [kind for start, end, kind in faults if start <= t < end + 1.0]
    masters = {"dir1": "MASTER", "dir2": "BACKUP"}
    holders = ["dir1"]
    db_ok = True
    unreachable: list[str] = []
    if "kill-director" in active:
        masters, holders, unreachable = {"dir2": "MASTER"}, ["dir2"], ["dir1"]
    if "partition" in active:
        masters, holders = {"dir1": "MASTER", "dir2": "MASTER"}, ["dir1", "dir2"]
    if "kill-db" in active:
        db_ok = False
    vrrp = {h: {"VI_WEB": s, "VI_DB": s} for h, s in masters.items()}
    db = {}
    for n in DB_NODES:
        if not db_ok and n == "db3":
            continue
        db[n] = {
            "wsrep_cluster_size": 3 if db_ok else 2,
            "wsrep_cluster_status": "Primary",
            "wsrep_local_state_comment": "Synced",
            "wsrep_ready": "ON",
        }
    if not db_ok:
        unreachable.append("db3")
    return {"vrrp": vrrp, "vip_holders": {"web": holders, "db": holders[:1]}, "db": db, "unreachable": unreachable}


def generate(n_ops: int, seed: int) -> list[dict]:
    """Roughly ``n_ops`` ops in time order (dicts as written to history.jsonl)."""
    rng = random.Random(seed)
    per_s = 2 * PROBE_HZ + 2 * WRITERS * WRITE_HZ + 2  # ops per second of run
    duration = max(60.0, (n_ops - 3 * 2) / per_s)
    # five faults spread over the run; director kills and partition make VIP outages
    kinds = ["kill-director", "partition", "kill-db", "kill-director", "partition"]
    faults = []
    for k, kind in enumerate(kinds):
        start = duration * (k + 1) / (len(kinds) + 1)
        faults.append((start, start + 20.0, kind))
    outages = [(s + 0.05, s + 3.5) for s, _, kind in faults if kind == "kill-director"]
    rows: list[tuple] = []  # (time, seq, dict)
    seq = 0

    def add(t: float, d: dict) -> None:
        nonlocal seq
        rows.append((t, seq, d))
        seq += 1

    # VIP probe: one attempt at a time, as the recorder writes it (a completion after the next
    # invoke would be an orphan, and the checkers would rightly answer UNKNOWN)
    step = 1.0 / PROBE_HZ
    k = 0
    t = 0.0
    while t < duration:
        lat = rng.expovariate(1 / 4.0) + 1.0
        down = any(a <= t < b for a, b in outages)
        add(t, {"process": "vip-probe", "type": "invoke", "f": "get", "value": {"vip": "web"}})
        if down:
            add(t + 0.009, {"process": "vip-probe", "type": "fail", "f": "get", "value": None, "error": "connect timeout", "latency_ms": 9.0})
        else:
            add(t + min(lat / 1000.0 * 0.2, 0.9 * step), {"process": "vip-probe", "type": "ok", "f": "get", "value": 200, "node": f"web{k % 2 + 1}", "latency_ms": round(lat, 3)})
        k += 1
        t = k * step
    # ledger writers
    acked: list[str] = []
    info: list[str] = []
    wstep = 1.0 / WRITE_HZ
    for w in range(WRITERS):
        proc = f"ledger-{w}"
        j = 0
        t = w * 0.013
        while t < duration:
            key = f"{w}-{j}"
            add(t, {"process": proc, "type": "invoke", "f": "write", "value": key})
            r = rng.random()
            lat = rng.expovariate(1 / 8.0) + 2.0
            if r < 0.002:
                add(t + 0.05, {"process": proc, "type": "info", "f": "write", "value": None, "error": "timeout"})
                info.append(key)
            elif r < 0.004:
                add(t + 0.001, {"process": proc, "type": "fail", "f": "write", "value": None, "error": "Deadlock"})
            else:
                add(t + min(lat / 1000.0 * 0.5, 0.9 * wstep), {"process": proc, "type": "ok", "f": "write", "value": key, "latency_ms": round(lat, 3)})
                acked.append(key)
            j += 1
            t = w * 0.013 + j * wstep
    # state sampler
    t = 0.5
    while t < duration:
        add(t, {"process": "state", "type": "invoke", "f": "sample", "value": None})
        add(t + 0.02, {"process": "state", "type": "ok", "f": "sample", "value": _state(t, faults)})
        t += 1.0
    # nemesis
    for k, (start, end, kind) in enumerate(faults):
        fid = f"f{k}"
        add(start, {"process": "nemesis", "type": "invoke", "f": kind, "value": {"fault_id": fid, "targets": ["dir1"]}})
        add(start + 0.02, {"process": "nemesis", "type": "ok", "f": kind, "value": {"fault_id": fid}})
        add(end, {"process": "nemesis", "type": "invoke", "f": "heal", "value": {"fault_id": fid, "fault": kind}})
        add(end + 0.3, {"process": "nemesis", "type": "ok", "f": "heal", "value": {"fault_id": fid}})
    # final reads: every acknowledged write, half of the indeterminate ones
    found = acked + info[::2]
    for i, node in enumerate(DB_NODES):
        t = duration + 1.0 + i
        add(t, {"process": f"ledger-read-{node}", "type": "invoke", "f": "read", "value": {"node": node}})
        add(t + 0.5, {"process": f"ledger-read-{node}", "type": "ok", "f": "read", "value": found, "node": node})
    rows.sort(key=lambda r: (r[0], r[1]))
    out = []
    for i, (t, _, d) in enumerate(rows):
        d = {"index": i, "time": round(t, 6), **d}
        out.append(d)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=1_000_000, help="approximate number of operations (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", metavar="DIR", help="write history.jsonl here and keep it")
    args = ap.parse_args(argv)
    if args.ops < 1000:
        ap.error("--ops: at least 1000")

    t0 = time.perf_counter()
    rows = generate(args.ops, args.seed)
    t_gen = time.perf_counter() - t0
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-checkers-"))
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "history.jsonl"
    try:
        t0 = time.perf_counter()
        with open(path, "w", encoding="utf-8") as fh:
            for d in rows:
                fh.write(json.dumps(d) + "\n")
        t_write = time.perf_counter() - t0
        del rows
        size_mb = path.stat().st_size / 1e6

        t0 = time.perf_counter()
        ops = load_history(path)
        t_load = time.perf_counter() - t0
        print(f"history: {len(ops):,} ops, {size_mb:.1f} MB (generate {t_gen:.2f} s, write {t_write:.2f} s)")
        print(f"load_history: {t_load:.3f} s")

        bounds = {"steady": {"p95": 300, "p99": 800}, "fault": {"p95": 2000, "p99": 5000}, "recovery": {"p95": 800, "p99": 2000}}
        checks = [
            ("availability", lambda: availability(ops, max_outage_s=5.0, min_availability_percent=99.0)),
            ("ledger", lambda: ledger(ops)),
            ("latency", lambda: latency(ops, bounds, recovery_s=30.0)),
            ("split_brain", lambda: split_brain(ops)),
            ("recovery", lambda: recovery(ops, within_s=30.0)),
        ]
        total = 0.0
        for name, run in checks:
            t0 = time.perf_counter()
            result = run()
            dt = time.perf_counter() - t0
            total += dt
            print(f"  {name:<13} {dt:7.3f} s  {result.valid.value:<8} {result.message[:90]}")
        print(f"all checkers: {total:.3f} s (goal <= 5 s for 1,000,000 ops)")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
