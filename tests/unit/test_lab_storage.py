"""The lab's file tier, without a lab: the gluster CLI parsers on literal output (from GlusterFS
10.3 in the lab), the topology and daemons a file tier adds, the mount's argv and mount-table
check, the preflight, the lab's cluster file and the inventory's ``storage:`` section."""

from __future__ import annotations

import argparse
import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InventoryError, LabError, ParseError
from harness.inventory import Storage, dump_inventory, inventory_from_dict
from harness.lab import Lab
from harness.lab._cli import register
from harness.lab._gluster import (
    BRICK_DIR,
    MOUNT_POINT,
    VOLUME,
    brick_image_name,
    judge_mount,
    mount_argv,
    mount_fstype,
    our_loop_devices,
)
from harness.lab._preflight import missing_packages
from harness.lab._records import LabStatus
from harness.lab._services import host_daemons
from harness.lab._status import add_bricks, add_mount
from harness.lab._topology import build_topology
from harness.parsers.gluster import bricks_of, heal_pending, parse_heal_info, parse_peer_status, parse_volume_status

STATUS_XML = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volStatus><volumes><volume>
    <volName>moodledata</volName>
    <nodeCount>4</nodeCount>
    <node>
      <hostname>198.18.64.41</hostname><path>/srv/bricks/moodledata</path>
      <peerid>52fa6607-cd2d-45f8-90a4-040318cbbe39</peerid><status>0</status>
      <port>N/A</port><ports><tcp>N/A</tcp><rdma>N/A</rdma></ports><pid>-1</pid>
    </node>
    <node>
      <hostname>198.18.64.42</hostname><path>/srv/bricks/moodledata</path>
      <peerid>40f5f9c5-850e-4466-9a73-665488e4b6c1</peerid><status>1</status>
      <port>59308</port><ports><tcp>59308</tcp><rdma>N/A</rdma></ports><pid>43</pid>
    </node>
    <node>
      <hostname>198.18.64.43</hostname><path>/srv/bricks/moodledata</path>
      <peerid>fb983045-a61f-4518-ae51-0acbc5d9280b</peerid><status>1</status>
      <port>55030</port><ports><tcp>55030</tcp><rdma>N/A</rdma></ports><pid>43</pid>
    </node>
    <node>
      <hostname>Self-heal Daemon</hostname><path>localhost</path>
      <peerid>52fa6607-cd2d-45f8-90a4-040318cbbe39</peerid><status>1</status>
      <port>N/A</port><ports><tcp>N/A</tcp><rdma>N/A</rdma></ports><pid>116</pid>
    </node>
    <tasks/>
  </volume></volumes></volStatus>
</cliOutput>
"""

PEERS_XML = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><peerStatus>
  <peer><uuid>40f5</uuid><hostname>198.18.64.42</hostname><connected>1</connected><state>3</state>
    <stateStr>Peer in Cluster</stateStr></peer>
  <peer><uuid>fb98</uuid><hostname>198.18.64.43</hostname><connected>0</connected><state>3</state>
    <stateStr>Peer in Cluster</stateStr></peer>
</peerStatus></cliOutput>
"""

HEAL_DOWN = """Brick 198.18.64.41:/srv/bricks/moodledata
Status: Transport endpoint is not connected
Number of entries: -

Brick 198.18.64.42:/srv/bricks/moodledata
Status: Connected
Number of entries: 176

Brick 198.18.64.43:/srv/bricks/moodledata
Status: Connected
Number of entries: 176

"""


def test_volume_status_lists_bricks_only_with_online_and_pid() -> None:
    bricks = parse_volume_status(STATUS_XML)
    assert [b.name for b in bricks] == [f"198.18.64.4{i}:/srv/bricks/moodledata" for i in (1, 2, 3)]
    assert [(b.online, b.pid) for b in bricks] == [(False, None), (True, 43), (True, 43)]


def test_a_servers_bricks_match_by_address_or_by_the_name_it_was_probed_with() -> None:
    bricks = parse_volume_status(STATUS_XML)
    assert [b.name for b in bricks_of(bricks, "fs2", "198.18.64.42")] == ["198.18.64.42:/srv/bricks/moodledata"]
    renamed = [replace(b, host="fs3") if b.host == "198.18.64.43" else b for b in bricks]
    assert [b.pid for b in bricks_of(renamed, "fs3", "198.18.0.99")] == [43]
    assert bricks_of(bricks, "fs9", "198.18.64.49") == []


