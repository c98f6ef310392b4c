"""A small, realistic run directory for previews and the browser test.

``python -m harness.report._demo DIR`` writes DIR/run.json and two test directories (a
director crash with a 3.5 s VIP outage and a lost write; a database partition with a few
indeterminate probes and no outage), then builds DIR/availability.html. Deterministic (a
seeded generator), so screenshots are comparable from run to run.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from ..checkers import CheckConfig, run_all
from ..history import Op, write_history
from . import build_report

CLUSTER = {
    "name": "lab",
    "source": "/var/lib/harness-lab/default/cluster.yml",
    "hosts": {
        "dir1": {"address": "198.18.0.11", "roles": ["director"]},
        "dir2": {"address": "198.18.0.12", "roles": ["director"]},
        "web1": {"address": "198.18.0.21", "roles": ["web"]},
        "web2": {"address": "198.18.0.22", "roles": ["web"]},
        "db1": {"address": "198.18.0.31", "roles": ["db"]},
        "db2": {"address": "198.18.0.32", "roles": ["db"]},
        "db3": {"address": "198.18.0.33", "roles": ["db"]},
        "garb": {"address": "198.18.0.39", "roles": ["mgm"]},
    },
    "vips": {"web": "198.18.0.100:80", "db": "198.18.0.101:3306"},
}


class _Builder:
    def __init__(self) -> None:
        self.rows: list[tuple[float, int, dict[str, Any]]] = []
        self.seq = 0

    def add(self, t: float, process: str, typ: str, f: str, value: Any = None, **extra: Any) -> None:
        self.rows.append((t, self.seq, {"time": round(t, 6), "process": process, "type": typ, "f": f, "value": value, **extra}))
        self.seq += 1

    def op(self, t: float, dt: float, process: str, typ: str, f: str, inv: Any, value: Any = None, **extra: Any) -> None:
        self.add(t, process, "invoke", f, inv)
        self.add(t + dt, process, typ, f, value, **extra)

    def ops(self) -> list[Op]:
        self.rows.sort(key=lambda r: (r[0], r[1]))
        return [Op.from_dict({"index": i, **d}) for i, (_, _, d) in enumerate(self.rows)]


def director_crash(seed: int = 7) -> list[Op]:
    """VIP probe 20/s for 40 s; dir1 killed at 10 s, VIP dark 10.02-13.6 s, healed at 25 s;
    one ledger writer 5/s; db2's final read misses one acknowledged write."""
    rng = random.Random(seed)
    b = _Builder()
    t = 0.0
    while t < 40.0:
        if 10.02 <= t < 13.6:
            b.op(t, 0.05, "vip-probe-web", "fail", "get", {"vip": "web"}, None, latency_ms=50.0,
                 error="connect timeout to 198.18.0.100:80 (Cookie: MoodleSession=3f9a1c0ffee; password=hunter2)")
        else:
            slow = 4.0 if 13.6 <= t < 18 else 1.0
            lat = (rng.lognormvariate(1.0, 0.35)) * slow
            b.op(t, lat / 1000, "vip-probe-web", "ok", "get", {"vip": "web"}, 200, node="web1" if int(t * 20) % 2 else "web2", latency_ms=round(lat, 3))
        t = round(t + 0.05, 6)
    acked = []
    t, k = 0.013, 0
    while t < 40.0:
        key = f"w-{k}"
        if 10.0 <= t < 12.5:
            typ = "info" if k % 3 == 0 else "fail"
            b.op(t, 0.18, "ledger-0", typ, "write", key, None, error="Lost connection to MySQL server during query" if typ == "info" else "WSREP has not yet prepared node for application use")
            if typ == "info" and k % 2 == 0:
                acked.append(key)  # an indeterminate write that did land: recovered
        else:
            lat = rng.lognormvariate(1.7, 0.3)
            b.op(t, lat / 1000, "ledger-0", "ok", "write", key, key, latency_ms=round(lat, 3))
            acked.append(key)
        k += 1
        t = round(t + 0.2, 6)
    for t in (0.5 + s for s in range(40)):
        holder = "dir2" if 10.3 <= t < 25.4 else "dir1"
        b.op(t, 0.02, "state", "ok", "sample", None, {"vip_holders": {"web": [holder]}})
    b.op(10.0, 0.03, "nemesis", "ok", "kill-director", {"fault_id": "f1", "targets": ["dir1"], "signal": "KILL"}, {"fault_id": "f1"})
    b.op(25.0, 0.4, "nemesis", "ok", "heal", {"fault_id": "f1", "fault": "kill-director"}, {"fault_id": "f1"})
    lost = acked[120]
    for i, node in enumerate(("db1", "db2", "db3")):
        keys = [x for x in acked if not (node == "db2" and x == lost)]
        b.op(41.0 + i * 0.3, 0.2, f"ledger-read-{node}", "ok", "read", {"node": node}, keys, node=node)
    return b.ops()


