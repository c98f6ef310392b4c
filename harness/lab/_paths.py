"""Where one lab's files live: the state dir layout and the package's own data files.

A leaf: every other lab module may import it, it imports nothing of the lab. The same paths
are valid inside every namespace host (each keeps the state dir visible through its own disk,
harness.lab._disks) and, through hostfs, inside the director guests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
TEMPLATES = _PACKAGE / "templates"
LMS_DIR = _PACKAGE / "lms"
CLUSTERCHECK = _PACKAGE / "_clustercheck.py"
INIT_SCRIPT = _PACKAGE / "_init.py"
#: a HAProxy director's notify log, in its log directory (harness.lab._notify_log reads it)
NOTIFY_LOG = "keepalived-notify.log"
#: inside an LVS director guest, the copy of its console's notify lines the harness reads over SSH
GUEST_NOTIFY_LOG = "/run/keepalived/notify.log"

#: the lab LMS's data directory on each web node (``SetEnv LMS_DATAROOT``; lms/lib/files.php):
#: on the node's own disk, unless the lab's file tier mounts the shared volume there
LMS_DATAROOT = "/srv/moodledata"


@dataclass(frozen=True)
class LabPaths:
    """Files of one lab in its state dir (the same paths are valid inside every host; a host's
    own disk, ``hosts/<host>/disk``, is covered there: harness.lab._disks)."""

    state_dir: Path

    @property
    def bin(self) -> Path:
        return self.state_dir / "bin"

    @property
    def hostctl(self) -> Path:
        return self.bin / "hostctl"

    @property
    def guestctl(self) -> Path:
        """The director guests' own service control (POSIX sh, run over SSH)."""
        return self.bin / "guestctl"

    @property
    def ssh_dir(self) -> Path:
        return self.state_dir / "ssh"

    @property
    def key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def authorized_keys(self) -> Path:
        return self.ssh_dir / "authorized_keys"

    @property
    def secrets(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def harness_password_file(self) -> Path:
        return self.secrets / "harness_db_password"

    @property
    def lms_password_file(self) -> Path:
        return self.secrets / "lms_db_password"

    @property
    def ldap_admin_password_file(self) -> Path:
        """The auth tier's rootdn password, no newline (``ldapsearch -y`` reads the whole file)."""
        return self.secrets / "ldap_admin_password"

    @property
    def inventory(self) -> Path:
        return self.state_dir / "cluster.yml"

    @property
    def placeholder_root(self) -> Path:
        return self.state_dir / "www"

    def host_dir(self, host: str) -> Path:
        return self.state_dir / "hosts" / host

    def etc(self, host: str) -> Path:
        return self.host_dir(host) / "etc"

    def log(self, host: str) -> Path:
        return self.host_dir(host) / "log"

    def datadir(self, host: str) -> Path:
        return self.host_dir(host) / "mysql"

    def session_dir(self, host: str) -> Path:
        """The web node's own PHP session files (``lms_sessions`` ``node``): private to the node,
        since the namespace hosts share one file system."""
        return self.host_dir(host) / "sessions"

    def conf(self, host: str, name: str) -> Path:
        return self.etc(host) / name

    def host_key(self, host: str) -> Path:
        """The host's SSH host key (a guest gets a copy: known_hosts is the same in both modes)."""
        return self.etc(host) / "ssh_host_ed25519_key"

    def guest_dir(self, host: str) -> Path:
        return self.state_dir / "guests" / host

    def docroot(self) -> Path:
        """The LMS app if another helper has shipped it, else the placeholder."""
        public = LMS_DIR / "public"
        return public if (public / "login" / "index.php").exists() else self.placeholder_root