def test_a_failed_or_garbled_cli_answer_is_a_parse_error_not_all_online() -> None:
    failed = "<cliOutput><opRet>-1</opRet><opErrno>2</opErrno><opErrstr>Volume moodledata does not exist" \
             "</opErrstr></cliOutput>"
    with pytest.raises(ParseError, match="opRet -1.*does not exist"):
        parse_volume_status(failed)
    with pytest.raises(ParseError, match="not the CLI's XML"):
        parse_volume_status("Connection failed. Please check if gluster daemon is operational.")
    with pytest.raises(ParseError, match="no <opRet>"):
        parse_peer_status("<cliOutput/>")


def test_peer_status_is_in_the_pool_and_connected() -> None:
    assert parse_peer_status(PEERS_XML) == {"198.18.64.42": True, "198.18.64.43": False}


def test_heal_info_per_brick_and_the_backlog_is_unknown_while_a_brick_is_down() -> None:
    backlog = parse_heal_info(HEAL_DOWN)
    assert [(b.brick.split(":")[0], b.status, b.entries) for b in backlog] == [
        ("198.18.64.41", "Transport endpoint is not connected", None),
        ("198.18.64.42", "Connected", 176), ("198.18.64.43", "Connected", 176)]
    assert heal_pending(backlog) is None
    up = HEAL_DOWN.replace("Transport endpoint is not connected", "Connected").replace(": -", ": 3")
    assert heal_pending(parse_heal_info(up)) == 355
    done = "\n".join(line if not line.startswith("Number") else "Number of entries: 0"
                     for line in up.splitlines())
    assert heal_pending(parse_heal_info(done)) == 0
    with pytest.raises(ParseError, match="no 'Brick"):
        parse_heal_info("Volume moodledata is not started.\n")


def test_the_file_tier_adds_three_file_servers_and_is_off_by_default() -> None:
    plain = build_topology("gt", "198.18.64.0/24")
    assert plain.file_tier == "none" and plain.with_role("fileserver") == []
    topo = build_topology("gt", "198.18.64.0/24", "gluster")
    fs = topo.with_role("fileserver")
    assert [(h.name, h.address, h.netns) for h in fs] == [
        ("fs1", "198.18.64.41", "hlab-gt-fs1"), ("fs2", "198.18.64.42", "hlab-gt-fs2"),
        ("fs3", "198.18.64.43", "hlab-gt-fs3")]
    assert set(plain.hosts) < set(topo.hosts)
    assert len({h.address for h in topo.hosts.values()} | set(topo.vips.values())) == len(topo.hosts) + 2
    with pytest.raises(LabError, match="file_tier 'nfs'"):
        build_topology("gt", "198.18.64.0/24", "nfs")
    with pytest.raises(LabError, match="file_tier 'ceph'"):
        Lab("gt", "198.18.64.0/24", file_tier="ceph")


def test_daemons_glusterd_on_file_servers_and_the_mount_on_web_nodes_only_with_a_file_tier() -> None:
    topo = build_topology("gt", "198.18.64.0/24", "gluster")
    assert host_daemons(topo.host("fs3"), "gluster") == ["sshd", "glusterd"]
    assert host_daemons(topo.host("web2"), "gluster") == ["sshd", "apache", "gluster-mount"]
    assert host_daemons(topo.host("web2")) == ["sshd", "apache"]
    assert host_daemons(topo.host("db1"), "gluster") == ["sshd", "mariadb", "clustercheck"]


def test_the_mount_names_every_file_server_as_volfile_server() -> None:
    topo = build_topology("gt", "198.18.64.0/24", "gluster")
    argv = mount_argv(topo.with_role("fileserver"), Path("/s/log"), "/run/m.pid")
    assert argv[0] == "/usr/sbin/glusterfs" and argv[-1] == MOUNT_POINT
    assert [a for a in argv if a.startswith("--volfile-server=")] == [
        "--volfile-server=198.18.64.41", "--volfile-server=198.18.64.42", "--volfile-server=198.18.64.43"]
    assert f"--volfile-id={VOLUME}" in argv and "--pid-file=/run/m.pid" in argv
    assert BRICK_DIR.startswith("/srv/")  # the brick is on the file server's own disk


