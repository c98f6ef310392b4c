"""The standard workload: what runs against the cluster while faults strike, and its read-back.

One definition for the acceptance flows (``harness.acceptance``) and the soak
(``harness.soak``): VIP probes on the web VIP (HTTP) and the DB VIP (TCP), the session probe
(one logged-in Moodle session per web node, checked through the web VIP), the SQL ledger
through the DB VIP, Locust Moodle users posting keyed forum messages, then, once stopped, the
ledger's convergence and final read and a read of every forum post key on every database node.

:class:`WorkloadSpec` says how hard (rates, waits, users, what runs, what is read back); its two
presets keep the figures each flow was measured with: :meth:`WorkloadSpec.acceptance` (short
tests: dense probes, so a failover's outage is measured to 20 ms) and
:meth:`WorkloadSpec.soak` (hours: lighter probes and ledger, a history that stays small
enough to stream). :func:`start_workload` starts it, :meth:`Workload.finish` stops it and reads back.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pymysql

from .checkers import CheckConfig
from .history import Op
from .load import LocustLoad
from .probes.ledger import Ledger, db_nodes, read_back
from .probes.storage import StorageProbe
from .probes.storage_heal import HealBacklogProbe
from .scenario import Scenario

#: where the final read of forum post keys lands in the history (``posts-read-<node>``)
POSTS_READ_PREFIX = "posts-read-"


@dataclass(frozen=True)
class WorkloadSpec:
    """How hard the standard workload runs; the defaults are the acceptance preset."""

    #: Moodle users (Locust), spawned all at once
    users: int = 3
    #: web VIP probe rate; a short timeout keeps the measured outage close to the real one
    #: (after a power-cord pull the probe in flight would hide the first success for up to it)
    web_probe_hz: float = 50.0
    #: DB VIP TCP probe rate (when the cluster file has a ``db`` VIP)
    db_probe_hz: float = 10.0
    probe_timeout_s: float = 0.5
    #: run the SQL ledger (2 writers through the DB VIP), judged by the ledger checker
    ledger: bool = True
    ledger_workers: int = 2
    ledger_hz: float = 20.0
    #: transactional workloads (harness.probes.txn) through the DB VIP, off by default: Elle's
    #: list-append and Jepsen's bank, judged by the transaction checkers
    list_append: bool = False
    list_append_workers: int = 4
    list_append_hz: float = 20.0
    bank: bool = False
    bank_workers: int = 2
    bank_hz: float = 10.0
    #: their session settings: isolation (None: the cluster file's ``database.isolation``, else
    #: the server's) and ``wsrep_sync_wait`` (None: not set)
    txn_isolation: str | None = None
    txn_sync_wait: int | None = None
    #: run Locust Moodle users, and read their forum posts back from every db node at the end
    load: bool = True
    #: think time of a Moodle user between requests (min, max) and its request timeout
    moodle_wait_s: tuple[float, float] = (0.5, 1.5)
    moodle_timeout_s: float = 10.0
    #: extra environment for the locustfile (overrides the keys this spec sets)
    load_env: Mapping[str, str] = field(default_factory=dict)
    #: keep one logged-in Moodle session per web node, checked through the web VIP at
    #: ``session_hz`` per session (lost sessions: the ``sessions`` checker); runs when the
    #: cluster has two web nodes or more and an HTTP web VIP
    sessions: bool = True
    session_hz: float = 2.0
    #: first letter of the run's forum post keys ("p" acceptance, "s" soak), then 8 hex digits
    post_key_letter: str = "p"
    #: the file tier (needs the cluster file's ``storage:`` section): the storage probe writing
    #: through every web node's mount at ``storage_hz`` per node, the self-heal backlog sampled at
    #: ``heal_hz`` and waited on (at most ``storage_converge_s``) before the final listing, and
    #: ``attach_fraction`` of the Moodle users' posts uploading an attachment first
    storage: bool = False
    storage_hz: float = 2.0
    heal_hz: float = 1.0
    storage_converge_s: float = 60.0
    attach_fraction: float = 0.0
    #: the directory tier (needs the cluster file's ``directory:`` and an ``ldap`` VIP): binds
    #: of Moodle accounts through the LDAP VIP at ``directory_bind_hz``, the write ledger at
    #: ``directory_write_hz``, contextCSN samples, and before the final read a bounded wait
    #: (``directory_converge_s``) for every server to show the same contextCSNs
    directory: bool = False
    directory_bind_hz: float = 10.0
    directory_write_hz: float = 5.0
    directory_csn_hz: float = 2.0
    directory_converge_s: float = 30.0

    @classmethod
    def acceptance(cls, **changes: Any) -> WorkloadSpec:
        """The acceptance tests' workload (the figures in NOTES.md were measured with it)."""
        return cls(**changes)

    @classmethod
    def soak(cls, **changes: Any) -> WorkloadSpec:
        """The soak's workload: lighter probes (20/s, DB 5/s) and ledger (10/s), Moodle users
        thinking up to 2 s, for hours of history on disk."""
        return replace(cls(web_probe_hz=20.0, db_probe_hz=5.0, ledger_hz=10.0, moodle_wait_s=(0.5, 2.0),
                           session_hz=0.5, post_key_letter="s"), **changes)

    def moodle_env(self, post_prefix: str) -> dict[str, str]:
        """The locustfile's environment: post key prefix, think time, timeout, then ``load_env``."""
        env = {"MOODLE_POST_KEY_PREFIX": post_prefix, "MOODLE_WAIT_MIN": f"{self.moodle_wait_s[0]:g}",
               "MOODLE_WAIT_MAX": f"{self.moodle_wait_s[1]:g}", "MOODLE_TIMEOUT": f"{self.moodle_timeout_s:g}"}
        if self.attach_fraction:
            env["MOODLE_ATTACH_FRACTION"] = f"{self.attach_fraction:g}"
        env.update(self.load_env)
        return env


