"""How fast UML guests boot and come back, and what they cost (figures only: no assertion).

Boots one guest ``--boots`` times in a row on a private bridge (``humlt0``, 198.18.200.1/24,
created and removed here) and prints per boot: launch-to-ready time, memory of the guest's
process group, destroy-to-ready-again time (kill -9 of the group, then a new boot on the same
tap), and the clean shutdown time. A boot that fails is counted and reported, not raised.

    sudo .venv/bin/python benchmarks/bench_uml.py [--boots 5] [--sshd/--no-sshd] [--keep DIR]

Ready means: init printed its ready marker and the guest answers (TCP 22 with sshd, else ICMP).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.errors import HarnessError  # noqa: E402
from harness.lab._uml import GuestSpec, boot_guest, remove_tap, uml_available  # noqa: E402

BRIDGE = "humlt0"
TAP = "humlt-bench"


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=20)


def _fmt(values: list[float], unit: str = "s") -> str:
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):.2f} {unit}, min {min(values):.2f}, max {max(values):.2f} "
        f"(n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boots", type=int, default=5, help="boots in a row (default 5)")
    parser.add_argument("--sshd", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--keep", type=Path, help="state dir to keep (default: a temporary one)")
    args = parser.parse_args()
    if not 1 <= args.boots <= 50:
        parser.error("--boots must be in 1..50")
    reason = uml_available()
    if reason:
        print(f"bench_uml: skipped: {reason}")
        return 0
    if Path("/sys/class/net", BRIDGE).exists():
        print(f"bench_uml: {BRIDGE} exists (a test running?): refusing to touch it", file=sys.stderr)
        return 1

    state = args.keep or Path(tempfile.mkdtemp(prefix="bench-uml-"))
    spec = GuestSpec(name="humlt-bench", address="198.18.200.31", prefix_len=24, tap=TAP, bridge=BRIDGE,
                     sshd=args.sshd)  # fmt: skip
    ready, reboot, halt, rss, pss, naive = [], [], [], [], [], []
    failures: list[str] = []
    _ip("link", "add", BRIDGE, "type", "bridge")
    try:
        _ip("addr", "add", "198.18.200.1/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for i in range(1, args.boots + 1):
            try:
                g = boot_guest(spec, state)
                r = g.wait_ready(timeout=60)
                mem = g.rss_kib()
                t0 = time.monotonic()
                g.destroy()
                g = boot_guest(spec, state)
                g.wait_ready(timeout=60)
                back = time.monotonic() - t0
                t1 = time.monotonic()
                how = g.shutdown(timeout=20)
                down = time.monotonic() - t1
            except HarnessError as exc:
                failures.append(f"boot {i}: {exc}")
                print(f"boot {i}: FAILED: {str(exc).splitlines()[0]}")
                continue
            ready.append(r)
            reboot.append(back)
            halt.append(down)
            rss.append(mem["rss"] / 1024)
            pss.append(mem["pss"] / 1024)
            naive.append(mem["rss_naive"] / 1024)
            print(
                f"boot {i}: ready {r:.2f} s | rss {mem['rss'] / 1024:.0f} MiB over {mem['address_spaces']} "
                f"address spaces ({mem['processes']} processes; naive sum {mem['rss_naive'] / 1024:.0f} MiB, "
                f"pss {mem['pss'] / 1024:.0f} MiB) | destroy->ready {back:.2f} s | shutdown ({how}) {down:.2f} s"
            )
    finally:
        remove_tap(TAP)
        _ip("link", "del", BRIDGE, check=False)
        if args.keep is None:
            shutil.rmtree(state, ignore_errors=True)

    print()
    print(f"succeeded: {len(ready)}/{args.boots} boot cycles (each: boot, destroy, reboot, shutdown)")
    print(f"boot to ready:       {_fmt(ready)}")
    print(f"destroy to ready:    {_fmt(reboot)}")
    print(f"clean shutdown:      {_fmt(halt)}")
    print(f"RSS per guest:       {_fmt(rss, 'MiB')}  (distinct address spaces)")
    print(f"PSS per guest:       {_fmt(pss, 'MiB')}")
    print(f"naive VmRSS sum:     {_fmt(naive, 'MiB')}  (counts linux.uml's shared memory per helper)")
    for f in failures:
        print(f"failure: {f}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
