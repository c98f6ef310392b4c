"""Scenario.load hands the cluster file's moodle: section to the load (one place to write it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster import Cluster
from harness.errors import HarnessError
from harness.inventory import Host, Inventory, Moodle, Vip
from harness.scenario import Scenario
from harness.testing import FakeCluster


def test_the_load_reads_the_moodle_password_variable_the_cluster_file_names(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITE_STUDENTS_PASSWORD", raising=False)
    inv = Inventory(name="t", hosts={"web1": Host("web1", "127.0.0.1", ("web",))},
                    vips={"web": Vip("web", "127.0.0.1", 9, "http")},
                    moodle=Moodle(password_env="SITE_STUDENTS_PASSWORD"), source="site.yml")
    fakes = FakeCluster()
    sc = Scenario(Cluster(inv, transport_factory=lambda host: fakes(host.name)), tmp_path)
    try:
        with pytest.raises(HarnessError, match=r"site\.yml: moodle\.password_env: .*SITE_STUDENTS_PASSWORD"):
            sc.load(run_time_s=1.0)
        assert sc._loads == []  # nothing started
    finally:
        sc.close()
