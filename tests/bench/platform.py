#!/usr/bin/python3
"""Benchmark: what the guests' PC platform costs tern (issue 13).

Boots one host (Bochs + GRUB by default) and runs the `ticker` guest alone, one timer
path after another. For each it prints
  - tern busy: the share of tern's clock it was not halted (`info cpu`: 1 - idle-ms /
    uptime-ms) over 10 s of the ticker's own TSC, between two of its lines; and the
    same less what tern spends with no VM at all (its 1 ms polls of console and NIC);
  - load: what tern reports as its load (`info policy`: runnable vCPUs over 10 s);
  - VM exits per timer interrupt: `info vms` exits over the ticks the ticker counted
    between the same two lines, less the exits its second line cost (the guest's
    UART: two a byte, LSR then THR);
  - busy us per interrupt: the busy time less the idle host's, over those ticks. This
    is everything an interrupt costs while tern is not halted: tern's exit handling
    and scheduling, the VM entries and exits, and the guest's own handler and its
    return to HLT. tern has no counter that separates its own part from the guest's,
    so this is an upper bound on tern's microseconds per interrupt. A row's window
    also holds about 20 ms of console output (the ticker's line, `info cpu`).

Under Bochs the clock is the emulated TSC (about 100 emulated MIPS), so the costs are
those of the emulator's VT-x, far above a real CPU's; the exits per interrupt do not
depend on the emulator. Which APIC path runs is whatever tern uses by default.

Not a test: it asserts nothing about speed. Run: make bench (or this file)."""
import os
import sys

# This file is named as the standard library's `platform`, which argparse's helpers,
# pytest and pexpect import: keep its own folder off the module path.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
sys.path.insert(0, os.path.join(HERE, "..", "system"))

import argparse  # noqa: E402
import time  # noqa: E402

from ternhost import TernHost, parse_vms  # noqa: E402
from test_platform import Console, TICK  # noqa: E402

WINDOW_S = 10
MODES = [
    ("pit via 8259", "mode=pit route=pic"),
    ("pit via I/O APIC", "mode=pit route=ioapic"),
    ("lapic periodic", "mode=lapic-periodic"),
    ("lapic one-shot", "mode=lapic-oneshot"),
    ("lapic tsc-deadline", "mode=lapic-deadline"),
    ("x2apic periodic", "mode=lapic-periodic apic=x2apic"),
    ("x2apic one-shot", "mode=lapic-oneshot apic=x2apic"),
    ("x2apic tsc-deadline", "mode=lapic-deadline apic=x2apic"),
]


def exits(con, vm):
    rows = parse_vms(con.cmd("info vms"))
    assert vm in rows, f"vm{vm} not in info vms"
    return rows[vm]["exits"]


def idle_host(con):
    """tern's busy share with no VM, over WINDOW_S of its clock."""
    u0, i0 = con.times()
    u1, i1 = u0, i0
    while u1 - u0 < WINDOW_S * 1000:
        time.sleep(1)
        u1, i1 = con.times()
    return 1 - (i1 - i0) / (u1 - u0)


def run(con, args, hz):
    """One ticker: figures over WINDOW_S seconds of its TSC, between two lines."""
    vm = con.vm_start(f"ticker -- {args} hz={hz} report={WINDOW_S}")
    a = con.tick(vm)
    u0, i0 = con.times()
    e0 = exits(con, vm)
    m = con.expect(TICK % vm)
    line = m.group(0)
    b = {k: int(v) for k, v in m.groupdict().items()}
    u1, i1 = con.times()
    e1 = exits(con, vm)
    load = int(con.info("policy")["load"])
    con.cmd(f"kill {vm}")
    # the guest's bytes of its second line: the text after "[vmN] ", and its newline
    guest_bytes = len(line.split(b"] ", 1)[1].rstrip(b"\r\n")) + 1
    ticks = b["ticks"] - a["ticks"]
    return {"ms": u1 - u0, "busy_ms": (u1 - u0) - (i1 - i0), "ticks": ticks,
            "missed": b["missed"] - a["missed"], "exits": e1 - e0 - 2 * guest_bytes,
            "load": load}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--platform", default="bochs-bios")
    args = ap.parse_args()

    host = TernHost(args.platform, name="bench-platform")
    try:
        host.wait_prompt()
        con = Console(host)
        mhz = int(host.info("cpu")["tsc-mhz"])
        base = idle_host(con)
        name, periodic = MODES[2]
        rows = [(name, 100, run(con, periodic, 100))]
        rows += [(name, 1000, run(con, a, 1000)) for name, a in MODES]
        print(f"guest platform costs, {args.platform}, TSC {mhz} MHz, {WINDOW_S} s of the "
              f"ticker's TSC per row; idle host: tern busy {base:.2%}")
        print(f"{'timer':20} {'hz':>5} {'busy %':>7} {'net %':>6} {'load %':>6} "
              f"{'ticks':>6} {'missed':>6} {'exits/irq':>9} {'busy us/irq':>11}")
        for name, hz, r in rows:
            busy = r["busy_ms"] / r["ms"]
            net_ms = r["busy_ms"] - base * r["ms"]
            print(f"{name:20} {hz:5} {busy:7.2%} {net_ms / r['ms']:6.2%} {r['load']:6} "
                  f"{r['ticks']:6} {r['missed']:6} {r['exits'] / r['ticks']:9.2f} "
                  f"{net_ms * 1000 / r['ticks']:11.1f}")
        print("(busy: 1 - idle-ms/uptime-ms; net: less the idle host's; exits/irq: info vms "
              "exits over the ticks, the line's UART exits taken out; busy us/irq: net "
              "busy time over the ticks, guest handler included)")
    finally:
        host.close()


if __name__ == "__main__":
    main()
