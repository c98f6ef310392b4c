"""SshTransport and the testinfra host against a real sshd on 127.0.0.1 (no cluster needed).

The fixture starts `/usr/sbin/sshd -D -e` with its own host key, authorized key, pid file and
port in a temp dir, and stops it by its PID at teardown.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from harness.cluster import Cluster
from harness.errors import CommandError, TransportError
from harness.inventory import Host, SshConfig, inventory_from_dict
from harness.transport.ssh import SshTransport

SSHD = "/usr/sbin/sshd"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(SSHD) and shutil.which("ssh-keygen")),
    reason=f"{SSHD} or ssh-keygen missing (install openssh-server to run the SSH transport tests)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip() if path.suffix else Path(f"{path}.pub").read_text().strip()


def _fingerprint(pub: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], check=True, capture_output=True, text=True).stdout
    return out.split()[1]


@dataclass
class Sshd:
    dir: Path
    port: int
    pid: int
    user: str
    client_key: Path
    known_hosts: Path
    host_pub: Path
    log: Path

    def ssh(self, **over: object) -> SshConfig:
        base = SshConfig(
            user=self.user,
            port=self.port,
            key_file=str(self.client_key),
            known_hosts=str(self.known_hosts),
            connect_timeout_s=3.0,
            command_timeout_s=10.0,
            keepalive_s=1.0,
        )
        return replace(base, **over)  # type: ignore[arg-type]

    def host(self, name: str = "box", **over: object) -> Host:
        return Host(name=name, address="127.0.0.1", roles=("web",), ssh=self.ssh(**over))


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    d = tmp_path_factory.mktemp("sshd")
    host_key = d / "host_ed25519"
    client_key = d / "client_ed25519"
    _keygen(host_key)
    client_pub = _keygen(client_key)
    (d / "authorized_keys").write_text(client_pub + "\n")
    port = _free_port()
    host_pub = Path(f"{host_key}.pub")
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub.read_text().strip()}\n")
    config = d / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"AuthorizedKeysFile {d / 'authorized_keys'}",
                f"PidFile {d / 'sshd.pid'}",
                "UsePAM no",
                "StrictModes no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "MaxStartups 50",
                "MaxSessions 50",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation directory
    log = d / "sshd.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=logf, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):  # up to ~5 s
            if proc.poll() is not None:
                pytest.skip(f"sshd exited at start ({proc.returncode}): {log.read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.skip(f"sshd did not listen on {port}: {log.read_text()[-500:]}")
        import pwd

        user = pwd.getpwuid(os.geteuid()).pw_name
        yield Sshd(d, port, proc.pid, user, client_key, known, host_pub, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def transport(sshd: Sshd) -> Iterator[SshTransport]:
    t = SshTransport.from_host(sshd.host())
    yield t
    t.close()


def test_command_returns_stdout_stderr_and_exit_status(transport: SshTransport) -> None:
    r = transport.run("echo out; echo err >&2; exit 7")
    assert (r.exit_status, r.stdout, r.stderr) == (7, "out\n", "err\n")
    assert r.host == "box" and r.failed


def test_arguments_are_quoted_through_the_remote_shell(transport: SshTransport) -> None:
    nasty = "a b'c\"$(touch /tmp/harness-pwned);"
    r = transport.run(["printf", "%s|", nasty, "x y"])
    assert r.stdout == f"{nasty}|x y|"
    assert transport.check_output("printf '%%s|' %s %s", "1 2", "$HOME") == "1 2|$HOME|"
    assert not os.path.exists("/tmp/harness-pwned")


def test_run_expect_raises_command_error_with_output(transport: SshTransport) -> None:
    assert transport.run_expect([0, 3], "exit 3").exit_status == 3
    with pytest.raises(CommandError) as info:
        transport.run_expect([0], "echo boom >&2; exit 4")
    assert info.value.exit_status == 4 and "boom" in str(info.value) and "box" in str(info.value)


def test_large_output_on_both_streams_does_not_deadlock(transport: SshTransport) -> None:
    r = transport.run("head -c 3000000 /dev/zero | tr '\\0' a; head -c 3000000 /dev/zero | tr '\\0' b >&2", timeout=20)
    assert len(r.stdout) == 3_000_000 and len(r.stderr) == 3_000_000


def test_unknown_host_key_is_rejected_with_fingerprint(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    t = SshTransport.from_host(sshd.host(known_hosts=str(empty)))
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        t.run("true")
    msg = str(info.value)
    assert msg.startswith("box: host key of 127.0.0.1:") and "is not in" in msg and str(empty) in msg
    assert _fingerprint(sshd.host_pub) in msg
    assert "insecure_ignore_host_keys" in msg
    assert time.monotonic() - started < 3
    assert empty.read_text() == ""  # never written


def test_missing_known_hosts_file_rejects_too(sshd: Sshd, tmp_path: Path) -> None:
    t = SshTransport.from_host(sshd.host(known_hosts=str(tmp_path / "nope")))
    with pytest.raises(TransportError, match="does not exist"):
        t.run("true")


def test_known_hosts_with_markers_and_hashed_entries_still_connects(sshd: Sshd, tmp_path: Path) -> None:
    """OpenSSH lines paramiko cannot use (``@cert-authority``) are skipped, not a traceback;
    a hashed entry (``ssh-keygen -H``) still matches."""
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority *.example {sshd.host_pub.read_text().strip()}\n" + sshd.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "|1|" in known.read_text() and "127.0.0.1" not in known.read_text()
    t = SshTransport.from_host(sshd.host(known_hosts=str(known)))
    assert t.check_output("echo ok") == "ok"
    t.close()


def test_oversized_output_is_cut_over_ssh_and_the_stream_read_to_the_end(sshd: Sshd) -> None:
    t = SshTransport.from_host(sshd.host(), output_limit_bytes=1000)
    try:
        r = t.run("head -c 2000000 /dev/zero | tr '\\0' a; echo done >&2", timeout=20)
        assert (len(r.stdout), r.stdout_truncated_bytes, r.stderr) == (1000, 1_999_000, "done\n")
    finally:
        t.close()


def test_changed_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _keygen(other)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {Path(f'{other}.pub').read_text().strip()}\n")
    with pytest.raises(TransportError, match="CHANGED") as info:
        SshTransport.from_host(sshd.host(known_hosts=str(known))).run("true")
    assert _fingerprint(sshd.host_pub) in str(info.value)


def test_insecure_ignore_host_keys_accepts_and_warns_once(
    sshd: Sshd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = sshd.host(name="throwaway", known_hosts=str(empty), insecure_ignore_host_keys=True)
    caplog.set_level(logging.WARNING, logger="harness.transport.ssh")
    for _ in range(2):
        t = SshTransport.from_host(host)
        assert t.run("echo ok").stdout == "ok\n"
        t.close()
    warnings = [r for r in caplog.records if "NOT checked" in r.getMessage()]
    assert len(warnings) == 1 and "throwaway" in warnings[0].getMessage()
    assert empty.read_text() == ""


def test_wrong_key_fails_authentication_clearly(sshd: Sshd, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    _keygen(wrong)
    t = SshTransport.from_host(sshd.host(key_file=str(wrong)))
    with pytest.raises(TransportError, match="authentication failed for .*@127.0.0.1"):
        t.run("true")


def test_command_timeout_names_host_and_command_and_is_quick(transport: SshTransport, sshd: Sshd) -> None:
    pidfile = sshd.dir / "sleeper.pid"
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        transport.run("echo $$ > %s; exec sleep 8", str(pidfile), timeout=0.5)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed
    msg = str(info.value)
    assert msg.startswith("box: ") and "exec sleep 8" in msg and "timed out after 0.5s" in msg
    # the connection stays usable for the next command
    assert transport.run("echo again").stdout == "again\n"
    assert transport.connections_opened == 1
    try:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)  # the sleep we started, by its PID
    except (ProcessLookupError, ValueError, FileNotFoundError):
        pass


def test_banner_that_never_comes_fails_within_connect_timeout() -> None:
    """A host that accepts TCP but never speaks SSH (frozen, half-dead) must not hang a test."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        host = Host("frozen", "127.0.0.1", ("web",), SshConfig(port=port, connect_timeout_s=0.5, known_hosts="/dev/null"))
        started = time.monotonic()
        with pytest.raises(TransportError) as info:
            SshTransport.from_host(host).run("true")
        assert time.monotonic() - started < 3
        assert str(info.value).startswith("frozen: ") and f"127.0.0.1:{port}" in str(info.value)


