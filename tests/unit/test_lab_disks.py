"""Each lab host's own disk: the mount plan (pure) and the seed of a new disk (harness.lab._disks).

The plan is checked twice: as a list (order, sources, options) and by playing it on a model of
the mount table, which says what each path shows inside the host once the init has run it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harness.errors import LabError
from harness.lab._disks import (
    DISK_DIRS,
    Mount,
    disk_dir,
    ensure_disk_roots,
    kept_paths,
    mount_plan,
    plan_json,
    seed_disk,
)
from harness.lab._paths import LabPaths

STATE = "/var/lib/harness-lab/dsk"
PATHS = LabPaths(Path(STATE))
HOSTS = ["client", "web1", "web2", "db1"]


def play(plan: list[Mount]) -> dict[str, str]:
    """Play ``plan`` on a model mount table: target -> what it shows (an origin path on the
    machine, or ``tmpfs#N``); later mounts cover earlier ones at and below their target."""
    table: list[tuple[str, str, bool]] = []  # (target, origin, readonly), in mount order

    def resolve(path: str) -> tuple[str, bool]:
        for target, origin, ro in reversed(table):
            if path == target or path.startswith(target.rstrip("/") + "/"):
                rest = path[len(target):].lstrip("/")
                return (f"{origin}/{rest}" if rest else origin).replace("//", "/"), ro
        return path, False

    for i, m in enumerate(plan):
        if m.op == "rprivate":
            assert i == 0 and m.target == "/"
        elif m.op == "tmpfs":
            table.append((m.target, f"tmpfs#{i}", m.readonly))
        elif m.op == "bind":
            table.append((m.target, resolve(m.source)[0], False))
        elif m.op == "readonly":
            target, origin, _ = table[-1]
            assert target == m.target, "readonly must follow the bind it applies to"
            table[-1] = (target, origin, True)
        elif m.op == "detach":
            table = [t for t in table if t[0] != m.target]
        else:
            raise AssertionError(f"unknown op {m.op}")
    model = {}
    for probe in ("/run", "/tmp", "/var/lib", "/var/lib/php/sessions", "/var/cache", "/var/log", "/var/tmp",
                  "/srv", "/var/lib/dpkg", f"{STATE}/hosts/web1/etc", f"{STATE}/hosts/web2/disk/var/lib",
                  f"{STATE}/hosts/web1/disk", "/tmp/ci/main/harness", "/srv/co/harness", "/usr/bin", "/etc",
                  "/root", "/root/.bashrc", "/root/.pyenv/shims", "/root/.pyenv/versions/3.11.7/bin"):
        origin, ro = resolve(probe)
        model[probe] = origin + (" (ro)" if ro else "")
    model["_left"] = ",".join(t for t, _, _ in table if t.startswith("/run/.hlab-keep"))
    return model


def test_every_private_dir_is_the_hosts_own_disk_or_a_fresh_tmpfs() -> None:
    seen = play(mount_plan(PATHS, "web1", HOSTS, [STATE, "/work/co", "/usr"], ["/var/lib/dpkg"]))
    own = f"{STATE}/hosts/web1/disk"
    assert seen["/var/lib"] == f"{own}/var/lib"
    assert seen["/var/lib/php/sessions"] == f"{own}/var/lib/php/sessions"
    for d in ("/var/cache", "/var/log", "/var/tmp", "/srv"):
        assert seen[d] == f"{own}{d}", d  # resolved through the state dir put back, not the host's /var/lib
    assert seen["/run"].startswith("tmpfs#") and seen["/tmp"].startswith("tmpfs#")
    assert seen["/run"] != seen["/tmp"]
    assert seen["/usr/bin"] == "/usr/bin" and seen["/etc"] == "/etc"  # the software and config stay the machine's


def test_the_state_dir_and_the_package_database_stay_visible_and_no_host_reaches_a_disk() -> None:
    seen = play(mount_plan(PATHS, "web1", HOSTS, [STATE], ["/var/lib/dpkg"]))
    assert seen[f"{STATE}/hosts/web1/etc"] == f"{STATE}/hosts/web1/etc"  # configs, hostctl, datadirs
    assert seen["/var/lib/dpkg"] == "/var/lib/dpkg (ro)"
    assert seen[f"{STATE}/hosts/web2/disk/var/lib"].startswith("tmpfs#")  # not web2's disk
    assert seen[f"{STATE}/hosts/web2/disk/var/lib"].endswith("(ro)")
    assert seen[f"{STATE}/hosts/web1/disk"].startswith("tmpfs#")  # nor its own, a second way in
    assert seen["_left"] == ""  # every parking spot detached


def test_a_checkout_under_tmp_or_srv_stays_visible() -> None:
    keep = [STATE, "/tmp/ci/main", "/tmp/ci/main/.venv", "/srv/co", "/usr"]
    seen = play(mount_plan(PATHS, "web1", HOSTS, keep, []))
    assert seen["/tmp/ci/main/harness"] == "/tmp/ci/main/harness"
    assert seen["/srv/co/harness"] == "/srv/co/harness"
    assert seen["/tmp"].startswith("tmpfs#")


def test_root_has_a_home_of_its_own_and_a_python_living_there_stays_visible() -> None:
    """The machine's dotfiles are not a lab host's: its bashrc ran pyenv's rehash, whose stale
    lock hung every SSH command on every host (CI once). A pyenv Python running the harness is
    put back, nothing else of the machine's /root."""
    keep = [STATE, "/work/co", "/root/.pyenv/versions/3.11.7"]
    seen = play(mount_plan(PATHS, "web1", HOSTS, keep, []))
    own = f"{STATE}/hosts/web1/disk/root"
    assert seen["/root"] == own
    assert seen["/root/.bashrc"] == f"{own}/.bashrc" and seen["/root/.pyenv/shims"] == f"{own}/.pyenv/shims"
    assert seen["/root/.pyenv/versions/3.11.7/bin"] == "/root/.pyenv/versions/3.11.7/bin"
    assert seen["_left"] == ""


def test_plan_order_private_first_run_before_spots_hides_last() -> None:
    plan = mount_plan(PATHS, "db1", HOSTS, [STATE], ["/var/lib/dpkg"])
    assert plan[0] == Mount("rprivate", "/")
    assert plan[1] == Mount("tmpfs", "/run", options="mode=0755,size=64m")
    binds = [m for m in plan if m.op == "bind" and m.target in DISK_DIRS]
    assert [m.target for m in binds] == list(DISK_DIRS)
    assert [m.source for m in binds] == [str(disk_dir(PATHS, "db1", d)) for d in DISK_DIRS]
    assert all(m.op == "tmpfs" and m.readonly for m in plan[-len(HOSTS):])
    assert [m.target for m in plan[-len(HOSTS):]] == [f"{STATE}/hosts/{h}/disk" for h in HOSTS]
    spots = [m.target for m in plan if m.target.startswith("/run/.hlab-keep/")]
    assert all(plan.index(Mount("tmpfs", "/run", options="mode=0755,size=64m")) < plan.index(m)
               for m in plan if m.target in spots)
    tmp = next(m for m in plan if m.target == "/tmp")
    assert tmp.options == "mode=1777,size=256m"
    assert plan_json(plan)[1] == {"op": "tmpfs", "target": "/run", "source": "", "options": "mode=0755,size=64m",
                                  "readonly": False}


def test_kept_paths_are_the_topmost_under_a_private_dir() -> None:
    assert kept_paths(["/tmp/ci/main", "/tmp/ci/main/.venv", "/usr", "/root/.pyenv/versions/3.11.7"]) == [
        "/root/.pyenv/versions/3.11.7", "/tmp/ci/main"]
    assert kept_paths(["/tmp/a", "/tmp/ab/", "/tmp/a/b"]) == ["/tmp/a", "/tmp/ab"]
    assert kept_paths(["/srv/checkout", "/usr", "/work/co"]) == ["/srv/checkout"]
    assert kept_paths([STATE, f"{STATE}/hosts"]) == [STATE]
    assert kept_paths(["/var/lib", "/tmp", "/var", "/"]) == []  # a whole private dir cannot be kept


def test_a_state_dir_under_run_is_refused_naming_the_host() -> None:
    with pytest.raises(LabError, match=r"web2: /run/lab is under /run"):
        mount_plan(LabPaths(Path("/run/lab")), "web2", HOSTS, ["/run/lab"])


def _tree(root: Path) -> Path:
    """A miniature machine: /var/lib with php sessions (1733), a datadir, a lab state root."""
    (root / "var/lib/php/sessions").mkdir(parents=True)
    os.chmod(root / "var/lib/php/sessions", 0o1733)
    (root / "var/lib/php/modules/8.2").mkdir(parents=True)
    (root / "var/lib/php/modules/8.2/registry").write_text("not copied")
    (root / "var/lib/mysql/mysql").mkdir(parents=True)
    (root / "var/lib/harness-lab/other/hosts").mkdir(parents=True)
    (root / "var/lib/alt").symlink_to("php")
    (root / "var/log/apache2").mkdir(parents=True)
    os.chmod(root / "var/log/apache2", 0o750)
    (root / "var/log/wtmp").write_text("old logins")
    os.chmod(root / "var/log/wtmp", 0o664)
    (root / "var/log/dpkg.log").write_text("not copied")
    (root / "var/cache").mkdir()
    (root / "root/.pyenv/shims").mkdir(parents=True)
    (root / "root/.bashrc").write_text('eval "$(pyenv init -)"')
    os.chmod(root / "root", 0o700)
    return root


def test_a_new_disk_gets_the_machines_directories_not_its_files(tmp_path: Path) -> None:
    src = _tree(tmp_path / "machine")
    paths = LabPaths(tmp_path / "state")
    assert seed_disk(paths, "web1", source_root=src) == list(DISK_DIRS)
    lib = disk_dir(paths, "web1", "/var/lib")
    assert stat.S_IMODE((lib / "php/sessions").stat().st_mode) == 0o1733
    assert (lib / "php/modules/8.2").is_dir() and not (lib / "php/modules/8.2/registry").exists()
    assert (lib / "mysql").is_dir() and not (lib / "mysql/mysql").exists()  # no half datadir
    assert not (lib / "harness-lab").exists()  # no lab's state, ours or another's
    assert os.readlink(lib / "alt") == "php"
    log = disk_dir(paths, "web1", "/var/log")
    assert stat.S_IMODE((log / "apache2").stat().st_mode) == 0o750
    assert (log / "wtmp").read_text() == "" and stat.S_IMODE((log / "wtmp").stat().st_mode) == 0o664
    assert not (log / "dpkg.log").exists()
    assert disk_dir(paths, "web1", "/srv").is_dir()  # the machine has none: an empty one
    assert sorted(p.name for p in (paths.host_dir("web1") / "disk").iterdir()) == ["root", "srv", "var"]
    home = disk_dir(paths, "web1", "/root")
    assert list(home.iterdir()) == []  # the machine's dotfiles and their directories stay out
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_a_restarted_host_keeps_its_disk_and_an_interrupted_seed_is_redone(tmp_path: Path) -> None:
    src = _tree(tmp_path / "machine")
    paths = LabPaths(tmp_path / "state")
    seed_disk(paths, "web1", source_root=src)
    written = disk_dir(paths, "web1", "/var/lib") / "php/sessions/sess_abc"
    written.write_text("user 7")
    assert seed_disk(paths, "web1", source_root=src) == []
    assert written.read_text() == "user 7"
    half = disk_dir(paths, "web2", "/var/log").with_name("log.seeding")
    half.mkdir(parents=True)
    (half / "junk").write_text("x")
    assert "/var/log" in seed_disk(paths, "web2", source_root=src)
    assert not half.exists() and not (disk_dir(paths, "web2", "/var/log") / "junk").exists()


def test_every_hosts_disk_root_exists_before_any_init_covers_them(tmp_path: Path) -> None:
    paths = LabPaths(tmp_path)
    ensure_disk_roots(paths, HOSTS)
    assert all((paths.host_dir(h) / "disk").is_dir() for h in HOSTS)
