"""Do this tree's checkers give exactly the results of another revision's? (refactoring aid)

Extracts ``harness/`` at ``--rev`` (default ``main``; the commit a branch started from is the
one to compare a refactoring with) with ``git archive`` into a temporary directory, imports
it under another package name, and runs both on ``--histories`` seeded
random histories: ledger writes completing ok/fail/info or never, keys in values, extras or
dict values, duplicate keys, final reads per node (ok, failed, malformed), VIP probes, state
samples (VRRP, VIP holders, database nodes), nemesis faults and heals (with and without
``fault_id``, failed ones, several nemesis workers) and latency samples (some non-numeric,
some times going back). Every checker runs with randomised parameters and its
``CheckResult.to_dict()`` is compared by ``repr`` (so key order and int/float/bool matter).
Prints the number of histories, checker calls and differences; exit status 1 on any.

    .venv/bin/python benchmarks/equiv_checkers.py [--rev REV] [--histories N] [--seed S]
"""

from __future__ import annotations

import argparse
import importlib
import io
import random
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import harness.checkers as new_checkers  # noqa: E402 - after the path insert above
import harness.checkers.phases as new_phases  # noqa: E402
from harness.history import Op  # noqa: E402

REF_PACKAGE = "equiv_ref_harness"
NODES = ("db1", "db2", "db3")
HOSTS = ("dir1", "dir2", "dir3")


