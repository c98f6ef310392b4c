"""The lab's life: build it (`up`), wait until it serves, tear it down (`down`), find leftovers.

Everything created is recorded in the state file before it is created, so `down` works after a
crashed or SIGKILLed `up`. What depends on the director kind is asked of the strategy
(``LabContext.strategy``); teardown and leftovers ask every kind, since a crashed lab of
another kind may have left its objects.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import pymysql

from ..errors import LabError
from . import _netns
from ._auth_tier import ldap_vip_error, up_auth_tier
from ._directors import DIRECTORS, choose_kind
from ._file_tier import up_file_tier
from ._files import write_files, write_known_hosts
from ._gluster import lab_loop_devices
from ._interfaces import LabContext
from ._inventory import write_inventory
from ._ldap import our_slapd_processes
from ._parallel import parallel
from ._paths import LMS_DIR
from ._preflight import run_preflight
from ._records import LabStatus
from ._services import FILE_CLIENT_DAEMONS, host_daemons
from ._state import LabState, locked, pid_alive
from ._topology import AUTH_TIER_LAYOUT, LabHost


def up(lab: LabContext) -> LabStatus:
    """Build the lab and wait until it serves; a no-op returning the status if it is up."""
    with locked(lab.state_dir):
        state = lab.load_state()
        if state.get("phase") == "ready" and any(_netns.init_pid(state, h) for h in lab.topo.hosts):
            cfg = state.get("config", {})
            running_kind = cfg.get("directors", "haproxy")
            if ((cfg.get("subnet"), cfg.get("advert_int")) != (lab.subnet, lab.advert_int)
                    or lab.directors not in ("auto", running_kind)
                    or not DIRECTORS[running_kind]().same_options(cfg, lab.lvs_sync)
                    or cfg.get("db_durability") != lab.db_durability
                    or cfg.get("file_tier", "none") != lab.file_tier
                    or cfg.get("auth_tier", "none") != lab.auth_tier
                    or cfg.get("ldap_hosts", "vip") != lab.ldap_hosts):
                raise LabError(
                    f"lab {lab.name!r} is already up with subnet {cfg.get('subnet')} advert_int "
                    f"{cfg.get('advert_int')} directors {running_kind} lvs_sync {cfg.get('lvs_sync', True)} "
                    f"db_durability {cfg.get('db_durability')} file_tier {cfg.get('file_tier', 'none')} "
                    f"auth_tier {cfg.get('auth_tier', 'none')} ldap_hosts {cfg.get('ldap_hosts', 'vip')}; "
                    f"`harness lab down --name {lab.name}` first to change them")
            running_sessions = cfg.get("lms_sessions", "database")
            if lab.lms_sessions != running_sessions:
                raise LabError(f"lab {lab.name!r} is already up with lms_sessions {running_sessions}; "
                               f"`harness lab sessions {lab.lms_sessions} --name {lab.name}` switches it")
            lab.use_directors(running_kind)
            lab.say("lab already up: nothing to do")
            return lab.status()
        if state.exists:
            lab.say("leftovers of an earlier lab found: tearing them down first")
            teardown(lab, state)
        run_preflight(lab.topo, own_bridge_recorded=False, file_tier=lab.file_tier, auth_tier=lab.auth_tier)
        state = lab.load_state()
        step = ["preflight"]
        try:
            build(lab, state, step)
        except BaseException as exc:  # also Ctrl-C: never leave half a lab behind
            detail = str(exc) if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}"
            lab.say(f"FAILED during {step[0]}: tearing down what was made")
            try:
                teardown(lab, lab.load_state())
            except Exception as tear_exc:  # noqa: BLE001 (reported with the first failure)
                detail += f"\n(teardown also failed: {tear_exc}; run `harness lab down --name {lab.name}`)"
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise LabError(
                f"lab up failed during {step[0]}: {detail}\nThe half-built lab was removed. Fix the cause "
                f"above and run `harness lab up --name {lab.name}` again.") from None
    lab.say("lab ready")
    return lab.status()


def build(lab: LabContext, state: LabState, step: list[str]) -> None:
    topo, paths = lab.topo, lab.paths
    step[0] = "state directory"
    lab.use_directors(choose_kind(lab.directors, lab.say))
    state.set(config={"name": lab.name, "subnet": lab.subnet, "advert_int": lab.advert_int,
                      "python": sys.executable, "bridge": topo.bridge, "directors": lab.director_kind,
                      "lvs_sync": lab.lvs_sync, "db_durability": lab.db_durability,
                      "lms_sessions": lab.lms_sessions, "file_tier": lab.file_tier,
                      "auth_tier": lab.auth_tier,
                      # the auth tier's option only with it (a default lab's state is as before)
                      **({"ldap_hosts": lab.ldap_hosts} if lab.auth_tier != "none" else {})},
              phase="building", created=time.time())
    state.record("dir", str(lab.state_dir))
    lab.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(lab.state_dir, 0o711)  # mysql and www-data traverse it; nobody lists it
    for d in (paths.bin, paths.ssh_dir, paths.secrets, paths.placeholder_root / "login"):
        d.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.secrets, 0o700)
    os.chmod(paths.ssh_dir, 0o755)
    write_files(lab)

    step[0] = "network"
    lab.say(f"network: bridge {topo.bridge} {topo.bridge_address}/{topo.prefixlen}, {len(topo.hosts)} hosts")
    _netns.create_bridge(topo, state)
    strategy = lab.strategy
    namespaced = strategy.namespace_hosts(topo)
    guests = len(namespaced) < len(topo.hosts)
    if guests:
        step[0] = "director guests"
        strategy.boot(lab, state)  # they boot while the namespaces are made
    for host in namespaced:
        _netns.create_host_network(topo, host, state)

    step[0] = "host inits"
    for host in namespaced:
        _netns.start_init(topo, host, state, paths)
    lab.say("host inits running (own PID, mount, UTS, IPC namespaces)")
    if guests:
        step[0] = "director guests"
        if not strategy.wait_booted(lab, state):
            _fall_back(lab, state, namespaced)
    for host in topo.hosts.values():
        lab.strategy.prepare_real_server(lab, host)

    step[0] = "sshd"
    parallel({h.name: functools.partial(lab.hostctl, h.name, "start", "sshd", 20)
              for h in lab.strategy.namespace_hosts(topo)})
    write_known_hosts(lab)
    lab.say("sshd up on every host")

    step[0] = "daemons"
    jobs: dict[str, Callable[[], Any]] = {
        "galera": lambda: up_galera(lab),
        "web": functools.partial(start_daemons_on, lab, topo.with_role("web")),
    }
    if lab.file_tier != "none":
        jobs["files"] = lambda: up_files(lab)
    if lab.auth_tier != "none":
        jobs["auth"] = lambda: up_auth_tier(lab)
    director_hosts = lab.strategy.daemon_hosts(topo)
    if director_hosts:
        jobs["directors"] = functools.partial(start_daemons_on, lab, director_hosts)
    parallel(jobs)
    step[0] = "readiness"
    wait_ready(lab, timeout_s=90)
    step[0] = "inventory"
    write_inventory(lab)
    lab.load_state().set(phase="ready", ready_at=time.time(), up_seconds=round(time.monotonic() - lab.started, 2))


def _fall_back(lab: LabContext, state: LabState, namespaced: list[LabHost]) -> None:
    """Auto mode, a guest did not boot: HAProxy directors in namespaces instead."""
    lab.use_directors("haproxy")
    state.set(config=dict(state.get("config", {}), directors=lab.director_kind))
    write_files(lab)
    for h in lab.strategy.namespace_hosts(lab.topo):
        if h not in namespaced:
            _netns.create_host_network(lab.topo, h, state)
            _netns.start_init(lab.topo, h, state, lab.paths)


def start_daemons_on(lab: LabContext, hosts: list[LabHost]) -> None:
    """Start every daemon but sshd on ``hosts``, the hosts in parallel."""
    parallel({h.name: functools.partial(start_host_daemons, lab, h.name, 30) for h in hosts})


def start_host_daemons(lab: LabContext, host: str, wait: float) -> None:
    for daemon in host_daemons(lab.topo.host(host), lab.topo.file_tier):
        if daemon == "sshd" or daemon in FILE_CLIENT_DAEMONS:  # mounts: once the volume is started
            continue
        lab.say(f"{host}: starting {daemon}")
        lab.hostctl(host, "start", daemon, wait)


def up_files(lab: LabContext) -> None:
    """The file tier: glusterd on every file server, then pool, volume and the web nodes' mounts."""
    servers = lab.topo.with_role("fileserver")
    lab.say(f"file tier: starting glusterd on {', '.join(h.name for h in servers)}")
    start_daemons_on(lab, servers)
    up_file_tier(lab)


