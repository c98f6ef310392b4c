"""Output bounds and finite timeouts in every transport; known_hosts read with one clear error.

The SSH side runs against a scripted paramiko channel (no sshd needed): what matters is how
``exec_on_client`` reads, not the network.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.errors import CommandError, TransportError
from harness.inventory import SshConfig
from harness.testing import FakeTransport
from harness.transport.base import DEFAULT_OUTPUT_LIMIT_BYTES, BoundedBuffer, CommandResult
from harness.transport.local import LocalTransport
from harness.transport.ssh import SshTransport, exec_on_client, open_client, parse_known_hosts

# -- the buffer ---------------------------------------------------------------------------------

def test_bounded_buffer_keeps_the_head_and_counts_the_rest() -> None:
    b = BoundedBuffer(10)
    for chunk in (b"abcd", b"efgh", b"ijkl", b"mnop"):
        b.feed(chunk)
    assert b.data == b"abcdefghij"
    assert b.dropped == 6
    assert b.text() == "abcdefghij"


def test_default_bound_is_4_mib() -> None:
    assert DEFAULT_OUTPUT_LIMIT_BYTES == 4 * 1024 * 1024
    assert LocalTransport("sup").output_limit_bytes == DEFAULT_OUTPUT_LIMIT_BYTES
    assert SshTransport("h").output_limit_bytes == DEFAULT_OUTPUT_LIMIT_BYTES


# -- local ------------------------------------------------------------------------------------

def test_local_output_beyond_the_bound_is_dropped_and_counted() -> None:
    t = LocalTransport("sup", output_limit_bytes=1000)
    r = t.run("head -c 300000 /dev/zero | tr '\\0' o; head -c 1500 /dev/zero | tr '\\0' e >&2")
    assert r.exit_status == 0
    assert r.stdout == "o" * 1000
    assert r.stdout_truncated_bytes == 299_000
    assert r.stderr == "e" * 1000
    assert r.stderr_truncated_bytes == 500
    assert r.truncated
    assert r.truncation_note() == " (stdout truncated: 299000 bytes dropped; stderr truncated: 500 bytes dropped)"


def test_local_default_bound_cuts_at_4_mib() -> None:
    r = LocalTransport("sup").run("head -c %s /dev/zero", 5 * 1024 * 1024)
    assert len(r.stdout) == 4 * 1024 * 1024
    assert r.stdout_truncated_bytes == 1024 * 1024
    assert r.stderr_truncated_bytes == 0


def test_local_output_within_the_bound_is_whole() -> None:
    r = LocalTransport("sup", output_limit_bytes=6).run("printf abcdef")
    assert (r.stdout, r.stdout_truncated_bytes, r.truncated) == ("abcdef", 0, False)
    assert r.truncation_note() == ""


def test_command_error_says_the_output_was_cut() -> None:
    t = LocalTransport("sup", output_limit_bytes=100)
    with pytest.raises(CommandError) as info:
        t.run_expect([0], "head -c 250 /dev/zero | tr '\\0' x >&2; exit 3")
    msg = str(info.value)
    assert "exited 3" in msg
    assert "stderr truncated, 150 bytes dropped" in msg
    assert info.value.stderr_truncated_bytes == 150


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None, "4M"])
def test_output_limit_must_be_a_positive_whole_number(bad: Any) -> None:
    with pytest.raises(TransportError, match="sup: output_limit_bytes"):
        LocalTransport("sup", output_limit_bytes=bad)
    with pytest.raises(TransportError, match="h: output_limit_bytes"):
        SshTransport("h", output_limit_bytes=bad)
    if bad is not None:  # the fake's default: no bound
        with pytest.raises(TransportError, match="f: output_limit_bytes"):
            FakeTransport("f", output_limit_bytes=bad)


@pytest.mark.parametrize("bad", [None, math.inf, math.nan, 0, -5, "60"])
def test_local_timeouts_must_be_finite(bad: Any) -> None:
    with pytest.raises(TransportError, match="sup: command_timeout_s must be a finite number"):
        LocalTransport("sup", command_timeout_s=bad)
    if bad is not None:  # None per call means "the transport's default"
        with pytest.raises(TransportError, match="sup: timeout must be a finite number"):
            LocalTransport("sup").run("true", timeout=bad)


@pytest.mark.parametrize("field", ["connect_timeout_s", "command_timeout_s"])
@pytest.mark.parametrize("bad", [None, math.inf, math.nan, 0])
def test_ssh_timeouts_must_be_finite(field: str, bad: Any) -> None:
    ssh = SshConfig(**{field: bad})
    with pytest.raises(TransportError, match=f"h: ssh.{field} must be a finite number"):
        SshTransport("h", "192.0.2.1", ssh)


def test_ssh_per_call_timeout_must_be_finite() -> None:
    t = SshTransport("h", "192.0.2.1")
    with pytest.raises(TransportError, match="h: timeout must be a finite number"):
        t.run("true", timeout=math.inf)  # refused before any connection is tried


def test_fake_transport_models_the_bound() -> None:
    fake = FakeTransport("f", output_limit_bytes=4).on("^cat", (0, "123456", "ab"))
    r = fake.run("cat x")
    assert (r.stdout, r.stdout_truncated_bytes, r.stderr, r.stderr_truncated_bytes) == ("1234", 2, "ab", 0)
    assert FakeTransport("g").on("^cat", (0, "123456", "")).run("cat").stdout == "123456"


# -- ssh, on a scripted channel ----------------------------------------------------------------

class _Channel:
    """Enough of paramiko.Channel for exec_on_client: the data is all there, then EOF."""

    def __init__(self, out: list[bytes], err: list[bytes], status: int = 0) -> None:
        self._out, self._err = list(out), list(err)
        self.exit_status = status
        self.status_event = threading.Event()
        self.status_event.set()
        self.closed = False
        self.asked: list[int] = []
        self.line = ""

    @property
    def eof_received(self) -> bool:
        return not self._out and not self._err

    def exec_command(self, line: str) -> None:
        self.line = line

    def recv_ready(self) -> bool:
        return bool(self._out)

    def recv_stderr_ready(self) -> bool:
        return bool(self._err)

    def recv(self, n: int) -> bytes:
        self.asked.append(n)
        chunk, self._out[0] = self._out[0][:n], self._out[0][n:]
        if not self._out[0]:
            self._out.pop(0)
        return chunk

    def recv_stderr(self, n: int) -> bytes:
        self.asked.append(n)
        chunk, self._err[0] = self._err[0][:n], self._err[0][n:]
        if not self._err[0]:
            self._err.pop(0)
        return chunk

    def exit_status_ready(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


class _Transport:
    def __init__(self, chan: _Channel) -> None:
        self.chan = chan

    def is_active(self) -> bool:
        return True

    def open_session(self, timeout: float | None = None) -> _Channel:
        assert timeout is not None and math.isfinite(timeout)
        return self.chan


class _Client:
    def __init__(self, chan: _Channel) -> None:
        self.transport = _Transport(chan)

    def get_transport(self) -> _Transport:
        return self.transport

    def close(self) -> None:
        pass


def test_ssh_reads_in_chunks_and_keeps_only_the_bound() -> None:
    chan = _Channel([b"x" * 1_000_000], [b"e" * 10])
    status, out, err = exec_on_client(_Client(chan), "h", "cat big", 5.0, 5.0, output_limit_bytes=70_000)  # type: ignore[arg-type]
    assert status == 0
    assert out.data == b"x" * 70_000 and out.dropped == 930_000
    assert err.data == b"e" * 10 and err.dropped == 0
    assert max(chan.asked) <= 65536 and len(chan.asked) >= 16  # read in chunks, to the end
    assert chan.closed


def test_ssh_result_carries_the_truncation() -> None:
    t = SshTransport("h", "192.0.2.1", output_limit_bytes=100)
    t._connected = lambda: _Client(_Channel([b"a" * 300], [b"b" * 50], status=1))  # type: ignore[assignment,method-assign,return-value]
    r = t.run("dump")
    assert isinstance(r, CommandResult)
    assert (r.stdout, r.stdout_truncated_bytes, r.stderr, r.stderr_truncated_bytes) == ("a" * 100, 200, "b" * 50, 0)
    t._connected = lambda: _Client(_Channel([b"a" * 300], [], status=1))  # type: ignore[assignment,method-assign,return-value]
    with pytest.raises(CommandError, match="stdout truncated, 200 bytes dropped"):
        t.run_expect([0], "dump")


# -- known_hosts ------------------------------------------------------------------------------

ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def test_known_hosts_good_lines_markers_and_unknown_types() -> None:
    raw = (f"# comment\n\n@cert-authority *.example {ED}\nweb1,10.0.0.5 {ED}\n"
           f"|1|c2FsdA==|aGFzaA== {ED}\nweb2 sk-unknown-type@openssh.com QUJD\n").encode()
    entries = parse_known_hosts("web1", "/k", raw)
    assert [e.hostnames for e in entries] == [["web1", "10.0.0.5"], ["|1|c2FsdA==|aGFzaA=="]]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (f"web1 {ED}\nw\xe9b2 {ED}\n".encode("latin-1"), r"web1: known_hosts /k:2: not UTF-8 \(byte 0xe9\)"),
        (f"web1 {ED}\nweb2 ssh-ed25519\n".encode(), r"web1: known_hosts /k:2: cut short"),
        (b"web1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\n", r"web1: known_hosts /k:1: the ssh-ed25519 key is not valid base64"),
        (b"web1 ssh-rsa QUJD\n", r"web1: known_hosts /k:1: the ssh-rsa key cannot be read"),
    ],
)
def test_known_hosts_corrupt_is_one_error_with_file_and_line(raw: bytes, message: str) -> None:
    with pytest.raises(TransportError, match=message):
        parse_known_hosts("web1", "/k", raw)


def test_open_client_with_corrupt_known_hosts_fails_before_connecting(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_bytes(b"web1 " + ED.encode() + b"\n\xff\xfe garbage\n")
    ssh = SshConfig(known_hosts=str(known), connect_timeout_s=0.5)
    with pytest.raises(TransportError, match=f"web1: known_hosts {known}:2: not UTF-8"):
        open_client("web1", "192.0.2.1", ssh)  # TEST-NET: never reached, the file is read first


def test_unreadable_known_hosts_is_one_error(tmp_path: Path) -> None:
    ssh = SshConfig(known_hosts=str(tmp_path))  # a directory
    with pytest.raises(TransportError, match=f"web1: known_hosts {tmp_path}: cannot read"):
        open_client("web1", "192.0.2.1", ssh)
