"""/proc/PID/stat and status parsers, on lines captured from this machine."""

from __future__ import annotations

import os

import pytest

from harness.errors import ParseError
from harness.lab._procfs import read_stat, read_status
from harness.parsers.procfs import ProcStat, kib, parse_stat, parse_status

# a linux.uml helper whose comm holds a space and a parenthesis, and a zombie
STAT_ODD_COMM = ("4711 (linux (uml) x) S 4700 4700 4700 0 -1 4194560 1223 0 0 0 12 3 0 0 20 0 1 0 "
                 "216486 279801856 21053 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0")
STAT_ZOMBIE = "812 (mariadbd) Z 1 812 812 0 -1 4227148 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0 18446744073709551615"

STATUS = """Name:\tkeepalived
State:\tS (sleeping)
Tgid:\t31655
NSpid:\t31655\t7
PPid:\t31654
TracerPid:\t0
VmRSS:\t   84212 kB
"""


def test_stat_fields_are_read_after_the_last_parenthesis() -> None:
    assert parse_stat(STAT_ODD_COMM) == ProcStat(state="S", ppid=4700, pgid=4700, starttime=216486)
    assert parse_stat(STAT_ODD_COMM).alive and not parse_stat(STAT_ZOMBIE).alive


def test_a_line_that_is_not_stat_names_the_file() -> None:
    with pytest.raises(ParseError, match="/proc/PID/stat"):
        parse_stat("4711 (short) S 1")


def test_status_fields_and_sizes() -> None:
    fields = parse_status(STATUS)
    assert fields["NSpid"].split() == ["31655", "7"] and fields["State"][:1] == "S"
    assert kib(fields["VmRSS"]) == 84212 and kib(fields.get("Pss")) == 0


def test_this_process_reads_as_itself_and_a_gone_pid_as_none() -> None:
    me = read_stat(os.getpid())
    assert me is not None and me.ppid == os.getppid() and me.alive
    assert (read_status(os.getpid()) or {}).get("Name")
    assert read_stat(2**22 + 1) is None and read_status(2**22 + 1) is None  # above pid_max
