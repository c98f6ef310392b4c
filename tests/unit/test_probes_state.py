"""StateSampler over FakeTransports answering with captured command output."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cluster import Cluster
from harness.errors import ProbeError, TransportError
from harness.history import HistoryRecorder
from harness.inventory._model import Database, Host, Inventory, Service, Vip
from harness.probes import StateSampler, parse_ip_addr
from harness.testing import FakeCluster, unreachable
from harness.transport.local import LocalTransport

IP_DIR1 = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 198.18.0.11/24 brd 198.18.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet 198.18.0.100/32 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet 198.18.0.101/32 scope global eth0\\       valid_lft forever preferred_lft forever
"""
# dir2 is BACKUP; an LVS-DR style VIP on lo must not count as holding it
IP_DIR2 = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet 198.18.0.100/32 scope global lo\\       valid_lft forever preferred_lft forever
7: eth0@if8    inet 198.18.0.12/24 brd 198.18.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
"""


def _keepalived_data(web: str, db: str) -> str:
    return f"""\
------< Global definitions >------
 Network namespace = (default)
 Router ID = dir
------< VRRP Topology >------
 VRRP Instance = VI_WEB
   VRRP Version = 3
   State = {web}
   Wantstate = {web}
 VRRP Instance = VI_DB
   VRRP Version = 3
   State = {db}
------< VRRP Sockpools >------
"""


SHOW_STAT = """\
# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type
ft_web,FRONTEND,,,0,0,2000,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0
web,web1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,10,0,,1,3,1,,0,,2
web,web2,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP 1/2,1,1,0,1,0,10,0,,1,3,2,,0,,2
web,web3,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,3,1,4,4,,1,3,3,,0,,2
web,BACKEND,0,0,0,0,200,0,0,0,0,0,,0,0,0,0,UP,2,2,0,,0,10,0,,1,3,0,,0,,1
"""

IPVSADM = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  198.18.0.100:80 wlc
  -> 198.18.0.21:80               Masq    1      0          3
  -> 198.18.0.22:80               Masq    0      0          0
TCP  198.18.0.200:8080 rr
  -> 198.18.0.99:8080             Route   1      0          0
"""

WSREP = (
    "wsrep_local_state_comment\tSynced\n"
    "wsrep_cluster_size\t3\n"
    "wsrep_cluster_status\tPrimary\n"
    "wsrep_ready\tON\n"
    "wsrep_connected\tON\n"
    "wsrep_cluster_state_uuid\t1b5d1a3e-0000-11ef-0000-000000000001\n"
    "wsrep_provider_name\tGalera\n"
)

NDB_SHOW = """\
Connected to Management Server at: 198.18.0.40:1186
Cluster Configuration
---------------------
[ndbd(NDB)]\t2 node(s)
id=2\t@198.18.0.31  (mysql-8.0.35 ndb-8.0.35, Nodegroup: 0, *)
id=3 (not connected, accepting connect from 198.18.0.32)

[ndb_mgmd(MGM)]\t1 node(s)
id=1\t@198.18.0.40  (mysql-8.0.35 ndb-8.0.35)

[mysqld(API)]\t1 node(s)
id=4\t@198.18.0.31  (mysql-8.0.35 ndb-8.0.35)
"""


def _director(name: str, address: str, haproxy: bool = True) -> Host:
    services = {"keepalived": Service("keepalived", "command", start="keepalived", stop="kill",
                                      pidfile=f"/run/{name}/keepalived.pid", process="keepalived")}
    if haproxy:
        services["haproxy"] = Service("haproxy", "systemd", unit="haproxy.service", process="haproxy")
    return Host(name, address, ("director",), services=services)


def _inventory(kind: str = "galera", haproxy: bool = True) -> Inventory:
    hosts = [
        _director("dir1", "198.18.0.11", haproxy),
        _director("dir2", "198.18.0.12", haproxy),
        Host("web1", "198.18.0.21", ("web",)),
        Host("web2", "198.18.0.22", ("web",)),
        Host("db1", "198.18.0.31", ("db",)),
        Host("db2", "198.18.0.32", ("db",)),
    ]
    if kind == "ndb":
        hosts.append(Host("mgm1", "198.18.0.40", ("mgm",)))
    return Inventory(
        name="t",
        hosts={h.name: h for h in hosts},
        vips={"web": Vip("web", "198.18.0.100", 80, "http"), "db": Vip("db", "198.18.0.101", 3306, "mysql")},
        database=Database(kind=kind),  # type: ignore[arg-type]
    )


