from pathlib import Path

import pytest

from harness.errors import ParseError
from harness.parsers.wsrep import parse_wsrep_status, typed_wsrep_status

SAMPLES = Path(__file__).parent / "samples"


def test_batch_output():
    st = parse_wsrep_status((SAMPLES / "wsrep_batch.txt").read_text())
    assert st["wsrep_local_state_comment"] == "Synced"
    assert st["wsrep_cluster_size"] == "3"
    assert st["wsrep_cluster_status"] == "Primary"
    assert st["wsrep_ready"] == "ON"
    assert st["wsrep_cluster_capabilities"] == ""
    assert st["wsrep_provider_vendor"] == "Codership Oy <info@codership.com>"
    assert len(st) == 27


def test_batch_with_header_and_escapes():
    text = "Variable_name\tValue\nwsrep_provider_options\tbase_dir = /var/lib/mysql/;\\tgcache.size = 128M\n"
    assert parse_wsrep_status(text) == {"wsrep_provider_options": "base_dir = /var/lib/mysql/;\tgcache.size = 128M"}


def test_table_output():
    st = parse_wsrep_status((SAMPLES / "wsrep_table.txt").read_text())
    assert st["wsrep_local_state_comment"] == "Donor/Desynced"
    assert st["wsrep_cluster_status"] == "non-Primary"
    assert st["wsrep_ready"] == "OFF"
    assert st["wsrep_cluster_capabilities"] == ""
    assert "Variable_name" not in st and len(st) == 10


def test_empty_and_garbage():
    assert parse_wsrep_status("") == {}
    with pytest.raises(ParseError, match=r"SHOW STATUS LIKE 'wsrep%': line 2: expected 'name<TAB>value'"):
        parse_wsrep_status("wsrep_ready\tON\nERROR 2002 (HY000): Can't connect\n")


# -- provider options and the Galera stall budget ------------------------------------------------
from harness.parsers.wsrep import galera_stall_budget_s, iso8601_duration_s, parse_provider_options  # noqa: E402

PROVIDER_OPTIONS = (
    "base_dir = /var/lib/mysql/; base_host = 198.18.0.31; evs.inactive_check_period = PT0.5S; "
    "evs.inactive_timeout = PT6S; evs.keepalive_period = PT1S; evs.suspect_timeout = PT3S; "
    "gcache.size = 128M; pc.weight = 1"
)


@pytest.mark.parametrize("text,seconds", [("PT3S", 3), ("PT0.5S", 0.5), ("PT1M30S", 90), ("P1D", 86400), ("PT2H", 7200)])
def test_iso8601_durations(text, seconds):
    assert iso8601_duration_s(text) == seconds


@pytest.mark.parametrize("bad", ["3s", "PT", "P", "PTS", ""])
def test_bad_durations_are_parse_errors(bad):
    with pytest.raises(ParseError, match="ISO 8601"):
        iso8601_duration_s(bad)


def test_provider_options_and_stall_budget():
    opts = parse_provider_options(PROVIDER_OPTIONS)
    assert opts["evs.suspect_timeout"] == "PT3S" and opts["gcache.size"] == "128M"
    # suspect + inactive check + keepalive, then two JOIN rounds of join_retrans_period
    assert galera_stall_budget_s(opts) == 3 + 0.5 + 1 + 2 * 1
    assert galera_stall_budget_s({}) == 5 + 0.5 + 1 + 2 * 1  # Galera's defaults
    assert galera_stall_budget_s({**opts, "evs.join_retrans_period": "PT0.5S"}) == 3 + 0.5 + 1 + 2 * 0.5


def test_provider_options_without_equals_is_a_parse_error():
    with pytest.raises(ParseError, match="not 'name = value'"):
        parse_provider_options("gcache.size = 1M; nonsense")


def test_typed_status_makes_counts_ints_and_keeps_text_and_the_uuid() -> None:
    status = parse_wsrep_status((SAMPLES / "wsrep_batch.txt").read_text())
    status["wsrep_cluster_state_uuid"] = "1234"  # all digits: still an identifier
    typed = typed_wsrep_status(status)
    assert typed["wsrep_cluster_size"] == 3 and typed["wsrep_local_state_comment"] == "Synced"
    assert typed["wsrep_cluster_state_uuid"] == "1234"
    assert typed_wsrep_status({"wsrep_last_committed": "-1", "wsrep_ready": "ON"}) == {
        "wsrep_last_committed": -1, "wsrep_ready": "ON"}
