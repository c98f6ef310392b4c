"""One acceptance scenario: history, fault journal, nemesis, probes and load for one test.

The plugin's fixtures are thin over this (locust's lesson: library first). A scenario owns a
directory (docs/run-dir.md): ``history.jsonl``, ``journal.jsonl`` and ``result.json``. It heals
at start and at close whatever happened, stops every probe it started, and keeps the phases
(steady, inject, observe, heal, recover) for the report.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._secrets import add_secrets, dumps_scrubbed, scrub_file
from .audit import audit_state
from .checkers import CheckConfig, CheckResult, Validity, applicable, run_all
from .cluster import Cluster
from .errors import HarnessError, InventoryError
from .faults import Journal, Nemesis
from .history import HistoryFile, HistoryRecorder, Op
from .invariants import vip_holders
from .load import LocustLoad
from .probes.ledger import Ledger, db_nodes
from .probes.session import DEFAULT_PASSWORD as DEFAULT_ACCOUNTS_PASSWORD
from .probes.session import SessionProbe
from .probes.state import StateSampler
from .probes.storage import StorageProbe
from .probes.storage_heal import HealBacklogProbe
from .probes.txn import BankProbe, ListAppendProbe
from .probes.vip import VipProbe
from .report.allure import allure_step  # a no-op without allure-pytest
from .verdicts import Declarations, Judgement, judge

Guard = Callable[[str], Any]


class ScenarioError(HarnessError):
    """A scenario step could not run (cluster never became steady, a probe could not start)."""


@dataclass
class SloLine:
    """One row of the SLO table: what was measured against which bound."""

    name: str
    measured: float | None
    bound: float | None
    unit: str
    verdict: Validity
    higher_is_better: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "measured": self.measured, "bound": self.bound, "unit": self.unit,
                "verdict": self.verdict.value}


def slugify(node_id: str) -> str:
    """A filesystem-safe, readable directory name for a pytest node id."""
    s = node_id.replace("tests/", "").replace(".py::", "-").replace("::", "-")
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_")
    return s[:150] or "test"


@dataclass
class Scenario:
    cluster: Cluster
    directory: Path
    test: str = ""
    title: str = ""
    tier: str = ""
    fault_kind: str = ""
    #: the cluster is broken on purpose and passing means a checker caught it (result.json
    #: "negative_proof"): the report keeps its figures out of the run's headline figures
    negative_proof: bool = False
    guard: Guard | None = None
    sampler_options: dict[str, Any] = field(default_factory=dict)
    max_duration_s: float = 600.0
    #: extra figures of a long run (a soak's schedule, audits, failovers); result.json "soak"
    extra: dict[str, Any] | None = None
    #: False for long runs: the history only goes to history.jsonl (685 B an op in memory, a
    #: soak records ~80 ops/s) and ops() streams it from there
    history_in_memory: bool = True

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _register_known_secrets(self.cluster.inventory)  # before the first line is written
        self.history = HistoryRecorder(self.directory / "history.jsonl", keep_in_memory=self.history_in_memory)
        self.journal = Journal(self.directory)
        self.nemesis = Nemesis(self.cluster, self.history, self.journal)
        self.phases: list[dict[str, Any]] = []
        self.slo: list[SloLine] = []
        self.checks: list[CheckResult] = []
        #: the configuration of the last check() (None: the checkers have not run yet)
        self.check_config: CheckConfig | None = None
        #: which verdicts decide the test (harness.verdicts); set by judge()
        self.judgement: Judgement | None = None
        self._probes: list[Any] = []
        self._loads: list[Any] = []
        self._started = time.monotonic()
        self.outcome = "running"
        self.error: str | None = None
        #: how the run was cut short in this test (signal, at, phase; result.json "interrupted")
        self.interrupted: dict[str, Any] | None = None
        # one sample = a few SSH round trips per host (~0.15 s each on 2 busy cores): give each
        # host a generous budget so a slow answer is not mistaken for an unreachable host
        options = {"budget_s": 10.0, **self.sampler_options}
        self._sampler = StateSampler(self.cluster, None, max_count=1, max_duration_s=1.0, **options)

    @property
    def probes(self) -> tuple[Any, ...]:
        """The probes running in this scenario (a negative proof reaches a probe's table through
        its ``run_id``)."""
        return tuple(self._probes)

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Scenario:
        self.nemesis.heal_all()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop probes and load, heal everything, close the history. Safe to call twice."""
        errors: list[str] = []
        for load in self._loads:
            try:
                load.stop()
            except Exception as e:  # keep going: healing matters more
                errors.append(f"load: {e}")
        for probe in self._probes:
            try:
                probe.stop()
            except Exception as e:
                errors.append(f"{getattr(probe, 'name', 'probe')}: {e}")
        self._loads.clear()
        self._probes.clear()
        try:
            self.nemesis.heal_all()
        finally:
            self.history.close()
            self._sampler.close()
            self._scrub_child_files()
        if errors:
            raise ScenarioError("; ".join(errors))

    def _scrub_child_files(self) -> None:
        """Locust's log and raw samples are written by a child process the scrubber does not
        run in: scrub them in place once the load has stopped."""
        locust_dir = self.directory / "locust"
        if locust_dir.is_dir():
            for path in sorted(locust_dir.iterdir()):
                if path.is_file():
                    scrub_file(path)

    # -- phases ------------------------------------------------------------------------------
    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Mark a phase (steady, inject, observe, heal, recover) for the report."""
        entry = {"name": name, "start": round(self.history.now(), 3), "end": None}
        self.phases.append(entry)
        try:
            with allure_step(name):
                yield
        finally:
            entry["end"] = round(self.history.now(), 3)

    def hold(self, seconds: float) -> None:
        """Let probes and load run for ``seconds`` (the only sleep: observation time)."""
        time.sleep(max(0.0, seconds))

    # -- probes --------------------------------------------------------------------------
    def vip_probe(self, vip: str = "web", *, rate_hz: float = 50.0, max_duration_s: float = 180.0,
                  timeout_s: float = 1.0, keepalive: bool = False, mode: Literal["http", "tcp"] | None = None) -> VipProbe:
        v = self.cluster.inventory.vip(vip)
        probe_mode: Literal["http", "tcp"] = mode or ("http" if v.protocol == "http" else "tcp")
        probe = VipProbe(
            self.history, v.address, v.port, mode=probe_mode, path=v.path, rate_hz=rate_hz,
            max_count=int(rate_hz * max_duration_s) + 1, max_duration_s=max_duration_s,
            timeout_s=timeout_s, vip_name=vip, process=f"vip-probe-{vip}", guard=self.guard,
            keepalive=keepalive,
        )
        probe.start()
        self._probes.append(probe)
        return probe

    def session_probe(self, *, rate_hz: float = 2.0, max_duration_s: float = 180.0, reserved_accounts: int = 0,
                      timeout_s: float = 2.0) -> SessionProbe:
        """One logged-in Moodle session per web node, checked through the web VIP (lost sessions:
        the ``sessions`` checker); ``reserved_accounts``: how many accounts the load takes first."""
        probe = SessionProbe.for_inventory(
            self.history, self.cluster.inventory, reserved_accounts=reserved_accounts, rate_hz=rate_hz,
            max_count=int(rate_hz * max_duration_s) + 2, max_duration_s=max_duration_s, timeout_s=timeout_s,
            guard=self.guard)
        probe.start()
        self._probes.append(probe)
        return probe

    def ledger(self, *, workers: int = 2, rate_hz: float = 20.0, max_duration_s: float = 180.0) -> Ledger:
        inv = self.cluster.inventory
        v = inv.vip("db")
        db = inv.database
        run_id = re.sub(r"[^A-Za-z0-9_.:-]", "_", f"{self.directory.name[-40:]}-{int(time.time())}")
        ledger = Ledger(
            self.history, v.address, v.port, db.user, inv.db_password(), db.name,
            workers=workers, rate_hz=rate_hz, max_count=int(rate_hz * max_duration_s) + 1,
            max_duration_s=max_duration_s, run_id=run_id, guard=self.guard,
        )
        ledger.ensure_table()
        ledger.start()
        self._probes.append(ledger)
        return ledger

    def _run_id(self, tag: str = "") -> str:
        return re.sub(r"[^A-Za-z0-9_.:-]", "_", f"{self.directory.name[-38:]}{tag}-{int(time.time())}")

    def list_append(self, *, workers: int = 4, rate_hz: float = 20.0, max_duration_s: float = 180.0,
                    multi_writer: bool = False, isolation: str | None = None, **kwargs: Any) -> ListAppendProbe:
        """Start Elle's list-append workload (harness.probes.txn) through the DB VIP, or one client
        per db node (``multi_writer``); the session isolation is ``isolation``, else the cluster
        file's ``database.isolation``, else the server's. Finish it with :meth:`finish_ledger`."""
        probe = ListAppendProbe.for_inventory(
            self.history, self.cluster.inventory, run_id=self._run_id("-la"), workers=workers, rate_hz=rate_hz,
            max_count=int(rate_hz * max_duration_s) + 1, max_duration_s=max_duration_s, multi_writer=multi_writer,
            isolation=isolation or getattr(self.cluster.inventory.database, "isolation", None), guard=self.guard,
            **kwargs)
        probe.start()
        self._probes.append(probe)
        return probe

    def bank(self, *, workers: int = 2, rate_hz: float = 10.0, max_duration_s: float = 180.0,
             multi_writer: bool = False, isolation: str | None = None, **kwargs: Any) -> BankProbe:
        """Start Jepsen's bank workload (accounts, total fixed) like :meth:`list_append`."""
        probe = BankProbe.for_inventory(
            self.history, self.cluster.inventory, run_id=self._run_id("-bk"), workers=workers, rate_hz=rate_hz,
            max_count=int(rate_hz * max_duration_s) + 1, max_duration_s=max_duration_s, multi_writer=multi_writer,
            isolation=isolation or getattr(self.cluster.inventory.database, "isolation", None), guard=self.guard,
            **kwargs)
        probe.start()
        self._probes.append(probe)
        return probe

    def storage_probe(self, *, rate_hz: float = 1.0, max_duration_s: float = 180.0, **kwargs: Any) -> StorageProbe:
        """Start the storage probe (harness.probes.storage) through every web node's mount of
        the cluster file's ``storage:`` volume; it checks each mount first (one error naming the
        host). Finish with ``probe.final_read(paths=...)`` after the heal."""
        inv = self.cluster.inventory
        if inv.storage is None:
            raise InventoryError(f"{inv.source}: the storage probe needs a storage: section (kind, volume, mount_point)")
        kwargs.setdefault("expect_fstype", "fuse.glusterfs" if inv.storage.kind == "glusterfs" else None)
        probe = StorageProbe(self.history, {h.name: self.cluster.transport(h.name) for h in inv.with_role("web")},
                             inv.storage.mount_point, run_id=self._run_id("-fs"), rate_hz=rate_hz,
                             max_count=int(rate_hz * max_duration_s) + 1, max_duration_s=max_duration_s, **kwargs)
        probe.start()
        self._probes.append(probe)
        return probe

    def directory_probes(self, *, bind_hz: float = 10.0, write_hz: float = 5.0, csn_hz: float = 2.0,
                         max_duration_s: float = 180.0, csn_extra_s: float = 60.0) -> Any:
        """Start the directory tier's probes (harness.probes.ldap: binds through the LDAP VIP,
        the write ledger, contextCSN samples) after one check that every server and the VIP
        answer (one error naming each host). Finish with ``probes.final_read(...)``."""
        from .probes.ldap import check_directory, directory_probes

        inv = self.cluster.inventory
        check_directory(inv, guard=self.guard)
        probes = directory_probes(self.history, inv, tag=re.sub(r"[^A-Za-z0-9-]", "-", self._run_id("-ldap")),
                                  accounts_password=inv.moodle_password() or DEFAULT_ACCOUNTS_PASSWORD,
                                  bind_hz=bind_hz, write_hz=write_hz, csn_hz=csn_hz, max_duration_s=max_duration_s,
                                  csn_extra_s=csn_extra_s, guard=self.guard)
        for p in probes.probes():
            p.start()  # the writer makes its ledger entry first: a refusal is one clear error here
            self._probes.append(p)
        return probes

    def heal_backlog(self, *, rate_hz: float = 1.0, max_duration_s: float = 180.0) -> HealBacklogProbe:
        """Start sampling the shared volume's self-heal backlog (``storage-heal``)."""
        probe = HealBacklogProbe.for_inventory(self.history, self.cluster.inventory, self.cluster.transport,
                                               rate_hz=rate_hz, max_count=int(rate_hz * max_duration_s) + 1,
                                               max_duration_s=max_duration_s)
        probe.start()
        self._probes.append(probe)
        return probe

    def finish_ledger(self, ledger: Ledger, *, converge_s: float = 30.0) -> None:
        """Stop writing, wait (bounded) for the nodes to converge, read back from every node
        (the ledger, and the transactional probes: their final read is one txn per node)."""
        ledger.stop()
        nodes = db_nodes(self.cluster.inventory)
        ledger.wait_for_convergence(nodes, timeout_s=converge_s)
        ledger.final_read(nodes, wait_s=converge_s)

    def load(self, url: str | None = None, **kwargs: Any) -> LocustLoad:
        """Start Moodle load (Locust subprocess) whose samples land in this history."""
        if url is None:
            v = self.cluster.inventory.vip("web")
            url = f"http://{v.address}:{v.port}"
            if self.guard is not None:
                self.guard(v.address)
        inv = self.cluster.inventory  # the cluster file's moodle: section reaches the locustfile
        kwargs.setdefault("moodle", inv.moodle)
        kwargs.setdefault("moodle_source", inv.source)
        kwargs.setdefault("journal", self.journal)  # a child that outlives a crash is healed from it
        load = LocustLoad(self.history, url, workdir=self.directory / "locust", **kwargs)
        load.start()
        self._loads.append(load)
        return load

    def stop_probes(self) -> None:
        for p in self._probes:
            p.stop()
        for load in self._loads:
            load.stop()

    # -- cluster state -----------------------------------------------------------------------
    def sample(self, record: bool = True) -> dict[str, Any]:
        """One state sample; recorded in the history as ``state``/``sample`` when ``record``."""
        if not record:
            return self._sampler.sample_once()
        with self.history.operation("state", "sample") as op:
            value = self._sampler.sample_once()
            op.ok(value)
        return value

    def wait_until(self, what: str, predicate: Callable[[dict[str, Any]], list[str]], *,
                   timeout_s: float, interval_s: float = 0.5) -> float:
        """Sample until ``predicate(sample)`` returns no problems; seconds taken. Bounded."""
        t0 = time.monotonic()
        problems: list[str] = ["not sampled yet"]
        while True:
            sample = self.sample()
            problems = predicate(sample)
            if not problems:
                return time.monotonic() - t0
            if time.monotonic() - t0 >= timeout_s:
                raise ScenarioError(
                    f"{what}: not reached within {timeout_s:g}s; still: {'; '.join(problems[:6])}"
                )
            time.sleep(interval_s)

    def wait_steady(self, timeout_s: float = 60.0) -> float:
        """Wait until the cluster passes every audit (one MASTER, VIPs once, backends, Synced)
        and every VIP accepts a connection from here: a VIP held by the right director is not
        yet served while clients still resolve it to the other one (stale ARP after a split brain)."""
        inv = self.cluster.inventory
        return self.wait_until("steady state", lambda s: audit_state(s, inv) or self.unreachable_vips(),
                               timeout_s=timeout_s)

    def unreachable_vips(self, timeout_s: float = 1.0) -> list[str]:
        """VIPs that do not accept a TCP connection from the supervisor right now."""
        problems = []
        for name, vip in sorted(self.cluster.inventory.vips.items()):
            if self.guard is not None:
                self.guard(vip.address)
            try:
                socket.create_connection((vip.address, vip.port), timeout=timeout_s).close()
            except OSError as exc:
                problems.append(f"VIP {name} ({vip.address}:{vip.port}) does not accept connections: {exc}")
        return problems

    def vip_holder(self, vip: str = "web") -> str:
        sample = self.sample()
        holders = vip_holders(sample, vip)
        if len(holders) != 1:
            raise ScenarioError(f"VIP {vip} is held by {holders or 'nobody'}; expected exactly one director")
        return holders[0]

    # -- verdicts ----------------------------------------------------------------------------
    def ops(self) -> Iterable[Op]:
        """The history so far: a snapshot from memory, or (``history_in_memory=False``) the file,
        streamed again on each iteration. Either can be iterated several times."""
        if self.history_in_memory:
            return self.history.ops()
        return HistoryFile(self.history.path)  # type: ignore[arg-type]  # always set: __post_init__ gives it a path

    def check(self, config: CheckConfig | None = None) -> dict[str, CheckResult]:
        """Run the standard checkers on this scenario's history so far. A verdict the test
        added before (a refused failover promise) is kept after the standard ones."""
        cfg = config or CheckConfig.from_slo(self.cluster.inventory.slo, probe_prefix="vip-probe-web")
        standard = run_all(self.ops(), cfg)
        names = {c.checker for c in standard}
        self.checks = standard + [c for c in self.checks if c.checker not in names]
        self.check_config = cfg
        return {c.checker: c for c in self.checks}

    def judge(self, declared: Declarations) -> Judgement:
        """Every checker whose operations the history recorded decides the test unless waived
        (harness.verdicts). The checkers run here if the test did not run them (it failed on
        a wait, or never asked): result.json then still has their figures."""
        checked_in = "body"
        if self.check_config is None:
            checked_in = "teardown"
            self.check()
        cfg = self.check_config or CheckConfig()
        # of its kind in the history, not "a bound is set": an empty history judges nothing
        kinds = CheckConfig(probe_prefix=cfg.probe_prefix, posts_read_prefix=cfg.posts_read_prefix)
        self.judgement = judge(self.checks, applicable(self.ops(), kinds), declared, checked_in=checked_in)
        return self.judgement

    def slo_line(self, name: str, measured: float | None, bound: float | None, unit: str,
                 *, higher_is_better: bool = False) -> SloLine:
        """Record one SLO comparison for the report and return it; the test asserts on it."""
        if measured is None or bound is None:
            verdict = Validity.UNKNOWN
        elif higher_is_better:
            verdict = Validity.VALID if measured >= bound else Validity.INVALID
        else:
            verdict = Validity.VALID if measured <= bound else Validity.INVALID
        line = SloLine(name, None if measured is None else round(measured, 3), bound, unit, verdict, higher_is_better)
        self.slo.append(line)
        return line

    def result(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "slug": self.directory.name,
            "title": self.title,
            "outcome": self.outcome,
            "tier": self.tier,
            "fault_kind": self.fault_kind,
            "negative_proof": self.negative_proof,
            "duration_s": round(time.monotonic() - self._started, 3),
            "phases": self.phases,
            "checks": [c.to_dict() for c in self.checks],
            **({"verdicts": self.judgement.to_dict()} if self.judgement is not None else {}),
            "slo": [s.to_dict() for s in self.slo],
            "error": self.error,
            **({"soak": self.extra} if self.extra else {}),
            **({"interrupted": self.interrupted} if self.interrupted else {}),
        }

    def write_result(self) -> Path:
        """result.json, scrubbed of secrets (an assertion message may quote a password)."""
        path = self.directory / "result.json"
        path.write_text(dumps_scrubbed(self.result(), indent=2) + "\n")
        return path


def _register_known_secrets(inventory: Any) -> None:
    """The passwords this run reads from the environment are scrubbed verbatim from every
    file it writes; a variable that is not set is the load's or the ledger's error, not ours."""
    for read in (inventory.db_password, inventory.moodle_password):
        try:
            add_secrets([read()])
        except InventoryError:
            pass


def assert_slo(line: SloLine, detail: str = "") -> None:
    """Fail the test with the measured figure and the bound in the message (and ``detail``: the
    evidence that says which event it was)."""
    __tracebackhide__ = True
    tail = f"; {detail}" if detail else ""
    if line.verdict is Validity.INVALID:
        cmp = ">=" if line.higher_is_better else "<="
        raise AssertionError(f"{line.name}: measured {line.measured} {line.unit}, bound {cmp} {line.bound} {line.unit}{tail}")
    if line.verdict is Validity.UNKNOWN:
        raise AssertionError(f"{line.name}: could not be measured (bound {line.bound} {line.unit}){tail}")