def _fakes(kind: str = "galera") -> FakeCluster:
    fakes = FakeCluster()
    fakes("dir1").on(r"^ip -o -4 addr show", (0, IP_DIR1, "")).on(
        r"kill -USR1", (0, _keepalived_data("MASTER", "MASTER"), "")
    ).on(r"socat stdio UNIX:/run/haproxy/admin.sock", (0, SHOW_STAT, ""))
    fakes("dir2").on(r"^ip -o -4 addr show", (0, IP_DIR2, "")).on(
        r"kill -USR1", (0, _keepalived_data("BACKUP", "BACKUP"), "")
    ).on(r"socat", (1, "", "2025/01/01 socat E connect(5, AF=1 \"/run/haproxy/admin.sock\"): No such file"))
    fakes("web2").on(r".", unreachable("web2"))
    fakes("db1").on(r"^mysql -N -B -e", (0, WSREP, ""))
    fakes("db2").on(r".", TransportError("db2", "ssh: connect to host 198.18.0.32 port 22: No route to host"))
    if kind == "ndb":
        fakes("mgm1").on(r"^ndb_mgm -e show$", (0, NDB_SHOW, ""))
    return fakes


def _cluster(fakes: FakeCluster, **kw: object) -> Cluster:
    return Cluster(_inventory(**kw), transport_factory=lambda host: fakes(host.name))  # type: ignore[arg-type]


def test_sample_once_builds_the_documented_dict() -> None:
    fakes = _fakes()
    sampler = StateSampler(_cluster(fakes), None, max_count=1, max_duration_s=5)
    try:
        sample = sampler.sample_once()
    finally:
        sampler.close()
    assert sample["vrrp"] == {"dir1": {"VI_WEB": "MASTER", "VI_DB": "MASTER"},
                              "dir2": {"VI_WEB": "BACKUP", "VI_DB": "BACKUP"}}
    assert sample["vip_holders"] == {"web": ["dir1"], "db": ["dir1"]}
    assert sample["backends"] == {"dir1": {"web": {"web1": "UP", "web2": "UP", "web3": "DOWN"}}}
    assert sample["db"] == {"db1": {
        "wsrep_cluster_size": 3, "wsrep_cluster_status": "Primary", "wsrep_local_state_comment": "Synced",
        "wsrep_ready": "ON", "wsrep_connected": "ON",
        "wsrep_cluster_state_uuid": "1b5d1a3e-0000-11ef-0000-000000000001"}}
    assert sample["unreachable"] == ["db2", "web2"]
    # dir2 answered but its HAProxy socket did not: an error, not an unreachable host
    assert "backends" in sample["errors"]["dir2"] and "exited 1" in sample["errors"]["dir2"]
    assert "No route to host" in sample["errors"]["db2"]
    assert "ndb" not in sample

    # the keepalived parent's pid comes from the service's pidfile, the dump from the default path
    vrrp_cmd = next(c for c in fakes("dir1").commands if "kill -USR1" in c)
    assert "cat /run/dir1/keepalived.pid" in vrrp_cmd and "f=/tmp/keepalived.data" in vrrp_cmd
    assert fakes("web1").commands == ["true"]


def test_sampler_thread_records_state_samples_in_the_history() -> None:
    h = HistoryRecorder()
    sampler = StateSampler(_cluster(_fakes()), h, interval_s=0.05, max_count=3, max_duration_s=5)
    with sampler:
        assert sampler.join(timeout=3)
    ops = [o for o in h.ops() if o.process == "state"]
    assert [o.type for o in ops] == ["invoke", "ok"] * 3
    assert {o.f for o in ops} == {"sample"}
    assert all(o.value is None for o in ops if o.type == "invoke")
    assert all(o.value["vip_holders"] == {"web": ["dir1"], "db": ["dir1"]} for o in ops if o.type == "ok")