def up_galera(lab: LabContext) -> None:
    dbs = lab.topo.with_role("db")
    first = dbs[0]
    lab.say(f"{first.name}: mariadb: bootstrapping a new Galera cluster, waiting for Synced")
    lab.say(f"{first.name}: {lab.hostctl(first.name, 'start', 'mariadb', 60)}")
    lab.hostctl(first.name, "start", "clustercheck", 20)
    lab.say(f"{first.name}: creating users lms, harness; loading LMS schema")
    setup_sql(lab, first.name)
    for h in dbs[1:]:  # one at a time: parallel joins sometimes fail to reach primary view
        lab.say(f"{h.name}: mariadb: joining (SST), waiting for Synced")
        lab.say(f"{h.name}: {lab.hostctl(h.name, 'start', 'mariadb', 90)}")
        lab.hostctl(h.name, "start", "clustercheck", 20)


def setup_sql(lab: LabContext, host: str) -> None:
    pattern = lab.topo.mysql_host_pattern()
    hpw = lab.paths.harness_password_file.read_text().strip()
    lpw = lab.paths.lms_password_file.read_text().strip()
    sql = f"""
CREATE DATABASE IF NOT EXISTS harness;
CREATE DATABASE IF NOT EXISTS moodle CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'harness'@'{pattern}' IDENTIFIED BY '{hpw}';
GRANT ALL ON harness.* TO 'harness'@'{pattern}';
GRANT SELECT ON moodle.* TO 'harness'@'{pattern}';
CREATE USER IF NOT EXISTS 'lms'@'{pattern}' IDENTIFIED BY '{lpw}';
GRANT ALL ON moodle.* TO 'lms'@'{pattern}';
"""
    lab.exec(host, ["mariadb", "-e", sql], check=True, timeout=30)
    for name in ("schema.sql", "seed.sql"):
        path = LMS_DIR / name
        if path.exists():
            lab.exec(host, ["mariadb", "moodle"], input=path.read_text(), check=True, timeout=60)
            lab.say(f"{host}: applied harness/lab/lms/{name}")


