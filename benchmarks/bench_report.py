"""How fast and how big the HTML report is for a 24-hour soak (figures only, no assertion).

Streams to disk a seeded history of ``--hours`` hours with a VIP probe at ``--hz`` per second
(default 24 h at 100/s: 8.64 million probe results, 17.3 million lines), two ledger writers at
1/s, and a fault every 20 minutes cycling through kinds: director kills (3.5 s VIP outage),
web node kills (0.3 s), partitions (none), database kills (none). It also sprinkles isolated
single-probe failures (10 ms outages, far narrower than a pixel of a 24-hour axis). Then it
builds the report and prints the build time, the file size, and whether every generated
outage is in the report (the model's outage count and the outage table / marks).

    .venv/bin/python benchmarks/bench_report.py [--hours H] [--hz N] [--seed S] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.report import build_report, load_run  # noqa: E402

KINDS = ("kill-director", "kill-web", "partition", "kill-db")
OUTAGE_S = {"kill-director": 3.5, "kill-web": 0.3, "partition": 0.0, "kill-db": 0.0}
FAULT_EVERY_S = 1200.0
FAULT_LEN_S = 60.0


def _faults(duration: float) -> list[tuple[float, float, str, str]]:
    out = []
    k = 0
    t = 300.0
    while t + FAULT_LEN_S < duration:
        out.append((t, t + FAULT_LEN_S, KINDS[k % len(KINDS)], f"f{k}"))
        k += 1
        t += FAULT_EVERY_S
    return out


def generate(path: Path, hours: float, hz: int, seed: int) -> dict[str, int]:
    """Write the history; returns what was generated (lines, outages)."""
    rng = random.Random(seed)
    duration = hours * 3600.0
    faults = _faults(duration)
    outages = [(s + 0.05, s + 0.05 + OUTAGE_S[kind]) for s, _, kind, _ in faults if OUTAGE_S[kind] > 0]
    # isolated single-probe failures, away from fault outages
    n_probes = int(duration * hz)
    blips = sorted({rng.randrange(n_probes) for _ in range(60)})
    blip_set = set(blips)
    step = 1.0 / hz
    idx = 0
    lines = 0
    nem: list[tuple[float, dict]] = []
    for s, e, kind, fid in faults:
        target = {"kill-director": "dir1", "kill-web": "web1", "partition": "db3", "kill-db": "db2"}[kind]
        nem.append((s, {"process": "nemesis", "type": "invoke", "f": kind, "value": {"fault_id": fid, "targets": [target]}}))
        nem.append((s + 0.02, {"process": "nemesis", "type": "ok", "f": kind, "value": {"fault_id": fid}}))
        nem.append((e, {"process": "nemesis", "type": "invoke", "f": "heal", "value": {"fault_id": fid, "fault": kind}}))
        nem.append((e + 0.3, {"process": "nemesis", "type": "ok", "f": "heal", "value": {"fault_id": fid}}))
    ni = 0
    oi = 0
    next_write = 0.5
    wk = 0
    inv = '{"index": %d, "time": %.6f, "process": "vip-probe-web", "type": "invoke", "f": "get", "value": {"vip": "web"}}\n'
    ok = '{"index": %d, "time": %.6f, "process": "vip-probe-web", "type": "ok", "f": "get", "value": 200, "node": "web%d", "latency_ms": %.3f}\n'
    fail = '{"index": %d, "time": %.6f, "process": "vip-probe-web", "type": "fail", "f": "get", "value": null, "latency_ms": 9.0, "error": "connect timeout"}\n'
    winv = '{"index": %d, "time": %.6f, "process": "ledger-%d", "type": "invoke", "f": "write", "value": "%d-%d"}\n'
    wok = '{"index": %d, "time": %.6f, "process": "ledger-%d", "type": "ok", "f": "write", "value": "%d-%d", "latency_ms": %.3f}\n'
    expo = rng.expovariate
    buf: list[str] = []
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as fh:
        for k in range(n_probes):
            t = k * step
            while ni < len(nem) and nem[ni][0] <= t:
                tt, d = nem[ni]
                buf.append(json.dumps({"index": idx, "time": round(tt, 6), **d}) + "\n")
                idx += 1
                ni += 1
            while t >= next_write:
                for w in (0, 1):
                    buf.append(winv % (idx, next_write + w * 0.01, w, w, wk))
                    buf.append(wok % (idx + 1, next_write + w * 0.01 + 0.004, w, w, wk, 3.0 + expo(0.5)))
                    idx += 2
                wk += 1
                next_write += 1.0
            while oi < len(outages) and outages[oi][1] <= t:
                oi += 1
            down = (oi < len(outages) and outages[oi][0] <= t < outages[oi][1]) or k in blip_set
            buf.append(inv % (idx, t))
            if down:
                buf.append(fail % (idx + 1, t + 0.009))
            else:
                buf.append(ok % (idx + 1, t + 0.002, k % 2 + 1, 1.0 + expo(0.25)))
            idx += 2
            if len(buf) > 20000:
                fh.writelines(buf)
                buf.clear()
        while ni < len(nem):
            tt, d = nem[ni]
            buf.append(json.dumps({"index": idx, "time": round(tt, 6), **d}) + "\n")
            idx += 1
            ni += 1
        fh.writelines(buf)
        lines = idx
    # a blip inside a fault outage merges with it; count distinct outages as the checker would
    windows = sorted([(a, b) for a, b in outages] + [(k * step, k * step + step) for k in blips])
    merged = 0
    last_end = -1.0
    for a, b in windows:
        if a > last_end + step * 1.5:
            merged += 1
        last_end = max(last_end, b)
    return {"lines": lines, "outages": merged, "probes": n_probes, "faults": len(faults)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--hz", type=int, default=100, help="VIP probes per second (default 100)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", metavar="DIR", help="write the run directory here and keep it")
    args = ap.parse_args(argv)
    if args.hours <= 0 or args.hz <= 0:
        ap.error("--hours and --hz must be > 0")
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-report-"))
    test_dir = root / "soak-test_soak-test_24h"
    test_dir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        gen = generate(test_dir / "history.jsonl", args.hours, args.hz, args.seed)
        size = (test_dir / "history.jsonl").stat().st_size
        print(
            f"history: {gen['lines']:,} lines, {size / 1e9:.2f} GB, {gen['probes']:,} probe results, "
            f"{gen['faults']} faults, {gen['outages']} outages generated ({time.perf_counter() - t0:.1f} s to write)"
        )
        (test_dir / "result.json").write_text(
            json.dumps(
                {
                    "test": "tests/soak/test_soak.py::test_24h", "slug": test_dir.name, "title": f"{args.hours:g}-hour soak",
                    "outcome": "passed", "tier": "director", "fault_kind": "mixed", "started": 0.0, "duration_s": args.hours * 3600,
                    "checks": [{"checker": "ledger", "valid": "valid", "counts": {"attempted": 1, "acknowledged": 1, "lost": 0, "recovered": 0}, "examples": {}, "message": "bench"}],
                    "slo": [], "error": None,
                }
            ),
            encoding="utf-8",
        )
        (root / "run.json").write_text(json.dumps({"run_id": "bench-24h", "seed": args.seed, "harness_version": "bench", "tests": []}), encoding="utf-8")
        t0 = time.perf_counter()
        out = build_report(root)
        dt = time.perf_counter() - t0
        html = out.read_text(encoding="utf-8")
        rows = len(re.findall(r"<tr><td class='num'>[^<]*</td><td class='num'>[^<]*</td><td class='num'><b>", html))
        marks = html.count('class="outage-mark"')
        print(f"build_report: {dt:.1f} s (goal <= 30 s), {out.stat().st_size / 1e6:.2f} MB (goal <= 5 MB)")
        t0 = time.perf_counter()
        model = load_run(root)
        tl = model.tests[0].timeline
        assert tl is not None
        print(
            f"  model: {len(tl.outages)} outages (generated {gen['outages']}), {len(tl.faults)} fault windows, "
            f"bin {tl.bin_s:g} s x {tl.nbins}; outage table rows {rows}, outage marks {marks}"
        )
        print(f"  load_run alone: {time.perf_counter() - t0:.1f} s; shortest outage {min((o.duration_s for o in tl.outages), default=0):.3f} s")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
