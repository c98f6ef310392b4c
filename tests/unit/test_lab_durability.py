"""The lab's durability option: innodb_flush_log_at_trx_commit in every db node's galera.cnf."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.errors import LabError
from harness.lab import Lab
from harness.lab._cli import register
from harness.lab._configs import render_host_configs
from harness.lab._paths import LabPaths
from harness.lab._topology import build_topology

TOPO = build_topology("txnu", "198.18.11.0/24")
PATHS = LabPaths(Path("/var/lib/harness-lab/txnu"))


def _galera_cnf(durability: int | None) -> str:
    files = render_host_configs(TOPO, TOPO.host("db2"), PATHS, 1.0, "pw", "haproxy", True, durability)
    return files[PATHS.conf("db2", "galera.cnf")][0]


@pytest.mark.parametrize("value", [0, 1, 2])
def test_the_setting_lands_in_the_mysqld_section(value: int) -> None:
    text = _galera_cnf(value)
    mysqld = text.split("[galera]")[0]
    assert f"\ninnodb_flush_log_at_trx_commit = {value}\n" in mysqld
    assert text.count("innodb_flush_log_at_trx_commit") == 1


def test_unset_leaves_mariadbs_default_and_says_so() -> None:
    text = _galera_cnf(None)
    assert "innodb_flush_log_at_trx_commit =" not in text
    assert "# innodb_flush_log_at_trx_commit: MariaDB's default (1)" in text


def test_other_values_are_refused_and_the_cli_passes_it() -> None:
    with pytest.raises(LabError, match="db_durability 3"):
        Lab("txnu", "198.18.11.0/24", db_durability=3)
    assert Lab("txnu", "198.18.11.0/24", db_durability=0).db_durability == 0
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["lab", "up", "--db-durability", "2"]).db_durability == 2
    assert parser.parse_args(["lab", "up"]).db_durability is None
    with pytest.raises(SystemExit):
        parser.parse_args(["lab", "up", "--db-durability", "5"])
