"""Service control run INSIDE a lab host: `hostctl HOST start|stop|kill|status [DAEMON|all]`.

The lab calls it through nsenter; the harness calls the same command over SSH (it is the
`start`/`stop` of each service in cluster.yml), so a heal does exactly what `lab up` does,
Galera crash recovery included. It refuses to run on the wrong host (hostname check).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path

from ..errors import HarnessError, LabError
from ._daemons import start_daemon, stop_daemon
from ._paths import LabPaths
from ._proc import running_pid
from ._services import DAEMONS, host_daemons
from ._topology import build_topology


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hostctl", description=__doc__)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("host")
    parser.add_argument("action", choices=("start", "stop", "kill", "status"))
    parser.add_argument("daemon", nargs="?", default="all")
    parser.add_argument("--wait", type=float, default=90.0, help="seconds to wait for readiness (0: do not)")
    args = parser.parse_args(argv)
    try:
        config = json.loads((args.state_dir / "state.json").read_text())["config"]
        topo = build_topology(config["name"], config["subnet"], config.get("file_tier", "none"),
                              config.get("auth_tier", "none"))
        host = topo.host(args.host)
        if socket.gethostname() != host.name:
            raise LabError(f"hostctl for {host.name} run on host {socket.gethostname()!r}: refusing")
        paths = LabPaths(args.state_dir)
        names = host_daemons(host, topo.file_tier)
        if args.daemon != "all":
            if args.daemon not in names:
                raise LabError(f"{host.name}: no daemon {args.daemon!r} here (has: {', '.join(names)})")
            names = [args.daemon]
        if args.action == "start":
            for name in names:
                print(start_daemon(name, topo, host, paths, wait=args.wait), flush=True)
        elif args.action in ("stop", "kill"):
            for name in reversed(names):
                print(stop_daemon(name, host, paths, kill=args.action == "kill"), flush=True)
        else:
            down = [n for n in names if running_pid(DAEMONS[n]) is None]
            for name in names:
                print(f"{name} {'running' if name not in down else 'stopped'} {running_pid(DAEMONS[name]) or '-'}")
            return 3 if down else 0
    except HarnessError as exc:
        print(f"hostctl: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
