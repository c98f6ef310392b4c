"""Where web nodes keep sessions and Moodle's data: the lab LMS's Apache SetEnv and Moodle's
config.php parsed, findmnt read, and the audit's web rules (one misconfiguration each)."""

from __future__ import annotations

import pytest

from harness.config_audit import Severity, exit_status
from harness.config_audit.web import WebNode, web_findings
from harness.errors import ParseError
from harness.parsers.web_config import lab_lms_settings, moodle_settings, parse_findmnt

APACHE = """# Apache for lab web node {host}
DocumentRoot "/var/lib/harness-lab/default/www"
SetEnv LMS_DB_HOST 198.18.0.101
SetEnv LMS_DB_PASSWORD {pw}
SetEnv LMS_NODE {host}
# where sessions live
SetEnv LMS_SESSIONS {sessions}
SetEnv LMS_SESSION_DIR /var/lib/harness-lab/default/hosts/{host}/sessions
SetEnv LMS_DATAROOT /srv/moodledata
"""
CONFIG_PHP = """<?php  // Moodle configuration file
unset($CFG);
global $CFG;
$CFG = new stdClass();
$CFG->dbtype    = 'mariadb';
$CFG->dbpass    = 'not-shown';
$CFG->dataroot  = '/var/moodledata';
{extra}
require_once(__DIR__ . '/lib/setup.php');
"""
LOCAL = parse_findmnt("ext4 /dev/vda1 /\n")
GLUSTER = parse_findmnt("fuse.glusterfs 198.18.0.41:moodledata /srv/moodledata\n")


def node(host: str, sessions: str = "database", pw: str = "pw", dataroot_fs=GLUSTER, session_fs=LOCAL) -> WebNode:
    s = lab_lms_settings(APACHE.format(host=host, sessions=sessions, pw=pw), "/etc/apache2.conf")
    assert s is not None
    mounts = {"/srv/moodledata": dataroot_fs}
    if s.session_path:
        mounts[s.session_path] = session_fs
    return WebNode(host, s, mounts)


def rules(found: list) -> list[str]:
    return sorted(f.rule for f in found)


def test_the_lab_lms_settings_and_moodles_config_php_are_read() -> None:
    s = lab_lms_settings(APACHE.format(host="web1", sessions="node", pw="x"), "/etc/apache2.conf")
    assert s is not None and (s.sessions, s.dataroot) == ("file", "/srv/moodledata")
    assert s.session_path == "/var/lib/harness-lab/default/hosts/web1/sessions" and s.lines["LMS_SESSIONS"] == 7
    assert lab_lms_settings("ServerName x\n", "a.conf") is None  # not the lab LMS
    m = moodle_settings(CONFIG_PHP.format(extra=""), "/var/www/moodle/config.php")
    assert (m.sessions, m.session_path, m.dataroot) == ("file", "/var/moodledata/sessions", "/var/moodledata")
    redis = moodle_settings(CONFIG_PHP.format(extra="$CFG->session_handler_class = '\\\\core\\\\session\\\\redis';"))
    assert redis.sessions == "redis" and redis.session_path is None and redis.lines["session_handler_class"] == 8
    with pytest.raises(ParseError, match="no \\$CFG->dataroot"):
        moodle_settings("<?php\n$CFG->dbtype = 'mariadb';\n")
    assert GLUSTER.shared and not LOCAL.shared
    with pytest.raises(ParseError, match="expected FSTYPE SOURCE TARGET"):
        parse_findmnt("")


def test_shared_sessions_and_a_shared_dataroot_audit_clean() -> None:
    assert web_findings([node("web1"), node("web2")]) == []


def test_file_sessions_on_a_nodes_own_disk_are_critical_with_the_setting_as_evidence() -> None:
    found = web_findings([node("web1", sessions="node"), node("web2", sessions="node")])
    assert rules(found) == ["web-sessions-local", "web-sessions-local"]  # each node's own session dir: by design
    f = next(f for f in found if f.rule == "web-sessions-local")
    assert f.severity is Severity.CRITICAL and f.evidence[0].where() == "web1:/etc/apache2.conf:7"
    assert "every user it served must log in again" in f.message
    assert web_findings([node("web1", sessions="node", session_fs=GLUSTER)]) == []  # files, but shared


def test_a_dataroot_on_local_disk_with_several_nodes_is_critical() -> None:
    found = web_findings([node("web1", dataroot_fs=LOCAL), node("web2")])
    assert rules(found) == ["web-dataroot-local"] and "web1" in found[0].message
    assert web_findings([node("web1", dataroot_fs=LOCAL)]) == []  # one node: nobody else to miss them


