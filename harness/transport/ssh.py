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
from .base import CommandResult, Transport, quote_command

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
            client.load_system_host_keys(known)
        except OSError:
            known_label += " (file does not exist)"
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


def exec_on_client(
    client: paramiko.SSHClient, name: str, line: str, timeout: float, open_timeout: float
) -> tuple[int, bytes, bytes]:
    """Run ``line`` in a new session; return (exit status, stdout, stderr).

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
        try:
            chan.exec_command(line)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise _NotStarted(str(exc) or type(exc).__name__) from exc
        out, err = bytearray(), bytearray()
        exit_seen: float | None = None

        def drain() -> None:
            while chan.recv_ready():
                out.extend(chan.recv(65536))
            while chan.recv_stderr_ready():
                err.extend(chan.recv_stderr(65536))

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
        return chan.exit_status, bytes(out), bytes(err)
    finally:
        chan.close()


class SshTransport(Transport):
    """One paramiko connection per host, opened on first use and reused by every command.

    Thread-safe for probes sampling in threads: connecting is serialised by a lock; commands
    run concurrently, each in its own channel. If the connection dropped, it is re-opened once,
    and only before the command was sent: a command is never run twice.
    """

    NAME = "ssh"

    def __init__(self, host: str, address: str | None = None, ssh: SshConfig | None = None) -> None:
        super().__init__(host)
        self.address = address or host
        self.ssh = ssh or SshConfig()
        self.connections_opened = 0
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_host(cls, host: Host) -> SshTransport:
        return cls(host.name, host.address, host.ssh)

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
        limit = self.ssh.command_timeout_s if timeout is None else timeout
        started = time.monotonic()
        for attempt in (1, 2):
            client = self._connected()
            try:
                status, out, err = exec_on_client(client, self.host, line, limit, self.ssh.connect_timeout_s)
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
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            duration_s=time.monotonic() - started,
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
                return exec_on_client(self.client, h.name, line, h.ssh.command_timeout_s, h.ssh.connect_timeout_s)
            except _NotStarted as exc:
                del self.client
                if attempt == 2:
                    raise TransportError(h.name, f"cannot open a session to run {line!r}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        del self.client
