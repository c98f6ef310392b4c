"""Each namespace lab host's own disk: the mount plan its init carries out, and the disk's seed.

On separate machines a file one node writes to ``/var/lib``, ``/tmp`` or ``/srv`` is not on the
others; in namespaces sharing the machine's root file system it would be (issue 12: PHP file
sessions at their default path survived a web node kill). So every namespace host mounts, in
its own private mount namespace, its own directories over the machine's:

- ``/var/lib``, ``/var/cache``, ``/var/log``, ``/var/tmp``, ``/srv``, ``/root``: bind mounts of
  ``STATE/hosts/<host>/disk/<dir>``, kept across a destroy and start of the host (a disk), gone
  with the state dir at ``lab down``;
- ``/root`` starts empty: the machine's own dotfiles are not the host's. An SSH session's bash
  reads ``~/.bashrc``; the machine's ran ``pyenv init``, whose rehash waits up to 60 s on a lock
  file, and a lab host killed in the middle of one left that lock behind: every later SSH command
  on every lab host hung (CI once: all hosts "unreachable"). The UML guests have had an empty
  tmpfs ``/root`` for the same reason;
- ``/run`` and ``/tmp``: tmpfs, empty at every boot (``/run`` is tmpfs on every Debian machine;
  ``/tmp`` is here too, as it always was in the lab);
- what the host must still see through them stays visible: the lab's state dir (configs,
  hostctl, the Galera datadirs, logs), the harness package and the Python running it when they
  live under a covered directory (a CI clone under ``/tmp``); the package database
  ``/var/lib/dpkg`` read-only (the host runs the machine's ``/usr``, so it has its packages);
- every host's ``disk`` directory inside the state dir is covered by an empty read-only tmpfs,
  so no host reaches another's disk through the state dir.

The plan is computed here, in the root namespace (pure: ``mount_plan``), and handed to the
host's init (``_init.py``, stdlib only) as JSON; the init runs it in order after making every
mount private, so nothing of it is seen outside the host. ``seed_disk`` gives a new disk the
machine's directory tree (directories, with their modes and owners; no files but a few empty
login records), so a daemon finds ``/var/lib/php/sessions`` (1733), ``/var/log/apache2`` or
``/var/lib/haproxy`` as on a fresh install.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import LabError
from ._paths import LabPaths
from ._state import STATE_ROOT

#: directories backed by the host's disk (STATE/hosts/<host>/disk/<dir>)
DISK_DIRS: tuple[str, ...] = ("/var/lib", "/var/cache", "/var/log", "/var/tmp", "/srv", "/root")
#: seeded as the bare directory (mode and owner), nothing below it: a home of the host's own
BARE_DIRS: tuple[str, ...] = ("/root",)
#: directories that are a fresh tmpfs at every boot: mount options
TMPFS_DIRS: dict[str, str] = {"/run": "mode=0755,size=64m", "/tmp": "mode=1777,size=256m"}
#: the order the init covers them: /run first (it holds the spots where kept paths wait)
COVER_ORDER: tuple[str, ...] = ("/run", *DISK_DIRS, "/tmp")
#: the machine's own, shown read-only through a host's private directories
SHARED_READ_ONLY: tuple[str, ...] = ("/var/lib/dpkg",)
#: files a new disk gets empty (mode and owner from the machine's), as a fresh install has them
EMPTY_FILES: tuple[str, ...] = ("/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog")
#: copied without what is below them: a database's datadir whose schema directories had no
#: files would be a broken datadir (the lab's MariaDB keeps its datadir in the state dir)
EMPTY_DIRS: tuple[str, ...] = ("/var/lib/mysql", "/var/lib/postgresql")
#: where the init parks a kept path while it covers the directory above it
KEEP_SPOT = "/run/.hlab-keep"
#: what covers each host's disk dir in the state dir (empty, read-only)
HIDE_OPTIONS = "mode=0755,size=4k"


@dataclass(frozen=True)
class Mount:
    """One step of a host's mount plan, run in order by its init (``_init.run_plan``).

    ``op``: ``rprivate`` (no propagation from or to ``target`` and below), ``tmpfs`` (a new
    tmpfs with ``options``), ``bind`` (``source`` at ``target``), ``readonly`` (remount the
    bind at ``target`` read-only), ``detach`` (lazy unmount of ``target``, then remove it).
    """

    op: str
    target: str
    source: str = ""
    options: str = ""
    readonly: bool = False


def _norm(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"


def is_under(path: str, top: str) -> bool:
    """``path`` strictly below ``top`` (both absolute)."""
    path, top = _norm(path), _norm(top)
    return path != top and path.startswith(top.rstrip("/") + "/")


def covered_by(path: str) -> str | None:
    """The private directory of a host that hides ``path``, or None if the host sees it."""
    for top in COVER_ORDER:
        if path == top or is_under(path, top):
            return top
    return None


def kept_paths(candidates: Iterable[str]) -> list[str]:
    """The candidates a host would lose under its private directories, topmost only, sorted.

    Candidates are what a host must still see: the state dir, the harness package, the Python
    running it (a CI clone and its venv may well live under /tmp or /srv)."""
    under = sorted({_norm(p) for p in candidates if p and covered_by(_norm(p)) not in (None, _norm(p))})
    return [p for p in under if not any(is_under(p, q) for q in under)]


def disk_dir(paths: LabPaths, host: str, directory: str) -> Path:
    """The backing directory of one of ``host``'s private directories."""
    return paths.host_dir(host) / "disk" / directory.strip("/")