def wait_ready(lab: LabContext, timeout_s: float) -> None:
    """Wait until the whole lab serves: VRRP settled, backends UP, VIPs answer (the LDAP VIP a
    seeded user's bind, with the auth tier), Galera size 3."""
    deadline = time.monotonic() + timeout_s
    last: list[str] = []
    announced: set[str] = set()
    messages = {"vrrp": "VRRP settled: dir1 MASTER for both VIPs", "backends": lab.strategy.backends_ready,
                "galera": "Galera: 3 nodes Synced"}
    while time.monotonic() < deadline:
        st = lab.status()
        last = st.problems
        for key, ok in (("vrrp", not any("VRRP" in p or "VIP" in p for p in last)),
                        ("backends", not any("backend" in p for p in last)),
                        ("galera", not any("wsrep" in p or "clustercheck" in p for p in last))):
            if ok and key not in announced:
                announced.add(key)
                lab.say(messages[key])
        if not last:
            err = db_vip_error(lab)
            if not err and "ldap" in lab.topo.vips:
                err = ldap_vip_error(lab)
                if err:
                    last = [f"LDAP VIP: {err}"]
                else:
                    lab.say(f"LDAP VIP: a seeded user's bind through {lab.topo.vips['ldap']}:389 works")
            elif err:
                last = [f"DB VIP: {err}"]
            if not err:
                return
        time.sleep(0.2)
    raise LabError("not ready after {:.0f}s: {}".format(timeout_s, "; ".join(last)))


def db_vip_error(lab: LabContext) -> str:
    """'' if the harness user can run a query through the DB VIP, else the error."""
    try:
        conn = pymysql.connect(host=lab.topo.vips["db"], port=3306, user="harness", password=lab.db_password(),
                               database="harness", connect_timeout=2, read_timeout=3, write_timeout=3)
    except pymysql.MySQLError as exc:
        return str(exc)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    except pymysql.MySQLError as exc:
        return str(exc)
    finally:
        conn.close()
    return ""