def load_reference(rev: str, into: Path) -> tuple[Any, Any]:
    """``harness.checkers`` and ``harness.checkers.phases`` as they are at ``rev``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "harness"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "harness").rename(into / REF_PACKAGE)
    (into / REF_PACKAGE / "__init__.py").write_text("")
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{REF_PACKAGE}.checkers"), importlib.import_module(f"{REF_PACKAGE}.checkers.phases")


class Reiterable:
    """Iterable again and again but never indexable: what a streamed HistoryFile offers."""

    def __init__(self, ops: list[Op]) -> None:
        self._ops = ops

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops)


class _Gen:
    """One random history, built as a scheduler interleaving invocations and completions."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ops: list[Op] = []
        self.t = 0.0
        self.open: dict[str, Op] = {}
        self.keys: list[Any] = []
        self.post_keys: list[Any] = []
        self.fault_ids: list[str] = []
        self.outcome: dict[Any, str] = {}  # write key -> its completion type
        #: 0: a well-behaved run (mostly VALID verdicts) ... 1: malformed and chaotic
        self.noise = rng.choice((0.0, 0.0, 0.05, 0.2, 0.5, 1.0))
        self.tick = rng.choice((0.01, 0.1, 0.5, 2.0))  # mean seconds between ops

    def bad(self, p: float) -> bool:
        """True with probability ``p``, scaled by the history's noise."""
        return self.rng.random() < p * self.noise

    def emit(self, proc: str, typ: str, f: str, value: Any = None, **extra: Any) -> Op:
        r = self.rng
        self.t += r.choice((0.0, r.expovariate(1 / self.tick), r.expovariate(1 / self.tick), 30.0 * r.random()))
        if self.bad(0.01):
            self.t = max(0.0, self.t - r.random() * 5)  # a clock that goes back
        op = Op(len(self.ops), round(self.t, 6), proc, typ, f, value, extra)
        self.ops.append(op)
        return op

    def key(self, pool: list[Any]) -> Any:
        r = self.rng
        if pool and self.bad(0.05):
            return r.choice(pool)  # a duplicate key
        n = len(self.ops)
        k: Any = r.choice((f"k{n}", n, f"k{n}", str(n - r.randint(0, 3))))  # 5 and "5" sort as equals
        pool.append(k)
        return k

    def state_value(self) -> Any:
        r = self.rng
        if self.bad(0.03):
            return r.choice((None, "garbage", [1, 2]))
        if r.random() > self.noise:
            return {
                "vrrp": {"dir1": {"VI_WEB": "MASTER", "VI_DB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP", "VI_DB": "BACKUP"}},
                "vip_holders": {"web": ["dir1"], "db": ["dir1"]},
                "db": {n: {"wsrep_local_state_comment": "Synced", "wsrep_cluster_status": "Primary", "wsrep_ready": "ON", "wsrep_cluster_size": 3} for n in NODES},
                "unreachable": [],
            }
        v: dict[str, Any] = {}
        if r.random() < 0.9:
            vrrp: dict[str, Any] = {}
            for h in r.sample(HOSTS, r.randint(0, 3)):
                if self.bad(0.02):
                    vrrp[h] = "broken"
                else:
                    vrrp[h] = {i: r.choice(("MASTER", "BACKUP", "FAULT", "MASTER")) for i in r.sample(("VI_WEB", "VI_DB"), r.randint(0, 2))}
            v["vrrp"] = vrrp
        if r.random() < 0.9:
            holders: dict[str, Any] = {}
            for vip in r.sample(("web", "db"), r.randint(0, 2)):
                holders[vip] = "dir1" if self.bad(0.02) else [r.choice(HOSTS) for _ in range(r.choice((0, 1, 1, 1, 2)))]
            v["vip_holders"] = holders
        if r.random() < 0.8:
            db: dict[str, Any] = {}
            for n in r.sample(NODES, r.randint(0, 3)):
                d: dict[str, Any] = {}
                if r.random() < 0.9:
                    d["wsrep_local_state_comment"] = r.choice(("Synced", "Synced", "Donor/Desynced", "Joining"))
                if r.random() < 0.9:
                    d["wsrep_cluster_status"] = r.choice(("Primary", "Primary", "non-Primary"))
                if r.random() < 0.8:
                    d["wsrep_ready"] = r.choice(("ON", "ON", "OFF"))
                if r.random() < 0.9:
                    d["wsrep_cluster_size"] = r.choice((3, 3, "3", 2, 1, "x", None))
                db[n] = "down" if self.bad(0.02) else d
            v["db"] = db
        if r.random() < 0.3:
            v["unreachable"] = r.sample(HOSTS + NODES, r.randint(0, 2))
        return v

    def invoke(self, proc: str) -> None:
        r = self.rng
        if proc.startswith("ledger-read-") or proc.startswith("posts-read-"):
            value = {"node": proc.rsplit("-", 1)[1]} if r.random() < 0.7 else r.choice((None, {"node": r.choice(NODES)}, {}))
            self.open[proc] = self.emit(proc, "invoke", "count" if self.bad(0.05) else "read", value)
        elif proc.startswith("ledger-"):
            f = r.choice(("read", "noop")) if self.bad(0.07) else "write"
            value = None if self.bad(0.07) else self.key(self.keys)
            self.open[proc] = self.emit(proc, "invoke", f, value)
        elif proc.startswith("locust-"):
            if r.random() < 0.5:
                f, value, extra = "post", None, {}
                where = r.random()
                if where < 0.3:
                    extra["key"] = self.key(self.post_keys)
                elif where < 0.6:
                    value = {"key": self.key(self.post_keys), "forum": 1}
                self.open[proc] = self.emit(proc, "invoke", f, value, **extra)
            else:
                self.open[proc] = self.emit(proc, "invoke", r.choice(("get", "login")), None)
        elif proc.startswith("vip-probe"):
            self.open[proc] = self.emit(proc, "invoke", "get", {"vip": proc.rsplit("-", 1)[-1]})
        elif proc == "state":
            self.open[proc] = self.emit(proc, "invoke", "sample" if r.random() < 0.97 else "other", None)
        elif proc.startswith("nemesis"):
            if self.fault_ids and r.random() < 0.45:
                value: Any = {"fault_id": r.choice(self.fault_ids)} if r.random() < 0.8 else {}
                if self.bad(0.05):
                    value = None
                self.open[proc] = self.emit(proc, "invoke", "heal", value)
            else:
                fid = f"f{len(self.ops)}"
                if self.fault_ids and self.bad(0.1):
                    fid = r.choice(self.fault_ids)  # a reused id
                self.fault_ids.append(fid)
                value = r.choice((None, {}, "x")) if self.bad(0.1) else {"fault_id": fid, "targets": ["dir1"]}
                self.open[proc] = self.emit(proc, "invoke", r.choice(("kill-director", "partition", "kill-db")), value)
        else:
            self.open[proc] = self.emit(proc, "invoke", "op", None)

    def complete(self, proc: str) -> None:
        r = self.rng
        inv = self.open.pop(proc)
        typ = r.choices(("ok", "fail", "info"), (8, 0.2 + 1.5 * self.noise, 0.2 + self.noise))[0]
        extra: dict[str, Any] = {}
        value: Any = None
        if r.random() < 0.7:
            extra["latency_ms"] = r.choice((round(r.expovariate(1 / 50), 3), round(r.expovariate(1 / 500), 3), 5, "slow", None, True))
        if typ != "ok" and r.random() < 0.6:
            extra["error"] = r.choice(("timeout", "connect refused", "Deadlock"))
        if proc.startswith("ledger-read-") or proc.startswith("posts-read-"):
            pool = self.keys if proc.startswith("ledger-") else self.post_keys
            if typ == "ok":
                keep = {"ok": 1.0, "info": 0.5, "fail": 0.0}
                value = [k for k in pool if r.random() < keep.get(self.outcome.get(k, "info"), 0.5) * (1 - 0.15 * self.noise) or self.bad(0.1)]
                value += [r.choice(pool) for _ in range(r.choice((0, 0, 0, 1, 2)))] if pool and self.bad(1) else []
                if self.bad(0.1):
                    value.append(f"zz{r.randint(0, 3)}")
                r.shuffle(value)
                if self.bad(0.005):
                    value = "not a list"
            if r.random() < 0.5:
                extra["node"] = r.choice(NODES) if self.bad(0.1) else proc.rsplit("-", 1)[1]
        elif proc.startswith("ledger-"):
            if typ == "ok":
                value = self.key(self.keys) if self.bad(0.1) else inv.value
            if inv.f == "write":
                self.outcome[inv.value] = max(self.outcome.get(inv.value, "fail"), typ, key={"fail": 0, "info": 1, "ok": 2}.get)
        elif proc.startswith("locust-"):
            if inv.f == "post" and self.bad(0.3):
                extra["key"] = self.key(self.post_keys)
            if inv.f == "post":
                k = extra.get("key", inv.extra.get("key", inv.value.get("key") if isinstance(inv.value, dict) else None))
                self.outcome[k] = max(self.outcome.get(k, "fail"), typ, key={"fail": 0, "info": 1, "ok": 2}.get)
        elif proc == "state":
            value = self.state_value() if typ == "ok" else None
        elif proc.startswith("vip-probe"):
            value = 200 if typ == "ok" else r.choice((None, 503, "reset"))
        elif proc.startswith("nemesis"):
            value = inv.value
        self.emit(proc, typ, inv.f, value, **extra)


