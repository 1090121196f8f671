#!/usr/bin/python3
"""Benchmark (not a test): what the guests' PC platform adds to a migration's pause
(issue 13).

Boots two Bochs + GRUB hosts on one LAN, measures it with `netperf`, then moves each
guest below from host 1 to host 2 and back, ROUNDS times, and prints per guest the
averages of what the source's `info migrate` says about each pause: the downtime and
its three parts (last pages and state out; the target's checks and restore; activation),
the pages of the last round, the device records (how many, their bytes on the wire, the
source's microseconds taking and encoding them) and the vCPU state's bytes, and what the
records' bytes cost at the LAN's measured rate. memtouch has the same platform as the
tickers, but with its timers idle; the tickers keep the PIT, the 8259 and the local APIC
busy at 100 Hz while they cross; cpustate has the largest vCPU state in use (AVX).

Usage: tests/bench/pause.py [--platform P] [--rounds N]
It asserts nothing about speed; it fails only when a migration does."""
import argparse
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from ternhost import lan_hosts  # noqa: E402

GUESTS = [
    ("memtouch 1 MiB", "memtouch mem=4 name=m -- mib=1 rate=16", r"seq=\d+ check=ok"),
    ("ticker PIT/8259", "ticker mem=4 name=t1 -- mode=pit route=pic apic=xapic hz=100 "
     "seconds=100000", r"ticker: mode="),
    ("ticker x2APIC deadline", "ticker mem=4 name=t2 -- mode=lapic-deadline apic=x2apic "
     "hz=100 seconds=100000", r"ticker: mode="),
    ("cpustate (AVX)", "cpustate mem=4 name=c -- seed=3", r"cpustate: seq="),
]
KEYS = ["downtime", "downtime-copy", "downtime-commit", "downtime-activate", "final-pages",
        "device-records", "device-bytes", "device-us", "cpu-state-bytes"]
IPS = {1: "10.0.0.1", 2: "10.0.0.2"}


def move(src, dst, dst_ip, vm, line):
    out = src.cmd(f"migrate {vm} {dst_ip}")
    assert "started" in out, out
    src.expect(rf"migration vm{vm} -> {re.escape(dst_ip)}: (completed|failed)[^\r\n]*\r\n"
               .encode(), timeout=600)
    done = src.proc.match.group(0).decode().strip()
    if "completed" not in done:
        raise SystemExit(f"migration failed: {done}")
    info = src.info("migrate")
    new = int(info["target-vm"])
    dst.expect(rf"\[vm{new}\] {line}".encode(), timeout=120)
    return new, {k: int(info[k]) for k in KEYS}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--platform", default="bochs-bios")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with lan_hosts(args.platform, "bench-pause", mems=(256, 256)) as (a, b):
        out = a.cmd("netperf 10.0.0.2 1", timeout=300)
        mbs = float(re.search(r"throughput: (\d+\.\d+) MB/s", out).group(1))
        print(f"LAN ({args.platform}): netperf {mbs:.2f} MB/s")
        print("| guest | downtime ms | copy | commit | activate | last pages | records | "
              "record bytes | record us | at the LAN's rate ms | vCPU state bytes |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, start, line in GUESTS:
            vm = a.vm_start(start)
            a.expect(rf"\[vm{vm}\] {line}".encode(), timeout=120)
            here, there, rows = (a, 1), (b, 2), []
            for _ in range(2 * args.rounds):
                vm, figures = move(here[0], there[0], IPS[there[1]], vm, line)
                rows.append(figures)
                here, there = there, here
            here[0].cmd(f"kill {vm}")
            avg = {k: statistics.mean(r[k] for r in rows) for k in KEYS}
            wire_ms = avg["device-bytes"] / (mbs * 1e6) * 1e3
            print(f"| {name} | {avg['downtime']:.0f} | {avg['downtime-copy']:.0f} | "
                  f"{avg['downtime-commit']:.0f} | {avg['downtime-activate']:.0f} | "
                  f"{avg['final-pages']:.1f} | {avg['device-records']:.0f} | "
                  f"{avg['device-bytes']:.0f} | {avg['device-us']:.0f} | {wire_ms:.1f} | "
                  f"{avg['cpu-state-bytes']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
