"""A throwaway MariaDB + Apache (prefork, mod_php) serving the lab LMS, for the LMS tests.

Everything lives in one temp dir and every process is stopped by its own PID at teardown.
Needs root (Apache switches to www-data; MariaDB runs as root with --user=root) and the Debian
packages apache2, libapache2-mod-php, php-mysql, mariadb-server; otherwise the tests skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
LMS_DIR = REPO / "harness" / "lab" / "lms"
APACHE_MODULES = Path("/usr/lib/apache2/modules")
LMS_PASSWORD = "LabStudent-1"
DB_USER = "lms"
DB_PASSWORD = "lms-test-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], name: str, timeout: float = 15.0) -> None:
    """SIGTERM the process we started, wait (bounded), then SIGKILL it."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@dataclass
class WebNode:
    """One Apache instance serving the LMS."""

    name: str
    port: int
    root: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dataroot(self) -> Path:
        """This node's LMS_DATAROOT: its own directory, as a node's own disk."""
        return self.root / "moodledata"

    def error_log(self) -> str:
        path = self.root / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class LmsStack:
    """MariaDB + Apache web nodes sharing the database (and so the sessions)."""

    tmp: Path
    db_port: int
    db_socket: Path
    db_proc: subprocess.Popen[bytes] | None = None
    nodes: list[WebNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def db(self) -> pymysql.connections.Connection:
        return pymysql.connect(
            host="127.0.0.1", port=self.db_port, user=DB_USER, password=DB_PASSWORD,
            database="moodle", autocommit=True, connect_timeout=5,
        )

    def query(self, sql: str, *args: object) -> list[tuple]:
        conn = self.db()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def start_node(self, name: str, *, db_port: int | None = None, env: dict[str, str] | None = None) -> WebNode:
        """Start one Apache (prefork + mod_php) on a free port; ``db_port`` may point nowhere;
        ``env``: more LMS settings (SetEnv), e.g. LMS_AUTH=ldap."""
        port = free_port()
        root = self.tmp / f"apache-{name}"
        for sub in ("run", "lock", "logs", "moodledata"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        www = pwd.getpwnam("www-data")
        os.chown(root / "moodledata", www.pw_uid, www.pw_gid)  # the node's own dataroot (own disk)
        node = WebNode(name, port, root)
        conf = root / "httpd.conf"
        conf.write_text(APACHE_CONF.format(
            root=root, port=port, modules=APACHE_MODULES, docroot=LMS_DIR / "public",
            db_port=db_port if db_port is not None else self.db_port, db_user=DB_USER,
            db_password=DB_PASSWORD, node=name, wwwroot=node.url, dataroot=root / "moodledata",
        ) + "".join(f"SetEnv {k} {v}\n" for k, v in (env or {}).items()))
        node.proc = subprocess.Popen(
            ["apache2", "-f", str(conf), "-DFOREGROUND"],
            stdout=open(root / "logs" / "stdout.log", "wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if node.proc.poll() is not None:
                raise RuntimeError(f"apache {name} exited {node.proc.returncode}: {node.error_log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"apache {name} did not listen on {port} within 15 s")
        self.nodes.append(node)
        return node

    def stop_node(self, node: WebNode) -> None:
        if node.proc is not None:
            _stop(node.proc, node.name)
        if node in self.nodes:
            self.nodes.remove(node)


APACHE_CONF = """\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {root}/run/httpd.pid
DefaultRuntimeDir {root}/run
Mutex file:{root}/lock default
ErrorLog {root}/logs/error.log
LogLevel warn
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule dir_module {modules}/mod_dir.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule env_module {modules}/mod_env.so
LoadModule php_module {modules}/libphp8.2.so
User www-data
Group www-data
StartServers 2
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 12
TypesConfig /etc/mime.types
DocumentRoot "{docroot}"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{docroot}">
    Require all granted
</Directory>
DirectoryIndex index.php
<FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>
SetEnv LMS_DB_HOST 127.0.0.1
SetEnv LMS_DB_PORT {db_port}
SetEnv LMS_DB_NAME moodle
SetEnv LMS_DB_USER {db_user}
SetEnv LMS_DB_PASSWORD {db_password}
SetEnv LMS_NODE {node}
SetEnv LMS_WWWROOT {wwwroot}
SetEnv LMS_DATAROOT {dataroot}
"""


def _missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "needs root (Apache switches to www-data, MariaDB runs with --user=root)"
    for binary in ("apache2", "mariadbd", "mariadb-install-db", "mariadb"):
        if shutil.which(binary) is None:
            return f"{binary} not found (apt-get install apache2 mariadb-server)"
    for module in ("libphp8.2.so", "mod_mpm_prefork.so"):
        if not (APACHE_MODULES / module).exists():
            return f"{APACHE_MODULES / module} missing (apt-get install libapache2-mod-php)"
    try:
        pwd.getpwnam("www-data")
    except KeyError:
        return "user www-data missing (Apache's User)"
    return None


def _mariadb(stack: LmsStack, sql_file: Path | None = None, sql: str | None = None) -> None:
    cmd = ["mariadb", "--no-defaults", f"--socket={stack.db_socket}", "-uroot"]
    data = sql_file.read_bytes() if sql_file is not None else (sql or "").encode()
    res = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"mariadb {sql_file or sql!r} exited {res.returncode}: {res.stderr.decode()[-1000:]}")


def _start_mariadb(stack: LmsStack) -> None:
    datadir = stack.tmp / "db" / "data"
    datadir.parent.mkdir(parents=True)
    res = subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
         "--auth-root-authentication-method=socket", "--skip-test-db"],
        capture_output=True, timeout=120,
    )
    if res.returncode != 0:
        raise RuntimeError(f"mariadb-install-db exited {res.returncode}: {res.stdout.decode()[-1000:]}{res.stderr.decode()[-1000:]}")
    stack.db_proc = subprocess.Popen(
        ["mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={stack.db_socket}",
         f"--port={stack.db_port}", "--bind-address=127.0.0.1", "--user=root",
         f"--pid-file={stack.tmp / 'db' / 'mariadbd.pid'}", f"--log-error={stack.tmp / 'db' / 'error.log'}",
         "--innodb-buffer-pool-size=64M", "--skip-name-resolve", "--max-connections=200"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if stack.db_proc.poll() is not None:
            log = (stack.tmp / "db" / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mariadbd exited {stack.db_proc.returncode}: {log}")
        if stack.db_socket.exists():
            ping = subprocess.run(["mariadb", "--no-defaults", f"--socket={stack.db_socket}", "-uroot", "-e", "SELECT 1"],
                                  capture_output=True, timeout=10)
            if ping.returncode == 0:
                break
        time.sleep(0.1)
    else:
        raise RuntimeError("mariadbd did not answer within 30 s")
    _mariadb(stack, sql=(
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}';"
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'localhost' IDENTIFIED BY '{DB_PASSWORD}';"
        f"GRANT ALL ON moodle.* TO '{DB_USER}'@'127.0.0.1'; GRANT ALL ON moodle.* TO '{DB_USER}'@'localhost';"
    ))
    _mariadb(stack, LMS_DIR / "schema.sql")
    _mariadb(stack, LMS_DIR / "seed.sql")


@pytest.fixture(scope="session")
def lms_stack() -> Iterator[LmsStack]:
    """MariaDB with the LMS schema and seed, and two Apache web nodes (web-a, web-b)."""
    reason = _missing_prerequisite()
    if reason is not None:
        pytest.skip(f"lab LMS tests: {reason}")
    tmp = Path(tempfile.mkdtemp(prefix="lms-test-"))
    os.chmod(tmp, 0o755)
    stack = LmsStack(tmp=tmp, db_port=free_port(), db_socket=tmp / "db" / "mariadbd.sock")
    try:
        _start_mariadb(stack)
        stack.start_node("web-a")
        stack.start_node("web-b")
        # Both nodes answer before any test runs.
        for node in stack.nodes:
            r = requests.get(node.url + "/login/index.php", timeout=10)
            assert r.status_code == 200, f"{node.name}: {r.status_code} {r.text[:500]} {node.error_log()[-1000:]}"
        yield stack
    finally:
        for node in list(stack.nodes):
            stack.stop_node(node)
        if stack.db_proc is not None:
            _stop(stack.db_proc, "mariadbd", timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