def test_mount_fstype_reads_the_last_mount_at_the_point(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "266 250 253:0 /var/lib/harness-lab/gl/hosts/web1/disk/srv /srv rw,relatime - ext4 /dev/vda rw\n"
        "622 266 0:244 / /srv/moodledata rw,relatime - fuse.glusterfs 198.18.64.41:moodledata rw,user_id=0\n")
    assert mount_fstype(MOUNT_POINT, str(info)) == "fuse.glusterfs"
    assert mount_fstype("/srv", str(info)) == "ext4"
    assert mount_fstype("/srv/other", str(info)) is None
    assert mount_fstype(MOUNT_POINT, str(tmp_path / "absent")) is None


def test_preflight_asks_for_glusterfs_only_for_a_lab_with_the_file_tier() -> None:
    no_gluster = lambda p: "gluster" not in p  # noqa: E731
    assert missing_packages(exists=no_gluster) == []
    assert missing_packages(exists=no_gluster, file_tier="gluster") == ["glusterfs-client", "glusterfs-server"]


def test_the_cli_takes_file_tier_default_none() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["lab", "up"]).file_tier == "none"
    assert parser.parse_args(["lab", "up", "--file-tier", "gluster"]).file_tier == "gluster"
    with pytest.raises(SystemExit):
        parser.parse_args(["lab", "up", "--file-tier", "nfs"])


def test_the_lab_cluster_file_has_storage_and_file_servers_only_with_a_file_tier(tmp_path: Path) -> None:
    lab = Lab("gt", "198.18.64.0/24", state_dir=tmp_path, directors="haproxy", file_tier="gluster")
    data = lab.inventory_dict()
    inv = inventory_from_dict(data, "cluster.yml")
    assert inv.storage == Storage(kind="glusterfs", volume=VOLUME, mount_point=MOUNT_POINT,
                                  health=f"gluster --mode=script volume status {VOLUME}")
    assert [h.name for h in inv.with_role("fileserver")] == ["fs1", "fs2", "fs3"]
    glusterd = inv.host("fs1").services["glusterd"]
    assert glusterd.start is not None and glusterd.start.endswith("fs1 start glusterd")
    assert glusterd.process == "glusterd"
    mount = inv.host("web3").services["gluster-mount"]
    assert mount.stop is not None and mount.stop.endswith("web3 stop gluster-mount")
    plain = Lab("gt", "198.18.64.0/24", state_dir=tmp_path, directors="haproxy").inventory_dict()
    assert "storage" not in plain and "fs1" not in plain["hosts"]
    assert "gluster-mount" not in plain["hosts"]["web1"]["services"]


def _storage_doc() -> dict[str, Any]:
    return {
        "hosts": {"web1": {"address": "10.0.0.21", "roles": ["web"]},
                  "fs1": {"address": "10.0.0.41", "roles": ["fileserver"]}},
        "storage": {"kind": "glusterfs", "volume": "moodledata", "mount_point": "/srv/moodledata/"},
    }


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InventoryError) as info:
        inventory_from_dict(data, "cluster.yml")
    return str(info.value).splitlines()


def test_the_storage_section_loads_and_round_trips() -> None:
    inv = inventory_from_dict(_storage_doc(), "cluster.yml")
    assert inv.storage == Storage("glusterfs", "moodledata", "/srv/moodledata", None)
    assert inventory_from_dict(dump_inventory(inv), "cluster.yml") == inv
    assert inventory_from_dict({"hosts": _storage_doc()["hosts"]}, "c.yml").storage is None


@pytest.mark.parametrize("change, problem", [
    ({"kind": "nfs"}, "cluster.yml: storage.kind: unknown storage kind 'nfs' (known: glusterfs)"),
    ({"mount_point": None}, "cluster.yml: storage.mount_point: missing required field"),
    ({"mount_point": "srv/moodledata"},
     "cluster.yml: storage.mount_point: must be an absolute path, got 'srv/moodledata'"),
    ({"volume": ""}, "cluster.yml: storage.volume: expected a non-empty string, got str ''"),
    ({"size": 3}, "cluster.yml: storage.size: unknown key 'size' (known: health, kind, mount_point, volume)"),
])
def test_a_bad_storage_section_is_one_error_naming_the_field(change: dict[str, Any], problem: str) -> None:
    data = copy.deepcopy(_storage_doc())
    for key, value in change.items():
        if value is None:
            del data["storage"][key]
        else:
            data["storage"][key] = value
    assert _problems(data) == [problem]


