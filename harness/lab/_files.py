"""The lab's generated files: secrets, SSH keys, the hostctl wrapper, every host's configs, the
directors' own files, known_hosts. Written by `lab up` into the state dir.

The hostctl wrapper runs ``python -m harness.lab._hostctl`` with the interpreter running the
harness, so it works wherever harness is installed in that interpreter's environment (a
checkout installed editable, or a wheel); it sets no PYTHONPATH.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shlex
import shutil
import sys

from . import _netns
from ._configs import render_host_configs
from ._interfaces import LabContext
from ._paths import TEMPLATES, LabPaths


def hostctl_script(paths: LabPaths, python: str = sys.executable) -> str:
    """The ``bin/hostctl`` wrapper: service control inside a lab host, any install of harness."""
    return ("#!/bin/sh\n# harness lab: service control inside a lab host (see harness/lab/_hostctl.py)\n"
            f"exec {shlex.quote(python)} -m harness.lab._hostctl --state-dir {shlex.quote(str(paths.state_dir))} \"$@\"\n")


def write_files(lab: LabContext) -> None:
    """(Re)write every generated file; keys and secrets are made once and kept."""
    paths, topo = lab.paths, lab.topo
    for f in (paths.harness_password_file, paths.lms_password_file):
        if not f.exists():
            f.write_text(secrets.token_hex(16) + "\n")
            os.chmod(f, 0o600)
    if topo.auth_tier != "none" and not paths.ldap_admin_password_file.exists():
        # no newline: the LDAP clients' -y reads the whole file as the password
        fd = os.open(paths.ldap_admin_password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(16))
    if not paths.key.exists():
        _netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"harness-lab-{lab.name}",
                    "-f", str(paths.key)], what="ssh-keygen")
    shutil.copyfile(paths.key.with_suffix(".pub"), paths.authorized_keys)
    os.chmod(paths.authorized_keys, 0o644)
    paths.hostctl.write_text(hostctl_script(paths))
    os.chmod(paths.hostctl, 0o755)
    placeholder = (TEMPLATES / "placeholder-login.php").read_text()
    (paths.placeholder_root / "login" / "index.php").write_text(placeholder)
    (paths.placeholder_root / "index.php").write_text(placeholder)
    lms_pw = paths.lms_password_file.read_text().strip()
    files = {}
    for host in topo.hosts.values():
        for d in (paths.etc(host.name), paths.log(host.name)):
            d.mkdir(parents=True, exist_ok=True)
        key = paths.host_key(host.name)
        if not key.exists():
            _netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{host.name}@harness-lab",
                        "-f", str(key)], what=f"{host.name}: ssh-keygen")
        if host.has_role("web"):
            make_session_dir(paths, host.name)
        files.update(render_host_configs(topo, host, paths, lab.advert_int, lms_pw, lab.director_kind, lab.lvs_sync,
                                         db_durability=lab.db_durability, lms_sessions=lab.lms_sessions,
                                         ldap_hosts=lab.ldap_hosts))
    files.update(lab.strategy.lab_files(lab.name, paths))
    for path, (content, mode) in files.items():
        path.write_text(content)
        os.chmod(path, mode)


def make_session_dir(paths: LabPaths, host: str) -> None:
    """The web node's own session directory, www-data's only (made in both modes, so switching
    a running lab to per-node sessions needs no new directory)."""
    d = paths.session_dir(host)
    d.mkdir(parents=True, exist_ok=True)
    www = pwd.getpwnam("www-data")
    os.chown(d, www.pw_uid, www.pw_gid)
    os.chmod(d, 0o700)


def write_known_hosts(lab: LabContext) -> None:
    """known_hosts pinning every host's key (a director guest gets the same key as its host)."""
    lines = []
    for host in lab.topo.hosts.values():
        pub = (lab.paths.host_key(host.name).with_suffix(".pub")).read_text().split()
        lines.append(f"{host.address} {pub[0]} {pub[1]}")
    lab.paths.known_hosts.write_text("\n".join(lines) + "\n")