def random_history(rng: random.Random) -> list[Op]:
    procs = ["vip-probe-web", "vip-probe-db", "state", "nemesis"]
    procs += [f"ledger-{i}" for i in range(rng.randint(0, 4))]
    procs += [f"locust-{i}" for i in range(rng.randint(0, 3))]
    if rng.random() < 0.3:
        procs.append("nemesis-1")
    if rng.random() < 0.2:
        procs.append("other")
    weights = [rng.choice((0, 1, 3, 10)) for _ in procs]
    if not any(weights):
        weights[0] = 1
    g = _Gen(rng)
    for _ in range(rng.choice((5, 40, 150, 400, 1500))):
        proc = rng.choices(procs, weights)[0]
        if proc in g.open:
            if rng.random() < 0.985:
                g.complete(proc)
            else:
                g.invoke(proc) if not proc.startswith("ledger-") else g.open.pop(proc)  # lost completion
        else:
            g.invoke(proc)
    if rng.random() < 0.8:
        for node in rng.sample(NODES, rng.randint(0, 3)):
            for prefix in ("ledger-read-", "posts-read-"):
                proc = prefix + node
                for _ in range(rng.choice((1, 1, 2))):
                    g.invoke(proc)
                    if rng.random() < 0.97:
                        g.complete(proc)
    if rng.random() < 0.1:
        # a completion whose invocation was never seen
        g.emit("ledger-0", "ok", "write", "orphan")
    return g.ops