def test_storage_needs_a_file_server_and_a_web_node() -> None:
    data = _storage_doc()
    data["hosts"]["fs1"]["roles"] = ["db"]
    assert _problems(data) == [
        "cluster.yml: storage.kind: kind 'glusterfs' needs a host with role 'fileserver' (it serves the volume)"]
    data = _storage_doc()
    del data["hosts"]["web1"]
    assert _problems(data) == ["cluster.yml: storage.mount_point: no host with role 'web' to mount the volume"]


MOUNTED = "622 266 0:244 / /srv/moodledata rw,relatime - fuse.glusterfs 198.18.64.41:moodledata rw,user_id=0\n"


def test_a_web_nodes_mount_is_judged_from_its_mount_table_and_a_bounded_stat() -> None:
    assert judge_mount(MOUNTED, stat_ok=True) == "mounted"
    assert judge_mount(MOUNTED, stat_ok=False) == "not answering"
    assert judge_mount(MOUNTED.replace(" rw,relatime ", " ro,relatime "), stat_ok=True) == "read-only"
    assert judge_mount("", stat_ok=True) == "not mounted"
    local = "266 250 253:0 /disk/srv/moodledata /srv/moodledata rw,relatime - ext4 /dev/vda rw\n"
    assert judge_mount(local, stat_ok=True) == "not glusterfs (ext4)"
    # the last mount at the point is what the node sees
    assert judge_mount(local + MOUNTED, stat_ok=True) == "mounted"


def test_lab_status_names_an_offline_brick_and_a_missing_mount() -> None:
    topo = build_topology("gt", "198.18.64.0/24", "gluster")
    st = LabStatus(name="gt", state_dir="/x", built=True)
    add_bricks(st, topo, {"fs1": "offline", "fs2": "online"})
    add_mount(st, "web1", "mounted")
    add_mount(st, "web2", "not mounted")
    assert st.storage == {"fs1": "brick offline", "fs2": "brick online", "fs3": "brick not in the volume",
                          "web1": "mounted", "web2": "not mounted"}
    assert st.problems == ["fs1: brick offline", "fs3: brick not in the volume", "web2: moodledata not mounted"]
    st = LabStatus(name="gt", state_dir="/x", built=True)
    add_bricks(st, topo, "no file server running")
    assert st.problems == ["gluster volume status: no file server running"] and not st.healthy


LOSETUP = """{
   "loopdevices": [
      {"name": "/dev/loop0", "back-file": "/var/lib/hlab-gl-fs1-bricks.img"},
      {"name": "/dev/loop1", "back-file": "/var/lib/hlab-gl-fs3-bricks.img (deleted)"},
      {"name": "/dev/loop2", "back-file": "/var/lib/hlab-gl2-fs1-bricks.img"},
      {"name": "/dev/loop3", "back-file": "/var/lib/hlab-gl-x-fs1-bricks.img"},
      {"name": "/dev/loop4", "back-file": "/home/someone/disk.img"},
      {"name": "/dev/loop5", "back-file": null}
   ]
}"""


def test_only_the_labs_own_brick_images_loop_devices_are_ours() -> None:
    # lab "gl" with hosts fs1-fs3: another lab's (gl2, gl-x) and anything else are never ours
    assert our_loop_devices(LOSETUP, "gl", ["fs1", "fs2", "fs3"]) == ["/dev/loop0", "/dev/loop1"]
    assert our_loop_devices(LOSETUP, "gl-x", ["fs1"]) == ["/dev/loop3"]
    assert our_loop_devices("", "gl", ["fs1"]) == []
    assert brick_image_name("gl", "fs1") == "hlab-gl-fs1-bricks.img"


def test_unreadable_losetup_output_is_one_lab_error() -> None:
    with pytest.raises(LabError, match="losetup --json printed no JSON"):
        our_loop_devices("loop0 busy", "gl", ["fs1"])
