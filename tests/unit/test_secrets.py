"""The one scrubber (harness._secrets): the forms a secret takes, the values the run knows, and
text that must come through unchanged (ports, pidfiles, prose)."""

from __future__ import annotations

import json
import time

import pytest

from harness._secrets import add_env_secrets, add_secret, dumps_scrubbed, scrub_data, scrub_file, suspicious
from harness.report import scrub  # the report's import path: the same function

pytestmark = pytest.mark.usefixtures("known_secrets_restored")


@pytest.mark.parametrize(
    "raw, secret",
    [
        ("/usr/sbin/app --password S3cr3t-a --port 80", "S3cr3t-a"),
        ("/usr/sbin/app --password=S3cr3t-b", "S3cr3t-b"),
        ("/usr/sbin/app --db-password 'two words' -v", "two words"),
        ("app --db_pass=S3cr3t-c", "S3cr3t-c"),
        ("mysql -uroot -pS3cr3t-d -h db1", "S3cr3t-d"),
        ("mysql -u root -p S3cr3t-e harness", "S3cr3t-e"),
        ("/usr/bin/mysqladmin -h 127.0.0.1 -p S3cr3t-f status", "S3cr3t-f"),
        ("mariadb-dump -pS3 harness", "-pS3"),
        ("sshpass -p S3cr3t-g ssh -p 22 web1", "S3cr3t-g"),
        ("daemon -pS3cr3t-h", "S3cr3t-h"),
        ("login failed: password=S3cr3t-i user=admin", "S3cr3t-i"),
        ("PASSWORD: S3cr3t-j", "S3cr3t-j"),
        ("{'password': 'S3cr3t k'}", "S3cr3t k"),
        ('{"db_password": "S3cr3t-l"}', "S3cr3t-l"),
        ("curl -H 'token tok3n-m1' http://x/", "tok3n-m1"),
        ("app --token tok3n-n2", "tok3n-n2"),
        ("Authorization: Basic dXNlcjpTM2NyM3Q=", "dXNlcjpTM2NyM3Q="),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc", "eyJhbGci"),
        ("{'Authorization': 'Bearer b34rer-tok3n'}", "b34rer-tok3n"),
        ("MYSQL_PWD=S3cr3t-o mysql -e 'select 1'", "S3cr3t-o"),
        ("HARNESS_DB_PASSWORD=S3cr3t-p exec app", "S3cr3t-p"),
        ("env APP_SECRET=S3cr3t-q app", "S3cr3t-q"),
        ("GET http://admin:S3cr3t-r@127.0.0.1/ failed", "S3cr3t-r"),
        ("mysql://harness:S3cr3t@s@db1/harness", "S3cr3t@s"),
        ("Cookie: MoodleSession=abcdef0123; MOODLEID1_=x", "abcdef0123"),
        ("Set-Cookie: MoodleSession=c00kie-v; path=/", "c00kie-v"),
        ("redirect to /login?MoodleSession=c00kie-w&x=1", "c00kie-w"),
        ("redirect ?sesskey=Zx9kQ2 failed", "Zx9kQ2"),
        ("GRANT ALL ON *.* TO 'h'@'%' IDENTIFIED BY 'S3cr3t-x'", "S3cr3t-x"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXk"),
    ],
)
def test_every_common_form_is_scrubbed(raw, secret):
    out = scrub(raw)
    assert secret not in out and "***" in out or "[redacted key]" in out


@pytest.mark.parametrize(
    "text",
    [
        "ssh -p 22 web1", "ssh -p22 web1", "ps -p 1234 -o pid=", "ps -p1234",
        "/usr/sbin/haproxy -D -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid",
        "keepalived -p /run/keepalived.pid", "mkdir -p /var/lib/x", "cp -pr a b",
        "find /proc -path '*/fd/*' -print", "docker run -p 8080:80 img",
        "connect timeout to 198.18.0.100:80 after 500 ms (ssh -p 22, key k12)",
        "the token is invalid", "token expired", "Access denied for user 'root'@'localhost' (using password: YES)",
        "vip-probe-web get ok 200", "--bypass cache", "http://198.18.0.100:80/login/index.php",
        "mysql -h db1 -P 3306 -u harness -e 'select 1' && ssh -p 2222 web1",
    ],
)
def test_ports_pidfiles_and_prose_are_kept(text):
    assert scrub(text) == text


def test_known_values_are_scrubbed_verbatim_anywhere():
    value = "kn0wn-V4lue!"
    assert "kn0wn-V4lue!" in scrub(f"rows: [{value}]")
    assert add_secret(value)
    assert scrub(f"rows: [{value}] and again{value}") == "rows: [***] and again***"
    assert not add_secret("abc") and not add_secret("") and not add_secret(None)  # too short: the forms only
    assert scrub("abc abc") == "abc abc"


def test_secret_named_environment_variables_are_known_values():
    env = {"HARNESS_DB_PASSWORD": "3nv-Passw0rd", "MYSQL_PWD": "3nv-mysql-pwd", "CI_JOB_TOKEN": "3nv-t0ken-123",
           "PWD": "/home/someone", "OLDPWD": "/tmp/before", "USE_TOKEN": "true", "TOKEN_FILE": "/run/secrets/t",
           "SHORT_PASSWORD": "ab", "HOME": "/root"}
    names = add_env_secrets(env)
    assert sorted(names) == ["CI_JOB_TOKEN", "HARNESS_DB_PASSWORD", "MYSQL_PWD"]
    text = "logged 3nv-Passw0rd 3nv-mysql-pwd 3nv-t0ken-123 in /home/someone, true"
    assert scrub(text) == "logged *** *** *** in /home/someone, true"


def test_scrubbed_json_lines_stay_json_and_keys_are_redacted():
    add_secret('qu"ote\\back-é')
    data = {"error": 'failed: qu"ote\\back-é and --password=ab"cd', "password": 12345, "n": 1.5,
            "value": {"Authorization": "Bearer abcdefghij"}, "obj": ValueError("token S3cr3t-zz")}
    line = dumps_scrubbed(data)
    back = json.loads(line)
    assert "qu" not in back["error"] and "ab" not in back["error"]
    assert back["password"] == "***" and back["n"] == 1.5 and back["value"] == {"Authorization": "***"}
    assert back["obj"] == "token ***"  # str() of a non-JSON object is scrubbed, not dumped raw
    clean = {"index": 3, "time": 1.25, "process": "vip-probe-web", "type": "ok", "f": "get", "value": 200}
    assert dumps_scrubbed(clean) == json.dumps(clean) and not suspicious(dumps_scrubbed(clean))
    assert scrub_data({"k": ("a", None, True)}) == {"k": ["a", None, True]}


def test_a_text_file_from_a_child_process_is_scrubbed_in_place(tmp_path):
    log = tmp_path / "locust.log"
    log.write_text("[2026] login with password=S3cr3t-log ok\nplain line\n", encoding="utf-8")
    samples = tmp_path / "locust-samples.jsonl"
    samples.write_text(json.dumps({"error": 'HTTPError: Cookie: MoodleSession=c00k "x"'}) + "\n{torn", encoding="utf-8")
    binary = tmp_path / "shot.png"
    binary.write_bytes(b"\x89PNG\0password=S3cr3t")
    assert scrub_file(log) and scrub_file(samples) and not scrub_file(binary) and not scrub_file(tmp_path / "missing")
    assert log.read_text() == "[2026] login with password=*** ok\nplain line\n"
    first, torn = samples.read_text().split("\n")
    assert json.loads(first) == {"error": "HTTPError: Cookie: ***"} and torn == "{torn"
    assert not scrub_file(log)  # nothing left: unchanged


def test_clean_records_cost_one_search():
    # the history runs this per record: a clean record is dumped once and searched once
    rec = {"index": 10, "time": 12.345678, "process": "vip-probe-web", "type": "ok", "f": "get", "value": 200,
           "latency_ms": 1.234, "node": "web1"}
    n = 20_000
    t0 = time.perf_counter()
    for _ in range(n):
        dumps_scrubbed(rec)
    scrubbed = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        json.dumps(rec, default=str)
    plain = time.perf_counter() - t0
    assert scrubbed < 3 * plain + 0.05, (scrubbed, plain)


def test_an_authorization_header_in_a_command_keeps_the_rest_of_the_command():
    line = "web1: command \"curl -H 'Authorization: Bearer b34rer-x1' 'http://127.0.0.1/stop'\" exited 7"
    assert scrub(line) == "web1: command \"curl -H 'Authorization: ***' 'http://127.0.0.1/stop'\" exited 7"
