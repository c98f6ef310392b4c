from harness.checkers import FaultWindow, Validity, split_brain
from harness.checkers.split_brain import SplitBrainFacts, SplitSample, judge
from harness.history import Op


def sample(vrrp=None, holders=None):
    v = {}
    if vrrp is not None:
        v["vrrp"] = vrrp
    if holders is not None:
        v["vip_holders"] = holders
    return v


ONE = sample({"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP"}}, {"web": ["dir1"]})
TWO_MASTERS = sample({"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "MASTER"}}, {"web": ["dir1"]})
TWO_HOLDERS = sample({"dir1": {"VI_WEB": "MASTER"}, "dir2": {"VI_WEB": "BACKUP"}}, {"web": ["dir1", "dir2"]})


def build(samples, fault=None):
    rows = [(t, "state", "ok", "sample", v) for t, v in samples]
    if fault:
        s, e = fault
        rows += [
            (s, "nemesis", "invoke", "partition", {"fault_id": "f1"}),
            (s + 0.1, "nemesis", "ok", "partition", {"fault_id": "f1"}),
            (e - 0.1, "nemesis", "invoke", "heal", {"fault_id": "f1"}),
            (e, "nemesis", "ok", "heal", {"fault_id": "f1"}),
        ]
    rows.sort(key=lambda r: r[0])
    out = []
    for t, p, typ, f, v in rows:
        if p == "state":
            out.append(Op(len(out), t - 0.01, p, "invoke", f, None))
        out.append(Op(len(out), t, p, typ, f, v))
    return out


def test_no_split_brain_is_valid():
    r = split_brain(build([(1, ONE), (2, ONE)]))
    assert r.valid is Validity.VALID and r.counts["split_brain_samples"] == 0 and r.counts["samples"] == 2


def test_two_masters_during_partition_tolerated_but_counted():
    r = split_brain(build([(1, ONE), (3, TWO_MASTERS), (4, TWO_MASTERS), (7, ONE)], fault=(2, 5)))
    assert r.valid is Validity.VALID
    assert r.counts["split_brain_samples"] == 2 and r.counts["first_time"] == 3 and r.counts["last_time"] == 4
    assert r.counts["affected"] == ["vrrp:VI_WEB"] and not r.counts["persisted_after_last_heal"]
    assert split_brain(build([(3, TWO_MASTERS)], fault=(2, 5)), allow_during_faults=False).valid is Validity.INVALID


def test_split_brain_persisting_after_heal_is_invalid():
    r = split_brain(build([(3, TWO_MASTERS), (6, TWO_MASTERS), (9, TWO_HOLDERS)], fault=(2, 5)), settle_s=2.0)
    assert r.valid is Validity.INVALID
    assert r.counts["persisted_after_last_heal"] is True
    assert r.counts["untolerated_samples"] == 1  # the 6 s sample is within the 2 s settle
    assert r.counts["vip_split_samples"] == 1 and "persisted" in r.message
    ex = [e for e in r.examples["samples"] if not e["tolerated"]]
    assert ex[0]["split"] == [{"kind": "vip", "name": "web", "hosts": ["dir1", "dir2"]}]


def test_split_brain_without_fault_is_invalid():
    assert split_brain(build([(1, TWO_HOLDERS)])).valid is Validity.INVALID


def test_no_samples_unknown_and_bad_sample_unknown():
    assert split_brain(build([])).valid is Validity.UNKNOWN
    assert split_brain(build([(1, {"db": {}})])).valid is Validity.UNKNOWN
    r = split_brain(build([(1, {"vrrp": {"dir1": "MASTER"}})]))
    assert r.valid is Validity.UNKNOWN and "vrrp.dir1" in r.message


def test_verdict_tolerates_splits_only_inside_fault_windows_plus_settle():
    split = [{"kind": "vip", "name": "web", "hosts": ["dir1", "dir2"]}]
    facts = SplitBrainFacts("state", samples=3, informative=3, splits=[SplitSample(12.0, 7, split), SplitSample(31.0, 9, split)])
    windows = [FaultWindow("f1", "partition", 10.0, 20.0, 0, 5)]
    r = judge(facts, windows, settle_s=3.0)
    assert r.valid is Validity.INVALID and r.counts["untolerated_samples"] == 1
    assert r.counts["persisted_after_last_heal"] and r.counts["affected"] == ["vip:web"]
    assert [e["tolerated"] for e in r.examples["samples"]] == [True, False]
    assert judge(SplitBrainFacts(samples=1, informative=1, splits=facts.splits[:1]), windows).valid is Validity.VALID
