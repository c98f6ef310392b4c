from pathlib import Path

import pytest

from harness.errors import ParseError
from harness.parsers.ndb_mgm import parse_all_status, parse_show

SAMPLES = Path(__file__).parent / "samples"


def test_show_nodes_by_kind():
    nodes = parse_show((SAMPLES / "ndb_mgm_show.txt").read_text())
    by_id = {n.node_id: n for n in nodes}
    assert sorted(by_id) == [1, 2, 3, 4, 50, 51, 52]
    assert by_id[2].kind == "ndbd" and by_id[2].connected and by_id[2].master and by_id[2].nodegroup == 0
    assert by_id[2].address == "198.18.0.31" and by_id[2].version == "mysql-8.0.35 ndb-8.0.35"
    assert by_id[3].status == "starting" and not by_id[3].master
    assert not by_id[4].connected and by_id[4].accepting_from == "198.18.0.33"
    assert by_id[1].kind == "ndb_mgmd" and by_id[1].connected
    assert by_id[52].kind == "mysqld" and by_id[52].accepting_from == "any host"


def test_show_unreachable_management_server():
    text = "Unable to connect with connect string: nodeid=0,198.18.0.40:1186\nRetrying every 5 seconds. Attempts left: 2 1, failed.\n"
    with pytest.raises(ParseError, match=r"ndb_mgm -e show: line 1: no 'Cluster Configuration'.*Unable to connect"):
        parse_show(text)


def test_show_bad_node_line():
    text = "Cluster Configuration\n---------------------\n[ndbd(NDB)]\t1 node(s)\nid=two @x\n"
    with pytest.raises(ParseError, match="line 4"):
        parse_show(text)


def test_all_status():
    st = parse_all_status((SAMPLES / "ndb_mgm_all_status.txt").read_text())
    assert st[2].started and st[2].version == "mysql-8.0.35 ndb-8.0.35"
    assert st[3].status == "starting" and st[3].phase == 4 and not st[3].started
    assert st[4].status == "not connected" and st[4].version is None
    with pytest.raises(ParseError, match='all status.*line 1'):
        parse_all_status("Node two: started\n")
