#!/usr/bin/python3
"""Benchmark (not a test): what tern's host CPUs give guests, and what reaching a guest on
another CPU costs (issue 17).

Boots Bochs (BIOS and GRUB: the ACPI MADT) with 4 emulated CPUs, once for each of
`cpus=1`, `cpus=2` and `cpus=4`, and runs the same four spin VMs (interrupts off, a line
every `every` loop iterations) placed by tern: the guests' throughput is their lines per
second of tern's clock, summed, and the scaling ratio is that against cpus=1. Then one
VM of 4 vCPUs placed by tern (the smp guest, each vCPU counting in a loop): its
counters' sum a second. Bochs runs its emulated CPUs in one host thread, so the figures
are in emulated time: they say what tern's scheduler and placement make of the CPUs,
not how fast Bochs is.

On the cpus=4 boot it then measures holds (CPU 0 reaching a VM at home on another CPU:
the wake-up IPI, the guest's exit, its VMCS put away) with `info registers` on an smp VM
of one vCPU (interrupts on) on CPU 1 and a spin VM (interrupts off) on CPU 2, and the
cross-CPU EPT flush each hold leaves (INVEPT and INVVPID on the home CPU before it enters
again), as `info cpu` reports them; and the round trip of a fixed IPI between two vCPUs
of one VM (the smp guest's own TSC figures), both on CPU 1 and on CPUs 1 and 2.

Usage: tests/bench/smp.py [--ms 20000]
"""
import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from ternhost import TernHost  # noqa: E402

EVERY = 20000000
VMS = 4


def uptime_ms(host):
    return int(host.info("cpu")["uptime-ms"])


def spin_lines(host, vm):
    return [int(n) for n in re.findall(rf"\[vm{vm}\] spin: (\d+)\r\n", host.console_text())]


def throughput(cpus, ms):
    """Four spin VMs on a host limited to `cpus` CPUs: their lines per second of tern's
    clock, summed, and where tern placed them."""
    host = TernHost("bochs-bios", name=f"bench-smp-{cpus}", cmdline=f"cpus={cpus}", cpus=4)
    try:
        host.wait_prompt(timeout=600)
        vms = [host.vm_start(f"spin mem=4 name=s{i} -- every={EVERY}") for i in range(VMS)]
        for vm in vms:
            host.expect(rf"\[vm{vm}\] spin: \d+\r\n".encode(), timeout=600)
        placed = {vm: host.vms()[vm]["cpu"] for vm in vms}
        first = {vm: spin_lines(host, vm)[-1] for vm in vms}
        t0 = uptime_ms(host)
        while uptime_ms(host) - t0 < ms:
            time.sleep(1)
        took = uptime_ms(host) - t0
        lines = sum(spin_lines(host, vm)[-1] - first[vm] for vm in vms)
        spread = one_vm(host, ms)
        costs = (holds(host), ipis(host)) if cpus == 4 else None
        return lines * 1000 / took, placed, took, spread, costs
    finally:
        host.close()


def beat(host, vm):
    """The smp guest's next heartbeat: its number and each vCPU's counter."""
    host.expect(rf"\[vm{vm}\] smp: beat=(\d+) progress=([\d,]+) pings=ok\r\n".encode(),
                timeout=600)
    k, progress = host.proc.match.groups()
    return int(k), [int(x) for x in progress.decode().split(",")]


def one_vm(host, ms, beats=5):
    """One VM of 4 vCPUs placed by tern (the others killed): its counters' sum over
    `beats` heartbeats (a second of its TSC each), per second, and its vCPUs' CPUs."""
    host.kill_vms()
    vm = host.vm_start("smp mem=4 cpus=4 name=wide -- n=5 seconds=0")
    beat(host, vm)
    k0, first = beat(host, vm)
    t0 = uptime_ms(host)
    while True:
        k, last = beat(host, vm)
        if k - k0 >= beats:
            break
    took = uptime_ms(host) - t0
    where = host.vms()[vm]["vcpu_cpus"]
    host.kill_vms()
    return sum(last) - sum(first), k - k0, took, where


