"""The lab LMS logs users in through LDAP as Moodle's auth_ldap does (LMS_AUTH=ldap): bind as the
user, servers of LMS_LDAP_HOSTS tried in order, the next only when one cannot be reached.

Against a throwaway slapd on loopback (Debian's, slapd.conf format, one mdb database) and the
LMS stack of conftest.py; every process is stopped by its own PID.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .conftest import LmsStack, WebNode, _stop, free_port
from .test_lms_contract import TIMEOUT, login_page

pytestmark = pytest.mark.lms

SUFFIX = "dc=lms,dc=lab"
ADMIN = f"cn=admin,{SUFFIX}"
PEOPLE = f"ou=people,{SUFFIX}"
ROOTPW = "lms-ldap-test-root"
DIRECTORY_PASSWORD = "FromTheDirectory-1"  # not the database's LabStudent-1: the login must ask LDAP

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {root}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{admin}"
rootpw {rootpw}
directory {root}/data
"""


class Slapd:
    """One slapd on 127.0.0.1:<port>, its directory seeded with three students."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lms-ldap-"))
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def _client(self, tool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([tool, "-x", "-H", self.url, "-D", ADMIN, "-w", ROOTPW, *args], input=stdin,
                              capture_output=True, text=True, timeout=10)

    def start(self) -> None:
        (self.root / "data").mkdir()
        hashed = subprocess.run(["slappasswd", "-s", ROOTPW], capture_output=True, text=True, timeout=10,
                                check=True).stdout.strip()
        conf = self.root / "slapd.conf"
        conf.write_text(SLAPD_CONF.format(root=self.root, suffix=SUFFIX, admin=ADMIN, rootpw=hashed))
        conf.chmod(0o600)
        self.proc = subprocess.Popen(["slapd", "-f", str(conf), "-h", f"{self.url}/", "-d", "0"],
                                     stdout=subprocess.DEVNULL, stderr=open(self.root / "slapd.log", "wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + 15
        while self._client("ldapwhoami").returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"slapd on {self.url} not answering: {(self.root / 'slapd.log').read_text()[-1500:]}")
            time.sleep(0.05)
        ldif = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: lms\no: Lab LMS\n",
                f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n"]
        for n in (1, 2, 3):
            uid = f"student{n:03d}"
            ldif.append(f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Student {n:03d}\n"
                        f"sn: {n:03d}\nuserPassword: {DIRECTORY_PASSWORD}\n")
        added = self._client("ldapadd", stdin="\n".join(ldif))
        assert added.returncode == 0, added.stderr

    def set_password(self, uid: str, password: str) -> None:
        r = self._client("ldappasswd", "-s", password, f"uid={uid},{PEOPLE}")
        assert r.returncode == 0, r.stderr

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, "slapd")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def slapd(lms_stack: LmsStack) -> Iterator[Slapd]:
    if shutil.which("slapd") is None or shutil.which("ldapadd") is None:
        pytest.skip("LDAP login tests: slapd or ldap-utils not installed (scripts/setup installs them)")
    server = Slapd()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _dead_url() -> str:
    """An LDAP URL on loopback where nothing listens (connection refused at once)."""
    return f"ldap://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def ldap_node(lms_stack: LmsStack, slapd: Slapd) -> Iterator[WebNode]:
    """A web node whose logins ask LDAP, the first listed server dead (host_url failover)."""
    node = lms_stack.start_node("web-ldap", env={
        "LMS_AUTH": "ldap", "LMS_LDAP_HOSTS": f"{_dead_url()};{slapd.url}", "LMS_LDAP_CONTEXT": PEOPLE,
        "LMS_LDAP_NETWORK_TIMEOUT": "2"})
    try:
        yield node
    finally:
        lms_stack.stop_node(node)


def _login(node: WebNode, username: str, password: str) -> requests.Response:
    s = requests.Session()
    _, token = login_page(s, node.url)
    return s.post(f"{node.url}/login/index.php", data={"anchor": "", "logintoken": token, "username": username,
                                                       "password": password}, timeout=TIMEOUT, allow_redirects=False)


def _logged_in(r: requests.Response) -> bool:
    return r.status_code == 303 and "testsession=" in r.headers.get("Location", "")


def test_the_password_is_the_directorys_and_a_dead_first_server_is_passed_over(ldap_node: WebNode,
                                                                                slapd: Slapd) -> None:
    r = _login(ldap_node, "student001", DIRECTORY_PASSWORD)
    assert _logged_in(r), (r.status_code, r.headers, ldap_node.error_log()[-1000:])
    assert r.headers["X-Lab-Auth"] == f"ldap {slapd.url}"  # the second listed server answered
    refused = _login(ldap_node, "student001", "LabStudent-1")  # the database's password is not asked
    assert not _logged_in(refused)


def test_a_password_changed_in_ldap_takes_effect_on_the_next_login(ldap_node: WebNode, slapd: Slapd) -> None:
    assert _logged_in(_login(ldap_node, "student002", DIRECTORY_PASSWORD))
    slapd.set_password("student002", "Changed-In-LDAP-2")
    assert not _logged_in(_login(ldap_node, "student002", DIRECTORY_PASSWORD))
    assert _logged_in(_login(ldap_node, "student002", "Changed-In-LDAP-2"))


def test_a_refused_password_is_final_and_no_reachable_server_is_a_failed_login_naming_each(
        lms_stack: LmsStack, ldap_node: WebNode, slapd: Slapd) -> None:
    wrong = _login(ldap_node, "student003", "not-it")
    assert not _logged_in(wrong) and wrong.headers["X-Lab-Auth"] == f"ldap {slapd.url}"
    assert "Invalid credentials" in ldap_node.error_log()
    dead = [_dead_url(), _dead_url()]
    node = lms_stack.start_node("web-ldap-dead", env={
        "LMS_AUTH": "ldap", "LMS_LDAP_HOSTS": ";".join(dead), "LMS_LDAP_CONTEXT": PEOPLE,
        "LMS_LDAP_NETWORK_TIMEOUT": "2"})
    try:
        r = _login(node, "student003", DIRECTORY_PASSWORD)
        assert not _logged_in(r) and r.headers["X-Lab-Auth"] == "ldap none"
        log = node.error_log()
        assert all(f"{url}: Can't contact LDAP server" in log for url in dead), log[-1000:]
    finally:
        lms_stack.stop_node(node)