def test_connection_refused_is_a_transport_error() -> None:
    host = Host("gone", "127.0.0.1", ("web",), SshConfig(port=_free_port(), connect_timeout_s=1))
    with pytest.raises(TransportError, match="^gone: cannot connect to"):
        SshTransport.from_host(host).run("true")


def test_connection_is_reused_and_reopened_once_after_a_drop(transport: SshTransport) -> None:
    # the shell's parent is the sshd process serving the connection: one connection, one parent
    parents = {transport.run("echo $PPID").stdout for _ in range(3)}
    assert transport.connections_opened == 1 and len(parents) == 1
    client = transport._client
    assert client is not None
    client.get_transport().close()  # type: ignore[union-attr]  # the connection drops under us
    after = transport.run("echo $PPID").stdout
    assert transport.connections_opened == 2 and after not in parents


def test_concurrent_commands_share_one_connection(transport: SshTransport) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results.append(transport.run("sleep 0.2; echo %s", i).stdout.strip())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=20)
    assert not errors
    assert sorted(results, key=int) == [str(i) for i in range(8)]
    assert transport.connections_opened == 1
    assert time.monotonic() - started < 8 * 0.2 + 2  # ran concurrently, not one after another


def _inventory(sshd: Sshd, **ssh_over: object) -> object:
    ssh = {
        "user": sshd.user, "port": sshd.port, "key_file": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts), "connect_timeout_s": 3, "command_timeout_s": 5,
    }
    ssh.update(ssh_over)
    return inventory_from_dict({"name": "t", "ssh": ssh, "hosts": {"web1": {"address": "127.0.0.1", "roles": ["web"]}}})


