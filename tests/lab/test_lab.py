"""The lab end to end: real daemons, real SSH, real failover. Every fault is healed in `finally`.

Runs against the session lab (tests/lab/conftest.py). The last test tears the lab down and
checks nothing is left; it rebuilds the lab only if it was running before the session.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pymysql
import pytest
import requests

from harness.lab import Lab
from harness.lab._netns import init_pid
from harness.lab._paths import LMS_DIR

from .conftest import wait_until

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]




def vip_get(lab: Lab, path: str = "/login/index.php", session: requests.Session | None = None,
            **kw: object) -> requests.Response:
    addr = lab.topo.vips["web"]
    lab.guard(addr)
    return (session or requests).get(f"http://{addr}{path}", timeout=5, allow_redirects=False, **kw)  # type: ignore[arg-type]


def db_connect(lab: Lab, address: str, database: str = "harness") -> pymysql.connections.Connection:
    lab.guard(address)
    return pymysql.connect(host=address, port=3306, user="harness", password=lab.db_password(), database=database,
                           connect_timeout=3, read_timeout=10, write_timeout=10, autocommit=True)


def wsrep(lab: Lab, host: str) -> dict[str, str]:
    with db_connect(lab, lab.topo.host(host).address) as conn, conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
        return {k: v for k, v in cur.fetchall()}


def healthy(lab: Lab) -> bool:
    return lab.status().healthy


def service_command(lab: Lab, host: str, service: str, action: str) -> str:
    """The start/stop command cluster.yml gives for a service: what the harness runs over SSH."""
    import yaml

    data = yaml.safe_load(lab.inventory_path.read_text())
    return data["hosts"][host]["services"][service][action]


# -- web tier ------------------------------------------------------------------------------------
def test_login_page_through_web_vip_is_balanced(lab: Lab) -> None:
    nodes = []
    for _ in range(12):
        r = vip_get(lab)
        assert r.status_code == 200
        nodes.append(r.headers["X-Lab-Node"])
    assert set(nodes) == {"web1", "web2", "web3"}, nodes


def test_every_host_over_ssh_has_own_hostname_and_processes(lab: Lab) -> None:
    for host in lab.topo.hosts:
        res = lab.ssh(host, "hostname")
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == host
    res = lab.ssh("web1", "pidof apache2; echo ---; pidof mariadbd keepalived haproxy clustercheck; echo rc=$?")
    own, others = res.stdout.split("---")
    assert own.split(), "web1 sees no apache2 of its own"
    assert others.split() == ["rc=1"], f"web1 sees other hosts' daemons: {others!r}"
    # ...and the apache2 PIDs web1 sees are not those web2 sees (separate PID namespaces)
    assert lab.ssh("web2", "hostname; cat /run/apache2/apache2.pid").stdout.split()[0] == "web2"


def test_ssh_refuses_a_wrong_host_key(lab: Lab, tmp_path: Path) -> None:
    """known_hosts is really checked: with another host's key listed for web1, ssh refuses."""
    lines = lab.paths.known_hosts.read_text().splitlines()
    addr = {h: lab.topo.host(h).address for h in ("web1", "web2")}
    key_of_web2 = next(ln.split(" ", 1)[1] for ln in lines if ln.startswith(addr["web2"] + " "))
    bad = tmp_path / "known_hosts"
    bad.write_text(f"{addr['web1']} {key_of_web2}\n")
    argv = [a if not a.startswith("UserKnownHostsFile=") else f"UserKnownHostsFile={bad}"
            for a in lab.ssh_argv("web1", "true")]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert res.returncode == 255 and "host key" in res.stderr.lower(), res.stderr


# -- database tier -------------------------------------------------------------------------------
def test_galera_has_three_synced_nodes(lab: Lab) -> None:
    for host in ("db1", "db2", "db3"):
        status = wsrep(lab, host)
        assert status["wsrep_cluster_size"] == "3"
        assert status["wsrep_local_state_comment"] == "Synced"
        assert status["wsrep_cluster_status"] == "Primary"