def test_a_hung_host_does_not_hold_up_the_others() -> None:
    fakes = _fakes()

    def hang(line: str) -> tuple[int, str, str]:
        time.sleep(1.5)
        return (0, "", "")

    fakes("web1").on(r".", hang)
    sampler = StateSampler(_cluster(fakes), None, max_count=1, max_duration_s=5, budget_s=0.3)
    try:
        t0 = time.monotonic()
        sample = sampler.sample_once()
        elapsed = time.monotonic() - t0
        assert elapsed < 0.6
        assert sample["unreachable"] == ["db2", "web1", "web2"]
        assert sample["errors"]["web1"] == "no answer within 0.3s"
        assert sample["vrrp"]["dir1"]["VI_WEB"] == "MASTER"  # the others were sampled meanwhile
        # next sample while web1 is still stuck: not queued behind it
        again = sampler.sample_once()
        assert "web1" in again["unreachable"] and again["errors"]["web1"] == "previous sample still running"
    finally:
        sampler.close()


def test_lvs_backends_and_custom_paths() -> None:
    fakes = _fakes()
    fakes("dir1").on(r"^ipvsadm -Ln$", (0, IPVSADM, ""))
    sampler = StateSampler(
        _cluster(fakes, haproxy=False), None, max_count=1, max_duration_s=5,
        keepalived_data_path={"dir1": "/run/dir1/keepalived.data"},
    )
    try:
        sample = sampler.sample_once()
    finally:
        sampler.close()
    assert sample["backends"]["dir1"] == {
        "web": {"web1": "UP", "web2": "DRAIN"},  # weight 0: drained
        "TCP 198.18.0.200:8080": {"198.18.0.99:8080": "UP"},  # not an inventory VIP or host
    }
    cmds = fakes("dir1").commands
    assert not any("socat" in c for c in cmds)
    assert any("f=/run/dir1/keepalived.data" in c for c in cmds)
    assert any("f=/tmp/keepalived.data" in c for c in fakes("dir2").commands)


def test_ndb_cluster_sampled_on_the_mgm_host() -> None:
    fakes = _fakes("ndb")
    sampler = StateSampler(_cluster(fakes, kind="ndb"), None, max_count=1, max_duration_s=5)
    try:
        sample = sampler.sample_once()
    finally:
        sampler.close()
    assert "db" not in sample  # no wsrep on NDB
    assert sample["ndb"]["2"] == {"kind": "ndbd", "connected": True, "address": "198.18.0.31", "nodegroup": 0,
                                  "master": True, "status": None}
    assert sample["ndb"]["3"]["connected"] is False
    assert not any(c.startswith("mysql") for c in fakes("db1").commands)


def test_unparsable_keepalived_dump_is_an_error_not_a_crash() -> None:
    fakes = _fakes()
    fakes("dir1")._rules.clear()
    fakes("dir1").on(r"^ip -o -4", (0, IP_DIR1, "")).on(r"kill -USR1", (0, "garbage\n", "")).on(
        r"socat", (0, SHOW_STAT, ""))
    sampler = StateSampler(_cluster(fakes), None, max_count=1, max_duration_s=5)
    try:
        sample = sampler.sample_once()
    finally:
        sampler.close()
    assert "dir1" not in sample["vrrp"] and sample["vrrp"]["dir2"]["VI_WEB"] == "BACKUP"
    assert "vrrp:" in sample["errors"]["dir1"] and "dir1" not in sample["unreachable"]
    assert sample["vip_holders"]["web"] == ["dir1"]


def test_stop_is_prompt_during_a_slow_sample() -> None:
    fakes = _fakes()
    def slow(line: str) -> tuple[int, str, str]:
        time.sleep(1.0)
        return (0, "", "")

    fakes("web1").on(r".", slow)
    h = HistoryRecorder()
    sampler = StateSampler(_cluster(fakes), h, interval_s=5, max_count=5, max_duration_s=60)
    sampler.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    sampler.stop()
    assert time.monotonic() - t0 < 0.5 and not sampler.is_alive()
    ops = [o for o in h.ops() if o.process == "state"]
    assert [o.type for o in ops] == ["invoke", "info"]


def test_parse_ip_addr() -> None:
    assert parse_ip_addr(IP_DIR2) == {"lo": ["127.0.0.1", "198.18.0.100"], "eth0": ["198.18.0.12"]}


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ProbeError, match="balancer"):
        StateSampler(_cluster(_fakes()), None, max_count=1, max_duration_s=1, balancer="nginx")
    with pytest.raises(ProbeError, match="max_count"):
        StateSampler(_cluster(_fakes()), None, max_count=0, max_duration_s=1)
    with pytest.raises(ProbeError, match="history"):
        StateSampler(_cluster(_fakes()), None, max_count=1, max_duration_s=1).start()


