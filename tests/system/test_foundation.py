"""Foundation: tern boots on every platform, serves its monitor on COM1, survives
hostile input, powers off, and its launchers clean up after themselves."""
import random

import pytest
import signal

from ternhost import PROMPT, wait_gone

# What each platform must report. QEMU's TCG offers no VT-x: tern says so at boot
# and keeps serving its monitor.
EXPECT = {
    "bochs-uefi": {"loader": "uefi", "vmx": "yes", "ept": "yes"},
    "bochs-bios": {"loader": "multiboot2", "vmx": "yes"},
    "qemu-uefi": {"loader": "uefi", "vmx": "no"},
    "kvm-uefi": {"loader": "uefi", "vmx": "yes", "ept": "yes"},
}
CPU_FLAGS = ["vmx", "ept", "vpid", "unrestricted-guest", "pml", "ept-ad",
             "preemption-timer"]


# Tests that boot their own hosts come first: pytest runs a platform's tests in
# file order and boots the shared `booted` host lazily, so these don't compete
# for the CPU with an idle Bochs that still spins at 100%.

def test_poweroff(new_host):
    host = new_host()
    host.wait_prompt()
    assert host.poweroff() == 0
    assert not wait_gone(host.emulators), "emulator still running after poweroff"


def test_sigkill_launcher_then_relaunch(new_host):
    host = new_host()
    host.wait_prompt()
    assert host.emulators, "no emulator process found under the launcher"
    host.kill(signal.SIGKILL)
    host.close()        # asserts the emulator died with its launcher
    again = new_host()
    again.wait_prompt()
    assert again.info("version").get("version")


def test_two_hosts_at_once(new_host):
    a, b = new_host(), new_host()
    a.wait_prompt()
    b.wait_prompt()
    assert a.info("version").get("version")
    assert b.info("version").get("version")


def test_banner_and_prompt(booted, platform):
    assert f"loader: {EXPECT[platform]['loader']}" in booted.boot_text
    if EXPECT[platform]["vmx"] == "no":
        assert "vmx: unavailable" in booted.boot_text


def test_info_version(booted, platform):
    info = booted.info("version")
    assert info.get("version"), info
    assert info.get("loader") == EXPECT[platform]["loader"]


def test_info_cpu(booted, platform):
    info = booted.info("cpu")
    assert info.get("vendor"), info
    for key in CPU_FLAGS:
        assert info.get(key) in ("yes", "no"), f"{key}: {info.get(key)!r} in {info}"
    for key in ("vmx", "ept"):
        if key in EXPECT[platform]:
            assert info[key] == EXPECT[platform][key], info


def test_unknown_command(booted):
    out = booted.cmd("frobnicate")
    assert "error: unknown command 'frobnicate'" in out.splitlines(), out
    assert booted.info("version").get("version")


def test_long_line(booted):
    # Echo stops at the buffer's end, so this line cannot go through cmd().
    booted.send_raw(b"x" * 10240 + b"\r")
    booted.expect(rb"error: line too long \(at most \d+ characters\)", timeout=120)
    booted.expect(PROMPT)
    assert booted.info("version").get("version")


def test_help_lists_commands(booted):
    out = booted.cmd("help")
    for name in ("info version", "info mem", "info cpu", "poweroff", "vm start"):
        assert name in out, out


def test_info_mem(booted):
    mem = booted.info("mem")
    total, free, used = (int(mem[k].split()[0]) for k in ("total", "free", "used"))
    assert mem["total"].endswith(" KiB"), mem
    assert 400 * 1024 < total <= 512 * 1024, mem
    assert 0 < used < total and free + used == total, mem


@pytest.mark.parametrize("fault", ["pf", "print"])
def test_exception_dump(new_host, platform, fault):
    """An exception in tern prints a register dump and halts; it never reboots. `print`
    faults inside kprintf, with the console lock held: the dump must still come."""
    if platform != "qemu-uefi":
        pytest.skip("the dump is the same code on every platform; QEMU boots fastest")
    host = new_host()
    host.wait_prompt()
    host.send_raw(b"debug fault " + fault.encode() + b"\r")
    host.expect(rb"unexpected exception 14 \(#PF page fault\)")
    host.expect(rb"cr0 [0-9a-f]{16}  cr2 0000000000000008")
    host.expect(rb"tern halted")
    # halted, not rebooted: no second banner arrives
    with pytest.raises(AssertionError):
        host.expect(rb"tern \d+\.\d+\.\d+ \(loader", timeout=5)


def test_random_bytes(booted):
    noise = random.Random(20240601).randbytes(4096)
    # The noise holds complete lines (each answered by an error and a prompt) and
    # leaves one open: end it, then skip every answer up to that of `info version`.
    booted.send_raw(noise + b"\r\rinfo version\r")
    booted.expect(rb"\nversion: [^\r\n]+", timeout=120)
    booted.expect(PROMPT)
    assert booted.info("version").get("version")