def _write_via_vip(lab: Lab, key: str) -> None:
    with db_connect(lab, lab.topo.vips["db"]) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS lab_test (k VARCHAR(64) PRIMARY KEY, at DOUBLE)")
        cur.execute("INSERT INTO lab_test (k, at) VALUES (%s, %s)", (key, time.time()))


def _on_every_node(lab: Lab, sql: str, args: tuple[object, ...], database: str = "harness") -> dict[str, list]:
    found = {}
    for host in ("db1", "db2", "db3"):
        with db_connect(lab, lab.topo.host(host).address, database) as conn, conn.cursor() as cur:
            cur.execute("SET SESSION wsrep_sync_wait = 1")  # causal read: see what the cluster committed
            cur.execute(sql, args)
            found[host] = [row[0] for row in cur.fetchall()]
    return found


def test_row_written_through_db_vip_is_on_every_node(lab: Lab) -> None:
    key = f"vip-{uuid.uuid4()}"
    _write_via_vip(lab, key)
    found = _on_every_node(lab, "SELECT k FROM lab_test WHERE k = %s", (key,))
    assert found == {"db1": [key], "db2": [key], "db3": [key]}


# -- faults and heals ----------------------------------------------------------------------------
def _web_masters(lab: Lab) -> list[str]:
    return sorted(d for d, v in lab.status().vrrp.items() if v.get("VI_WEB") == "MASTER")


def _master_of_web(lab: Lab) -> str:
    masters = _web_masters(lab)
    assert len(masters) == 1, masters
    return masters[0]


def test_keepalived_crash_moves_vip_and_restart_restores(lab: Lab) -> None:
    master = _master_of_web(lab)
    other = "dir2" if master == "dir1" else "dir1"
    notify_log = lab.paths.log(other) / "keepalived-notify.log"
    before = notify_log.read_text().count(" MASTER ")
    pids = lab.exec(master, ["cat", "/run/keepalived/keepalived.pid", "/run/keepalived/vrrp.pid"],
                    check=True).stdout.split()
    parent, child = pids[0], pids[1]
    try:
        # a real crash: stop both first, then kill (docs/lab-measurements.md: a parent left running respawns its child)
        lab.exec(master, ["sh", "-c", f"kill -STOP {child} {parent}; kill -9 {child} {parent}"], check=True)
        t0 = time.monotonic()
        wait_until("backup director becomes MASTER",
                   lambda: lab.status().vrrp.get(other, {}).get("VI_WEB") == "MASTER", timeout=15)
        took = time.monotonic() - t0
        assert lab.status().vrrp[master]["VI_WEB"] == "DEAD"
        assert notify_log.read_text().count(" MASTER ") >= before + 2  # VI_WEB and VI_DB, timestamped
        assert took < 3 * lab.advert_int + 3, f"failover took {took:.1f}s"
        wait_until("web VIP serves through the new master",
                   lambda: vip_get(lab).headers.get("X-Lab-Director") == other, timeout=10)
    finally:
        res = lab.ssh(master, service_command(lab, master, "keepalived", "start"))
        assert res.returncode == 0, res.stderr
    wait_until("lab healthy after keepalived restart", lambda: healthy(lab), timeout=30)
    # while it takes over, both are MASTER for a moment (the other steps down on its first advert):
    # wait for exactly one, never assert on the way
    wait_until("priority master takes the VIP back", lambda: _web_masters(lab) == [master], timeout=15)


