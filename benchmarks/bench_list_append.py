"""How fast the list-append checker is on a million transactions (figures only: no assertion).

Generates a seeded history shaped like the list-append workload: ``--procs`` processes with
one transaction open each, 1-4 micro-ops on a rotating pool of keys (a key retires after 32
appends), some ``fail`` (no effect) and ``info`` (effect or not, at random). Transactions take
effect atomically at their completion, in completion order, so the history is serializable
and the checker must say VALID. Prints the generation and check seconds and the peak RSS.

    .venv/bin/python benchmarks/bench_list_append.py [--txns N] [--seed S] [--model M] [--stale P]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.checkers.list_append import check_list_append  # noqa: E402
from harness.history import Op  # noqa: E402

MAX_APPENDS = 32


def generate(n: int, seed: int, procs: int = 10, pool: int = 8, fail: float = 0.02, info: float = 0.01,
             stale: float = 0.0) -> list[Op]:
    """``n`` transactions by ``procs`` processes, serializable by construction unless ``stale``
    > 0: that share of reads then misses the key's last element (anomalies to find)."""
    rng = random.Random(seed)
    state: dict[int, list[int]] = {}
    active = list(range(pool))
    next_key = pool
    pending: dict[int, tuple[list[list[Any]], int]] = {}
    ops: list[Op] = []
    made = 0

    def key_to_use() -> int:
        nonlocal next_key
        i = rng.randrange(len(active))
        k = active[i]
        if counters.get(k, 0) >= MAX_APPENDS:  # retire it, bring in a fresh one
            active[i] = k = next_key
            next_key += 1
        return k

    def complete(p: int) -> None:
        mops, _ = pending.pop(p)
        roll = rng.random()
        process = f"txn-{p}"
        if roll < fail:
            ops.append(Op(len(ops), len(ops) * 0.001, process, "fail", "txn", mops))
            return
        effect = roll >= fail + info or rng.random() < 0.5
        done: list[list[Any]] = []
        for f, k, v in mops:
            lst = state.setdefault(k, [])
            if f == "append":
                if effect:
                    lst.append(v)
                done.append([f, k, v])
            else:
                seen = lst[:-1] if stale and lst and rng.random() < stale else list(lst)
                done.append([f, k, seen])
        if roll < fail + info:
            ops.append(Op(len(ops), len(ops) * 0.001, process, "info", "txn", mops))
        else:
            ops.append(Op(len(ops), len(ops) * 0.001, process, "ok", "txn", done))

    counters: dict[int, int] = {}
    while made < n or pending:
        p = rng.randrange(procs)
        if p in pending:
            complete(p)
            continue
        if made >= n:
            for q in list(pending):
                complete(q)
            break
        mops: list[list[Any]] = []
        for _ in range(rng.randint(1, 4)):
            k = key_to_use()
            if rng.random() < 0.5:
                c = counters.get(k, 0) + 1
                counters[k] = c
                mops.append(["append", k, c])
            else:
                mops.append(["r", k, None])
        pending[p] = (mops, len(ops))
        ops.append(Op(len(ops), len(ops) * 0.001, f"txn-{p}", "invoke", "txn", mops))
        made += 1
    return ops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txns", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", default="serializable")
    ap.add_argument("--stale", type=float, default=0.0, help="share of reads that miss the last element (default 0)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    ops = generate(args.txns, args.seed, stale=args.stale)
    t1 = time.perf_counter()
    print(f"generated {args.txns} txns ({len(ops)} ops) in {t1 - t0:.1f} s")
    res = check_list_append(ops, model=args.model)
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"list_append check: {t2 - t1:.1f} s, verdict {res.valid.value}, anomalies {res.counts.get('anomalies')}")
    print(f"peak RSS {peak_mb:.0f} MB (generation included)")


if __name__ == "__main__":
    main()
