"""``tc qdisc show`` and tc's unknown-kind error, on output captured on the lab machine."""

from __future__ import annotations

from pathlib import Path

from harness.parsers.tc import Qdisc, has_root_qdisc, parse_qdisc_show, qdisc_kind_unknown

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def test_our_tbf_root_qdisc_is_read_with_kind_handle_and_parent() -> None:
    # `tc qdisc show dev va root` after `tc qdisc add dev va root handle fa17: tbf rate 1mbit ...`
    assert parse_qdisc_show(sample("tc_qdisc_root_tbf.txt")) == [Qdisc("tbf", "fa17:", "root", None)]
    assert has_root_qdisc(sample("tc_qdisc_root_tbf.txt"), "fa17:")


def test_a_default_or_foreign_root_qdisc_is_not_ours() -> None:
    assert parse_qdisc_show(sample("tc_qdisc_root_noqueue.txt")) == [Qdisc("noqueue", "0:", "root", None)]
    assert not has_root_qdisc(sample("tc_qdisc_root_noqueue.txt"), "fa17:")
    assert not has_root_qdisc(sample("tc_qdisc_root_htb.txt"), "fa17:")
    assert has_root_qdisc(sample("tc_qdisc_root_htb.txt"), "1:")


def test_the_unfiltered_listing_names_each_device() -> None:
    # `tc qdisc show` in the machine's root namespace
    assert parse_qdisc_show(sample("tc_qdisc_show_all.txt")) == [
        Qdisc("noqueue", "0:", "root", "lo"),
        Qdisc("pfifo_fast", "0:", "root", "eth0"),
    ]


def test_a_child_qdisc_with_our_handle_is_not_a_root_qdisc() -> None:
    text = "qdisc htb 1: root refcnt 3 r2q 10 default 0x10\nqdisc tbf fa17: parent 1:10 rate 1Mbit burst 4Kb lat 400ms\n"
    assert parse_qdisc_show(text)[1] == Qdisc("tbf", "fa17:", "1:10", None)
    assert not has_root_qdisc(text, "fa17:")


def test_statistics_lines_and_empty_output_are_skipped() -> None:
    text = (
        "qdisc netem fa17: root refcnt 2 limit 1000 delay 50ms  10ms\n"
        " Sent 1234 bytes 17 pkt (dropped 0, overlimits 0 requeues 0)\n"
        " backlog 0b 0p requeues 0\n"
    )
    assert parse_qdisc_show(text) == [Qdisc("netem", "fa17:", "root", None)]
    assert parse_qdisc_show("") == []
    assert not has_root_qdisc("", "fa17:")


def test_netem_missing_from_the_kernel_is_recognised_from_tcs_stderr() -> None:
    # `tc qdisc add dev va root handle fa17: netem delay 50ms` on this kernel, exit 2
    assert qdisc_kind_unknown(sample("tc_netem_unknown.stderr"))
    assert qdisc_kind_unknown("Unknown qdisc \"netem\", hence option \"delay\" is unparsable\n")
    assert not qdisc_kind_unknown('Cannot find device "eth9"\n')
    assert not qdisc_kind_unknown("RTNETLINK answers: No such file or directory\n")
