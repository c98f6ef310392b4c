"""The host-key opt-out is said wherever the run trusts hosts blindly: pytest's header (see
test_plugin.py), `harness heal`, run.json and the report's header."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import cli
from harness._host_keys import host_key_warning, unchecked_host_keys
from harness.faults import _cli
from harness.inventory._model import Host, Inventory, SshConfig
from harness.report import load_run, render_report
from harness.testing import FakeCluster

OPTED_OUT = SshConfig(insecure_ignore_host_keys=True)


def test_only_ssh_hosts_that_opted_out_are_named_sorted() -> None:
    inv = Inventory(name="t", hosts={
        "web2": Host("web2", "198.18.0.22", ("web",), ssh=OPTED_OUT),
        "web1": Host("web1", "198.18.0.21", ("web",), ssh=OPTED_OUT),
        "db1": Host("db1", "198.18.0.31", ("db",)),
        "supervisor": Host("supervisor", "127.0.0.1", ("client",), ssh=OPTED_OUT, transport="local"),  # no SSH at all
    })
    assert unchecked_host_keys(inv) == ["web1", "web2"]
    assert host_key_warning(["web1", "web2"]) == (
        "WARNING: SSH host keys are NOT checked for 2 host(s): web1, web2 (ssh.insecure_ignore_host_keys): "
        "whoever answers at their address is trusted")
    assert host_key_warning([]) is None


def _run_dir(tmp_path: Path, cluster: dict[str, object]) -> Path:
    run = tmp_path / "20261202T150000Z-ab12"
    (run / "t").mkdir(parents=True)
    (run / "t" / "result.json").write_text(json.dumps({"test": "t.py::t", "outcome": "passed"}))
    (run / "run.json").write_text(json.dumps({"run_id": run.name, "cluster": {"name": "c", **cluster}, "tests": []}))
    return run


def test_the_report_header_warns_with_the_host_names_escaped(tmp_path: Path) -> None:
    page = render_report(load_run(_run_dir(tmp_path, {"host_keys_unchecked": ["web1", "<b>evil</b>&co"]})))
    header = page.split("</header>", 1)[0]
    assert ('<div class="err hostkeys">WARNING: SSH host keys are NOT checked for 2 host(s): web1, '
            "&lt;b&gt;evil&lt;/b&gt;&amp;co (ssh.insecure_ignore_host_keys)") in header
    assert "<b>evil</b>" not in page
    # every key checked, or a run.json that says nothing usable: no warning
    for i, cluster in enumerate([{}, {"host_keys_unchecked": []}, {"host_keys_unchecked": "web1"}]):
        assert "hostkeys" not in render_report(load_run(_run_dir(tmp_path / str(i), cluster)))


def test_harness_heal_says_which_host_keys_it_will_not_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeCluster()
    monkeypatch.setattr(_cli, "TRANSPORT_FACTORY", lambda host: fake(host.name))
    (tmp_path / "cluster.yml").write_text(
        "name: t\nhosts:\n  web1: {address: 198.18.0.21, roles: [web], ssh: {insecure_ignore_host_keys: true}}\n")
    (tmp_path / "journal.jsonl").write_text(json.dumps(
        {"fault_id": "f1", "name": "link-down", "params": {"host": "web1", "interface": "eth0"}, "targets": ["web1"],
         "state": "injecting", "time": 1.0, "cluster_file": None, "runtime": {}}) + "\n")
    assert cli.main(["heal", "--journal", str(tmp_path), "--cluster", str(tmp_path / "cluster.yml")]) == 0
    out = capsys.readouterr().out
    assert ("harness: WARNING: SSH host keys are NOT checked for 1 host(s): web1 (ssh.insecure_ignore_host_keys)"
            in out.splitlines()[1])
    assert fake("web1").commands == ["ip link set eth0 up"]
