"""Run commands over SSH with paramiko: one connection per host, checked host keys, hard timeouts.

A destroyed host must fail a step, not hang the run: connecting is bounded by
``connect_timeout_s``, every command by ``command_timeout_s`` (or the call's ``timeout``), and
SSH keepalives keep idle connections to live hosts open through NAT and firewalls.
Host keys are checked against known_hosts (unknown or changed keys are refused) unless the
inventory sets ``insecure_ignore_host_keys: true``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

import paramiko
from testinfra.backend.paramiko import ParamikoBackend

from ..errors import TransportError
from ..inventory._model import Host, SshConfig
from .base import (
    DEFAULT_OUTPUT_LIMIT_BYTES,
    READ_CHUNK_BYTES,
    BoundedBuffer,
    CommandResult,
    Transport,
    check_output_limit,
    check_timeout,
    quote_command,
)

log = logging.getLogger(__name__)

#: after the exit status arrives, how long to wait for EOF: a daemon the command started in
#: the background may hold the session's stdout open for ever.
PIPE_GRACE_S = 0.5

_warned_insecure: set[str] = set()
_warned_lock = threading.Lock()


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it, so users can compare with their records."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(f"host key for {hostname} not in known_hosts")
        self.hostname = hostname
        self.key = key


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    """RejectPolicy that keeps the offered key, so the error can show its fingerprint."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(hostname, key)


class _NotStarted(Exception):
    """The session could not be opened: the command certainly did not run (safe to retry)."""


def _warn_insecure(name: str, address: str, port: int) -> None:
    with _warned_lock:
        if name in _warned_insecure:
            return
        _warned_insecure.add(name)
    log.warning(
        "%s: host key of %s:%d is NOT checked (ssh.insecure_ignore_host_keys is true): "
        "anyone on the path can impersonate this host",
        name, address, port,
    )


def parse_known_hosts(name: str, path: str, raw: bytes) -> list[paramiko.hostkeys.HostKeyEntry]:
    """The entries of a known_hosts file's bytes; TransportError naming host, file and line
    for text that is not UTF-8 or a line that is cut short or whose key cannot be read.

    paramiko's own loader stops with a UnicodeDecodeError or InvalidHostKey traceback on such
    a file, or silently skips the line (and the host then looks unknown). Lines OpenSSH knows
    and paramiko does not (``@cert-authority``/``@revoked`` markers, unknown key types) are
    skipped as paramiko skips them.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = raw.count(b"\n", 0, exc.start) + 1
        raise TransportError(
            name, f"known_hosts {path}:{lineno}: not UTF-8 (byte 0x{raw[exc.start]:02x}); fix or remove that line"
        ) from None
    entries: list[paramiko.hostkeys.HostKeyEntry] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("@"):
            continue
        where = f"known_hosts {path}:{lineno}"
        fields = line.split()
        if len(fields) < 3:
            raise TransportError(name, f"{where}: cut short: expected 'HOSTS KEYTYPE BASE64KEY', got {line[:80]!r}")
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(" ".join(fields[:3]), lineno)
        except paramiko.hostkeys.InvalidHostKey:
            raise TransportError(name, f"{where}: the {fields[1]} key is not valid base64") from None
        except Exception as exc:  # paramiko raises SSHException, ValueError, struct.error... on bad key data
            raise TransportError(
                name, f"{where}: the {fields[1]} key cannot be read: {exc or type(exc).__name__}"
            ) from None
        if entry is not None:  # None: a key type paramiko does not know (skipped, as paramiko does)
            entries.append(entry)
    return entries


def load_known_hosts(name: str, path: str) -> list[paramiko.hostkeys.HostKeyEntry]:
    """Read and parse one known_hosts file (read-only); FileNotFoundError if it is missing,
    TransportError for any other read error or bad content."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise TransportError(name, f"known_hosts {path}: cannot read: {exc.strerror or exc}") from None
    return parse_known_hosts(name, path, raw)