def teardown(lab: LabContext, state: LabState) -> None:
    """Remove everything ``state`` records, plus this lab's own-named objects (a sweep)."""
    topo = lab.topo
    # 0. the directory servers stopped cleanly first (their pidfiles, through hostctl), so an
    #    mdb database is closed, not cut off; the inits' end below takes anything left
    stop_slapds(lab, state)
    # 1. inits (recorded PIDs only, start time checked): each takes its whole host with it
    for host in topo.hosts.values():
        if state.init(host.name):
            _netns.kill_init(state, host)
    # launchers recorded but whose init we never learned (SIGKILLed mid-start)
    for _host, rec in list(state.data["inits"].items()):
        launcher = rec.get("launcher")
        if launcher and pid_alive(launcher, rec.get("launcher_starttime")):
            os.kill(launcher, 9)
    lab.say("host inits ended")
    # 1a. a slapd of this lab still alive (its host's namespace gone from under it): by PID,
    #     found by its config directory, lab and host in the name
    stray = our_slapd_processes(lab.name, _ldap_host_names(lab))
    for pid, _cmd in stray:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    if stray:
        lab.say(f"slapd processes ended: {', '.join(str(p) for p, _ in stray)}")
    # 1b. a brick filesystem's loop device ends with its host's mount namespace; one still
    #     attached (its host's namespace held by a straggler) is detached, ours by name only
    loops = lab_loop_devices(lab.name, list(topo.hosts))
    for dev in loops:
        _netns.run(["losetup", "-d", dev], check=False)
    if loops:
        lab.say(f"loop devices detached: {', '.join(loops)}")
    # 1c. what directors of any kind left beyond the namespace hosts (UML guests: whole groups)
    gone = [name for kind in DIRECTORS.values() for name in kind().sweep(lab.paths, topo, state)]
    if gone:
        lab.say(f"director guests destroyed: {', '.join(gone)}")
    # 2. links and namespaces: recorded ones, plus our own derived names (sweep)
    links = ([r["name"] for r in state.records("link")] + [h.veth for h in topo.hosts.values()]
             + [name for kind in DIRECTORS.values() for name in kind().sweep_links(topo)] + [topo.bridge])
    for name in dict.fromkeys(links):
        if name != topo.bridge:
            _netns.delete_link(name)
    _netns.delete_link(topo.bridge)
    netns = [r["name"] for r in state.records("netns")] + [h.netns for h in topo.hosts.values()]
    for name in dict.fromkeys(netns):
        _netns.delete_netns(name)
    for rec in state.records("cgroup"):
        _netns.remove_freezer(rec["name"])
    for host in topo.hosts.values():
        _netns.remove_freezer(str(_netns.FREEZER_ROOT / host.netns))
    lab.say("links and namespaces removed")
    # 3. files: the state dir (recorded) last, so a crash above leaves the record in place
    for rec in state.records("dir"):
        shutil.rmtree(rec["name"], ignore_errors=True)
    if state.path.exists():
        state.path.unlink()
    if lab.state_dir.exists() and not any(lab.state_dir.iterdir()):
        lab.state_dir.rmdir()


def stop_slapds(lab: LabContext, state: LabState) -> None:
    """SIGTERM each running ldap host's slapd by its pidfile (hostctl stop), in parallel; a
    failure is reported, not raised: the inits' end takes what is left."""
    # running ones only: a paused host's slapd would not hear the TERM (its init's end thaws it)
    hosts = [h.name for h in lab.topo.with_role("ldap")
             if _netns.init_pid(state, h.name) and lab.strategy.domain(lab, h).state(state) == "running"]
    if not hosts:
        return

    def stop(host: str) -> None:
        try:
            lab.hostctl(host, "stop", "slapd", 15)
        except Exception as exc:  # noqa: BLE001 (teardown goes on)
            lab.say(f"{host}: slapd stop failed ({str(exc).splitlines()[0] if str(exc) else exc}); "
                    "ending it with its host")

    parallel({h: functools.partial(stop, h) for h in hosts})
    lab.say(f"slapd stopped on {', '.join(hosts)}")


def _ldap_host_names(lab: LabContext) -> list[str]:
    """Every name an ldap host of this lab may have had (a lab rebuilt without the auth tier
    still sweeps the slapd of the one before)."""
    return list(dict.fromkeys([*(h.name for h in lab.topo.with_role("ldap")), *AUTH_TIER_LAYOUT]))


def leftovers(lab: LabContext) -> list[str]:
    """Objects of this lab still present (for tests and the benchmark): should be empty after down."""
    found = []
    for h in lab.topo.hosts.values():
        if _netns.netns_exists(h.netns):
            found.append(f"netns {h.netns}")
        if _netns.link_exists(h.veth):
            found.append(f"link {h.veth}")
        if (_netns.FREEZER_ROOT / h.netns).exists():
            found.append(f"cgroup {h.netns}")
        for kind in DIRECTORS.values():
            found.extend(kind().leftovers(lab.paths, h))
    if _netns.link_exists(lab.topo.bridge):
        found.append(f"link {lab.topo.bridge}")
    found.extend(f"loop {dev}" for dev in lab_loop_devices(lab.name, list(lab.topo.hosts)))
    found.extend(f"process {pid} {cmd[:100]}" for pid, cmd in our_slapd_processes(lab.name, _ldap_host_names(lab)))
    if lab.state_dir.exists():
        found.append(f"dir {lab.state_dir}")
    return found