@dataclass
class Workload:
    """A running standard workload of one scenario."""

    scenario: Scenario
    spec: WorkloadSpec
    post_prefix: str
    ledger: Ledger | None
    load: LocustLoad | None
    #: the transactional probes running (list-append, bank), finished like the ledger
    txns: list[Ledger] = field(default_factory=list)
    #: the file tier's probes (spec.storage)
    storage: StorageProbe | None = None
    heal: HealBacklogProbe | None = None
    #: the directory tier's probes (spec.directory): harness.probes.ldap.DirectoryProbes
    directory: Any = None

    def finish(self) -> dict[str, int]:
        """Stop load, probes and ledger; read every ledger key and forum post back from every
        database node. The load's figures (``samples``, ``failures``; empty without load)."""
        sc = self.scenario
        figures: dict[str, int] = {}
        if self.load is not None:
            self.load.stop()
            figures = {"samples": self.load.samples, "failures": self.load.failures}
        if self.heal is not None:  # let self-heal finish (bounded) while the backlog is sampled
            self.heal.wait_for_zero(self.spec.storage_converge_s)
        if self.directory is not None:  # writes stop; replication catches up (bounded) while sampled
            if self.directory.writer is not None:
                self.directory.writer.stop()
            self.directory.bind.stop()
            if self.directory.csn is not None:
                self.directory.csn.wait_for_agreement(self.spec.directory_converge_s)
        sc.stop_probes()
        for probe in [self.ledger, *self.txns]:
            if probe is not None:
                sc.finish_ledger(probe)
        if self.load is not None:
            read_post_keys(sc, self.post_prefix)
        if self.storage is not None:  # every web node lists the probe's files and the uploads
            self.storage.final_read(paths=acknowledged_uploads(sc.history.ops()))
        if self.directory is not None:  # every LDAP server on its own: the ledger's values
            self.directory.final_read(sc.history)
        return figures

    def check_config(self, **overrides: Any) -> CheckConfig:
        """The checkers' configuration for this workload's history, from the cluster's SLOs; the
        transactions are judged against the isolation they ran at (the spec's, else what the
        cluster file says the database promises, else serializable)."""
        inv = self.scenario.cluster.inventory
        overrides.setdefault("isolation", self.spec.txn_isolation or inv.database.isolation or "serializable")
        if self.heal is not None:
            overrides.setdefault("storage_converge_s", self.spec.storage_converge_s)
        if self.directory is not None and self.directory.csn is not None:
            overrides.setdefault("ldap_converge_s", self.spec.directory_converge_s)
        return CheckConfig.from_slo(inv.slo, probe_prefix="vip-probe-web",
                                    posts_read_prefix=POSTS_READ_PREFIX if self.load is not None else None, **overrides)