# a stand-in for keepalived's parent: on SIGUSR1 it rewrites the dump (slowly, in two writes)
_FAKE_KEEPALIVED = r"""
import signal, sys, time
path, state = sys.argv[1], sys.argv[2]
def dump(signum, frame):
    time.sleep(0.05)
    with open(path, "w") as fh:
        fh.write("------< VRRP Topology >------\n VRRP Instance = VI_WEB\n")
        fh.flush()
        time.sleep(0.02)
        fh.write(f"   State = {state}\n")
signal.signal(signal.SIGUSR1, dump)
print("ready", flush=True)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    time.sleep(0.05)
"""


def test_keepalived_dump_script_runs_for_real(tmp_path: Path) -> None:
    """The one-round-trip shell script: pid from the pidfile, SIGUSR1, wait for a fresh dump."""
    data = tmp_path / "keepalived.data"
    data.write_text("------< stale >------\n VRRP Instance = VI_WEB\n   State = FAULT\n")
    proc = subprocess.Popen([sys.executable, "-c", _FAKE_KEEPALIVED, str(data), "MASTER"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        pidfile = tmp_path / "keepalived.pid"
        pidfile.write_text(f"{proc.pid}\n")
        services = {"keepalived": Service("keepalived", "command", start="x", stop="y", pidfile=str(pidfile))}
        inv = Inventory(name="t", hosts={"dir1": Host("dir1", "127.0.0.1", ("director",), transport="local",
                                                      services=services)})
        cluster = Cluster(inv, transport_factory=lambda host: LocalTransport(host.name))
        sampler = StateSampler(cluster, None, max_count=1, max_duration_s=5, budget_s=2.0,
                               keepalived_data_path=str(data), balancer="haproxy",
                               haproxy_socket=str(tmp_path / "no.sock"))
        try:
            sample = sampler.sample_once()
        finally:
            sampler.close()
        assert sample["vrrp"] == {"dir1": {"VI_WEB": "MASTER"}}
        assert sample["unreachable"] == []
        assert "backends" in sample["errors"]["dir1"]  # no HAProxy socket here

        proc.kill()
        proc.wait(5)
        sampler = StateSampler(cluster, None, max_count=1, max_duration_s=5, budget_s=2.0,
                               keepalived_data_path=str(data), keepalived_wait_s=0.2)
        try:
            sample = sampler.sample_once()
        finally:
            sampler.close()
        assert "vrrp" not in sample and "vrrp:" in sample["errors"]["dir1"]
    finally:
        proc.kill()
        proc.wait(5)


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.skipif(not (shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")) or
                    not shutil.which("socat"), reason="haproxy or socat not installed")
def test_haproxy_backends_from_a_real_stats_socket(tmp_path: Path) -> None:
    """The real `echo 'show stat' | socat` round trip against a throwaway HAProxy."""
    up = socket.socket()
    up.bind(("127.0.0.1", 0))
    up.listen(16)  # TCP check passes on a listening socket
    sock = tmp_path / "admin.sock"
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(f"""global
    stats socket {sock} mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:{_free_port()}
    server web1 127.0.0.1:{up.getsockname()[1]} check inter 100ms rise 1 fall 1
    server web2 127.0.0.1:{_free_port()} check inter 100ms rise 1 fall 1
""")
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    assert haproxy
    proc = subprocess.Popen([haproxy, "-db", "-f", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        services = {"haproxy": Service("haproxy", "command", start="x", stop="y", process="haproxy")}
        inv = Inventory(name="t", hosts={"dir1": Host("dir1", "127.0.0.1", ("director",), transport="local",
                                                      services=services)})
        cluster = Cluster(inv, transport_factory=lambda host: LocalTransport(host.name))
        sampler = StateSampler(cluster, None, max_count=1, max_duration_s=5, budget_s=2.0,
                               haproxy_socket=str(sock), keepalived_wait_s=0.1)
        try:
            backends = None
            end = time.monotonic() + 5
            while time.monotonic() < end:  # until both checks have run once
                sample = sampler.sample_once()
                backends = sample.get("backends", {}).get("dir1")
                if backends == {"web": {"web1": "UP", "web2": "DOWN"}}:
                    break
                time.sleep(0.1)
        finally:
            sampler.close()
        assert backends == {"web": {"web1": "UP", "web2": "DOWN"}}
        assert sample["unreachable"] == []
    finally:
        proc.kill()
        proc.wait(5)
        up.close()
