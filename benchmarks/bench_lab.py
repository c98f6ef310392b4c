"""Lab speed and footprint: up time, down time, memory, leftovers; over N up/down cycles.

    .venv/bin/python benchmarks/bench_lab.py [--cycles 3] [--name bench] [--subnet 198.18.0.0/24]
        [--directors haproxy|lvs|both] [--file-tier none|gluster|both] [--auth-tier none|openldap|both]

With LVS directors (User-Mode Linux guests) it also reports each guest's boot time (launch to
SSH + keepalived ready) and memory (RSS over distinct address spaces, see docs/uml.md).

Prints figures (goals: up <= 60 s, down <= 10 s) and exits 1 if anything is left behind or a
cycle failed. Needs root; refuses to touch a lab that is already up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.lab import Lab  # noqa: E402
from harness.lab._netns import init_pid, namespace_pids  # noqa: E402


def mem_available_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def lab_rss_kb(lab: Lab) -> tuple[int, int]:
    """(sum of VmRSS over every process of every lab host, process count)."""
    state = lab._state()
    total = count = 0
    for host in lab.topo.hosts:
        pid = init_pid(state, host)
        for p in namespace_pids(pid) if pid else []:
            try:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        count += 1
            except OSError:
                continue
    return total, count


def guest_figures(lab: Lab) -> str:
    """Boot time and memory of each LVS director guest (empty for HAProxy directors)."""
    from harness.lab._lvs import load_guest

    parts = []
    for h in lab.topo.with_role("director"):
        g = load_guest(lab.paths, h.name) if lab.is_guest(h) else None
        if g is None or not g.is_running():
            continue
        boot = ""
        log = g.console_log.read_text(errors="replace") if g.console_log.exists() else ""
        if "HUML-READY" in log:
            boot = f" ready-marker seen, launched {time.time() - g.started_at:.0f}s ago"
        mem = g.rss_kib()
        parts.append(f"{h.name}: RSS {mem['rss'] / 1024:.0f} MiB PSS {mem['pss'] / 1024:.0f} MiB{boot}")
    return "  ".join(parts)


def file_tier_seconds(lines: list[str]) -> float | None:
    """From `lab up`'s progress lines (``[  5.8s] ...``): glusterd's start to the last mount."""
    def at(line: str) -> float:
        return float(line.split("]", 1)[0].strip("[ s"))
    start = [at(ln) for ln in lines if "file tier: starting glusterd" in ln]
    end = [at(ln) for ln in lines if "gluster: " in ln and " mounted at " in ln]
    return end[-1] - start[0] if start and end else None


def auth_tier_seconds(lines: list[str]) -> float | None:
    """From `lab up`'s progress lines: slapd's start to both servers' contextCSN agreeing."""
    def at(line: str) -> float:
        return float(line.split("]", 1)[0].strip("[ s"))
    start = [at(ln) for ln in lines if "auth tier: starting slapd" in ln]
    end = [at(ln) for ln in lines if "auth tier: contextCSN agree" in ln]
    return end[-1] - start[0] if start and end else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--name", default="default")
    ap.add_argument("--subnet", default="198.18.0.0/24")
    ap.add_argument("--directors", choices=("haproxy", "lvs", "auto", "both"), default="haproxy")
    ap.add_argument("--file-tier", choices=("none", "gluster", "both"), default="none",
                    help="the lab's file tier (both: without, then with GlusterFS fs1-fs3)")
    ap.add_argument("--auth-tier", choices=("none", "openldap", "both"), default="none",
                    help="the lab's auth tier (both: without, then with OpenLDAP ldap1, ldap2)")
    args = ap.parse_args()
    kinds = ["haproxy", "lvs"] if args.directors == "both" else [args.directors]
    tiers = ["none", "gluster"] if args.file_tier == "both" else [args.file_tier]
    auths = ["none", "openldap"] if args.auth_tier == "both" else [args.auth_tier]
    status = 0
    for kind in kinds:
        for tier in tiers:
            for auth in auths:
                print(f"== directors {kind}, file tier {tier}, auth tier {auth}")
                status |= run_cycles(args, kind, tier, auth)
    return status


def run_cycles(args: argparse.Namespace, kind: str, file_tier: str = "none", auth_tier: str = "none") -> int:
    lab = Lab(name=args.name, subnet=args.subnet, directors=kind, file_tier=file_tier, auth_tier=auth_tier)
    if (lab.state_dir / "state.json").exists():
        print(f"lab {args.name!r} is up already: take it down first (harness lab down --name {args.name})")
        return 2
    ups, downs, failures = [], [], 0
    boots: list[float] = []
    tiers: list[float] = []
    auths: list[float] = []
    for cycle in range(1, args.cycles + 1):
        mem0 = mem_available_kb()
        t0 = time.monotonic()
        lines: list[str] = []
        try:
            st = lab.up(progress=lines.append)
        except Exception as exc:  # noqa: BLE001 - a failed cycle is a figure, not a crash
            failures += 1
            print(f"cycle {cycle}: up FAILED: {exc}")
            lab.down()
            continue
        up_s = time.monotonic() - t0
        for line in lines:  # "director guests ready: dir1 2.7s, dir2 2.6s (...)"
            if "director guests ready:" in line:
                for part in line.split("ready:", 1)[1].split("(")[0].split(","):
                    boots.append(float(part.split()[1].rstrip("s")))
        tier = file_tier_seconds(lines)
        if tier is not None:
            tiers.append(tier)
        auth = auth_tier_seconds(lines)
        if auth is not None:
            auths.append(auth)
        guests = guest_figures(lab)
        rss, nproc = lab_rss_kb(lab)
        mem_delta = (mem0 - mem_available_kb()) / 1024
        t1 = time.monotonic()
        lab.down()
        down_s = time.monotonic() - t1
        left = lab.leftovers()
        ups.append(up_s)
        downs.append(down_s)
        print(f"cycle {cycle}: up {up_s:.1f}s (healthy={st.healthy}) down {down_s:.1f}s  "
              f"RSS {rss / 1024:.0f} MB over {nproc} processes  MemAvailable -{mem_delta:.0f} MB  "
              f"leftovers: {left or 'none'}  directors {st.directors}" + (f"\n    guests: {guests}" if guests else ""))
        if left or not st.healthy:
            failures += 1
    if ups:
        print(f"up: median {statistics.median(ups):.1f}s max {max(ups):.1f}s (goal <= 60)   "
              f"down: median {statistics.median(downs):.1f}s max {max(downs):.1f}s (goal <= 10)")
    if tiers:
        print(f"file tier (glusterd started to every web node mounted, beside Galera): median "
              f"{statistics.median(tiers):.1f}s max {max(tiers):.1f}s")
    if auths:
        print(f"auth tier (slapd started to contextCSN agreeing, beside Galera): median "
              f"{statistics.median(auths):.1f}s max {max(auths):.1f}s")
    if boots:
        print(f"guest boot (launch to SSH + keepalived): median {statistics.median(boots):.1f}s "
              f"max {max(boots):.1f}s over {len(boots)} boots")
    print(f"{args.cycles - failures}/{args.cycles} cycles clean")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
