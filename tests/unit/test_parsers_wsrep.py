from pathlib import Path

import pytest

from harness.errors import ParseError
from harness.parsers.wsrep import parse_wsrep_status

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
