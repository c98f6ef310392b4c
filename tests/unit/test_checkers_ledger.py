from harness.checkers import Validity, ledger
from harness.checkers.ledger import LedgerFacts, gather, judge
from harness.history import Op


class H:
    """A tiny literal-history builder: each call appends invoke + completion."""

    def __init__(self):
        self.ops, self.t = [], 0.0

    def op(self, proc, f, typ, inv_value, value=None, inv_extra=None, **extra):
        self.t += 0.01
        self.ops.append(Op(len(self.ops), self.t, proc, "invoke", f, inv_value, inv_extra or {}))
        self.ops.append(Op(len(self.ops), self.t + 0.005, proc, typ, f, value, extra))
        return self

    def write(self, key, typ="ok", proc="ledger-1"):
        return self.op(proc, "write", typ, key, key if typ == "ok" else None)

    def read(self, node, keys, typ="ok"):
        return self.op(f"ledger-read-{node}", "read", typ, {"node": node}, keys if typ == "ok" else None, node=node)


def test_all_present_is_valid_and_info_absent_is_not_lost():
    h = H().write("k1").write("k2").write("k3", "info").write("k4", "fail")
    h.read("db1", ["k1", "k2"]).read("db2", ["k2", "k1"])
    r = ledger(h.ops)
    assert r.valid is Validity.VALID, r.message
    c = r.counts
    assert (c["attempted"], c["acknowledged"], c["failed"], c["indeterminate"]) == (4, 2, 1, 1)
    assert c["lost"] == 0 and c["recovered"] == 0 and c["nodes_read"] == 2


def test_lost_reported_per_node():
    h = H().write("k1").write("k2").write("k3")
    h.read("db1", ["k1", "k2", "k3"]).read("db2", ["k1"])
    r = ledger(h.ops)
    assert r.valid is Validity.INVALID
    assert r.counts["lost"] == 2 and r.counts["lost_per_node"] == {"db1": 0, "db2": 2}
    assert {(e["node"], e["key"]) for e in r.examples["lost"]} == {("db2", "k2"), ("db2", "k3")}


def test_unexpected_duplicates_failed_present():
    h = H().write("k1").write("k2", "fail").write("k3", "info")
    h.read("db1", ["k1", "k1", "k2", "k3", "zz"])
    r = ledger(h.ops)
    assert r.valid is Validity.INVALID
    c = r.counts
    assert (c["unexpected"], c["duplicates"], c["failed_present"], c["recovered"]) == (1, 1, 1, 1)
    assert r.examples["unexpected"] == ["zz"] and r.examples["failed_present"] == ["k2"]
    assert r.examples["duplicates"] == [{"node": "db1", "key": "k1", "count": 2}]


def test_indeterminate_write_on_one_node_only_is_inconsistent():
    h = H().write("k1").write("k2", "info").read("db1", ["k1", "k2"]).read("db2", ["k1"])
    r = ledger(h.ops)
    assert r.valid is Validity.INVALID and r.counts["inconsistent"] == 1
    assert r.examples["inconsistent"] == [{"key": "k2", "found_on": ["db1"], "missing_on": ["db2"]}]


def test_no_final_read_is_unknown():
    h = H().write("k1").read("db1", None, typ="fail")
    r = ledger(h.ops)
    assert r.valid is Validity.UNKNOWN and "no final read" in r.message and "db1" in r.message


def test_one_node_unreadable_is_unknown_unless_already_invalid():
    h = H().write("k1").read("db1", ["k1"]).read("db2", None, typ="info")
    assert ledger(h.ops).valid is Validity.UNKNOWN
    h = H().write("k1").write("k2").read("db1", ["k1"]).read("db2", None, typ="info")
    assert ledger(h.ops).valid is Validity.INVALID


def test_last_ok_read_is_final_and_uncompleted_write_is_indeterminate():
    h = H().write("k1").read("db1", []).write("k2")
    h.ops.append(Op(len(h.ops), 9.0, "ledger-2", "invoke", "write", "k3"))  # never completed
    h.read("db1", ["k1", "k2"])
    r = ledger(h.ops)
    assert r.valid is Validity.VALID and r.counts["indeterminate"] == 1


def test_forum_posts_over_http_with_key_field():
    h = H()
    h.op("locust-1", "login", "ok", {"user": "u1"}, 200)
    h.op("locust-1", "post", "ok", {"user": "u1"}, 200, key="p1", latency_ms=80)
    h.op("locust-2", "post", "fail", {"user": "u2"}, 503, key="p2")
    h.op("locust-2", "post", "ok", {"user": "u2"}, 200, key="p3")
    h.op("posts-read-db1", "read", "ok", {"node": "db1"}, ["p1"], node="db1")
    r = ledger(h.ops, write_prefix="locust-", write_f="post", key_field="key", read_prefix="posts-read-", name="posts")
    assert r.checker == "posts" and r.valid is Validity.INVALID
    assert r.counts["attempted"] == 3 and r.counts["lost"] == 1 and r.examples["lost"] == [{"node": "db1", "key": "p3"}]


def test_read_value_not_a_list_is_unknown():
    h = H().write("k1").read("db1", "k1")
    r = ledger(h.ops)
    assert r.valid is Validity.UNKNOWN and "not a list" in r.message


def test_pass_keeps_each_keys_best_outcome_and_last_ok_read():
    h = H().write("k1", "fail").write("k1", "ok").write("k2", "info").write("k2", "fail")
    h.read("db1", ["k1"]).read("db1", None, typ="fail").read("db2", None, typ="info")
    facts = gather(h.ops)
    assert facts.outcomes == {"k1": "ok", "k2": "info"}
    assert facts.final_reads == {"db1": ["k1"]} and facts.read_failed == {"db2"}
    assert facts.keys_with("ok") == {"k1"} and facts.keys_with("fail") == set()


def test_verdict_is_set_algebra_over_the_facts_alone():
    facts = LedgerFacts(
        outcomes={"a": "ok", "b": "info", "c": "fail", "d": "ok"},
        final_reads={"db1": ["a", "b", "c", "d", "x"], "db2": ["a", "d"]},
    )
    r = judge(facts, max_examples=5)
    assert r.valid is Validity.INVALID
    c = r.counts
    assert (c["lost"], c["unexpected"], c["failed_present"], c["recovered"], c["inconsistent"]) == (0, 1, 1, 1, 1)
    assert r.examples["inconsistent"] == [{"key": "b", "found_on": ["db1"], "missing_on": ["db2"]}]
    assert r.message == "unexpected: 1; failed but present: 1; inconsistent between nodes: 1"
    assert judge(LedgerFacts(outcomes={"a": "ok"}, final_reads={"db1": ["a"]})).message == (
        "1 acknowledged writes present on 1 node(s)"
    )
