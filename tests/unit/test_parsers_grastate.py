"""grastate.dat and the --wsrep-recover log line, from captured text."""

from __future__ import annotations

from pathlib import Path

from harness.lab._galera import read_grastate
from harness.parsers.grastate import ZERO_UUID, parse_grastate, parse_recovered_position

SAMPLES = Path(__file__).parent / "samples"


def test_a_running_nodes_grastate_says_it_may_not_bootstrap() -> None:
    # captured from lab node db1 while it ran (seqno -1: the position is only known at shutdown)
    state = parse_grastate((SAMPLES / "grastate_running.dat").read_text())
    assert state == {"version": "2.1", "uuid": "3b477462-ee09-11f1-91e2-471ad6ec8022", "seqno": "-1",
                     "safe_to_bootstrap": "0"}


def test_comments_and_lines_without_a_colon_are_skipped() -> None:
    assert parse_grastate("# GALERA saved state\ngarbage\nseqno: 42\n") == {"seqno": "42"}
    assert parse_grastate("") == {}


def test_read_grastate_reads_the_datadirs_file_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "grastate.dat").write_text((SAMPLES / "grastate_running.dat").read_text())
    assert read_grastate(tmp_path)["safe_to_bootstrap"] == "0"
    assert read_grastate(tmp_path / "absent") == {}


def test_the_last_recovered_position_wins_and_nothing_to_resume_is_none() -> None:
    log = ("2026-12-02  4:30:00 0 [Note] WSREP: Recovered position: 3b477462-ee09-11f1-91e2-471ad6ec8022:7\n"
           "2026-12-02  4:30:01 0 [Note] WSREP: Recovered position: 3b477462-ee09-11f1-91e2-471ad6ec8022:339\n")
    assert parse_recovered_position(log) == "3b477462-ee09-11f1-91e2-471ad6ec8022:339"
    assert parse_recovered_position(f"WSREP: Recovered position: {ZERO_UUID}:5") is None
    assert parse_recovered_position("WSREP: Recovered position: 3b477462-ee09-11f1-91e2-471ad6ec8022:-1") is None
