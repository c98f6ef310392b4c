"""Pure parts of harness.lab._uml: MAC derivation, spec validation, kernel command line, the
init config file, availability reasons, ICMP checksum; and the seccomp launcher's filter
(compiled with gcc and checked against a real ptrace, no UML and no root network needed)."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from harness.errors import LabError
from harness.lab import _uml
from harness.lab._uml import (
    GUEST_CPU_ENV,
    GuestSpec,
    build_launcher,
    guest_config,
    kernel_command_line,
    mac_for_address,
    uml_available,
)


def _spec(**kw: object) -> GuestSpec:
    base: dict[str, object] = dict(name="dir1", address="198.18.200.11", prefix_len=24, tap="humlt-d1", bridge="humlt0")
    base.update(kw)
    return GuestSpec(**base)  # type: ignore[arg-type]


# -- MAC ----------------------------------------------------------------------------------------


def test_mac_is_derived_from_the_last_three_address_bytes() -> None:
    assert mac_for_address("198.18.200.11") == "02:48:4c:12:c8:0b"
    assert mac_for_address("10.0.0.255") == "02:48:4c:00:00:ff"
    # stable across calls and distinct for distinct hosts on one /24
    assert mac_for_address("198.18.0.11") != mac_for_address("198.18.0.12")
    assert _spec().mac == "02:48:4c:12:c8:0b"
    assert _spec(mac_override="02:00:00:00:00:01").mac == "02:00:00:00:00:01"


def test_mac_first_byte_is_unicast_and_locally_administered() -> None:
    first = int(mac_for_address("192.0.2.1").split(":")[0], 16)
    assert first & 0x01 == 0 and first & 0x02 == 2


# -- spec validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"address": "198.18.200.300"}, "address '198.18.200.300'"),
        ({"prefix_len": 33}, "prefix_len 33"),
        ({"tap": "humlt-much-too-long"}, "tap 'humlt-much-too-long'"),
        ({"bridge": ""}, "bridge ''"),
        ({"gateway": "10.0.0.1"}, "gateway 10.0.0.1 is outside 198.18.200.0/24"),
        ({"name": "bad name"}, "name must be"),
        ({"mem": "lots"}, "mem 'lots'"),
        ({"env": {"BAD-KEY": "x"}}, "env key 'BAD-KEY'"),
        ({"modules": ("ip_vs; reboot",)}, "module name"),
    ],
)
def test_spec_rejects_bad_fields_naming_them(kw: dict[str, object], needle: str) -> None:
    with pytest.raises(LabError) as exc:
        _spec(**kw)
    assert needle in str(exc.value)
    assert "'dir1'" in str(exc.value) or "bad name" in str(exc.value)


# -- kernel command line ------------------------------------------------------------------------


def test_kernel_command_line_has_the_documented_boot_arguments() -> None:
    args = kernel_command_line(_spec(mem="128M"), conf_path=Path("/s/guests/dir1/conf.sh"), uml_dir=Path("/s/uml"))
    for expected in (
        "umid=dir1",
        "uml_dir=/s/uml",
        "mem=128M",
        "root=/dev/root",
        "rootfstype=hostfs",
        "rootflags=/",
        "ro",
        f"init={_uml.GUEST_INIT}",
        "con0=fd:0,fd:1",
        "vec0:transport=tap,ifname=humlt-d1,mac=02:48:4c:12:c8:0b",
        "HUML_CONF=/s/guests/dir1/conf.sh",
    ):
        assert expected in args
    env = dict(a.split("=", 1) for a in args if a.split("=", 1)[0] in GUEST_CPU_ENV)
    assert env == GUEST_CPU_ENV
    # the masks that make guest programs avoid AVX, incl. the memcpy selector (docs/uml.md)
    hw = env["GLIBC_TUNABLES"].split("=", 1)[1].split(",")
    for feature in ("-AVX", "-AVX2", "-AVX512F", "-AVX_Fast_Unaligned_Load"):
        assert feature in hw
    assert not any(" " in a for a in args)


def test_kernel_command_line_refuses_whitespace() -> None:
    with pytest.raises(LabError, match="whitespace"):
        kernel_command_line(_spec(), conf_path=Path("/state dir/conf.sh"), uml_dir=Path("/s/uml"))


# -- init config file ---------------------------------------------------------------------------


def test_guest_config_round_trips_through_sh(tmp_path: Path) -> None:
    """The file is sourced by dash as PID 1: hostile values must come back verbatim, unexecuted."""
    evil = "$(touch " + str(tmp_path / "pwned") + "); 'quoted' \"x\""
    spec = _spec(gateway="198.18.200.1", ip_forward=True, env={"LAB_NOTE": evil}, user_script=Path("/x/start dir.sh"))
    conf = tmp_path / "conf.sh"
    conf.write_text(guest_config(spec, ssh_dir=tmp_path / "ssh"))
    script = '. "$1"; printf "%s\\n" "$HUML_ADDRESS/$HUML_PREFIX" "$HUML_GATEWAY" "$HUML_FORWARD" "$HUML_SSHD" ' \
        '"$HUML_USER_SCRIPT" "$HUML_MODULES"; sh -c \'printf "%s\\n" "$LAB_NOTE"\''
    out = subprocess.run(["sh", "-c", script, "sh", str(conf)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "198.18.200.11/24",
        "198.18.200.1",
        "1",
        "1",
        "/x/start dir.sh",
        "ip_vs ip_vs_rr ip_vs_wrr ip_vs_wlc ip_vs_sh sch_netem",
        evil,  # exported: reaches the user script's children
    ]
    assert not (tmp_path / "pwned").exists()


def test_guest_config_without_ssh_dir_disables_sshd() -> None:
    assert "HUML_SSHD=0" in guest_config(_spec(sshd=True), ssh_dir=None).splitlines()


def test_guest_init_script_is_valid_posix_sh() -> None:
    if shutil.which("dash") is None:
        pytest.skip("dash not installed")
    subprocess.run(["dash", "-n", str(_uml.GUEST_INIT)], check=True)
    text = _uml.GUEST_INIT.read_text()
    # the marker wait_ready looks for is the one init prints
    assert 'log "HUML-READY' in text and _uml.READY_MARKER == "huml-init: HUML-READY"


# -- availability -------------------------------------------------------------------------------


def _fake_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    linux = tmp_path / "linux.uml"
    linux.write_text("#!/bin/sh\n")
    linux.chmod(0o755)
    mods = tmp_path / "modules"
    (mods / "6.1.176").mkdir(parents=True, exist_ok=True)
    (mods / "6.1.176" / "modules.dep").write_text("")
    tun = tmp_path / "tun"
    tun.write_text("")
    return linux, mods, tun


def _avail(tmp_path: Path, **kw: object) -> str | None:
    linux, mods, tun = _fake_tree(tmp_path)
    args: dict[str, object] = dict(
        linux=linux, modules_root=mods, tun=tun, euid=0,
        which=lambda tool: f"/usr/bin/{tool}", kernel_version=lambda _p: "6.1.176",
    )  # fmt: skip
    args.update(kw)
    return uml_available(**args)  # type: ignore[arg-type]


def test_available_when_everything_is_there(tmp_path: Path) -> None:
    assert _avail(tmp_path) is None


def test_unavailable_reasons_are_one_line_and_name_the_fix(tmp_path: Path) -> None:
    cases = {
        "need root": dict(euid=1000),
        "apt-get install user-mode-linux": dict(linux=tmp_path / "nope"),
        "no UML modules dir": dict(kernel_version=lambda _p: "9.9.9"),
        "printed no kernel version": dict(kernel_version=lambda _p: None),
        "TUN/TAP": dict(tun=tmp_path / "no-tun"),
        "gcc missing: apt-get install gcc": dict(which=lambda t: None if t == "gcc" else "/x"),
        "modprobe missing: apt-get install kmod": dict(which=lambda t: None if t == "modprobe" else "/x"),
    }
    for needle, kw in cases.items():
        reason = _avail(tmp_path, **kw)
        assert reason is not None and needle in reason, (needle, reason)
        assert "\n" not in reason


def test_build_launcher_without_gcc_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_uml.shutil, "which", lambda _name: None)
    with pytest.raises(LabError, match=r"gcc not found.*apt-get install .*gcc"):
        build_launcher(tmp_path)


# -- ICMP checksum ------------------------------------------------------------------------------


def test_icmp_checksum_matches_rfc1071_example() -> None:
    # RFC 1071 section 3 example words 0001 f203 f4f5 f6f7 -> sum ddf2, checksum 220d
    assert _uml._checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    # a packet carrying its own checksum sums to zero
    pkt = bytearray(bytes.fromhex("0800000012340001") + b"abc")
    pkt[2:4] = _uml._checksum(bytes(pkt)).to_bytes(2, "big")
    assert _uml._checksum(bytes(pkt)) == 0


# -- the seccomp launcher, against a real ptrace ------------------------------------------------

_PROBE_C = textwrap.dedent(
    r"""
    #include <errno.h>
    #include <signal.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <sys/prctl.h>
    #include <sys/ptrace.h>
    #include <sys/uio.h>
    #include <sys/wait.h>
    #include <unistd.h>
    #include <linux/elf.h>
    static int regset(pid_t pid, long req, long type) {
        static char buf[16384];
        struct iovec iov = { buf, sizeof buf };
        return ptrace(req, pid, (void *)type, &iov) == 0 ? 0 : errno;
    }
    int main(void) {
        pid_t pid = fork();
        if (pid == 0) { ptrace(PTRACE_TRACEME, 0, 0, 0); raise(SIGSTOP); _exit(0); }
        waitpid(pid, NULL, 0);
        char fp[512];
        printf("nnp=%d getxstate=%d setxstate=%d prstatus=%d getfpregs=%d\n",
               prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
               regset(pid, PTRACE_GETREGSET, NT_X86_XSTATE),
               regset(pid, PTRACE_SETREGSET, NT_X86_XSTATE),
               regset(pid, PTRACE_GETREGSET, NT_PRSTATUS),
               ptrace(PTRACE_GETFPREGS, pid, 0, fp) == 0 ? 0 : errno);
        kill(pid, SIGKILL);
        return 0;
    }
    """
)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc missing: apt-get install gcc")
def test_launcher_makes_only_the_xstate_regset_fail_with_eio(tmp_path: Path) -> None:
    launcher = build_launcher(tmp_path)
    assert build_launcher(tmp_path) == launcher  # cached: not rebuilt while newer than the source
    probe = tmp_path / "probe"
    (tmp_path / "probe.c").write_text(_PROBE_C)
    subprocess.run(["gcc", "-O0", "-o", str(probe), str(tmp_path / "probe.c")], check=True)

    plain = subprocess.run([str(probe)], capture_output=True, text=True, timeout=20, check=True).stdout
    wrapped = subprocess.run([str(launcher), str(probe)], capture_output=True, text=True, timeout=20, check=True).stdout
    fields = dict(kv.split("=") for kv in wrapped.split())
    assert fields == {"nnp": "1", "getxstate": "5", "setxstate": "5", "prstatus": "0", "getfpregs": "0"}, wrapped
    # without the launcher the same calls reach the kernel (GETREGSET xstate works there)
    assert dict(kv.split("=") for kv in plain.split())["getxstate"] == "0", plain


def test_launcher_without_arguments_prints_usage(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc missing")
    res = subprocess.run([str(build_launcher(tmp_path))], capture_output=True, text=True, timeout=20)
    assert res.returncode == 2 and "usage:" in res.stderr
