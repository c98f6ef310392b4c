from pathlib import Path

import pytest

from harness.errors import ParseError
from harness.parsers.domains import STATES, parse_virsh_list, parse_xl_list, parse_xm_list

SAMPLES = Path(__file__).parent / "samples"


def test_xl_list_states_normalised():
    doms = {d.name: d for d in parse_xl_list((SAMPLES / "xl_list.txt").read_text())}
    assert doms["Domain-0"].id == 0 and doms["Domain-0"].state == "running"
    assert doms["dir1"].state == "blocked" and doms["dir1"].id == 7
    assert doms["dir2"].state == "paused"
    assert doms["db1"].state == "crashed" and doms["db1"].raw_state == "---c--"
    assert doms["db2"].state == "dying"
    assert doms["web2"].state == "running"  # no flag: runnable
    assert {d.state for d in doms.values()} <= STATES


def test_xm_list_old_header():
    doms = parse_xm_list((SAMPLES / "xm_list.txt").read_text())
    assert [(d.name, d.id, d.state) for d in doms] == [("Domain-0", 0, "running"), ("dir1", 3, "blocked"), ("web1", 4, "shutoff")]


def test_virsh_list_all():
    doms = {d.name: d for d in parse_virsh_list((SAMPLES / "virsh_list_all.txt").read_text())}
    assert doms["dir1"].state == "running" and doms["dir1"].id == 1
    assert doms["web1"].state == "paused"
    assert doms["web2"].state == "blocked"
    assert doms["db1"].state == "shutoff" and doms["db1"].id is None and doms["db1"].raw_state == "shut off"
    assert doms["db2"].state == "crashed"
    assert doms["db3"].state == "dying"
    assert doms["lb3"].state == "other" and doms["lb3"].raw_state == "pmsuspended"


def test_errors():
    with pytest.raises(ParseError, match="xl list: line 2"):
        parse_xl_list("Name ID Mem VCPUs State Time(s)\nweb1 x 512 1 r----- 1.0\n")
    with pytest.raises(ParseError, match="xl list: line 1: expected the"):
        parse_xl_list("ERROR Invalid argument.\n")
    with pytest.raises(ParseError, match="virsh list --all: line 1"):
        parse_virsh_list("error: failed to connect to the hypervisor\n")
    with pytest.raises(ParseError, match="virsh list --all: line 3: bad Id"):
        parse_virsh_list(" Id Name State\n----\n x web1 running\n")
