"""Transactional workloads and whole-tier power loss against the lab's real MariaDB Galera.

Its OWN lab ``txn`` on 198.18.11.0/24 (HAProxy directors), once per durability
(``innodb_flush_log_at_trx_commit`` 1, then 0). Run with ``-s`` to see the figures: txn/s,
the tier's down time, acknowledged appends lost after a power loss. What is asserted:

- the history of both workloads has exactly the format docs/history.md gives;
- the durability option reaches every node's running server;
- after a whole-tier power loss (at once, and staggered) the heal brings every node back
  Synced in one Primary component, records which node bootstrapped and the down time, and the
  nemesis heal completion carries it;
- Adya's P4 forced by a schedule (no fault) commits both transactions at the defaults, one node
  or two, and the checker finds lost-update and G-single; SERIALIZABLE with wsrep_sync_wait=1
  aborts one (1213) and nothing is found;
- with durability 1 no acknowledged append is lost (an fsync per commit on the committing node,
  and bootstrapping from the most advanced node keeps every committed seqno); with 0 the loss
  is measured and printed, not asserted (it depends on where the once-a-second flush fell).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.checkers import Validity
from harness.checkers.bank import check_bank
from harness.checkers.list_append import check_list_append
from harness.cluster import Cluster
from harness.faults import Journal, Nemesis
from harness.history import HistoryRecorder, Op
from harness.inventory import load_inventory
from harness.lab import Lab
from harness.parsers.wsrep import parse_wsrep_status
from harness.probes.ledger import db_nodes
from harness.probes.txn import BankProbe, ListAppendProbe, acknowledged_appends, txn_rate
from harness.probes.txn_schedule import LOST_UPDATE, ScheduleRun

from .conftest import own_lab, own_lab_marks, wait_until

NAME, SUBNET = "txn", "198.18.11.0/24"


pytestmark = own_lab_marks("txn lab")


def _say(msg: str) -> None:
    sys.stderr.write(f"txn-lab: {msg}\n")


def _figure(msg: str) -> None:
    sys.stdout.write(f"\nFIGURE {msg}\n")
    sys.stdout.flush()


@pytest.fixture(scope="module", params=[1, 0], ids=["durability1", "durability0"])
def txn_lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    yield from own_lab(Lab(NAME, SUBNET, directors="haproxy", db_durability=request.param), _say,
                       f"durability {request.param}")


@pytest.fixture
def cluster(txn_lab: Lab) -> Iterator[Cluster]:
    os.environ["HARNESS_DB_PASSWORD"] = txn_lab.db_password()
    c = Cluster(load_inventory(txn_lab.inventory_path))
    yield c
    c.close()


def _run_id(tag: str) -> str:
    return f"{tag}-{int(time.time() * 1000)}"


def _wsrep(cluster: Cluster, host: str) -> dict[str, str]:
    r = cluster.run(host, "mysql -N -B -e \"SHOW STATUS LIKE 'wsrep%'\"")
    return parse_wsrep_status(r.stdout) if r.exit_status == 0 else {}


def _all_synced(cluster: Cluster) -> list[str]:
    """Problems: db nodes not Synced in a Primary component of all db nodes."""
    n = len(cluster.inventory.with_role("db"))
    out = []
    for h in cluster.inventory.with_role("db"):
        s = _wsrep(cluster, h.name)
        if (s.get("wsrep_local_state_comment"), s.get("wsrep_cluster_status"), s.get("wsrep_cluster_size")) != (
                "Synced", "Primary", str(n)):
            out.append(f"{h.name}: {s.get('wsrep_local_state_comment')} {s.get('wsrep_cluster_status')} "
                       f"size {s.get('wsrep_cluster_size')}")
    return out


def _assert_txn_format(op: Op, final: bool) -> None:
    """One list-append op; a final read (one per node, every key) is longer than 4 micro-ops."""
    assert op.process.startswith("txn-") and op.process[4:].isdigit(), op
    assert op.f == "txn" and isinstance(op.value, list) and (final or 1 <= len(op.value) <= 4), op
    for m in op.value:
        assert isinstance(m, list) and len(m) == 3 and m[0] in ("append", "r") and isinstance(m[1], int), op
        if m[0] == "append":
            assert isinstance(m[2], int), op
        elif op.type == "invoke" or op.type != "ok":
            assert m[2] is None, op
        else:
            assert isinstance(m[2], list) and all(isinstance(x, int) for x in m[2]), op
    if op.type != "invoke":
        assert {"latency_ms", "node"} <= set(op.extra), op
    if op.type in ("fail", "info"):
        assert op.extra.get("error"), op


def test_durability_option_reaches_every_running_server(txn_lab: Lab, cluster: Cluster) -> None:
    want = str(txn_lab.db_durability)
    for h in cluster.inventory.with_role("db"):
        got = cluster.run(h.name, "mysql -N -B -e 'SELECT @@innodb_flush_log_at_trx_commit'").stdout.strip()
        assert got == want, f"{h.name}: innodb_flush_log_at_trx_commit {got}, lab asked for {want}"


def test_list_append_and_bank_histories_have_the_documented_format(txn_lab: Lab, cluster: Cluster,
                                                                   tmp_path: Path) -> None:
    if txn_lab.db_durability != 1:
        pytest.skip("the format is the same at every durability: checked once")
    history = HistoryRecorder(tmp_path / "history.jsonl")
    inv = cluster.inventory
    la = ListAppendProbe.for_inventory(history, inv, run_id=_run_id("fmt"), workers=4, rate_hz=40,
                                       max_count=400, max_duration_s=6.0, isolation="repeatable-read", seed=1)
    bank = BankProbe.for_inventory(history, inv, run_id=_run_id("fmtb"), workers=2, rate_hz=20,
                                   max_count=120, max_duration_s=6.0, isolation="serializable", seed=2)
    with la, bank:
        assert la.join(timeout=12.0) and bank.join(timeout=12.0)
    finals = la.final_read(db_nodes(inv))
    bank_finals = bank.final_read(db_nodes(inv))
    history.close()
    ops = history.ops()
    txns = [op for op in ops if op.process.startswith("txn-")]
    final_procs = {op.process for op in txns if op.type == "invoke" and "node" in op.extra}
    assert len(final_procs) == 3
    for op in txns:
        _assert_txn_format(op, op.process in final_procs)
    oks = [op for op in txns if op.type == "ok"]
    assert len(oks) >= 0.9 * la.counts["ok"] and la.counts["ok"] >= 100, la.counts
    # reads return whole lists in append order: every ok read is a prefix of the final list
    final = finals["db1"]
    assert final is not None and all(finals[n] == final for n in finals), finals
    for op in oks:
        for f, k, v in op.value:
            if f == "r":
                assert v == final.get(k, [])[: len(v)], (op, final.get(k))
    # every acknowledged append is in the final state; values unique per key
    acked = acknowledged_appends(ops)
    assert all(v in final[k] for k, v in acked)
    assert all(len(set(vs)) == len(vs) for vs in final.values())
    # the bank: setup once, transfers and reads in the contract's shape, the total conserved
    setup = [op for op in ops if op.process == "bank-setup"]
    assert [op.type for op in setup] == ["invoke", "ok"]
    assert setup[1].value == {"accounts": list(range(8)), "total": 800}
    reads = [op for op in ops if op.process.startswith("bank-") and op.f == "read" and op.type == "ok"]
    assert reads and all(sorted(op.value) == [str(a) for a in range(8)] for op in reads)
    assert all(sum(op.value.values()) == 800 for op in reads), [op.value for op in reads if sum(op.value.values()) != 800]
    transfers = [op for op in ops if op.process.startswith("bank-") and op.f == "transfer"]
    assert transfers and all(set(op.value) == {"from", "to", "amount"} for op in transfers)
    assert all(op.process.split("-")[1].isdigit() for op in ops if op.process.startswith("bank-") and op.process != "bank-setup")
    assert all(v is not None and sum(v.values()) == 800 for v in bank_finals.values())
    _figure(f"list-append txn/s {txn_rate(ops):.1f} (4 workers, 40/s asked, RR) counts {la.counts}; "
            f"bank ops/s {txn_rate(ops, 'transfer', 'bank-') or 0:.1f} transfers (+reads) counts {bank.counts}")


def _power_loss(cluster: Cluster, tmp_path: Path, *, stagger_s: float, tag: str) -> dict[str, Any]:
    """List-append through the VIP, power loss of the whole tier in its middle, heal, final read."""
    history = HistoryRecorder(tmp_path / "history.jsonl")
    nemesis = Nemesis(cluster, history, Journal(tmp_path))
    inv = cluster.inventory
    la = ListAppendProbe.for_inventory(history, inv, run_id=_run_id(tag), workers=4, rate_hz=60,
                                       max_count=2000, max_duration_s=30.0, seed=3, read_timeout_s=2.0)
    with nemesis.running():
        la.start()
        wait_until("100 acknowledged transactions", lambda: la.counts["ok"] >= 100, timeout=30)
        fid = nemesis.inject("db-tier-power-loss", stagger_s=stagger_s)
        wait_until("the probe sees the tier down", lambda: la.counts["fail"] + la.counts["info"] >= 4, timeout=15)
        la.stop()
        la.join(timeout=5)
        t0 = time.monotonic()
        nemesis.heal(fid)
        heal_s = time.monotonic() - t0
    finals = la.final_read(db_nodes(inv))
    history.close()
    ops = history.ops()
    heal = [op for op in ops if op.process == "nemesis" and op.f == "heal" and op.type == "ok"]
    acked = acknowledged_appends(ops)
    lost = {n: sorted((k, v) for k, v in acked if v not in f.get(k, [])) for n, f in finals.items() if f is not None}
    return {"ops": ops, "heal": heal, "acked": acked, "lost": lost, "finals": finals, "heal_s": heal_s,
            "counts": dict(la.counts), "rate": txn_rate([op for op in ops if op.time < ops[-1].time])}


@pytest.mark.parametrize("stagger_s", [0.0, 0.3], ids=["at-once", "staggered"])
def test_whole_tier_power_loss_heals_synced_and_counts_lost_appends(txn_lab: Lab, cluster: Cluster,
                                                                     tmp_path: Path, stagger_s: float) -> None:
    if stagger_s and txn_lab.db_durability != 1:
        pytest.skip("staggered kill: measured at durability 1 only (time)")
    assert _all_synced(cluster) == [], "the tier must be whole before the power loss"
    r = _power_loss(cluster, tmp_path, stagger_s=stagger_s, tag=f"pl{txn_lab.db_durability}")
    assert _all_synced(cluster) == []
    assert len(r["heal"]) == 1, r["heal"]
    healed = r["heal"][0].value["healed"]
    assert healed["bootstrap"] in {h.name for h in cluster.inventory.with_role("db")}
    assert set(healed["positions"]) == {h.name for h in cluster.inventory.with_role("db")}
    assert all(p["seqno"] >= 0 for p in healed["positions"].values()), healed["positions"]
    bootstrap_seqno = healed["positions"][healed["bootstrap"]]["seqno"]
    assert bootstrap_seqno == max(p["seqno"] for p in healed["positions"].values())
    assert 0 < healed["down_s"] <= healed["all_synced_s"], healed
    assert all(f is not None for f in r["finals"].values()), r["finals"]
    lost = {n: len(v) for n, v in r["lost"].items()}
    _figure(f"power loss durability={txn_lab.db_durability} stagger={stagger_s}: acked appends {len(r['acked'])}, "
            f"lost per node {lost}, counts {r['counts']}, txn/s {r['rate']}, bootstrap {healed['bootstrap']} "
            f"positions {healed['positions']}, down {healed['down_s']} s, all synced {healed['all_synced_s']} s, "
            f"heal {r['heal_s']:.1f} s")
    if txn_lab.db_durability == 1:
        assert all(n == 0 for n in lost.values()), r["lost"]


def _bank_wrong_totals(cluster: Cluster, tmp_path: Path, **session: Any) -> tuple[int, int, dict[str, int]]:
    """Bank through the DB VIP, 8 workers as fast as they go for 6 s: (wrong reads, reads, counts)."""
    history = HistoryRecorder(tmp_path / f"bank-{session.get('isolation')}.jsonl")
    bank = BankProbe.for_inventory(history, cluster.inventory, run_id=_run_id("bk"), workers=8, rate_hz=1000,
                                   max_count=20000, max_duration_s=6.0, seed=4, **session)
    with bank:
        assert bank.join(timeout=15.0)
    history.close()
    reads = [op for op in history.ops() if op.f == "read" and op.type == "ok"]
    verdict = check_bank(history.ops())  # the checker must see what the plain count sees
    wrong = sum(1 for op in reads if sum(op.value.values()) != 800)
    assert verdict.counts["wrong_total"] == wrong and (verdict.valid is Validity.INVALID) == (wrong > 0), verdict
    return wrong, len(reads), dict(bank.counts)


def test_bank_loses_updates_at_repeatable_read_and_not_when_strict(txn_lab: Lab, cluster: Cluster,
                                                                   tmp_path: Path) -> None:
    """No fault at all. MariaDB's REPEATABLE READ reads without locks, so two transfers that read
    the same balance both write their own result back (lost update, P4): measured 3744 wrong
    totals of ~3700 reads (once wrong, every later read is). SERIALIZABLE (reads lock) with
    wsrep_sync_wait=1: 0 of 1470."""
    if txn_lab.db_durability != 1:
        pytest.skip("isolation, not durability: measured once")
    wrong_rr, reads_rr, counts_rr = _bank_wrong_totals(cluster, tmp_path, isolation="repeatable-read")
    wrong_s, reads_s, counts_s = _bank_wrong_totals(cluster, tmp_path, isolation="serializable", wsrep_sync_wait=1)
    _figure(f"bank 8 workers: repeatable-read {wrong_rr} wrong totals of {reads_rr} reads {counts_rr}; "
            f"serializable+sync_wait {wrong_s} of {reads_s} {counts_s}")
    assert reads_rr > 100 and wrong_rr > 0
    assert reads_s > 100 and wrong_s == 0


def _p4(cluster: Cluster, tmp_path: Path, tag: str, **kwargs: Any) -> tuple[dict[int, str], list[str], Validity]:
    """Adya's P4 schedule once: (outcomes, anomaly types found, verdict under the run's model)."""
    history = HistoryRecorder(tmp_path / f"p4-{tag}.jsonl")
    run = ScheduleRun.for_inventory(history, cluster.inventory, run_id=_run_id(tag), step_wait_s=1.0,
                                    lock_wait_timeout_s=5, **kwargs)
    outcomes = run.run(LOST_UPDATE)
    history.close()
    result = check_list_append(history.ops(), model=kwargs.get("isolation") or "repeatable-read")
    return outcomes, list(result.counts["anomaly_types"]), result.valid


@pytest.mark.parametrize("nodes", [None, {1: "db1", 2: "db2"}], ids=["one-node", "two-nodes"])
def test_lost_update_schedule_is_found_at_defaults_and_prevented_when_strict(
        txn_lab: Lab, cluster: Cluster, tmp_path: Path, nodes: dict[int, str] | None) -> None:
    """No fault: Adya's P4 forced step by step (harness/probes/txn_schedule.py). At the lab's
    defaults (REPEATABLE READ, no wsrep_sync_wait) both read-then-append transactions commit,
    on one node (plain reads take no lock) and across two (certification compares write-sets,
    not what was read): the checker must find lost-update and G-single, INVALID under the
    declared model. SERIALIZABLE with wsrep_sync_wait=1: on one node InnoDB's read locks
    deadlock the two (one 1213); across two nodes T2's read lock on db2 is in the way of T1's
    replicated write, which Galera's applier wins by aborting T2 (1213): measured 4 runs of 4,
    T2 failed and nothing found."""
    if txn_lab.db_durability != 1:
        pytest.skip("isolation, not durability: measured once")
    tag = "p4a" if nodes is None else "p4b"
    outcomes, found, valid = _p4(cluster, tmp_path, tag, nodes=nodes)
    strict_outcomes, strict_found, strict_valid = _p4(cluster, tmp_path, tag + "s", nodes=nodes,
                                                      isolation="serializable", wsrep_sync_wait=1)
    _figure(f"P4 schedule {tag}: defaults {outcomes} found {found} {valid.name}; "
            f"serializable+sync_wait {strict_outcomes} found {strict_found} {strict_valid.name}")
    assert outcomes == {0: "ok", 1: "ok", 2: "ok", 3: "ok"}
    assert {"lost-update", "G-single"} <= set(found) and valid is Validity.INVALID
    assert sorted((strict_outcomes[1], strict_outcomes[2])) == ["fail", "ok"]
    assert strict_found == [] and strict_valid is Validity.VALID


def test_multi_writer_list_append_writes_on_every_node_and_loses_nothing(txn_lab: Lab, cluster: Cluster,
                                                                        tmp_path: Path) -> None:
    """One client per db node (Galera's multi-writer case): certification conflicts are ``fail``
    (1213 at COMMIT), every acknowledged append is on every node, the nodes agree."""
    if txn_lab.db_durability != 1:
        pytest.skip("measured once")
    history = HistoryRecorder(tmp_path / "history.jsonl")
    la = ListAppendProbe.for_inventory(history, cluster.inventory, run_id=_run_id("mw"), multi_writer=True,
                                       workers=6, rate_hz=200, max_count=1000, max_duration_s=5.0,
                                       isolation="serializable", keys=4, seed=8)
    with la:
        assert la.join(timeout=12.0)
    assert la.wait_for_convergence(db_nodes(cluster.inventory), timeout_s=20)
    finals = la.final_read(db_nodes(cluster.inventory))
    history.close()
    ops = history.ops()
    done = [op for op in ops if op.process.startswith("txn-") and op.type != "invoke"]
    assert {op.extra["node"] for op in done if op.type == "ok"} >= {"db1", "db2", "db3"}
    conflicts = [op for op in done if op.type == "fail" and "1213" in op.extra.get("error", "")]
    assert all(op.extra["error"].startswith(("commit: ", "before commit: ", "read-only: ")) for op in conflicts)
    first = finals["db1"]
    assert first is not None and all(f == first for f in finals.values())
    assert all(v in first.get(k, []) for k, v in acknowledged_appends(ops))
    _figure(f"multi-writer list-append (6 workers over 3 nodes, SERIALIZABLE): counts {la.counts}, "
            f"certification/deadlock fails {len(conflicts)}, txn/s {txn_rate(ops):.1f}")


def test_harness_heal_recovers_a_power_loss_a_killed_run_left(txn_lab: Lab, cluster: Cluster, tmp_path: Path) -> None:
    """A run injects the power loss and is SIGKILLed: `harness heal` rebuilds the fault from the
    journal, bootstraps the tier and reports it (over SSH, in another process)."""
    if txn_lab.db_durability != 1:
        pytest.skip("measured once")
    script = tmp_path / "crashing_run.py"
    script.write_text(
        "import time\n"
        "from harness.cluster import Cluster\nfrom harness.faults import Journal, Nemesis\n"
        "from harness.history import HistoryRecorder\nfrom harness.inventory import load_inventory\n"
        f"c = Cluster(load_inventory({str(txn_lab.inventory_path)!r}))\n"
        f"n = Nemesis(c, HistoryRecorder({str(tmp_path / 'history.jsonl')!r}), Journal({str(tmp_path)!r}))\n"
        "n.inject('db-tier-power-loss')\n"
        "print('injected', flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "injected"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert all(cluster.run(h.name, "pidof mariadbd || true").stdout.strip() == ""
               for h in cluster.inventory.with_role("db")), "the tier should still be down after the crash"
    healed = subprocess.run([sys.executable, "-m", "harness", "heal", "--journal", str(tmp_path)],
                            capture_output=True, text=True, timeout=400)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "db-tier-power-loss" in healed.stdout, healed.stdout
    assert _all_synced(cluster) == []
    _figure(f"harness heal of a crashed run's power loss: {healed.stdout.strip()[:300]}")
