#!/usr/bin/python3
"""Benchmark: what dirty tracking costs a guest that writes (issue 4).

Boots one host (Bochs + GRUB by default: the same emulated VT-x as Bochs + OVMF,
booted faster), starts the `pages` guest and has it fill N whole pages as fast as it
can, with tracking off and then in each mode, several times. Prints, per mode, the
guest's write throughput (from its own TSC: tern's calibrated TSC rate converts cycles
to time) with tracking on against off in the same run, VM exits per dirtied page, and
the wall-clock time of a tracked round as the host saw it.

Not a test: it asserts nothing about speed. Run: make bench-dirty (or this file)."""
import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from ternhost import TernHost  # noqa: E402


def bench_once(host, vm, pages):
    t0 = time.monotonic()
    host.proc.send(f"vm send {vm} bench {pages}\r".encode())
    host.expect(rf"\[vm{vm}\] pages: bench pages={pages} cycles=(\d+)\r\n".encode(), timeout=600)
    wall = time.monotonic() - t0
    return int(host.proc.match.group(1)), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--platform", default="bochs-bios")
    ap.add_argument("--pages", type=int, default=2048, help="pages filled per run")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    host = TernHost(args.platform, name="bench-dirty")
    try:
        host.wait_prompt()
        mhz = int(host.info("cpu")["tsc-mhz"])
        out = host.cmd(f"vm start pages mem=32 -- area={args.pages * 4096 // (1 << 20) + 1}")
        vm = int(re.search(r"vm(\d+) started", out).group(1))
        host.expect(rf"\[vm{vm}\] pages: ready".encode(), timeout=60)
        bench_once(host, vm, args.pages)            # warm up: first touch of the area
        rows = []
        off = [bench_once(host, vm, args.pages) for _ in range(args.reps)]
        base = statistics.median(c for c, _ in off)
        for mode in ("wp", "pml", "ad"):
            runs, exits, dirtied = [], 0, 0
            host.cmd(f"dirty start {vm} mode={mode}")
            for _ in range(args.reps):
                host.cmd(f"dirty sync {vm}")        # a fresh round: every page armed
                runs.append(bench_once(host, vm, args.pages))
                host.cmd(f"dirty sync {vm}")
                info = host.info(f"dirty {vm}")
                dirtied += int(info["dirty-pages"])
            exits = int(host.info(f"dirty {vm}")["exits"])
            host.cmd(f"dirty stop {vm}")
            cyc = statistics.median(c for c, _ in runs)
            rows.append((mode, cyc, statistics.median(w for _, w in runs), exits / max(dirtied, 1)))
        mb = args.pages * 4096 / 1e6
        print(f"dirty tracking cost, {args.platform}, {args.pages} pages filled per run, "
              f"median of {args.reps}, TSC {mhz} MHz")
        print(f"{'mode':6} {'guest MB/s':>11} {'vs off':>7} {'exits/page':>11} {'wall s':>7}")
        print(f"{'off':6} {mb / (base / (mhz * 1e6)):11.1f} {1:7.2f} {0:11.3f} "
              f"{statistics.median(w for _, w in off):7.2f}")
        for mode, cyc, wall, epp in rows:
            print(f"{mode:6} {mb / (cyc / (mhz * 1e6)):11.1f} {base / cyc:7.2f} {epp:11.3f} "
                  f"{wall:7.2f}")
        print("(guest MB/s from the guest's own TSC, which under Bochs counts emulated "
              "instructions; wall s: host time from the command to the guest's reply)")
    finally:
        host.close()


if __name__ == "__main__":
    main()