def test_one_apache_stopped_leaves_the_site_up(lab: Lab) -> None:
    try:
        res = lab.ssh("web2", service_command(lab, "web2", "apache", "stop"))
        assert res.returncode == 0, res.stderr
        wait_until("HAProxy marks web2 DOWN on both directors", lambda: all(
            b.get("web", {}).get("web2", "").startswith("DOWN") for b in lab.status().backends.values()), timeout=10)
        nodes = []
        for _ in range(15):
            r = vip_get(lab)
            assert r.status_code == 200
            nodes.append(r.headers["X-Lab-Node"])
        assert "web2" not in nodes and set(nodes) == {"web1", "web3"}
    finally:
        lab.ssh("web2", service_command(lab, "web2", "apache", "start"))
    wait_until("lab healthy after apache restart", lambda: healthy(lab), timeout=30)


def test_killed_galera_writer_keeps_writes_working_then_rejoins(lab: Lab) -> None:
    # db1 is the active writer behind the DB VIP (db2, db3 are backups): the hardest node to lose
    pid = lab.exec("db1", ["cat", "/run/mysqld/mysqld.pid"], check=True).stdout.strip()
    keys = []
    try:
        lab.exec("db1", ["kill", "-9", pid], check=True)

        def write_once() -> bool:
            key = f"kill-{uuid.uuid4()}"
            try:
                _write_via_vip(lab, key)
            except pymysql.MySQLError:
                return False
            keys.append(key)
            return True

        wait_until("a write through the DB VIP succeeds after the kill", write_once, timeout=20, interval=0.2)
        for _ in range(5):
            assert write_once()
        assert "wsrep_cluster_size" in wsrep(lab, "db2") and wsrep(lab, "db2")["wsrep_cluster_size"] == "2"
    finally:
        res = lab.ssh("db1", service_command(lab, "db1", "mariadb", "start"))
        assert res.returncode == 0, res.stdout + res.stderr
        assert "bootstrapped" not in res.stdout  # it rejoined; it did not split the cluster
    wait_until("db1 Synced and cluster size 3", lambda: wsrep(lab, "db1").get("wsrep_cluster_size") == "3"
               and wsrep(lab, "db1").get("wsrep_local_state_comment") == "Synced", timeout=60)
    wait_until("lab healthy after mariadb restart", lambda: healthy(lab), timeout=30)
    found = _on_every_node(lab, "SELECT k FROM lab_test WHERE k LIKE 'kill-%%'", ())
    for host, got in found.items():
        assert set(keys) <= set(got), f"{host} misses {set(keys) - set(got)}"


def test_domain_destroy_and_start_a_web_node(lab: Lab) -> None:
    try:
        assert "destroyed" in lab.domain("destroy", "web3")
        assert "web3 shutoff" in lab.domain("list")
        wait_until("site answers without web3", lambda: all(vip_get(lab).status_code == 200 for _ in range(6)),
                   timeout=10)
    finally:
        lab.domain("start", "web3")
    wait_until("lab healthy after web3 start", lambda: healthy(lab), timeout=30)


def test_domain_pause_freezes_every_process_of_the_host(lab: Lab) -> None:
    state = lab._state()
    try:
        assert "paused" in lab.domain("pause", "web1")
        pids = [p for p in __import__("harness.lab._netns", fromlist=["x"]).namespace_pids(init_pid(state, "web1"))]
        states = {Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] for p in pids}
        assert states <= {"D", "T"}, states  # frozen (cgroup freezer) or stopped
        assert "web1 paused" in lab.domain("list")
    finally:
        lab.domain("unpause", "web1")
    wait_until("lab healthy after unpause", lambda: healthy(lab), timeout=30)


# -- the LMS through the VIP -----------------------------------------------------------------------
LMS_READY = (LMS_DIR / "public" / "login" / "index.php").exists()


