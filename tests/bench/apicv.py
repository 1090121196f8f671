#!/usr/bin/python3
"""Benchmark: what APIC virtualization saves per timer interrupt (issue 13).

Boots one host per path (Bochs + GRUB by default; `on` is every feature Bochs's VT-x
offers, `tpr` the TPR shadow alone, `off` the trapping path) and, on each, runs the
ticker in several timer modes twice side by side, for S and for S + W seconds of its
TSC. The difference between the two runs is W seconds of ticking with the set-up
taken out: per timer interrupt, the VM exits, tern's time handling them (`info apic`
exit-us: from each exit to the next entry, tern's own TSC), the exits that reached
the local APIC model's EOI, and the interrupts tern injected. Then apicpath, once per
APIC mode, for the guest's own cost of a TPR write and read, a self-IPI with its EOI,
and a CR8 write and read (guest TSC cycles per iteration: under Bochs the TSC counts
emulated instructions, tern's included, at about 100 MHz).

Not a test: it asserts nothing. Run: this file (make bench runs every benchmark)."""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from ternhost import TernHost, wait_for  # noqa: E402

PATHS = {"on": "", "tpr": "apicv=tpr", "off": "apicv=off"}
CASES = ["mode=lapic-periodic apic=xapic", "mode=lapic-periodic apic=x2apic",
         "mode=lapic-oneshot apic=x2apic", "mode=lapic-deadline apic=x2apic",
         "mode=pit route=ioapic apic=xapic"]
END_TIMEOUT = 900


def run_guests(host, guests):
    """Starts the guests (`vm start` arguments) side by side; waits for them to end;
    returns, for each, its console lines and `info apic`."""
    vms = [host.vm_start(g) for g in guests]
    ends = [rb"vm%d (exited with status \d+|killed: [^\r\n]*)" % vm for vm in vms]
    if not wait_for(lambda: all(host.seen(p) for p in ends), timeout=END_TIMEOUT, every=5):
        raise RuntimeError(f"guests still running after {END_TIMEOUT} s: {guests}")
    log = open(host.log_path, "rb").read()
    out = []
    for vm in vms:
        text = b"\n".join(re.findall(rb"\[vm%d\] ([^\r\n]*)" % vm, log)).decode()
        apic = {k: int(v) for k, v in host.info(f"apic {vm}").items() if v.isdigit()}
        out.append((text, apic))
    return out


def ticks(text):
    m = re.search(r"ticker: done ticks=(\d+)", text)
    return int(m.group(1)) if m else 0


def bench_path(host, args):
    rows = []
    for case in CASES:
        (t0, a0), (t1, a1) = run_guests(
            host, [f"ticker -- {case} hz={args.hz} seconds={s}"
                   for s in (args.settle, args.settle + args.window)])
        n = ticks(t1) - ticks(t0)
        per = lambda k: (a1[k] - a0[k]) / n if n > 0 else float("nan")  # noqa: E731
        rows.append((case, n, per("exits"), per("exit-us"), per("exits-eoi"),
                     per("injected")))
    paths = run_guests(host, [f"apicpath -- apic={m} n={args.n} cr8=1"
                              for m in ("xapic", "x2apic")])
    cyc = {}
    for text, _ in paths:
        for m in re.finditer(r"apic=(\w+) base=\S+ tpr=\d+ ipi=\d+ masked=ok level=\d+ "
                             r"tpr-cycles=(\d+) ipi-cycles=(\d+)", text):
            cyc.setdefault(m.group(1), (int(m.group(2)), int(m.group(3))))
        m = re.search(r"cr8=\d+ masked=ok cr8-cycles=(\d+)", text)
        if m:
            cyc["cr8"] = int(m.group(1))
    return rows, cyc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--platform", default="bochs-bios")
    ap.add_argument("--paths", default="on,tpr,off")
    ap.add_argument("--hz", type=int, default=100)
    ap.add_argument("--settle", type=int, default=2, help="seconds of the short run")
    ap.add_argument("--window", type=int, default=8, help="seconds the long run adds")
    ap.add_argument("-n", type=int, default=1000, help="apicpath iterations")
    args = ap.parse_args()

    results = {}
    for path in args.paths.split(","):
        host = TernHost(args.platform, name=f"bench-apicv-{path}", cmdline=PATHS[path])
        try:
            host.wait_prompt()
            virt = host.info("cpu").get("apic-virtualization", "?")
            results[path] = (virt, *bench_path(host, args))
        finally:
            host.close()

    print(f"APIC virtualization, {args.platform}, ticker at {args.hz} Hz, "
          f"{args.window} s of guest TSC (a {args.settle + args.window} s run less a "
          f"{args.settle} s one)")
    for path, (virt, _, _) in results.items():
        print(f"  {path}: {virt}")
    print(f"{'path':5} {'ticker':34} {'ticks':>6} {'exits/tick':>11} {'tern us/tick':>13} "
          f"{'eoi exits/tick':>15} {'injected/tick':>14}")
    for case in CASES:
        for path, (_, rows, _) in results.items():
            for c, n, e, us, eoi, inj in rows:
                if c == case:
                    print(f"{path:5} {c:34} {n:6} {e:11.2f} {us:13.1f} {eoi:15.2f} "
                          f"{inj:14.2f}")
    print(f"apicpath, guest TSC cycles per iteration ({args.n} iterations)")
    print(f"{'path':5} {'TPR w+r xAPIC':>14} {'TPR w+r x2APIC':>15} {'self-IPI+EOI xAPIC':>19} "
          f"{'self-IPI+EOI x2APIC':>20} {'CR8 w+r, TPR r':>15}")
    for path, (_, _, cyc) in results.items():
        x, x2 = cyc.get("xapic", (0, 0)), cyc.get("x2apic", (0, 0))
        print(f"{path:5} {x[0]:14} {x2[0]:15} {x[1]:19} {x2[1]:20} {cyc.get('cr8', 0):15}")


if __name__ == "__main__":
    main()
