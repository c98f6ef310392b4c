"""Every fault of the catalogue injects and heals for real against the lab.

Each test checks the fault's effect from outside (HTTP, TCP, the host's own state over SSH),
heals it, and checks the host is back. The last one crashes a run on purpose (SIGKILL) and
shows `harness heal` undoing what it left, from the journal.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import Cluster
from harness.errors import UnsupportedFault
from harness.faults import Journal, Nemesis
from harness.history import HistoryRecorder
from harness.inventory import load_inventory
from harness.lab import Lab

from .conftest import wait_until

pytestmark = pytest.mark.lab

WEB = "web3"


@pytest.fixture(scope="module")
def cluster(lab: Lab) -> Iterator[Cluster]:
    os.environ["HARNESS_DB_PASSWORD"] = lab.db_password()
    c = Cluster(load_inventory(lab.inventory_path))
    yield c
    c.close()
    # leave the lab as the next module expects it: every backend back in the balancers
    wait_until("lab healthy after the fault tests", lambda: lab.status().healthy, timeout=60)


@pytest.fixture
def nemesis(cluster: Cluster, tmp_path: Path) -> Iterator[Nemesis]:
    history = HistoryRecorder(tmp_path / "history.jsonl")
    n = Nemesis(cluster, history, Journal(tmp_path))
    with n.running():
        yield n
    history.close()


def http_status(address: str, timeout: float = 1.5) -> int | str:
    """The status of GET /login/index.php, or why there was none."""
    try:
        with urllib.request.urlopen(f"http://{address}/login/index.php", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, TimeoutError) as e:
        return type(e).__name__


def web_address(cluster: Cluster) -> str:
    return cluster.inventory.host(WEB).address


def assert_web_back(lab: Lab, cluster: Cluster) -> None:
    lab.guard(web_address(cluster))
    wait_until(f"{WEB} answers 200 again", lambda: http_status(web_address(cluster)) == 200)


def test_kill_process_then_heal_restarts_it(lab, cluster, nemesis):
    assert http_status(web_address(cluster)) == 200
    with nemesis.fault("kill-process", host=WEB, process="apache", tree=True):
        out = cluster.run(WEB, "pidof apache2 || true").stdout.strip()
        assert out == "", f"apache2 still running on {WEB}: {out}"
        assert http_status(web_address(cluster)) != 200
    assert_web_back(lab, cluster)


def test_stop_service_then_heal_starts_it(lab, cluster, nemesis):
    with nemesis.fault("stop-service", host=WEB, service="apache"):
        assert http_status(web_address(cluster)) != 200
    assert_web_back(lab, cluster)


def test_freeze_makes_the_process_hang_and_heal_thaws_it(lab, cluster, nemesis):
    with nemesis.fault("freeze", host=WEB, process="apache", tree=True):
        states = cluster.run(WEB, "ps -C apache2 -o stat= | cut -c1 | sort -u").stdout.split()
        assert states == ["T"], f"apache2 processes not all stopped: {states}"
        status = http_status(web_address(cluster), timeout=1.0)
        assert status != 200, "a frozen Apache still answered"
    assert_web_back(lab, cluster)


def test_link_down_cuts_the_host_off_and_comes_back(lab, cluster, nemesis):
    addr = web_address(cluster)
    with nemesis.fault("link-down", host=WEB, interface="eth0", auto_heal_s=3):
        with pytest.raises(OSError):
            socket.create_connection((addr, 80), timeout=1.0).close()
    assert_web_back(lab, cluster)


def test_bandwidth_limit_installs_tbf_and_heal_removes_only_it(lab, cluster, nemesis):
    with nemesis.fault("bandwidth", host=WEB, interface="eth0", rate="1mbit"):
        shown = cluster.run(WEB, "tc qdisc show dev eth0 root").stdout
        assert "tbf" in shown and "fa17:" in shown, shown
    assert "tbf" not in cluster.run(WEB, "tc qdisc show dev eth0 root").stdout


def test_latency_says_netem_is_unsupported_on_this_kernel(lab, cluster, nemesis):
    has_netem = cluster.run(WEB, "tc qdisc add dev lo root handle 1: netem delay 1ms && tc qdisc del dev lo root")
    if has_netem.succeeded:
        pytest.skip("this kernel has netem: the latency fault would work here")
    with pytest.raises(UnsupportedFault, match=f"netem unsupported on host {WEB}"):
        nemesis.inject("latency", host=WEB, interface="eth0", delay_ms=50)
    assert nemesis.active == {}


def test_partition_installs_our_table_and_heal_deletes_it(lab, cluster, nemesis):
    with nemesis.fault("partition", a=["web1"], b=["web2"]):
        assert "harness_partition" in cluster.run("web1", "nft list tables").stdout
        ping = cluster.run("web1", f"timeout 2 bash -c '</dev/tcp/{cluster.inventory.host('web2').address}/80'")
        assert ping.failed, "web1 still reaches web2 across the partition"
    assert "harness_partition" not in cluster.run("web1", "nft list tables").stdout
    assert cluster.run("web1", f"timeout 2 bash -c '</dev/tcp/{cluster.inventory.host('web2').address}/80'").succeeded


def test_director_failure_on_the_backup_then_heal(lab, cluster, nemesis):
    with nemesis.fault("director-failure", host="dir2"):
        assert cluster.run("dir2", "pidof keepalived haproxy || true").stdout.strip() == ""
    wait_until("keepalived and haproxy back on dir2",
             lambda: len(cluster.run("dir2", "pidof keepalived haproxy || true").stdout.split()) >= 2)


def test_db_node_failure_then_heal_rejoins_synced(lab, cluster, nemesis):
    with nemesis.fault("db-node-failure", host="db3"):
        assert cluster.run("db3", "pidof mariadbd || true").stdout.strip() == ""
    out = cluster.run("db3", "mysql -N -B -e \"SHOW STATUS LIKE 'wsrep_local_state_comment'\"").stdout
    assert "Synced" in out, out


@pytest.mark.parametrize("fault", ["domain-pause", "domain-shutdown", "domain-destroy"])
def test_domain_faults_then_heal(lab, cluster, nemesis, fault):
    with nemesis.fault(fault, host=WEB):
        assert http_status(web_address(cluster), timeout=1.0) != 200
        state = dict(line.split() for line in lab.domain("list").splitlines() if line.strip()).get(WEB)
        assert state == ("paused" if fault == "domain-pause" else "shutoff"), state
    assert_web_back(lab, cluster)


def test_harness_heal_undoes_what_a_killed_run_left(lab, cluster, tmp_path):
    """A run injects a fault and is SIGKILLed: nothing heals it but the journal."""
    script = tmp_path / "crashing_run.py"
    script.write_text(
        "import sys, time\n"
        "from harness.cluster import Cluster\nfrom harness.faults import Journal, Nemesis\n"
        "from harness.history import HistoryRecorder\nfrom harness.inventory import load_inventory\n"
        f"c = Cluster(load_inventory({str(lab.inventory_path)!r}))\n"
        f"n = Nemesis(c, HistoryRecorder({str(tmp_path / 'history.jsonl')!r}), Journal({str(tmp_path)!r}))\n"
        f"n.inject('stop-service', host={WEB!r}, service='apache')\n"
        "print('injected', flush=True)\ntime.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "injected"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert http_status(web_address(cluster)) != 200, "the fault should still be in force after the crash"
    healed = subprocess.run([sys.executable, "-m", "harness", "heal", "--journal", str(tmp_path)],
                            capture_output=True, text=True, timeout=180)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "stop-service" in healed.stdout and "healed" in healed.stdout, healed.stdout
    assert_web_back(lab, cluster)
    again = subprocess.run([sys.executable, "-m", "harness", "heal", "--journal", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