@pytest.mark.skipif(not LMS_READY, reason="harness/lab/lms/public not there yet")
def test_lms_login_course_forum_ajax_logout_through_vip(lab: Lab) -> None:
    s = requests.Session()
    page = vip_get(lab, session=s)
    token = re.search(r'name="logintoken"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="logintoken"', page.text)
    token_value = next(g for g in token.groups() if g) if token else ""
    assert len(token_value) == 32
    addr = lab.topo.vips["web"]
    r = s.post(f"http://{addr}/login/index.php", data={"anchor": "", "logintoken": token_value,
               "username": "student001", "password": "LabStudent-1"}, timeout=10)
    assert r.status_code == 200 and 'id="page-my-index"' in r.text
    sesskey = re.search(r'"sesskey":"([^"]+)"', r.text).group(1)
    course = vip_get(lab, "/course/view.php?id=2", session=s)
    assert course.status_code == 200
    forum = vip_get(lab, "/mod/forum/view.php?id=1", session=s)
    assert forum.status_code == 200 and 'id="mformforum"' in forum.text

    def hidden(name: str) -> str:
        for tag in re.findall(r"<input[^>]*>", forum.text):
            if f'name="{name}"' in tag:
                return re.search(r'value="([^"]*)"', tag).group(1)
        raise AssertionError(f"no hidden input {name}")

    subject = f"lab-{uuid.uuid4()}"
    post = s.post(f"http://{addr}/mod/forum/post.php", timeout=10, allow_redirects=False, data={
        "course": hidden("course"), "forum": hidden("forum"), "discussion": "0", "parent": "0", "groupid": "",
        "edit": "0", "reply": "0", "discussionsubscribe": "1", "sesskey": sesskey, "_qf__mod_forum_post_form": "1",
        "subject": subject, "message[text]": "posted by tests/lab", "message[format]": "1",
        "message[itemid]": hidden("message[itemid]"), "submitbutton": "Post to forum"})
    assert post.status_code == 303, post.text[:300]
    ajax = s.post(f"http://{addr}/lib/ajax/service.php?sesskey={sesskey}&info=x", timeout=10,
                  headers={"X-Requested-With": "XMLHttpRequest"},
                  json=[{"index": 0, "methodname": "core_course_get_enrolled_courses_by_timeline_classification",
                         "args": {"offset": 0, "limit": 0, "classification": "all", "sort": "fullname",
                                  "customfieldname": "", "customfieldvalue": ""}}])
    assert ajax.status_code == 200 and ajax.json()[0]["error"] is False
    out = vip_get(lab, f"/login/logout.php?sesskey={sesskey}", session=s)
    assert out.status_code == 303
    assert vip_get(lab, "/my/", session=s).status_code == 303  # logged out: sent to the login page
    found = _on_every_node(lab, "SELECT p.subject FROM mdl_forum_discussions d JOIN mdl_forum_posts p "
                           "ON p.id = d.firstpost WHERE d.forum = 1 AND p.subject = %s", (subject,), "moodle")
    assert found == {"db1": [subject], "db2": [subject], "db3": [subject]}


# -- lifecycle -----------------------------------------------------------------------------------
def test_up_twice_is_a_noop(lab: Lab) -> None:
    # Earlier tests destroy, restart and freeze web nodes; on a busy 2-core machine one HAProxy
    # check (1 s timeout, fall 2) can still time out a little later and mark a node DOWN for ~2 s
    # (seen twice in CI, both times on web3, the node test_domain_destroy restarts; not reproduced
    # alone, idle or under load). Start from a healthy lab; a flap during up() must clear by itself.
    wait_until("lab healthy", lambda: healthy(lab), timeout=30)
    state = lab._state()
    before = {h: init_pid(state, h) for h in lab.topo.hosts}
    t0 = time.monotonic()
    st = lab.up()
    assert time.monotonic() - t0 < 10
    after = {h: init_pid(lab._state(), h) for h in lab.topo.hosts}
    assert before == after  # nothing was rebuilt or restarted
    assert st.built and st.hosts == {h: "running" for h in lab.topo.hosts}, st.hosts
    if not st.healthy:
        wait_until(f"lab healthy again after {st.problems}", lambda: healthy(lab), timeout=30)


