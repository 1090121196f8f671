"""Every CPU of the host comes up (issue 17, first step): Bochs with 2 emulated CPUs
through OVMF (no ACPI tables there: the CPU list comes from UEFI's MP services), and
with 4 through the Bochs BIOS and GRUB (the ACPI MADT) with `cpus=3`. Each application
processor started must reach tern's C code, enter VMX operation and park, and answer a
wake-up IPI; the one past `cpus=` stays down and is listed so; the monitor and a guest
on CPU 0 still work.

QEMU (TCG, no VT-x) with 2 CPUs as well: OVMF with ACPI tables there, an AMD CPU model;
the AP comes up and says that VMX is off.

One boot per configuration, shared by its checks (Bochs with 4 CPUs is slow to boot)."""
import re

import pytest

from ternhost import TernHost

# (platform, emulated CPUs, tern's command line, the CPU list's source)
CONFIGS = [
    ("bochs-uefi", 2, "", "firmware"),
    ("bochs-bios", 4, "cpus=3", "acpi"),
    ("qemu-uefi", 2, "", "acpi"),
]
BOOT_TIMEOUT = 300    # OVMF starts its own APs first: 4 CPUs take a while under Bochs


def config_id(c):
    return f"{c[0]}-{c[1]}cpu" + (f"-{c[2].replace('=', '')}" if c[2] else "")


@pytest.fixture(scope="module", params=CONFIGS, ids=config_id)
def smp_host(request):
    platform, cpus, cmdline, source = request.param
    host = TernHost(platform, name=f"smp-{config_id(request.param)}", cmdline=cmdline,
                    cpus=cpus)
    host.limit = int(cmdline[5:]) if cmdline.startswith("cpus=") else None
    host.source = source
    host.vmx = platform.startswith("bochs")
    try:
        host.wait_prompt(timeout=BOOT_TIMEOUT)
        yield host
    finally:
        host.close()


def rows(info):
    """The `cpuN: key=value ... [why=text]` rows of `info cpu`, by N."""
    out = {}
    for key, val in info.items():
        m = re.fullmatch(r"cpu(\d+)", key)
        if m:
            val, _, why = val.partition(" why=")
            out[int(m.group(1))] = dict(kv.split("=", 1) for kv in val.split())
            if why:
                out[int(m.group(1))]["why"] = why
    return out


def test_boot_says_what_came_up(smp_host):
    n, up = smp_host.cpus, smp_host.limit or smp_host.cpus
    want = (f"smp: {n} CPUs ({smp_host.source}): cpu0 boot, {up - 1} parked "
            f"({up - 1 if smp_host.vmx else 0} with vmx on), 0 failed")
    want += f", {n - up} disabled by cpus={up}\n" if smp_host.limit else "\n"
    assert want in smp_host.boot_text, smp_host.boot_text
    if not smp_host.vmx:
        for i in range(1, n):
            assert f"smp: cpu{i} (apic {i}): vmx off: not enabled on the boot CPU" \
                in smp_host.boot_text, smp_host.boot_text


def test_info_cpu_lists_every_cpu(smp_host):
    n = smp_host.cpus
    info = smp_host.info("cpu")
    # the fields other tests read stay
    assert int(info["uptime-ms"]) > 0 and int(info["tsc-mhz"]) > 0, info
    assert info["vmx"] == ("yes" if smp_host.vmx else "no"), info
    on = "on" if smp_host.vmx else "off"
    assert info["cpus"] == str(n) and info["cpus-source"] == smp_host.source, info
    cpu = rows(info)
    assert sorted(cpu) == list(range(n)), info
    assert len({c["apic"] for c in cpu.values()}) == n, info
    assert cpu[0]["state"] == "online" and cpu[0]["vmx"] == on, info
    up = smp_host.limit or n
    assert info["cpus-up"] == str(up), info
    assert info["cpus-limit"] == (str(smp_host.limit) if smp_host.limit else "none"), info
    for i in range(up, n):
        assert cpu[i]["state"] == "disabled" and cpu[i]["vmx"] == "off", info
        assert cpu[i]["wakeups"] == "0", info
    for i in range(1, up):
        # parked, in VMX operation where there is VT-x, and it woke for the IPI
        # `info cpu` sent it
        assert cpu[i]["state"] == "parked" and cpu[i]["vmx"] == on, info
        if not smp_host.vmx:
            assert cpu[i]["why"] == "not enabled on the boot CPU", info
        assert cpu[i]["answered"] == "yes" and int(cpu[i]["wakeups"]) >= 1, info


def test_guest_runs_and_aps_stay_parked(smp_host):
    if smp_host.vmx:
        vm = smp_host.vm_start("hello -- greeting=1")
        smp_host.expect(rf"\[vm{vm}\] PASS".encode(), timeout=120)
        smp_host.expect(rf"vm{vm} exited with status 0".encode(), timeout=60)
    before = rows(smp_host.info("cpu"))
    after = rows(smp_host.info("cpu"))
    for i in range(1, smp_host.cpus):
        if i >= (smp_host.limit or smp_host.cpus):
            assert after[i]["state"] == "disabled" and after[i]["wakeups"] == "0", after
            continue
        assert after[i]["state"] == "parked" and after[i]["answered"] == "yes", after
        assert int(after[i]["wakeups"]) > int(before[i]["wakeups"]), (before, after)