def db_partition(seed: int = 8) -> list[Op]:
    """db3 cut off 8-20 s: the VIP stays up, a few probes are indeterminate (slow, timed out)."""
    rng = random.Random(seed)
    b = _Builder()
    t = 0.0
    while t < 32.0:
        lat = rng.lognormvariate(1.1, 0.4) * (6 if 8 <= t < 9.5 else 1)
        if 8.3 <= t < 8.6:
            b.op(t, 0.5, "vip-probe-web", "info", "get", {"vip": "web"}, None, error="read timeout after 500 ms")
        else:
            b.op(t, lat / 1000, "vip-probe-web", "ok", "get", {"vip": "web"}, 200, latency_ms=round(lat, 3))
        t = round(t + 0.05, 6)
    keys = []
    t, k = 0.02, 0
    while t < 32.0:
        key = f"p-{k}"
        lat = rng.lognormvariate(1.8, 0.3) * (8 if 8 <= t < 11 else 1)
        b.op(t, lat / 1000, "ledger-0", "ok", "write", key, key, latency_ms=round(lat, 3))
        keys.append(key)
        k += 1
        t = round(t + 0.25, 6)
    b.op(8.0, 0.05, "nemesis", "ok", "partition", {"fault_id": "f1", "targets": ["db3"], "from": ["db1", "db2"]}, {"fault_id": "f1"})
    b.op(20.0, 0.3, "nemesis", "ok", "heal", {"fault_id": "f1", "fault": "partition"}, {"fault_id": "f1"})
    for i, node in enumerate(("db1", "db2", "db3")):
        b.op(33.0 + i * 0.3, 0.2, f"ledger-read-{node}", "ok", "read", {"node": node}, keys, node=node)
    return b.ops()


def _result(test: str, slug: str, title: str, tier: str, kind: str, ops: list[Op], phases: list[dict], slo_extra: list[dict]) -> dict:
    checks = [r.to_dict() for r in run_all(ops, CheckConfig(max_outage_s=4.7, min_availability_percent=95.0, recovery_s=10.0, recovery_within_s=10.0,
                                                             latency_bounds={"steady": {"p95": 300, "p99": 800}, "fault": {"p95": 2000}}))]
    av = next(c for c in checks if c["checker"] == "availability")["counts"]
    led = next(c for c in checks if c["checker"] == "ledger")
    slo = [
        {"name": "longest VIP outage", "measured": av.get("longest_outage_s", 0.0), "bound": 4.7, "unit": "s",
         "verdict": "valid" if av.get("longest_outage_s", 0.0) <= 4.7 else "invalid"},
        {"name": "VIP availability", "measured": av.get("availability_percent"), "bound": 95.0, "unit": "%",
         "verdict": "valid" if av.get("availability_percent", 0) >= 95.0 else "invalid"},
        {"name": "lost writes", "measured": led["counts"].get("lost"), "bound": 0, "unit": "",
         "verdict": "valid" if not led["counts"].get("lost") else "invalid"},
        *slo_extra,
    ]
    failed = any(s["verdict"] == "invalid" for s in slo)
    return {
        "test": test, "slug": slug, "title": title, "outcome": "failed" if failed else "passed", "tier": tier, "fault_kind": kind,
        "started": 0.0, "duration_s": round(ops[-1].time, 3), "phases": phases, "checks": checks, "slo": slo,
        "error": (f"AssertionError: {led['message']}\n(db2 dump taken with mysqldump -uharness -pS3cretPass)" if failed else None),
    }


def write_demo_run(root: str | Path) -> Path:
    """Write the demo run directory under ``root``; returns it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tests = []
    specs = [
        ("tests/availability/test_directors.py::test_master_director_crash", "availability-test_directors-test_master_director_crash",
         "MASTER director crash (keepalived + balancer killed)", "director", "director-failure", director_crash(),
         [{"name": "steady", "start": 0.0, "end": 10.0}, {"name": "inject", "start": 10.0, "end": 10.03},
          {"name": "observe", "start": 10.03, "end": 25.0}, {"name": "heal", "start": 25.0, "end": 25.4}, {"name": "recover", "start": 25.4, "end": 40.0}],
         [{"name": "fault p95 latency", "measured": 212.0, "bound": 2000, "unit": "ms", "verdict": "valid"}]),
        ("tests/reliability/test_database.py::test_partition_one_db_node", "reliability-test_database-test_partition_one_db_node",
         "Database node partitioned from its peers", "db", "network-partition", db_partition(),
         [{"name": "steady", "start": 0.0, "end": 8.0}, {"name": "inject", "start": 8.0, "end": 8.05},
          {"name": "observe", "start": 8.05, "end": 20.0}, {"name": "heal", "start": 20.0, "end": 20.3}, {"name": "recover", "start": 20.3, "end": 32.0}],
         [{"name": "fault p95 latency", "measured": 61.0, "bound": 2000, "unit": "ms", "verdict": "valid"}]),
    ]
    for test, slug, title, tier, kind, ops, phases, extra in specs:
        d = root / slug
        d.mkdir(exist_ok=True)
        write_history(ops, d / "history.jsonl")
        (d / "result.json").write_text(json.dumps(_result(test, slug, title, tier, kind, ops, phases, extra), indent=1), encoding="utf-8")
        tests.append(test)
    run = {
        "run_id": "20261125T031500Z-4f2a", "started": "2026-11-25T03:15:00Z", "finished": "2026-11-25T03:16:21Z",
        "seed": 1234, "harness_version": "0.1.0", "markers": "failover", "cluster": CLUSTER, "tests": tests,
    }
    (root / "run.json").write_text(json.dumps(run, indent=1), encoding="utf-8")
    return root


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m harness.report._demo DIR", file=sys.stderr)
        return 2
    print(build_report(write_demo_run(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
