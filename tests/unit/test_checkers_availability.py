from harness.checkers import Validity, availability
from harness.checkers.availability import Outage, ProbeTally, follow_probes, judge
from harness.history import Op


def hist(rows):
    """rows: (time, process, type, f, value, extra) completions; an invoke is added before each."""
    ops, i = [], 0
    for t, proc, typ, f, value, *extra in rows:
        ops.append(Op(i, t - 0.001, proc, "invoke", f, None))
        ops.append(Op(i + 1, t, proc, typ, f, value, extra[0] if extra else {}))
        i += 2
    return ops


def probes(seq, start=0.0, step=0.1, proc="vip-probe"):
    """'..xx?.' : ok, fail (x), info (?)."""
    kinds = {".": "ok", "x": "fail", "?": "info"}
    return [(start + k * step, proc, kinds[c], "get", 200 if c == "." else None, {} if c == "." else {"error": f"e{k}"}) for k, c in enumerate(seq)]


def test_outage_from_last_success_to_first_success():
    r = availability(hist(probes("..xx?..")))
    assert r.valid is Validity.VALID
    assert r.counts["attempts"] == 7 and r.counts["ok"] == 4 and r.counts["failed"] == 3
    assert r.counts["outages"] == 1
    assert abs(r.counts["longest_outage_s"] - 0.4) < 1e-9  # 0.1 (last ok) -> 0.5 (first ok after)
    (o,) = r.examples["outages"]
    assert o["first_error"] == "e2" and o["failed"] == 3 and not o["open"]


def test_max_outage_and_min_availability_make_invalid():
    ops = hist(probes("..xxxx.."))
    assert availability(ops, max_outage_s=0.6).valid is Validity.VALID
    r = availability(ops, max_outage_s=0.4)
    assert r.valid is Validity.INVALID and "max_outage_s 0.4" in r.message
    r = availability(ops, min_availability_percent=60)
    assert r.valid is Validity.INVALID and r.counts["availability_percent"] == 50.0


def test_open_outage_runs_to_last_attempt():
    r = availability(hist(probes("..xxx")))
    assert r.counts["open_outage"] is True
    (o,) = r.examples["outages"]
    assert o["open"] and abs(o["duration_s"] - 0.3) < 1e-9  # 0.1 -> 0.4 (last attempt)
    assert "still open" in r.message


def test_per_vip_processes_are_separate():
    # web VIP down from 0.1 to 0.5 while the db VIP probe keeps succeeding in between
    rows = probes("..xxx..", proc="vip-probe-web") + probes(".......", start=0.05, proc="vip-probe-db")
    rows.sort(key=lambda r: r[0])
    r = availability(hist(rows))
    assert r.counts["outages"] == 1 and abs(r.counts["longest_outage_s"] - 0.4) < 1e-9
    assert r.counts["per_process"]["vip-probe-db"]["outages"] == 0


def test_no_probe_data_is_unknown_and_other_processes_ignored():
    r = availability(hist([(1.0, "ledger-1", "ok", "write", "k1")]))
    assert r.valid is Validity.UNKNOWN and r.counts["attempts"] == 0
    assert availability([]).valid is Validity.UNKNOWN


def test_failures_before_any_success():
    r = availability(hist(probes("xx..")))
    (o,) = r.examples["outages"]
    assert o["no_success_before"] and abs(o["duration_s"] - 0.2) < 1e-9


def test_bad_data_gives_unknown_not_exception():
    ops = [Op(0, 0.0, "vip-probe", "invoke", "get"), Op(1, "late", "vip-probe", "fail", "get")]  # type: ignore[arg-type]
    ops += [Op(2, 1.0, "vip-probe", "invoke", "get"), Op(3, 1.0, "vip-probe", "ok", "get")]
    r = availability(ops)
    assert r.valid is Validity.UNKNOWN and "bad data" in r.message


def test_time_based_availability_counts_an_outage_by_its_length_not_its_probe_count():
    """A silent host: one probe hangs in its 1 s timeout, so only 2 probes fail in a 2 s outage."""
    from harness.checkers import availability
    from harness.history import Op

    ops, i = [], 0
    for t, typ in [(0.0, "ok"), (1.0, "ok"), (2.0, "ok"), (3.0, "fail"), (4.0, "fail"), (4.0, "ok")] + \
            [(5.0 + n, "ok") for n in range(6)]:
        ops += [Op(i, t, "vip-probe", "invoke", "get"), Op(i + 1, t, "vip-probe", typ, "get", 200 if typ == "ok" else None)]
        i += 2
    r = availability(ops)
    assert r.counts["downtime_s"] == 2.0  # last ok at 2.0 -> first ok after at 4.0
    assert r.counts["observed_s"] == 10.0
    assert r.counts["time_availability_percent"] == 80.0
    assert r.counts["availability_percent"] == round(100 * 10 / 12, 4)  # by probes: 83.3 %


def test_pass_gathers_outages_per_probe_and_verdict_reads_only_them():
    ops = [Op(0, 1.0, "vip-probe-web", "ok", "get", 200), Op(1, 2.0, "vip-probe-web", "fail", "get", None, {"error": "reset"}),
           Op(2, 3.0, "vip-probe-db", "info", "get"), Op(3, 4.0, "vip-probe-web", "ok", "get", 200), Op(4, 5.0, "other", "fail", "x")]
    facts = follow_probes(ops, "vip-probe")
    assert facts.outages == [
        Outage("vip-probe-web", 1.0, 4.0, "reset", 1, False, False),
        Outage("vip-probe-db", 3.0, 3.0, "info", 1, True, True),
    ]
    assert facts.probes["vip-probe-web"] == ProbeTally(attempts=3, ok=2, first_time=1.0, last_time=4.0)
    r = judge(facts, max_outage_s=2.5)
    assert r.valid is Validity.INVALID and r.message.startswith("longest outage 3.000 s > max_outage_s 2.5 s")
    assert r.counts["per_process"]["vip-probe-db"]["availability_percent"] == 0.0
