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