def open_client(name: str, address: str, ssh: SshConfig) -> paramiko.SSHClient:
    """A connected, authenticated paramiko client for one host, with our host-key policy.

    Shared by SshTransport and the testinfra backend so both check keys the same way.
    Known-hosts files are loaded read-only: nothing is ever written to them.
    """
    client = paramiko.SSHClient()
    known = os.path.expanduser(ssh.known_hosts) if ssh.known_hosts else None
    known_label = known or "~/.ssh/known_hosts"
    if ssh.insecure_ignore_host_keys:
        # nothing loaded: a stale entry for a rebuilt lab host must not fail either
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        _warn_insecure(name, address, ssh.port)
    else:
        try:
            entries = load_known_hosts(name, known or os.path.expanduser("~/.ssh/known_hosts"))
        except FileNotFoundError:
            known_label += " (file does not exist)"
            entries = []
        keys = client.get_host_keys()
        for entry in entries:
            for hostname in entry.hostnames:
                keys.add(hostname, entry.key.get_name(), entry.key)
        client.set_missing_host_key_policy(_RejectUnknown())
    key_file = os.path.expanduser(ssh.key_file) if ssh.key_file else None
    where = f"{ssh.user}@{address}:{ssh.port}"
    try:
        client.connect(
            hostname=address,
            port=ssh.port,
            username=ssh.user,
            key_filename=key_file,
            timeout=ssh.connect_timeout_s,
            banner_timeout=ssh.connect_timeout_s,
            auth_timeout=ssh.connect_timeout_s,
            channel_timeout=ssh.connect_timeout_s,
            allow_agent=True,
            look_for_keys=key_file is None,
        )
    except _UnknownHostKey as exc:
        client.close()
        hostport = address if ssh.port == 22 else f"[{address}]:{ssh.port}"
        raise TransportError(
            name,
            f"host key of {address}:{ssh.port} ({exc.key.get_name()} {fingerprint(exc.key)}) is not in "
            f"{known_label}; if it is right, add it (ssh-keyscan -p {ssh.port} {address} >> FILE, entry "
            f"{hostport!r}) or set ssh.insecure_ignore_host_keys: true for a throw-away host",
        ) from None
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise TransportError(
            name,
            f"host key of {address}:{ssh.port} CHANGED: got {exc.key.get_name()} {fingerprint(exc.key)}, "
            f"{known_label} has {fingerprint(exc.expected_key)}; the host was rebuilt or someone is in "
            f"the middle: check, then remove the old entry (ssh-keygen -R)",
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise TransportError(
            name, f"authentication failed for {where} (key_file: {key_file or 'agent/default keys'}): {exc}"
        ) from None
    except (socket.timeout, TimeoutError):
        client.close()
        raise TransportError(name, f"connecting to {where} timed out after {ssh.connect_timeout_s:g}s") from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        client.close()
        raise TransportError(name, f"cannot connect to {where}: {exc or type(exc).__name__}") from None
    transport = client.get_transport()
    assert transport is not None
    if ssh.keepalive_s > 0:
        transport.set_keepalive(ssh.keepalive_s)  # float works
    return client


def _exec_bounded(chan: paramiko.Channel, name: str, line: str, limit: float) -> None:
    """``chan.exec_command(line)``, bounded: paramiko waits for the server's answer to the
    exec request without a timeout, for ever if the host froze (SIGSTOP, a paused domain)
    with the TCP connection still up. A timer closes the channel after ``limit``, which wakes
    paramiko; that is a TransportError (the request was sent: it may have run), any other
    failure _NotStarted (the server refused or the channel died before the request)."""
    gave_up = threading.Event()

    def give_up() -> None:
        gave_up.set()
        chan.close()

    timer = threading.Timer(limit, give_up)
    timer.daemon = True
    timer.start()
    try:
        chan.exec_command(line)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        if gave_up.is_set():
            raise TransportError(
                name, f"no answer to the request to run {line!r} within {limit:g}s (it may or may not have run)"
            ) from None
        raise _NotStarted(str(exc) or type(exc).__name__) from exc
    finally:
        timer.cancel()
    if gave_up.is_set():  # answered just as the timer fired: the channel is closed now
        raise TransportError(name, f"no answer to the request to run {line!r} within {limit:g}s (it may or may not have run)")


def exec_on_client(
    client: paramiko.SSHClient,
    name: str,
    line: str,
    timeout: float,
    open_timeout: float,
    output_limit_bytes: int = DEFAULT_OUTPUT_LIMIT_BYTES,
) -> tuple[int, BoundedBuffer, BoundedBuffer]:
    """Run ``line`` in a new session; return (exit status, stdout, stderr).

    Each stream keeps its first ``output_limit_bytes``; the channel is still read to the end
    (in chunks) so the remote command is not blocked on a full window, the rest only counted.
    Raises _NotStarted if no session could be opened (the caller may reconnect and retry),
    TransportError on timeout or when the connection dies under a running command.
    """
    transport = client.get_transport()
    if transport is None or not transport.is_active():
        raise _NotStarted("connection is not active")
    try:
        chan = transport.open_session(timeout=open_timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise _NotStarted(str(exc) or type(exc).__name__) from exc
    try:
        deadline = time.monotonic() + timeout
        _exec_bounded(chan, name, line, min(open_timeout, timeout))
        out, err = BoundedBuffer(output_limit_bytes), BoundedBuffer(output_limit_bytes)
        exit_seen: float | None = None

        def drain() -> None:
            while chan.recv_ready():
                out.feed(chan.recv(READ_CHUNK_BYTES))
            while chan.recv_stderr_ready():
                err.feed(chan.recv_stderr(READ_CHUNK_BYTES))

        while True:
            drain()
            if chan.eof_received:
                drain()
                break
            now = time.monotonic()
            if chan.closed or not transport.is_active():
                raise TransportError(
                    name, f"connection lost while running {line!r} (it may or may not have run)"
                )
            if chan.exit_status_ready():
                exit_seen = exit_seen or now
                if now - exit_seen > PIPE_GRACE_S:
                    break
            if now >= deadline:
                raise TransportError(
                    name, f"command {line!r} timed out after {timeout:g}s (session closed; it may still run there)"
                )
            select.select([chan], [], [], min(deadline - now, 0.2))
        if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
            raise TransportError(name, f"command {line!r} timed out after {timeout:g}s waiting for its exit status")
        return chan.exit_status, out, err
    finally:
        chan.close()


class SshTransport(Transport):
    """One paramiko connection per host, opened on first use and reused by every command.

    Thread-safe for probes sampling in threads: connecting is serialised by a lock; commands
    run concurrently, each in its own channel. If the connection dropped, it is re-opened once,
    and only before the command was sent: a command is never run twice. Of each stream at
    most ``output_limit_bytes`` are kept (the rest is read and counted).
    """

    NAME = "ssh"

    def __init__(
        self,
        host: str,
        address: str | None = None,
        ssh: SshConfig | None = None,
        output_limit_bytes: int = DEFAULT_OUTPUT_LIMIT_BYTES,
    ) -> None:
        super().__init__(host)
        self.address = address or host
        self.ssh = ssh or SshConfig()
        for what in ("connect_timeout_s", "command_timeout_s"):
            check_timeout(host, f"ssh.{what}", getattr(self.ssh, what))
        self.output_limit_bytes = check_output_limit(host, output_limit_bytes)
        self.connections_opened = 0
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_host(cls, host: Host, output_limit_bytes: int = DEFAULT_OUTPUT_LIMIT_BYTES) -> SshTransport:
        return cls(host.name, host.address, host.ssh, output_limit_bytes=output_limit_bytes)

    def _connected(self) -> paramiko.SSHClient:
        with self._lock:
            client = self._client
            if client is not None:
                t = client.get_transport()
                if t is not None and t.is_active():
                    return client
                client.close()
                self._client = None
            self._client = open_client(self.host, self.address, self.ssh)
            self.connections_opened += 1
            return self._client

    def _drop(self, client: paramiko.SSHClient) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
        client.close()

    def run(self, command: str | Sequence[str], *args: object, timeout: float | None = None) -> CommandResult:
        line = quote_command(command, *args)
        limit = self.ssh.command_timeout_s if timeout is None else check_timeout(self.host, "timeout", timeout)
        started = time.monotonic()
        for attempt in (1, 2):
            client = self._connected()
            try:
                status, out, err = exec_on_client(
                    client, self.host, line, limit, self.ssh.connect_timeout_s, self.output_limit_bytes
                )
                break
            except _NotStarted as exc:
                self._drop(client)
                if attempt == 2:
                    raise TransportError(self.host, f"cannot open a session to run {line!r}: {exc}") from None
            except TransportError:
                # a timed-out or broken session may leave the connection wedged: start afresh
                t = client.get_transport()
                if t is None or not t.is_active():
                    self._drop(client)
                raise
        return CommandResult(
            host=self.host,
            command=line,
            exit_status=status,
            stdout=out.text(),
            stderr=err.text(),
            duration_s=time.monotonic() - started,
            stdout_truncated_bytes=out.dropped,
            stderr_truncated_bytes=err.dropped,
        )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


class HarnessParamikoBackend(ParamikoBackend):
    """testinfra's paramiko backend, connected by ``open_client``.

    testinfra's own backend never loads known_hosts and accepts unknown keys with a warning
    (WarningPolicy), and its ssh_config support ignores UserKnownHostsFile; so an ssh_config
    file cannot give it our host-key checking. This subclass keeps testinfra's command
    handling (sudo, quoting, result objects) and only replaces how the connection is made,
    plus a command timeout.
    """

    NAME = "paramiko"

    def __init__(self, host: Host, **kwargs: Any) -> None:
        self.harness_host = host
        super().__init__(host.name, timeout=int(max(1, host.ssh.connect_timeout_s)), **kwargs)
        self.host.user = host.ssh.user
        self.host.port = str(host.ssh.port)

    @property
    def client(self) -> paramiko.SSHClient:
        c = self.__dict__.get("_harness_client")
        if c is None:
            h = self.harness_host
            c = self.__dict__["_harness_client"] = open_client(h.name, h.address, h.ssh)
        return c

    @client.deleter
    def client(self) -> None:
        c = self.__dict__.pop("_harness_client", None)
        if c is not None:
            c.close()

    def _exec_command(self, command: bytes) -> tuple[int, bytes, bytes]:
        h = self.harness_host
        line = command.decode("utf-8", "replace")
        for attempt in (1, 2):
            try:
                status, out, err = exec_on_client(
                    self.client, h.name, line, h.ssh.command_timeout_s, h.ssh.connect_timeout_s
                )
                if out.dropped or err.dropped:
                    log.warning("%s: output of %r cut at %d bytes a stream (stdout %d, stderr %d bytes dropped)",
                                h.name, line, out.limit, out.dropped, err.dropped)
                return status, out.data, err.data
            except _NotStarted as exc:
                del self.client
                if attempt == 2:
                    raise TransportError(h.name, f"cannot open a session to run {line!r}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        del self.client