def mount_plan(paths: LabPaths, host: str, hosts: Sequence[str], keep: Sequence[str],
               shared_read_only: Sequence[str] = SHARED_READ_ONLY) -> list[Mount]:
    """Every mount ``host``'s init makes, in order (pure).

    ``keep``: paths the host must still see (``kept_paths`` picks those under a covered dir);
    ``shared_read_only``: the machine's directories shown read-only (the caller passes those
    that exist); ``hosts``: every lab host, whose disk dirs in the state dir get covered.
    Each directory in ``COVER_ORDER``: park what must stay visible below it at a spot in the
    new /run, cover it, put the parked paths back at their places, drop the spots.
    """
    keeps = kept_paths(keep)
    for k in keeps:
        if covered_by(k) == "/run":
            raise LabError(f"{host}: {k} is under /run, which every lab host mounts privately: "
                           "put the lab's state dir and the harness elsewhere")
    ro = [_norm(p) for p in shared_read_only if covered_by(_norm(p)) not in (None, "/run", _norm(p))]
    parked = [(p, False) for p in keeps] + [(p, True) for p in ro if not any(p == k or is_under(p, k) for k in keeps)]
    plan = [Mount("rprivate", "/")]
    spot_no = 0
    for top in COVER_ORDER:
        below = sorted((p, r) for p, r in parked if covered_by(p) == top)
        spots = []
        for path, readonly in below:
            spot = f"{KEEP_SPOT}/{spot_no}"
            spot_no += 1
            plan.append(Mount("bind", spot, source=path))
            spots.append((spot, path, readonly))
        if top in TMPFS_DIRS:
            plan.append(Mount("tmpfs", top, options=TMPFS_DIRS[top]))
        else:
            plan.append(Mount("bind", top, source=str(disk_dir(paths, host, top))))
        for spot, path, readonly in spots:
            plan.append(Mount("bind", path, source=spot))
            if readonly:
                plan.append(Mount("readonly", path))
            plan.append(Mount("detach", spot))
    for other in hosts:
        plan.append(Mount("tmpfs", str(paths.host_dir(other) / "disk"), options=HIDE_OPTIONS, readonly=True))
    return plan


def plan_json(plan: Sequence[Mount]) -> list[dict[str, object]]:
    """The plan as the init reads it (``--plan``)."""
    return [asdict(m) for m in plan]


# -- the disk itself (root namespace) --------------------------------------------------------
def _copy_meta(src: os.stat_result, dst: Path) -> None:
    os.chown(dst, src.st_uid, src.st_gid, follow_symlinks=False)
    os.chmod(dst, stat.S_IMODE(src.st_mode))


def skeleton(source: Path, target: Path, exclude: Sequence[Path] = (), shallow: Sequence[Path] = ()) -> int:
    """Copy ``source``'s directory tree to ``target`` (which must not exist): directories with
    their modes and owners, and symlinks; no files. Stays on ``source``'s file system, skips
    ``exclude`` (a lab's state root) and copies ``shallow`` without what is below it. Returns
    the directories made."""
    made = 0
    root_st = os.lstat(source)
    excluded = {os.path.normpath(str(p)) for p in exclude}
    leaves = {os.path.normpath(str(p)) for p in shallow}
    for dirpath, dirnames, _files in os.walk(source):
        rel = os.path.relpath(dirpath, source)
        out = target if rel == "." else target / rel
        st = os.lstat(dirpath)
        out.mkdir()
        _copy_meta(st, out)
        made += 1
        keep_walking = []
        if os.path.normpath(dirpath) in leaves:
            dirnames[:] = []
            continue
        for name in sorted(dirnames):
            full = os.path.join(dirpath, name)
            if os.path.normpath(full) in excluded:
                continue
            sub = os.lstat(full)
            if stat.S_ISLNK(sub.st_mode):
                os.symlink(os.readlink(full), out / name)
                os.chown(out / name, sub.st_uid, sub.st_gid, follow_symlinks=False)
            elif sub.st_dev == root_st.st_dev:
                keep_walking.append(name)
        dirnames[:] = keep_walking
    return made


def seed_disk(paths: LabPaths, host: str, source_root: Path = Path("/"),
              exclude: Sequence[str] = ()) -> list[str]:
    """Give ``host`` a disk if it has none yet (a restarted host keeps the one it has).

    Each private directory is seeded under a temporary name and renamed into place, so an
    interrupted seed is redone, never half kept. Returns the directories seeded."""
    seeded = []
    skip = [source_root / str(STATE_ROOT).lstrip("/")] + [source_root / p.lstrip("/") for p in exclude]
    for directory in DISK_DIRS:
        target = disk_dir(paths, host, directory)
        if target.exists():
            continue
        src = source_root / directory.lstrip("/")
        tmp = target.with_name(target.name + ".seeding")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shallow = [source_root / p.lstrip("/") for p in (*EMPTY_DIRS, *BARE_DIRS)]
            skeleton(src, tmp, exclude=skip, shallow=shallow)
        else:
            tmp.mkdir(mode=0o755)
        for f in EMPTY_FILES:
            if is_under(f, directory) and (source_root / f.lstrip("/")).is_file():
                out = tmp / os.path.relpath(f, directory)
                if out.parent.is_dir():
                    out.touch()
                    _copy_meta(os.stat(source_root / f.lstrip("/")), out)
        os.rename(tmp, target)
        seeded.append(directory)
    return seeded


def ensure_disk_roots(paths: LabPaths, hosts: Iterable[str]) -> None:
    """Every host's ``disk`` dir exists before any init starts: each init covers all of them."""
    for host in hosts:
        (paths.host_dir(host) / "disk").mkdir(parents=True, exist_ok=True)

