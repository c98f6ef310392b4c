"""One exception root for the harness, so callers can catch everything it raises.

Every error says which file, field, host or command is at fault: an SRE reading a red CI job
should know where to look without a debugger.

The tree (a class defined in another module names it; every other class is defined here)::

    HarnessError
    ├── InventoryError
    │   └── InventoryProblems ....... harness.inventory._checks
    ├── TransportError
    │   └── CommandError
    ├── UnknownTransport              (also a LookupError)
    ├── FaultError
    │   ├── UnsupportedFault
    │   └── UnknownFault              (also a KeyError)
    ├── ProbeError
    ├── HistoryError
    │   └── TxnHistoryError ......... harness.checkers._txn_history
    ├── ParseError
    ├── LabError
    │   └── UmlError ................ harness.lab._uml_spec
    ├── LoadError ................... harness.load.locust_runner
    ├── MoodleConfigError ........... harness.load.moodle_locustfile
    ├── ReportError ................. harness.report._model
    ├── ScenarioError ............... harness.scenario
    ├── SoakError ................... harness.soak._schedule
    └── VerdictUsageError ........... harness.verdicts

Outside the tree, on purpose:

- harness.faults.nemesis ``Terminated`` is a KeyboardInterrupt: SIGTERM must unwind a run
  exactly as Ctrl-C does, past every *except Exception*, so that the faults heal.
- Private signals (a leading underscore), raised and caught inside one module, never seen by
  callers: harness.probes.vip ``_Failed``, ``_Unknown``, ``_Stopped``, ``_Stale``,
  ``_Timeout``; harness.probes.ledger ``_Stopped``; harness.probes.session ``_NoAnswer``,
  ``_LoginFailed``; harness.probes.state ``_HostGone``,
  ``_Aborted``; harness.transport.ssh ``_UnknownHostKey`` (a paramiko.SSHException, because
  paramiko's host-key policy must raise one), ``_NotStarted``.

tests/unit/test_errors.py walks the package and fails when this drawing and the code disagree.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class InventoryError(HarnessError):
    """A cluster file (or Ansible inventory, or vagrant ssh-config) is invalid.

    The message names the source file and the path of the bad field, e.g.
    ``cluster.yml: hosts.web1.roles[0]: unknown role 'webserver' (known: ...)``.
    """


class TransportError(HarnessError):
    """A host could not be reached, or a command could not be run on it."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host


class CommandError(TransportError):
    """A command ran but exited with a status the caller did not allow."""

    def __init__(
        self,
        host: str,
        command: str,
        exit_status: int,
        stdout: str,
        stderr: str,
        expected: tuple[int, ...] | list[int] = (0,),
        *,
        stdout_truncated_bytes: int = 0,
        stderr_truncated_bytes: int = 0,
    ) -> None:
        tail = (stderr or stdout).strip().splitlines()[-5:]
        detail = ("\n    " + "\n    ".join(tail)) if tail else ""
        cut = [f"{name} truncated, {n} bytes dropped" for name, n in
               (("stdout", stdout_truncated_bytes), ("stderr", stderr_truncated_bytes)) if n]
        note = f" ({'; '.join(cut)}: the tail shown is not the end of the output)" if cut else ""
        TransportError.__init__(
            self,
            host,
            f"command {command!r} exited {exit_status}, expected one of {list(expected)}{note}{detail}",
        )
        self.command = command
        self.exit_status = exit_status
        self.stdout = stdout
        self.stderr = stderr
        self.expected = tuple(expected)
        self.stdout_truncated_bytes = stdout_truncated_bytes
        self.stderr_truncated_bytes = stderr_truncated_bytes


class UnknownTransport(HarnessError, LookupError):
    """No transport backend is registered under this name."""


class FaultError(HarnessError):
    """A fault could not be injected or healed, or was asked for a host it may not touch."""


class UnsupportedFault(FaultError):
    """The fault cannot run on this host (e.g. netem missing from the kernel)."""


class UnknownFault(FaultError, KeyError):
    """No fault of that name (a KeyError too, so ``FAULTS.get(name)`` works)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ProbeError(HarnessError):
    """A probe was misconfigured (bad rate, bound, target)."""


class HistoryError(HarnessError):
    """A history file does not follow the contract in docs/history.md."""


class ParseError(HarnessError):
    """Captured command output could not be parsed; names the command and the line."""


class LabError(HarnessError):
    """The embedded lab could not be built, reached or torn down; says what to do."""
