"""The sessions checker on literal histories: valid, lost (per home node), unknown, damaged."""

from harness.checkers import CheckConfig, Validity, applicable, run_all, sessions
from harness.history import Op


class H:
    """A literal session-probe history: each call appends invoke + completion."""

    def __init__(self):
        self.ops, self.t = [], 0.0

    def _op(self, home, f, typ, value, **extra):
        self.t += 0.5
        proc = f"session-{home}"
        self.ops.append(Op(len(self.ops), self.t, proc, "invoke", f, {"home": home}, {}))
        self.ops.append(Op(len(self.ops), self.t + 0.01, proc, typ, f, value, extra))
        return self

    def login(self, home, typ="ok", served_by=None):
        return self._op(home, "session-login", typ, {"home": home, "logged_in": typ == "ok", "served_by": served_by or home})

    def check(self, home, logged_in=True, served_by="web2", typ="ok"):
        value = {"home": home, "logged_in": logged_in if typ == "ok" else None, "served_by": served_by}
        return self._op(home, "session-check", typ, value, took_ms=3.0)

    def checks(self, home, n, **kw):
        for i in range(n):
            self.check(home, served_by=f"web{i % 3 + 1}", **kw)
        return self


def _two_homes() -> H:
    return H().login("web1").login("web2").checks("web1", 4).checks("web2", 4)


def test_every_session_kept_on_every_node_is_valid():
    r = sessions(_two_homes().ops)
    assert r.valid is Validity.VALID, r.message
    assert r.counts["homes"] == 2 and r.counts["checks"] == 8 and r.counts["lost"] == 0
    assert r.counts["checks_by_home"] == {"web1": 4, "web2": 4}


def test_unreachable_checks_are_not_losses():
    h = _two_homes().check("web1", typ="fail", served_by=None).check("web2", typ="info", served_by=None)
    h.check("web1", typ="fail", served_by="web3")  # a 503 from a node
    r = sessions(h.ops)
    assert r.valid is Validity.VALID, r.message
    assert r.counts["checks_unanswered"] == 3 and r.counts["lost"] == 0


def test_a_logged_out_answer_is_a_lost_session_of_its_home_node():
    h = _two_homes().check("web1", logged_in=False, served_by="web3").login("web1").checks("web1", 2)
    h.check("web1", logged_in=False, served_by="web2")
    r = sessions(h.ops)
    assert r.valid is Validity.INVALID
    assert r.counts["lost"] == 2 and r.counts["lost_by_home"] == {"web1": 2, "web2": 0}
    lost = r.examples["lost"]
    assert [(x["home"], x["served_by"]) for x in lost] == [("web1", "web3"), ("web1", "web2")]
    assert lost[0]["time"] < lost[1]["time"]
    assert "web1 2" in r.message


def test_a_home_node_never_logged_in_is_unknown():
    h = H().login("web1").login("web2", typ="fail").checks("web1", 5)
    r = sessions(h.ops)
    assert r.valid is Validity.UNKNOWN
    assert "web2" in r.message and r.examples["thin"]


def test_too_few_logged_in_checks_is_unknown_and_the_bound_is_settable():
    h = H().login("web1").login("web2").checks("web1", 5).checks("web2", 2)
    assert sessions(h.ops).valid is Validity.UNKNOWN
    assert sessions(h.ops, min_checks=2).valid is Validity.VALID


def test_no_session_probe_is_unknown_and_not_applicable():
    other = [Op(0, 0.1, "vip-probe-web", "invoke", "get", None), Op(1, 0.2, "vip-probe-web", "ok", "get", 200)]
    r = sessions(other)
    assert r.valid is Validity.UNKNOWN and r.counts["homes"] == 0
    assert applicable(other, CheckConfig())["sessions"] is False
    assert applicable(_two_homes().ops, CheckConfig())["sessions"] is True


def test_a_completion_without_invocation_makes_a_valid_history_unknown_but_keeps_invalid():
    h = _two_homes()
    orphan = Op(len(h.ops), 99.0, "session-web1", "ok", "session-check", {"home": "web1", "logged_in": True})
    r = sessions([*h.ops, orphan])
    assert r.valid is Validity.UNKNOWN and r.counts["orphan_completions"] == 1
    lost = _two_homes().check("web2", logged_in=False).ops
    orphan = Op(len(lost), 99.0, "session-web1", "ok", "session-check", {"home": "web1", "logged_in": True})
    assert sessions([*lost, orphan]).valid is Validity.INVALID


def test_bad_values_do_not_count_as_answers():
    h = _two_homes()
    h.ops.append(Op(len(h.ops), 50.0, "session-web1", "invoke", "session-check", {"home": "web1"}))
    h.ops.append(Op(len(h.ops), 50.1, "session-web1", "ok", "session-check", "garbage"))
    r = sessions(h.ops)
    assert r.valid is Validity.VALID and r.counts["checks_unanswered"] == 1


def test_run_all_includes_sessions():
    results = {c.checker: c for c in run_all(_two_homes().check("web1", logged_in=False).ops)}
    assert results["sessions"].valid is Validity.INVALID