def test_cluster_runs_over_ssh_and_caches_the_transport(sshd: Sshd) -> None:
    with Cluster(_inventory(sshd)) as cluster:  # type: ignore[arg-type]
        assert cluster.run("web1", "echo %s", "hi there").stdout == "hi there\n"
        cluster.run_expect("web1", [1], "false")
        t = cluster.transport("web1")
        assert isinstance(t, SshTransport) and t is cluster.transport("web1")
        assert t.connections_opened == 1
    assert t._client is None  # closed by the context manager


def test_testinfra_host_works_over_the_same_ssh_settings(sshd: Sshd) -> None:
    with Cluster(_inventory(sshd)) as cluster:  # type: ignore[arg-type]
        host = cluster.testinfra_host("web1")
        assert host.file("/etc/hostname").exists
        assert host.run("echo hi").stdout == "hi\n"
        assert host.file(str(sshd.known_hosts)).contains(str(sshd.port))
        assert host.run("exit 3").rc == 3
        assert cluster.testinfra_host("web1") is host


def test_testinfra_host_checks_host_keys_like_the_transport(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with Cluster(_inventory(sshd, known_hosts=str(empty))) as cluster:  # type: ignore[arg-type]
        with pytest.raises(TransportError, match="is not in"):
            cluster.testinfra_host("web1").run("true")
    with Cluster(_inventory(sshd, known_hosts=str(empty), insecure_ignore_host_keys=True)) as cluster:  # type: ignore[arg-type]
        assert cluster.testinfra_host("web1").run("echo ok").stdout == "ok\n"


def test_testinfra_host_command_timeout(sshd: Sshd) -> None:
    with Cluster(_inventory(sshd, command_timeout_s=0.5)) as cluster:  # type: ignore[arg-type]
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out"):
            cluster.testinfra_host("web1").run("sleep 3")
        assert time.monotonic() - started < 2