def calls(rng: random.Random, ck: Any, ph: Any) -> list[tuple[str, Callable[[list[Op] | Reiterable], Any]]]:
    """The same randomised checker calls for one implementation ``ck`` (and its ``phases``)."""
    ex = rng.choice((0, 1, 3, 10))
    within = rng.choice((0.0, 0.5, 2.0, 10.0, 60.0, 300.0, 1e4))
    bounds_choice = rng.choice(
        ({}, {"steady": {"p95": 100, "p99": None}, "fault": {"p99": 500}}, {"recovery": {"p50": 10.0, "p99.9": 900}})
    )
    rec_s = rng.choice((0.0, 1.0, 5.0, 60.0))
    cfg = ck.CheckConfig(
        max_outage_s=rng.choice((None, 0.5, 5.0)),
        min_availability_percent=rng.choice((None, 90.0, 99.9)),
        latency_bounds=bounds_choice,
        recovery_s=rec_s,
        recovery_within_s=within,
        split_brain_settle_s=rng.choice((0.0, 3.0)),
        allow_split_brain_during_faults=rng.random() < 0.7,
        posts_read_prefix=rng.choice((None, "posts-read-")),
    )
    steady_kind = rng.choice(("vrrp", "none"))

    def custom_steady(state: dict) -> bool:
        if steady_kind == "none":
            return True
        vrrp = state.get("vrrp")
        return isinstance(vrrp, dict) and len(vrrp) > 0

    def phases(ops: Any) -> Any:
        p = ph.Phases.from_ops(ops, rec_s)
        at = p.classifier()
        times = [op.time for op in ops][:: max(1, len([0 for _ in ops]) // 50)]
        return (p.segments, [p.phase_at(t) for t in times], [at(t) for t in times])

    return [
        ("run_all", lambda ops: [r.to_dict() for r in ck.run_all(ops, cfg)]),
        ("ledger", lambda ops: ck.ledger(ops, max_examples=ex).to_dict()),
        (
            "posts",
            lambda ops: ck.ledger(ops, write_prefix="locust-", write_f="post", key_field="key", read_prefix="posts-read-", name="posts", max_examples=ex).to_dict(),
        ),
        ("ledger-key-extra", lambda ops: ck.ledger(ops, key_field="node", max_examples=ex).to_dict()),
        ("recovery", lambda ops: ck.recovery(ops, within, max_examples=ex).to_dict()),
        ("recovery-steady", lambda ops: ck.recovery(ops, within, custom_steady, require_probes=rng.random() < 0.5).to_dict()),
        ("recovery-noprobes", lambda ops: ck.recovery(ops, within, require_probes=False, probe_prefix="vip-probe-web").to_dict()),
        ("availability", lambda ops: ck.availability(ops, "vip-probe", 1.0, 95.0, max_examples=ex).to_dict()),
        ("availability-web", lambda ops: ck.availability(ops, "vip-probe-web").to_dict()),
        ("latency", lambda ops: ck.latency(ops, bounds_choice, rec_s).to_dict()),
        ("latency-sel", lambda ops: ck.latency(ops, {"fault": {"p95": 50}}, rec_s, process_prefix="vip", request_types=["get"], percentiles=(90, 99.9)).to_dict()),
        ("split_brain", lambda ops: ck.split_brain(ops, allow_during_faults=rng.random() < 0.5, settle_s=rng.choice((0.0, 1.0, 3.0)), max_examples=ex).to_dict()),
        ("fault_windows", lambda ops: [w.to_dict() | {"start_pos": w.start_pos, "end_pos": w.end_pos} for w in ph.fault_windows(ops)]),
        ("phases", phases),
    ]


def run_one(seed: int, ref: tuple[Any, Any]) -> tuple[int, list[str]]:
    ops = random_history(random.Random(seed))
    wrap = random.Random(seed).random() < 0.5
    diffs: list[str] = []
    n = 0
    new_calls = calls(random.Random(seed * 7 + 1), new_checkers, new_phases)
    ref_calls = calls(random.Random(seed * 7 + 1), *ref)
    for (name, new), (_, old) in zip(new_calls, ref_calls, strict=True):
        n += 1
        results = []
        for run in (old, new):
            try:
                results.append(repr(run(Reiterable(ops) if wrap else ops)))
            except Exception as exc:  # noqa: BLE001 - an exception is a result to compare too
                results.append(f"raised {type(exc).__name__}: {exc}")
        if results[0] != results[1]:
            diffs.append(f"seed {seed} {name} ({len(ops)} ops):\n  ref: {results[0][:2000]}\n  new: {results[1][:2000]}")
    return n, diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="main", help="the revision to compare with (default main)")
    ap.add_argument("--histories", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--show", type=int, default=3, help="differences to print")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="equiv-checkers-") as tmp:
        ref = load_reference(args.rev, Path(tmp))
        total = 0
        diffs: list[str] = []
        for seed in range(args.seed, args.seed + args.histories):
            n, d = run_one(seed, ref)
            total += n
            diffs += d
    for d in diffs[: args.show]:
        print(d)
    print(f"{args.histories} histories, {total} checker calls, {len(diffs)} differences (against {args.rev})")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
