"""`harness lab ...`: up, down, status, sessions, ssh, domain. Thin over harness.lab.Lab."""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..errors import LabError
from . import DOMAIN_ACTIONS, LMS_STUDENT_PASSWORD, MOODLE_PASSWORD_ENV, Lab, LabStatus
from ._configs import LDAP_HOSTS_CHOICES
from ._inventory import LDAP_PASSWORD_ENV
from ._topology import AUTH_TIERS, FILE_TIERS


def _progress(msg: str) -> None:
    sys.stderr.write(msg + "\n")  # one write per line: threads report progress concurrently
    sys.stderr.flush()


def _lab(args: argparse.Namespace) -> Lab:
    return Lab(name=args.name, subnet=args.subnet, state_dir=args.state_dir, advert_int=args.advert_int,
                directors=args.directors, lvs_sync=args.lvs_sync, db_durability=getattr(args, "db_durability", None),
                lms_sessions=getattr(args, "lms_sessions", None), file_tier=getattr(args, "file_tier", "none"),
               auth_tier=getattr(args, "auth_tier", "none"), ldap_hosts=getattr(args, "ldap_hosts", "vip"))


def _lab_existing(args: argparse.Namespace) -> Lab:
    """For commands on a running lab: its own config from the state dir wins over defaults."""
    lab = Lab(name=args.name, state_dir=args.state_dir)
    if (lab.state_dir / "state.json").exists():
        return Lab.from_state_dir(lab.state_dir)
    return lab


def format_status(st: LabStatus) -> str:
    """A readable table: one line per host with its state and what each role reports."""
    lines = [f"lab {st.name} ({st.state_dir}, {st.directors} directors): {'HEALTHY' if st.healthy else 'NOT HEALTHY'}"]
    if not st.hosts:
        return "\n".join(lines + [f"  {p}" for p in st.problems])
    lines.append(f"  {'HOST':<7} {'STATE':<8} {'SSH':<4} DETAILS")
    for host, state in st.hosts.items():
        details = []
        if host in st.vrrp:
            details.append(" ".join(f"{i}={s}" for i, s in st.vrrp[host].items()))
            for backend, servers in sorted(st.backends.get(host, {}).items()):
                details.append(f"{backend}[" + " ".join(f"{s}:{v}" for s, v in servers.items()) + "]")
        if host in st.web:
            details.append(f"http {st.web[host]}")
        if host in st.storage:
            details.append(st.storage[host])
        if host in st.ldap:
            d = st.ldap[host]
            details.append(f"slapd {d.get('slapd', '?')} pid={d.get('pid') or '-'} "
                           f"contextCSN={','.join(d.get('context_csn') or []) or '-'}")
        if host in st.db:
            d = st.db[host]
            details.append(f"wsrep {d.get('wsrep_local_state_comment', '?')} size={d.get('wsrep_cluster_size', '?')} "
                           f"{d.get('wsrep_cluster_status', '?')} ready={d.get('wsrep_ready', '?')}")
        ssh = ("ok" if st.ssh[host] else "DOWN") if host in st.ssh else "-"
        lines.append(f"  {host:<7} {state:<8} {ssh:<4} {'  '.join(details)}")
        if st.ipvs.get(host):  # LVS director: its kernel's table of virtual services and real servers
            lines.extend(f"            {line}" for line in st.ipvs[host].splitlines())
    lines.append("  VIPs: " + "  ".join(f"{v}@{','.join(h) or 'nobody'}" for v, h in
                                      {k: st.vip_holders.get(k, []) for k in ("web", "db", "ldap")
                                       if k != "ldap" or st.ldap}.items()))
    lines.extend(f"  problem: {p}" for p in st.problems)
    return "\n".join(lines)


def cmd_up(args: argparse.Namespace) -> int:
    lab = _lab(args)
    st = lab.up(progress=_progress)
    print(format_status(st))
    print(f"inventory: {lab.inventory_path}\nexport HARNESS_DB_PASSWORD=$(cat {lab.paths.harness_password_file})\n"
          f"export {MOODLE_PASSWORD_ENV}={LMS_STUDENT_PASSWORD}")
    if lab.auth_tier != "none":
        print(f"export {LDAP_PASSWORD_ENV}=$(cat {lab.paths.ldap_admin_password_file})")
    return 0 if st.healthy else 1


