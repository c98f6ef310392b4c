"""The keepalived notify log parser, on a director guest's console captured in the LVS lab."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.lab._paths import LabPaths
from harness.lab._render import render
from harness.lab._topology import build_topology
from harness.parsers.keepalived_notify import Transition, first_transition, last_transition, parse_notify_log

SAMPLES = Path(__file__).parent / "samples"
# dir2's console (STATE/guests/dir2/console.log) over a failover and the preempt back: keepalived's
# own messages, the kernel's, sshd's, CR/CRLF endings, and the notify lines among them
CONSOLE = (SAMPLES / "lvs_guest_console.log").read_bytes().decode()  # CRs kept, as the reader does


def test_console_sample_yields_only_the_notify_lines_in_file_order() -> None:
    got = parse_notify_log(CONSOLE)
    assert [(t.host, t.instance, t.state, t.priority) for t in got] == [
        ("dir2", "VI_WEB", "BACKUP", 100), ("dir2", "VI_DB", "BACKUP", 100),
        ("dir2", "VI_DB", "MASTER", 100), ("dir2", "VI_WEB", "MASTER", 100),
        ("dir2", "VI_DB", "BACKUP", 100), ("dir2", "VI_WEB", "BACKUP", 100),
        ("dir2", "VI_DB", "MASTER", 100), ("dir2", "VI_WEB", "MASTER", 100),
        ("dir2", "VI_DB", "BACKUP", 100), ("dir2", "VI_WEB", "BACKUP", 100),
    ]
    assert got[2] == Transition(1796223283.469557111, "dir2", "VI_DB", "MASTER", 100, 104)
    # keepalived's "(VI_WEB) Entering MASTER STATE" lines carry whole seconds only: not ours
    assert "Entering MASTER STATE" in CONSOLE and all(t.line != 0 for t in got)


def test_takeover_is_the_earliest_master_line_after_a_moment_not_the_first_in_the_file() -> None:
    got = parse_notify_log(CONSOLE)
    web = first_transition(got, instance="VI_WEB", state="MASTER", after=1796223290.0)
    assert web is not None and web.time == 1796223301.805143671 and web.line == 160
    assert first_transition(got, instance="VI_WEB", state="MASTER", after=1796223302.0) is None
    assert first_transition(got, instance="VI_WEB", state="MASTER", after=0, host="dir1") is None
    # two notify scripts run at once: the file holds VI_DB BACKUP before the earlier VI_WEB BACKUP
    last = last_transition(got, instance="VI_WEB", before=1796223400.0)
    assert last is not None and (last.state, last.time) == ("BACKUP", 1796223312.339564663)
    db_then_web = [t for t in got if t.time > 1796223312.0]
    assert [t.instance for t in db_then_web] == ["VI_DB", "VI_WEB"] and db_then_web[1].time < db_then_web[0].time


def test_lines_of_the_older_template_and_damaged_lines() -> None:
    text = (
        # the template before: two `date` calls, 40 ms apart in a guest; the epoch is the first
        "1796223078.770492086 2026-12-02T14:51:18.812906166Z dir1 VI_WEB MASTER 150\n"
        "junk from the kernel 1796223078.8 2026-12-02T14:51:18Z dir1 VI_DB FAULT\r\n"
        "1796223078.9 2026-12-02T14:51:18Z dir1 VI_DB SLEEPING 150\n"  # not a keepalived state
        "1796223078.9 dir1 VI_DB MASTER 150\n"  # no ISO time: not a notify line
        "1796223079 2026-12-02T14:51:19Z dir1 VI_DB MASTER 150\n"  # no sub-second part
    )
    got = parse_notify_log(text)
    assert [(t.time, t.instance, t.state, t.priority, t.line) for t in got] == [
        (1796223078.770492086, "VI_WEB", "MASTER", 150, 1), (1796223078.8, "VI_DB", "FAULT", None, 2)]


def test_the_rendered_notify_script_writes_lines_the_parser_reads(tmp_path: Path) -> None:
    # run the real template with sh (its /run/keepalived redirected into tmp_path)
    topo = build_topology("default", "198.18.0.0/24")
    paths = LabPaths(tmp_path)
    log = tmp_path / "notify.log"
    copy = "/run/keepalived/notify.log"  # an LVS guest's copy of its console lines
    script = render("keepalived-notify.sh", host="dir1", log=log, copy=copy).replace("/run/keepalived", str(tmp_path / "run"))
    assert topo.host("dir1").address == "198.18.0.11" and paths.state_dir == tmp_path
    (tmp_path / "notify.sh").write_text(script)
    for state in ("BACKUP", "MASTER"):
        subprocess.run(["sh", str(tmp_path / "notify.sh"), "INSTANCE", "VI_WEB", state, "150"], check=True, timeout=10)
    got = parse_notify_log(log.read_text())
    assert [(t.host, t.instance, t.state, t.priority) for t in got] == [("dir1", "VI_WEB", "BACKUP", 150),
                                                                          ("dir1", "VI_WEB", "MASTER", 150)]
    assert (tmp_path / "run" / "VI_WEB.state").read_text() == "MASTER\n"
    assert (tmp_path / "run" / "notify.log").read_text() == log.read_text()  # the copy, line for line
    # without a copy (a HAProxy director: its log is already a file) none is written
    (tmp_path / "run" / "notify.log").unlink()
    plain = render("keepalived-notify.sh", host="dir1", log=log, copy="").replace("/run/keepalived", str(tmp_path / "run"))
    (tmp_path / "notify.sh").write_text(plain)
    subprocess.run(["sh", str(tmp_path / "notify.sh"), "INSTANCE", "VI_WEB", "BACKUP", "150"], check=True, timeout=10)
    assert not (tmp_path / "run" / "notify.log").exists() and len(parse_notify_log(log.read_text())) == 3
    # one `date` for both forms: the epoch and the ISO time are the same instant, to the nanosecond
    for line in log.read_text().splitlines():
        epoch, iso = line.split()[:2]
        assert iso.endswith(f".{epoch.split('.')[1]}Z"), line