def ipis(host, n=100):
    """The smp guest's fixed-IPI round trips between its 2 vCPUs: both on CPU 1, then
    on CPUs 1 and 2."""
    out = {}
    for how in ("cpu=1", "pin=1,2"):
        host.kill_vms()
        vm = host.vm_start(f"smp mem=4 cpus=2 {how} -- n={n} seconds=0")
        host.expect(rf"\[vm{vm}\] smp: ipi-round-trip ap=1 mean-ns=(\d+) max-ns=(\d+)\r\n"
                    .encode(), timeout=900)
        out[how] = tuple(int(x) for x in host.proc.match.groups())
    host.kill_vms()
    return out


def cpu_row(host, i):
    row = host.info("cpu")[f"cpu{i}"]
    return dict(kv.split("=", 1) for kv in row.split() if "=" in kv)


def holds(host, n=40):
    """`info registers` n times on a VM at home on CPU 1 (smp, one vCPU, interrupts on)
    and on CPU 2 (spin, interrupts off): each a hold; `info cpu`'s figures for those CPUs
    after."""
    host.kill_vms()
    touch = host.vm_start("smp mem=4 name=h1 cpu=1 -- seconds=0")
    host.expect(rf"\[vm{touch}\] smp: beat=\d+ ".encode(), timeout=600)
    spin = host.vm_start(f"spin mem=4 name=h2 cpu=2 -- every={EVERY}")
    host.expect(rf"\[vm{spin}\] spin: \d+\r\n".encode(), timeout=600)
    before = {i: cpu_row(host, i) for i in (1, 2)}
    for vm in (touch, spin):
        for _ in range(n):
            assert "rip" in host.cmd(f"info registers {vm}").lower()
    after = {i: cpu_row(host, i) for i in (1, 2)}
    return before, after


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ms", type=int, default=20000, help="tern's clock measured, per boot")
    args = ap.parse_args()
    results = {}
    for cpus in (1, 2, 4):
        results[cpus] = throughput(cpus, args.ms)
        rate, placed, took, (counts, beats, wide_ms, where), _ = results[cpus]
        print(f"cpus={cpus}: {rate:.1f} spin lines/s over {took} ms, placed {placed}; "
              f"4-vCPU VM: {counts} counts in {beats} beats, {wide_ms} ms, on {where}",
              flush=True)
    base = results[1][0]
    print("\n| host CPUs | spin lines/s (4 VMs) | scaling | placement (VM: CPU) |")
    print("|---|---|---|---|")
    for cpus, (rate, placed, _, _, _) in results.items():
        where = ", ".join(f"{vm}: {cpu}" for vm, cpu in placed.items())
        print(f"| {cpus} | {rate:.1f} | {rate / base:.2f} | {where} |")
    print("\n| host CPUs | one VM of 4 vCPUs: M counts/s | scaling | vCPUs' CPUs |")
    print("|---|---|---|---|")
    wide = {c: r[3][0] / r[3][1] / 1e6 for c, r in results.items()}  # a beat: 1 s
    for cpus, r in results.items():
        print(f"| {cpus} | {wide[cpus]:.2f} | {wide[cpus] / wide[1]:.2f} | "
              f"{','.join(map(str, r[3][3]))} |")
    (before, after), trips = results[4][4]
    print("\nholds (cpus=4), `info cpu` before and after 40 `info registers` each:")
    for i, what in ((1, "smp, interrupts on"), (2, "spin, interrupts off")):
        print(f"cpu{i} ({what}): before {before[i]}\n      after  {after[i]}")
    print("\nfixed-IPI round trips between two vCPUs (the guest's TSC), mean / max ns:")
    for how, (mean, most) in trips.items():
        print(f"  {how}: {mean} / {most}")


if __name__ == "__main__":
    main()