def start_workload(scenario: Scenario, spec: WorkloadSpec, duration_s: float) -> Workload:
    """Start probes, ledger and load, each bounded by ``duration_s`` (the scenario stops them
    on close if the flow dies first)."""
    sc = scenario
    post_prefix = f"{spec.post_key_letter}{secrets.token_hex(4)}"
    sc.vip_probe("web", rate_hz=spec.web_probe_hz, max_duration_s=duration_s, timeout_s=spec.probe_timeout_s)
    if "db" in sc.cluster.inventory.vips:
        sc.vip_probe("db", rate_hz=spec.db_probe_hz, max_duration_s=duration_s, mode="tcp", timeout_s=spec.probe_timeout_s)
    inv = sc.cluster.inventory
    web = inv.vips.get("web")
    if spec.sessions and web is not None and web.protocol == "http" and len(inv.with_role("web")) >= 2:
        sc.session_probe(rate_hz=spec.session_hz, max_duration_s=duration_s,
                         reserved_accounts=spec.users if spec.load else 0)
    ledger = sc.ledger(workers=spec.ledger_workers, rate_hz=spec.ledger_hz, max_duration_s=duration_s) if spec.ledger else None
    load: LocustLoad | None = None
    if spec.load:
        load = sc.load(users=spec.users, spawn_rate=spec.users, run_time_s=duration_s, env=spec.moodle_env(post_prefix))
    txns: list[Ledger] = []
    if spec.list_append:
        txns.append(sc.list_append(workers=spec.list_append_workers, rate_hz=spec.list_append_hz,
                                   max_duration_s=duration_s, isolation=spec.txn_isolation,
                                   wsrep_sync_wait=spec.txn_sync_wait))
    if spec.bank:
        txns.append(sc.bank(workers=spec.bank_workers, rate_hz=spec.bank_hz, max_duration_s=duration_s,
                            isolation=spec.txn_isolation, wsrep_sync_wait=spec.txn_sync_wait))
    storage = heal = None
    if spec.storage:
        storage = sc.storage_probe(rate_hz=spec.storage_hz, max_duration_s=duration_s)
        heal = sc.heal_backlog(rate_hz=spec.heal_hz, max_duration_s=duration_s + spec.storage_converge_s)
    directory = None
    if spec.directory:
        directory = sc.directory_probes(bind_hz=spec.directory_bind_hz, write_hz=spec.directory_write_hz,
                                        csn_hz=spec.directory_csn_hz, max_duration_s=duration_s,
                                        csn_extra_s=spec.directory_converge_s + 30.0)
    return Workload(sc, spec, post_prefix, ledger, load, txns, storage, heal, directory)


def acknowledged_uploads(ops: Iterable[Op]) -> list[str]:
    """The pool paths of the Moodle load's uploads that were acknowledged (``ok``)."""
    pending: dict[str, str] = {}
    out: list[str] = []
    for op in ops:
        if not op.process.startswith("locust-") or op.f != "upload":
            continue
        if op.type == "invoke":
            path = op.value.get("path") if isinstance(op.value, dict) else None
            if isinstance(path, str):
                pending[op.process] = path
        elif (path := pending.pop(op.process, None)) is not None and op.type == "ok":
            out.append(path)
    return out


def read_post_keys(scenario: Scenario, prefix: str, *, database: str | None = None, table: str | None = None,
                   wait_s: float = 30.0) -> None:
    """Final read of forum post subjects starting with ``prefix`` on every DB node directly.

    Recorded as ``posts-read-<node>`` / ``read`` so the ledger checker can judge posts made
    over HTTP like SQL ledger writes (acknowledged but missing = lost). Moodle's schema and
    posts table come from the cluster file's ``moodle:`` section unless given.
    """
    inv = scenario.cluster.inventory
    database = database or inv.moodle.database
    table = table or inv.moodle.forum_posts_table
    password = inv.db_password()
    like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def read(host: str, port: int) -> list[str]:
        if scenario.guard is not None:
            scenario.guard(host)
        conn = pymysql.connect(host=host, port=port, user=inv.database.user, password=password,
                               database=database, connect_timeout=3, read_timeout=10, write_timeout=10)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT subject FROM `{table}` WHERE subject LIKE %s", (like,))
                return [r[0] for r in cur.fetchall()]
        finally:
            conn.close()

    read_back(scenario.history, db_nodes(inv), read, process_prefix=POSTS_READ_PREFIX, wait_s=wait_s)
