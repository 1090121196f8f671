"""The VT-x engine under Bochs + OVMF (the main path): guests start, print, exit,
run side by side, and a hostile one ends itself, never tern or its neighbours."""
import os
import re
import struct

import pytest

from ternhost import BUILD, TernHost, why_no_kvm_vmx

GUESTS = os.path.join(BUILD, "guests")


def broken_images(tmp):
    """hello.elf with its Multiboot checksum spoiled, and one cut short just after
    its Multiboot header, inside its first loadable segment."""
    with open(os.path.join(GUESTS, "hello.elf"), "rb") as f:
        image = bytearray(f.read())
    at = image.find(struct.pack("<I", 0x1BADB002))
    assert 0 <= at < 8192
    image[at + 8] ^= 0xff
    bad = os.path.join(tmp, "badsum.elf")
    with open(bad, "wb") as f:
        f.write(image)
    image[at + 8] ^= 0xff
    cut = os.path.join(tmp, "truncated.elf")
    with open(cut, "wb") as f:
        f.write(image[: at + 64])
    return [bad, cut]


PLATFORMS = ["bochs-uefi",
             pytest.param("kvm-uefi", marks=pytest.mark.skipif(
                 why_no_kvm_vmx() is not None,
                 reason=f"needs VT-x from KVM: {why_no_kvm_vmx()}"))]


@pytest.fixture(scope="module", params=PLATFORMS)
def host(request, tmp_path_factory):
    h = TernHost(request.param, name=f"vmx-{request.param}",
                 guests=broken_images(str(tmp_path_factory.mktemp("images"))))
    h.wait_prompt()
    yield h
    h.close()


def vms(host):
    return host.vms()


def test_info_modules(host):
    out = host.cmd("info modules")
    for name in ("hello", "spin", "memtouch", "hostile"):
        assert re.search(rf"^{name}\s+\d+\s+multiboot", out, re.M), out
    assert re.search(r"^badsum\s+\d+\s+invalid", out, re.M), out


def test_hello(host):
    vm = host.vm_start("hello -- greeting=1")
    host.expect(rf"\[vm{vm}\] hello from tern guest".encode())
    host.expect(rf"\[vm{vm}\] cmdline: hello greeting=1".encode())
    # the CPU model guests see: a hypervisor, no VT-x, tern's signature leaf
    host.expect(rf"\[vm{vm}\] cpuid: hypervisor=yes vmx=no".encode())
    host.expect(rf"\[vm{vm}\] cpuid: signature=TernTernTern".encode())
    host.expect(rf"\[vm{vm}\] PASS".encode())
    host.expect(rf"vm{vm} exited with status 0".encode())
    row = vms(host)[vm]
    assert row["state"] == "exited" and row["name"] == "hello" and row["mem"] == 16, row


def test_broken_images_refused(host):
    out = host.cmd("vm start badsum")
    assert out.startswith("error: ") and "checksum" in out, out
    out = host.cmd("vm start truncated")
    assert out.startswith("error: ") and "truncated" in out, out
    out = host.cmd("vm start nosuchimage")
    assert out.strip() == "error: no image 'nosuchimage' (see info modules)", out
    out = host.cmd("vm start hello mem=400000")
    assert out.startswith("error: ") and "mem=" in out, out
    out = host.cmd("vm start hello mem=4096")
    assert out.startswith("error: not enough host memory"), out
    assert host.info("version")["version"]
    # and a good guest still runs
    vm = host.vm_start("hello")
    host.expect(rf"vm{vm} exited with status 0".encode())


def progress(host, patterns, rounds, timeout=240):
    """Wait until every pattern (a regex with one number group) reached `rounds`."""
    seen = {p: 0 for p in patterns}
    while min(seen.values()) < rounds:
        i = host.expect([re.compile(p.encode()) for p in patterns], timeout=timeout)
        seen[patterns[i]] = max(seen[patterns[i]], int(host.proc.match.group(1)))
    return seen


def test_three_guests_share_the_cpu(host):
    a = host.vm_start("spin name=spin-a")
    b = host.vm_start("spin name=spin-b")
    m = host.vm_start("memtouch name=mt -- mib=2")
    # the monitor answers while they run, and each VM makes progress
    before = vms(host)
    progress(host, [rf"\[vm{a}\] spin: (\d+)", rf"\[vm{b}\] spin: (\d+)",
                    rf"\[vm{m}\] seq=(\d+) check=ok"], 2)
    after = vms(host)
    for vm in (a, b, m):
        assert after[vm]["state"] == "running", after
        assert after[vm]["exits"] > before[vm]["exits"], (before, after)
    # stop/cont by name and id
    assert host.cmd("stop spin-a").strip() == f"vm{a} paused"
    assert vms(host)[a]["state"] == "paused"
    assert host.cmd(f"cont {a}").strip() == f"vm{a} running"
    for name in ("spin-a", "spin-b", f"vm{m}"):
        host.cmd(f"kill {name}")
    rows = vms(host)
    assert all(rows[v]["state"] == "killed" for v in (a, b, m)), rows
    assert "error: no VM 'spin-a'" in host.cmd("kill spin-a")


def test_hostile_ends_itself_only(host):
    m = host.vm_start("memtouch name=witness -- mib=2")
    host.expect(rf"\[vm{m}\] seq=1 check=ok".encode(), timeout=120)
    h = host.vm_start("hostile")
    for line in (r"vmx: vmxon -> #UD", r"vmx: vmcall -> #UD",
                 r"msr: wrmsr 0x3a <- 0x5 -> #GP", r"msr: rdmsr 0x480 -> #GP",
                 r"port: inb 0x2000 -> 0xff", r"ram: touching 0xf0000000"):
        host.expect(rf"\[vm{h}\] hostile: {line}".encode(), timeout=120)
    host.expect(rf"vm{h} killed: read of guest-physical 0xf0000000 outside its 16 MiB "
                rf"of RAM, at rip 0x[0-9a-f]+".encode())
    t = host.vm_start("hostile -- escape=triple")
    host.expect(rf"vm{t} killed: triple fault at rip 0x[0-9a-f]+".encode(), timeout=120)
    # the witness runs on and its checks pass
    seq = progress(host, [rf"\[vm{m}\] seq=(\d+) check=ok"], 3)
    assert seq
    host.cmd(f"kill {m}")
    text = open(host.log_path, "rb").read().decode("latin-1")
    assert "check=FAIL" not in text
    assert host.info("version")["version"]