def test_cli_status_and_domain_list(lab: Lab) -> None:
    run = lambda *a: subprocess.run([sys.executable, "-m", "harness", "lab", *a, "--name", lab.name],  # noqa: E731
                                    capture_output=True, text=True, timeout=60, cwd=REPO)
    # Earlier tests restart web nodes, and on a loaded 2-core machine one HAProxy check can still
    # time out afterwards (a DOWN for ~2 s): wait for the CLI itself to report the lab healthy.
    seen: list[subprocess.CompletedProcess] = []
    wait_until("`harness lab status` exits 0 and says HEALTHY",
               lambda: seen.append(run("status")) or (seen[-1].returncode == 0 and "HEALTHY" in seen[-1].stdout),
               timeout=30, interval=0.5)
    res = seen[-1]
    assert res.stdout.splitlines()[0].endswith(": HEALTHY"), res.stdout
    assert "dir1" in res.stdout and "VIPs: web@" in res.stdout, res.stdout
    res = run("domain", "list")
    assert res.returncode == 0
    assert sorted(res.stdout.split("\n")[:-1]) == sorted(f"{h} running" for h in lab.topo.hosts)


def test_the_sound_lab_audits_clean_and_a_server_without_check_on_the_standby_is_flagged(lab: Lab) -> None:
    """harness audit on the HAProxy lab: nothing wrong but INFO and the dataroot on each node's
    own disk (no file tier); dir2's haproxy.cfg with a server that lost its check is one
    CRITICAL finding with dir2's file and line as evidence."""
    import re

    from harness.cluster import Cluster
    from harness.config_audit import audit_cluster, exit_status
    from harness.config_audit._cli import render_table
    from harness.inventory import load_inventory

    cluster = Cluster(load_inventory(lab.inventory_path))
    path = lab.paths.conf("dir2", "haproxy.cfg")
    original = path.read_text()
    try:
        found = audit_cluster(cluster)
        # no file tier here: Moodle's dataroot is each web node's own disk, and the audit says so
        local = [f for f in found if f.rule == "web-dataroot-local"]
        assert {f.evidence[0].host for f in local} == {h.name for h in lab.topo.with_role("web")}, render_table(found)
        rest = [f for f in found if f.rule != "web-dataroot-local"]
        assert exit_status(rest) == 0, render_table(found)
        assert {f.rule for f in rest} <= {"vrrp-no-garp-refresh", "haproxy-detection-over-promise"}, render_table(found)
        broken, n = re.subn(r"(\n    server web2 \S+) check\n", r"\1\n", original)
        assert n == 1, original
        path.write_text(broken)
        found = audit_cluster(cluster)
        bad = [f for f in found if f.rule == "haproxy-no-health-check"]
        assert len(bad) == 1, render_table(found)
        line = broken.splitlines().index(next(x for x in broken.splitlines() if x.startswith("    server web2 "))) + 1
        assert bad[0].evidence[0].where() == f"dir2:{path}:{line}" and "server web2" in bad[0].message
    finally:
        path.write_text(original)  # haproxy only reads it at start: the running lab never saw the change
        cluster.close()


def test_zz_down_leaves_nothing(lab_session: tuple[Lab, bool]) -> None:
    lab, brought_up_here = lab_session
    inits = {h: dict(lab._state().init(h)) for h in lab.topo.hosts}
    t0 = time.monotonic()
    lab.down()
    took = time.monotonic() - t0
    try:
        assert lab.leftovers() == []
        from harness.lab._state import pid_alive

        alive = [h for h, rec in inits.items() if pid_alive(rec.get("pid"), rec.get("starttime"))]
        assert alive == [], f"inits still alive: {alive}"
        ours = {h.netns for h in lab.topo.hosts.values()}  # other labs may share the prefix
        assert not [ln for ln in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
                    if ln.split(" ")[0] in ours]
        assert took < 10
    finally:
        if not brought_up_here:
            lab.up()  # it was running before this session: leave it as found
