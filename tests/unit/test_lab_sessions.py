"""Where the lab LMS keeps sessions: the Apache SetEnv each web node gets, and the setting's checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import LabError
from harness.lab import Lab
from harness.lab._configs import render_host_configs
from harness.lab._paths import LabPaths
from harness.lab._topology import build_topology

TOPO = build_topology("sesst", "198.18.12.0/24")
PATHS = LabPaths(Path("/var/lib/harness-lab/sesst"))


def _apache(host: str, store: str | None = None) -> str:
    kwargs = {} if store is None else {"lms_sessions": store}
    files = render_host_configs(TOPO, TOPO.host(host), PATHS, 1.0, "pw", "haproxy", **kwargs)
    return files[PATHS.conf(host, "apache2.conf")][0]


def _setenv(conf: str, name: str) -> str:
    lines = [ln.split(None, 2)[2] for ln in conf.splitlines() if ln.startswith(f"SetEnv {name} ")]
    assert len(lines) == 1, f"SetEnv {name}: {lines}"
    return lines[0]


def test_database_sessions_are_the_default():
    assert _setenv(_apache("web1"), "LMS_SESSIONS") == "database"


def test_per_node_sessions_get_a_directory_of_their_own_on_each_web_node():
    dirs = {h: _setenv(_apache(h, "node"), "LMS_SESSION_DIR") for h in ("web1", "web2", "web3")}
    assert all(_setenv(_apache(h, "node"), "LMS_SESSIONS") == "node" for h in dirs)
    # the namespace hosts share one file system: one shared directory would be database-like
    assert len(set(dirs.values())) == 3
    assert dirs["web1"] == str(PATHS.session_dir("web1")) and "/hosts/web1/" in dirs["web1"]


def test_an_unknown_store_is_refused_naming_it():
    with pytest.raises(LabError, match="lms_sessions 'redis'"):
        _apache("web1", "redis")
    with pytest.raises(LabError, match="lms_sessions 'files'"):
        Lab("sesst", "198.18.12.0/24", state_dir="/nonexistent/sesst", lms_sessions="files")


def test_a_lab_not_asked_uses_what_its_state_records(tmp_path: Path):
    lab = Lab("sesst", "198.18.12.0/24", state_dir=tmp_path)
    assert lab.lms_sessions == "database"
    (tmp_path / "state.json").write_text('{"config": {"name": "sesst", "subnet": "198.18.12.0/24", '
                                         '"lms_sessions": "node"}}')
    assert lab.lms_sessions == "node"
    assert Lab.from_state_dir(tmp_path).lms_sessions == "node"
    assert Lab("sesst", "198.18.12.0/24", state_dir=tmp_path, lms_sessions="database").lms_sessions == "database"


def test_switching_a_lab_that_is_not_up_is_refused(tmp_path: Path):
    with pytest.raises(LabError, match="not up"):
        Lab("sesst", "198.18.12.0/24", state_dir=tmp_path).set_lms_sessions("node")
