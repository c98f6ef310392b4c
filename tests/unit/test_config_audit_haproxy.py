"""haproxy.cfg parsed, and the static audit's HAProxy rules, on literal configs rendered like the
HAProxy lab's (harness/lab/templates/haproxy.cfg); the sound pair has only an INFO finding."""

from __future__ import annotations

import pytest

from harness.config_audit import Severity, exit_status
from harness.config_audit.haproxy import HaproxyDirector, haproxy_findings
from harness.errors import ParseError
from harness.parsers.haproxy_cfg import detection_time_s, parse_haproxy_cfg, parse_time_s

PATH = "/etc/haproxy/haproxy.cfg"
WEB = {"web": "198.18.0.100:80"}


def cfg(*, servers: tuple[str, ...] = ("web1 198.18.0.21:80 check", "web2 198.18.0.22:80 check"),
        redispatch: bool = True, inter: str = "1s", db: bool = True, bind: str = "198.18.0.100:80") -> str:
    return ("global\n    maxconn 4096\n\ndefaults\n    timeout connect 2s\n    timeout check 1s\n    retries 3\n"
            + ("    option redispatch\n" if redispatch else "")
            + f"\nfrontend web\n    mode http\n    bind {bind}\n    default_backend web\n\n"
            "backend web\n    mode http\n    option httpchk GET /healthz.php\n"
            f"    default-server inter {inter} fastinter 200ms downinter 1s fall 2 rise 2\n"
            + "".join(f"    server {s}\n" for s in servers)
            + ("\nfrontend db\n    bind 198.18.0.101:3306\n    default_backend db\n\nbackend db\n"
               "    default-server port 9200 inter 1s fall 2\n    server db1 198.18.0.31:3306 check\n"
               "    server db2 198.18.0.32:3306 check backup\n" if db else ""))


def pair(a: str | None = None, b: str | None = None) -> list[HaproxyDirector]:
    return [HaproxyDirector("dir1", PATH, parse_haproxy_cfg(a or cfg(), source=PATH)),
            HaproxyDirector("dir2", PATH, parse_haproxy_cfg(b or cfg(), source=PATH))]


def rules(found: list) -> list[str]:
    return sorted(f.rule for f in found)


def test_the_lab_shaped_config_parses_with_defaults_and_line_numbers() -> None:
    c = parse_haproxy_cfg(cfg(), source=PATH)
    web = c.backends()["web"]
    assert [s.name for s in web.servers] == ["web1", "web2"] and web.redispatch and web.timeout_check == 1.0
    s = web.servers[0]
    assert (s.check.check, s.check.inter, s.check.fastinter, s.check.fall, s.lineno) == (True, 1.0, 0.2, 2, 19)
    assert c.backends()["db"].servers[1].check.backup
    assert c.frontends()["web"].binds == ("198.18.0.100:80",) and c.frontends()["web"].default_backend == "web"
    assert detection_time_s(web, s) == pytest.approx(1 + 1 + 1 * (0.2 + 1))
    assert parse_time_s("1500") == 1.5 and parse_time_s("2m") == 120.0
    with pytest.raises(ParseError, match=r"haproxy.cfg: line 1: a setting outside any section"):
        parse_haproxy_cfg("bind 1.2.3.4:80\n")
    with pytest.raises(ParseError, match="not a HAProxy time"):
        parse_haproxy_cfg("defaults\n    timeout check soon\n")


def test_the_sound_pair_has_only_the_information_that_a_silent_server_outlives_the_promise() -> None:
    found = haproxy_findings(pair(), web_failover_s=3.0, web_binds=WEB)
    assert rules(found) == ["haproxy-detection-over-promise"] * 4  # web1, web2 on dir1 and dir2
    assert all(f.severity is Severity.INFO for f in found) and exit_status(found) == 0
    assert "3.20 s" in found[0].message and "option redispatch" in found[0].message
    assert haproxy_findings(pair(), web_failover_s=4.0, web_binds=WEB) == []


def test_without_redispatch_the_slow_detection_is_a_warning() -> None:
    found = haproxy_findings(pair(cfg(redispatch=False), cfg(redispatch=False)), web_failover_s=3.0, web_binds=WEB)
    assert {f.severity for f in found} == {Severity.WARNING} and exit_status(found) == 1


def test_a_backend_or_frontend_missing_on_the_standby_and_different_servers_are_critical() -> None:
    found = haproxy_findings(pair(b=cfg(db=False)), web_binds=WEB)
    assert rules(found) == ["haproxy-backend-missing", "haproxy-frontend-missing"]
    assert "backend db is on dir1 but not on dir2" in next(f.message for f in found if "backend" in f.rule)
    found = haproxy_findings(pair(b=cfg(servers=("web1 198.18.0.21:80 check",))), web_binds=WEB)
    assert rules(found) == ["haproxy-servers-differ"]
    assert haproxy_findings(pair(b=cfg(bind="198.18.0.200:80")), web_binds=WEB)[0].rule == "haproxy-binds-differ"


def test_a_server_without_check_is_critical_with_its_line() -> None:
    found = haproxy_findings(pair(b=cfg(servers=("web1 198.18.0.21:80 check", "web2 198.18.0.22:80"))),
                             web_binds=WEB)
    assert rules(found) == ["haproxy-no-health-check"]
    assert found[0].evidence[0].where() == f"dir2:{PATH}:20" and found[0].severity is Severity.CRITICAL
