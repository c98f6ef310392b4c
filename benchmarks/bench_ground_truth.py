"""Ground truth: the probe-measured outage beside keepalived's notify-log takeover, over N cycles.

    .venv/bin/python benchmarks/bench_ground_truth.py [--cycles 3] [--directors lvs|haproxy|both]
        [--rate 50] [--timeout 0.5] [--path /login/index.php] [--name gtru] [--subnet 198.18.7.0/24]

Each cycle: the web VIP probe runs, the MASTER (dir1) fails through the nemesis (a keepalived
crash, ``director-failure``, then a domain destroy, ``domain-destroy``), the backup's MASTER line
is read from its notify log and put on the history's clock (harness.lab._ground_truth), the
fault heals and dir1 takes the VIPs back. Prints one row a cycle (probe outage, notify-log
takeover, their difference, outage start minus the fault, outage end minus the takeover, the
verdict of the comparison) and the medians; never asserts a timing. The default rate and
timeout are the acceptance workload's (harness.workload.WorkloadSpec). Needs root and the lock
the other lab runs use (``flock /work/wt/lab.lock ...`` on a shared machine); refuses a lab
that is already up, and takes its own down at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.lab import Lab  # noqa: E402
from harness.lab._ground_truth import Comparison, Expect, measure_failover, wait_settled  # noqa: E402
from harness.workload import WorkloadSpec  # noqa: E402

FAULTS: tuple[str, ...] = ("director-failure", "domain-destroy")


def expectation(kind: str, fault: str) -> Expect:
    """A crashed keepalived on an LVS director leaves the kernel forwarding: only the switch shows."""
    return "switch" if (kind, fault) == ("lvs", "director-failure") else "outage"


def fmt(v: float | None) -> str:
    return "     -" if v is None else f"{v:+6.3f}"


def run_kind(args: argparse.Namespace, kind: str) -> int:
    lab = Lab(args.name, args.subnet, directors=kind)
    if (lab.state_dir / "state.json").exists():
        print(f"lab {args.name!r} is up already: take it down first (harness lab down --name {args.name})")
        return 2
    t0 = time.monotonic()
    lab.up()
    print(f"== directors {lab.director_kind}: lab up in {time.monotonic() - t0:.1f}s; probe {args.rate:g}/s, "
          f"timeout {args.timeout:g}s, GET {args.path} (an interval during an outage: {max(1 / args.rate, args.timeout):.3f}s)")
    print(f"{'cycle':>5} {'fault':<17} {'expect':<7} {'probe':>7} {'takeover':>8} {'diff':>7} {'start-f':>7} "
          f"{'end-tk':>7} {'clock+-':>7}  verdict")
    rows: dict[str, list[Comparison]] = {f: [] for f in FAULTS}
    failures = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-gt-") as tmp:
            for cycle in range(1, args.cycles + 1):
                for fault in FAULTS:
                    run_dir = Path(tmp) / f"{cycle}-{fault}"
                    try:
                        wait_settled(lab, "dir1")
                        fo = measure_failover(lab, fault, run_dir, expect=expectation(kind, fault), rate_hz=args.rate,
                                              timeout_s=args.timeout, path=args.path)
                    except Exception as exc:  # noqa: BLE001 - a failed cycle is a figure, not a crash
                        failures += 1
                        print(f"{cycle:>5} {fault:<17} FAILED: {type(exc).__name__}: {exc}")
                        continue
                    c = fo.comparison
                    rows[fault].append(c)
                    unc = max(o.uncertainty_s for o in fo.offsets.values())
                    print(f"{cycle:>5} {fault:<17} {c.expect:<7} {c.probe_outage_s:7.3f} "
                          f"{'-' if c.takeover_s is None else f'{c.takeover_s:8.3f}'} {fmt(c.difference_s)} "
                          f"{fmt(c.start_gap_s)} {fmt(c.end_gap_s)} {unc * 1000:5.0f}ms  {c.validity.name}"
                          + (f" ({'; '.join(c.reasons)})" if c.reasons else ""), flush=True)
            wait_settled(lab, "dir1")
    finally:
        lab.down()
        left = lab.leftovers()
        if left:
            print(f"LEFT BEHIND: {left}")
            failures += 1
    for fault, cs in rows.items():
        if not cs:
            continue

        def med(vals: list[float | None]) -> str:
            got = [v for v in vals if v is not None]
            return f"{statistics.median(got):.3f}s" if got else "-"

        agree = sum(1 for c in cs if c.validity.name == "VALID")
        print(f"   median {fault:<17} probe {med([c.probe_outage_s for c in cs])}  takeover "
              f"{med([c.takeover_s for c in cs])}  difference {med([c.difference_s for c in cs])}  "
              f"end-takeover {med([c.end_gap_s for c in cs])}  agree {agree}/{len(cs)}")
    return 1 if failures else 0


def main() -> int:
    spec = WorkloadSpec.acceptance()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--directors", choices=("lvs", "haproxy", "both"), default="both")
    ap.add_argument("--rate", type=float, default=spec.web_probe_hz, help="web VIP probes a second")
    ap.add_argument("--timeout", type=float, default=spec.probe_timeout_s, help="probe timeout, seconds")
    ap.add_argument("--path", default="/login/index.php",
                    help="what the probe GETs (/healthz.php: Apache + PHP without the database)")
    ap.add_argument("--name", default="gtru")
    ap.add_argument("--subnet", default="198.18.7.0/24")
    args = ap.parse_args()
    status = 0
    for kind in (["lvs", "haproxy"] if args.directors == "both" else [args.directors]):
        status |= run_kind(args, kind)
    return status


if __name__ == "__main__":
    sys.exit(main())
