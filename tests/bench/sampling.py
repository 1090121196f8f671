#!/usr/bin/python3
"""Benchmark: what the policy's dirty-rate sampling costs guests (issue 9).

tern samples each VM's dirty rate over 1 s every `sample-every` seconds (default 15),
in `ad` mode where the CPU has EPT dirty flags (Bochs has): no VM exits, only tern's
EPT passes when a sample starts and ends. This boots one host (Bochs + GRUB by
default), runs a `spin` guest (the probe: a line every `--every` loop iterations) beside
a `memtouch` guest that keeps writing, both sampled, and counts the spin guest's lines
per second of tern's clock with sampling off (`sample-every 0`), at the default, and
back to back (`sample-every 1`, the most it can do), then off again to show the drift.
Under Bochs with `clock: sync=none` tern's clock counts emulated instructions, so the
host machine's own load does not enter the figures. Also prints tern's own account of
the time it spent starting, reading and stopping samples (`sample-cost-us`).

Not a test: it asserts nothing about speed. Run: make bench (or this file)."""
import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from ternhost import TernHost  # noqa: E402


def lines(host, vm):
    m = host.seen(rf"\[vm{vm}\] spin: (\d+)\r".encode())
    return int(m.group(1)) if m else 0


def window(host, vm, seconds):
    """Spin lines per second of tern's clock over about `seconds` of wall time, and
    the samples taken and their cost meanwhile."""
    pol0 = host.info("policy")
    t0, l0 = int(host.info("cpu")["uptime-ms"]), lines(host, vm)
    time.sleep(seconds)
    t1, l1 = int(host.info("cpu")["uptime-ms"]), lines(host, vm)
    pol1 = host.info("policy")
    n = int(pol1["samples"]) - int(pol0["samples"])
    cost = int(pol1["sample-cost-us"]) - int(pol0["sample-cost-us"])
    return (l1 - l0) * 1000 / (t1 - t0), n, cost, t1 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--platform", default="bochs-bios")
    ap.add_argument("--seconds", type=int, default=45, help="wall seconds per setting")
    ap.add_argument("--mem", type=int, default=64, help="MiB of each guest")
    ap.add_argument("--every", type=int, default=1000000, help="spin iterations a line")
    args = ap.parse_args()

    host = TernHost(args.platform, name="bench-sampling", mem=512)
    try:
        host.wait_prompt()
        out = host.cmd(f"vm start spin mem={args.mem} name=probe -- every={args.every}")
        spin = int(re.search(r"vm(\d+) started", out).group(1))
        out = host.cmd(f"vm start memtouch mem={args.mem} name=writer -- mib={args.mem // 2}")
        mt = int(re.search(r"vm(\d+) started", out).group(1))
        host.expect(rf"\[vm{mt}\] seq=1 check=ok".encode(), timeout=120)
        rows = []
        for label, every in (("off", 0), ("default", 15), ("back to back", 1), ("off", 0)):
            host.cmd(f"policy set sample-every {every}")
            time.sleep(3)  # a sample under way ends; the next setting takes hold
            rows.append((label, every) + window(host, spin, args.seconds))
        host.cmd("policy set sample-every 15")
        base = (rows[0][2] + rows[-1][2]) / 2
        print(f"policy sampling cost, {args.platform}: spin (probe) beside memtouch "
              f"(writer, {args.mem // 2} of {args.mem} MiB), both {args.mem} MiB, "
              f"~{args.seconds} s a setting")
        print(f"{'sampling':14} {'every s':>7} {'spin lines/s':>12} {'vs off':>7} "
              f"{'samples':>7} {'tern us/sample':>14} {'tern share':>10}")
        for label, every, rate, n, cost, ms in rows:
            print(f"{label:14} {every:7} {rate:12.2f} {rate / base:7.4f} {n:7} "
                  f"{(cost / n if n else 0):14.0f} {cost / (ms * 10):9.3f}%")
        print("(lines/s and tern share per second of tern's clock, which under Bochs "
              "counts emulated instructions; 'vs off' against the mean of the two off "
              "runs; tern us/sample: its time starting, reading and stopping a sample)")
    finally:
        host.close()


if __name__ == "__main__":
    main()