def cmd_down(args: argparse.Namespace) -> int:
    lab = _lab_existing(args)
    lab.down(progress=_progress)
    left = lab.leftovers()
    if left:
        raise LabError(f"lab {lab.name!r} down left: {', '.join(left)}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = _lab_existing(args).status()
    print(json.dumps(st.to_dict(), indent=2, sort_keys=True) if args.json else format_status(st))
    return 0 if st.healthy else 1


def cmd_sessions(args: argparse.Namespace) -> int:
    lab = _lab_existing(args)
    lab.set_lms_sessions(args.store, progress=_progress)
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    lab = _lab_existing(args)
    lab.guard(lab.topo.host(args.host).address)
    argv = lab.ssh_argv(args.host, args.cmd)
    sys.stdout.flush()
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover


def cmd_domain(args: argparse.Namespace) -> int:
    lab = _lab_existing(args)
    print(lab.domain(args.action, args.domain_name, progress=_progress))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lab = subparsers.add_parser("lab", help="build, inspect and tear down the embedded lab cluster")
    sub = lab.add_subparsers(dest="lab_command", metavar="LAB_COMMAND", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", default="default", help="lab name (default: default)")
        p.add_argument("--state-dir", default=None, help="state dir (default: /var/lib/harness-lab/NAME)")

    p = sub.add_parser("up", help="build the lab and wait until it serves (no-op if up)")
    common(p)
    p.add_argument("--subnet", default="198.18.0.0/24", help="lab subnet, /25 or larger (default 198.18.0.0/24)")
    p.add_argument("--advert-int", type=float, default=1.0, help="VRRP advert interval in seconds (default 1)")
    p.add_argument("--directors", choices=("lvs", "haproxy", "auto"), default="auto",
                   help="lvs: dir1/dir2 are User-Mode Linux guests with keepalived + IPVS (LVS-DR); haproxy: "
                        "keepalived + HAProxy in namespaces; auto: lvs where a guest boots, else haproxy "
                        "with the reason in one line (default auto)")
    p.add_argument("--no-lvs-sync", dest="lvs_sync", action="store_false",
                   help="LVS directors without IPVS connection sync (lvs_sync_daemon)")
    p.add_argument("--db-durability", type=int, choices=(0, 1, 2), default=None,
                   help="Galera's innodb_flush_log_at_trx_commit: 1 flushes the redo log at every commit, 2 "
                        "writes it at commit and flushes once a second, 0 does both once a second (default: "
                        "not set, MariaDB's default 1)")
    p.add_argument("--lms-sessions", choices=("database", "node"), default=None,
                   help="where the lab LMS keeps sessions: database (shared by every web node, the default) "
                        "or node (PHP file sessions private to each web node, like Moodle's file sessions on "
                        "local disk); `harness lab sessions` switches a running lab")
    p.add_argument("--file-tier", choices=FILE_TIERS, default="none",
                   help="gluster: file servers fs1, fs2 (data) and fs3 (arbiter) with a GlusterFS volume "
                        "moodledata (replica 3 arbiter 1) every web node mounts at /srv/moodledata "
                        "(default none)")
    p.add_argument("--auth-tier", choices=AUTH_TIERS, default="none",
                   help="openldap: directory servers ldap1, ldap2 (slapd, two providers replicating each "
                        "other) holding the LMS's users under ou=people,dc=lms,dc=lab (default none)")
    p.add_argument("--ldap-hosts", choices=LDAP_HOSTS_CHOICES, default="vip",
                   help="with --auth-tier: the lab LMS binds through the LDAP VIP (vip, the default) or to "
                        "ldap1 then ldap2 itself (servers, Moodle's host_url failover)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="tear the lab down, leaving nothing behind")
    common(p)
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="per host: state, VRRP, HAProxy backends, Apache, Galera")
    common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("sessions", help="switch a running lab's LMS sessions: database | node (Apache reloaded)")
    common(p)
    p.add_argument("store", choices=("database", "node"))
    p.set_defaults(func=cmd_sessions)

    p = sub.add_parser("ssh", help="ssh into a lab host with the lab key and known_hosts")
    common(p)
    p.add_argument("host")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run (default: a shell)")
    p.set_defaults(func=cmd_ssh)

    p = sub.add_parser("domain", help="the lab as a hypervisor: destroy|shutdown|start|pause|unpause|list")
    common(p)
    p.add_argument("action", choices=DOMAIN_ACTIONS)
    p.add_argument("domain_name", nargs="?", metavar="NAME")
    p.set_defaults(func=cmd_domain)