def test_different_volumes_and_different_settings_are_found_without_showing_a_password() -> None:
    other = parse_findmnt("fuse.glusterfs 198.18.0.41:otherdata /srv/moodledata\n")
    assert rules(web_findings([node("web1"), node("web2", dataroot_fs=other)])) == ["web-dataroot-volumes-differ"]
    found = web_findings([node("web1"), node("web2", pw="other-secret")])
    assert rules(found) == ["web-settings-differ"] and found[0].severity is Severity.WARNING
    assert "other-secret" not in str(found[0].to_dict()) and "(set)" in found[0].evidence[1].text
    mixed = web_findings([node("web1"), node("web2", sessions="node")])
    assert "web-sessions-local" in rules(mixed) and "web-settings-differ" in rules(mixed)
    assert exit_status(mixed) == 1


# -- the same application version on every web node ---------------------------------------
VERSION_PHP = """<?php
defined('MOODLE_INTERNAL') || die();

$version  = 2024100701.00;              // 20241007      = branching date YYYYMMDD - do not modify!
$release  = '4.5.1 (Build: 20241209)';  // Human-friendly version name
$branch   = '405';                      // This version's branch.
$maturity = MATURITY_STABLE;            // This version's maturity level.
"""
#: `find /srv/lms -name '*.php' -type f -exec sha256sum {} +` on a lab web node (two files shown)
SHA_LINES = """5f1e2b7c9a0d4e6f8b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a  /srv/lms/public/login/index.php
0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b  /srv/lms/lib/session.php
"""


def test_moodles_version_php_and_a_digest_of_the_php_files_identify_the_code() -> None:
    from harness.parsers.web_config import moodle_version, php_tree_digest

    v = moodle_version(VERSION_PHP, "/var/www/moodle/version.php")
    assert v.value == "4.5.1 (Build: 20241209) (2024100701.00)" and v.line == 4
    a = php_tree_digest(SHA_LINES, "/srv/lms")
    b = php_tree_digest("".join(reversed(SHA_LINES.splitlines(keepends=True))), "/srv/lms")
    assert a.value == b.value and a.value.endswith("of 2 PHP files")  # order-free
    assert php_tree_digest(SHA_LINES.replace("/srv/lms", "/opt/lms"), "/opt/lms").value == a.value  # relative paths
    assert php_tree_digest(SHA_LINES.replace("5f1e", "5f1f"), "/srv/lms").value != a.value
    with pytest.raises(ParseError, match="no PHP file under /srv/lms"):
        php_tree_digest("", "/srv/lms")
    with pytest.raises(ParseError, match="not a Moodle version.php"):
        moodle_version("<?php\n", "version.php")


def test_web_nodes_on_different_code_are_a_warning_naming_nodes_and_versions() -> None:
    from dataclasses import replace

    from harness.parsers.web_config import moodle_version

    new = moodle_version(VERSION_PHP, "/var/www/moodle/version.php")
    old = moodle_version(VERSION_PHP.replace("4.5.1 (Build: 20241209)", "4.5 (Build: 20241007)")
                         .replace("2024100701.00", "2024100700.00"), "/var/www/moodle/version.php")
    nodes = [replace(node("web1"), version=new), replace(node("web2"), version=new), replace(node("web3"), version=old)]
    assert web_findings(nodes[:2]) == []
    found = web_findings(nodes)
    assert rules(found) == ["web-version-differs"] and found[0].severity is Severity.WARNING
    assert "web1, web2: 4.5.1 (Build: 20241209) (2024100701.00); web3: 4.5 (Build: 20241007)" in found[0].message
    assert {e.host for e in found[0].evidence} == {"web1", "web2", "web3"} and exit_status(found) == 1


def test_the_audit_reads_version_php_or_digests_the_lab_lms_code() -> None:
    from harness.cluster import Cluster
    from harness.config_audit import audit_cluster
    from harness.config_audit._collect import app_dir
    from harness.inventory import Host, Inventory
    from harness.testing import FakeCluster

    assert app_dir("/srv/lms/public") == "/srv/lms" and app_dir("/var/www/moodle") == "/var/www/moodle"
    inv = Inventory("t", {h: Host(h, f"198.18.0.2{i}", ("web",)) for i, h in enumerate(("web1", "web2"), 1)})
    apache = APACHE.replace('DocumentRoot "/var/lib/harness-lab/default/www"', 'DocumentRoot "/srv/lms/public"')
    fake = FakeCluster()
    for h in ("web1", "web2"):
        fake(h).on(r"^cat /etc/apache2/apache2.conf$", (0, apache.format(host=h, sessions="database", pw="pw"), ""))
        fake(h).on(r"^findmnt ", (0, "fuse.glusterfs 198.18.0.41:moodledata /srv/moodledata\n", ""))
    fake("web1").on(r"^find /srv/lms -name '\*\.php' -type f -exec sha256sum '\{\}' \+$", (0, SHA_LINES, ""))
    fake("web2").on(r"^find /srv/lms ", (0, SHA_LINES.replace("5f1e", "5f1f"), ""))
    found = audit_cluster(Cluster(inv, transport_factory=lambda h: fake(h.name)))
    assert rules(found) == ["web-version-differs"]
