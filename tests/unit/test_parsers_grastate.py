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


def test_a_captured_recover_run_and_a_sigkilled_grastate() -> None:
    """Captured on the lab (MariaDB 10.11, mariadbd SIGKILLed by db-tier-power-loss)."""
    samples = Path(__file__).parent / "samples"
    log = (samples / "wsrep_recover_lab.log").read_text()
    assert parse_recovered_position(log) == "f8466112-ee85-11f1-a99d-1e4e575ee95d:50"
    g = parse_grastate((samples / "grastate_after_sigkill.dat").read_text())
    assert (g["seqno"], g["safe_to_bootstrap"], g["uuid"]) == ("-1", "0", "f8466112-ee85-11f1-a99d-1e4e575ee95d")
