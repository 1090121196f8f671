#!/usr/bin/python3
"""Benchmark (not a test): netperf throughput between two tern hosts on each
platform's emulated LAN, both ways, several runs; prints the median beside the
same bulk transfer between two Linux 6.1 guests (Debian's kernel and busybox)
on the same emulator, NIC model and LAN, and their ratio. The Linux guests move
the bytes twice: with tests/bench/tcpblast.c (64 KiB reads and writes, built
static here; the reference issue 15 sets) and with busybox's nc (about 1 KiB a
system call, CPU-bound under TCG).

    tests/bench/netperf.py [--runs N] [--mib M] [--only qemu-e1000,...] [--no-linux]

tern's figures come from tern's own clock (TSC calibrated against the PIT): under
Bochs that is emulated time. The Linux guests run under QEMU only (the same
flags as tern's launcher, -kernel/-initrd), timed from the host: from sending the
sender's command to the receiver's report that the stream ended; their packages
are fetched once with `apt-get download` into build/bench-linux. For Bochs the
Linux figure is one measured once on this kind of machine (two Linux 6.1 guests)."""
import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import time

import pexpect

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from ternhost import BUILD, TernHost, launch  # noqa: E402

# Two Linux 6.1 guests as measured once on this kind of machine (its QEMU figures came from a set-up
# this script does not reproduce; see the README).
LINUX_TESTBED_MBS = {"qemu-e1000": 98.4, "qemu-e1000e": 87.2, "bochs-e1000": 1.22}
LINUX_DIR = os.path.join(BUILD, "bench-linux")
CONFIGS = {
    "qemu-e1000": ("qemu-uefi", ["--nic", "e1000"], 64),
    "qemu-e1000e": ("qemu-uefi", ["--nic", "e1000e"], 64),
    "bochs-e1000": ("bochs-uefi", [], 4),
}
THROUGHPUT = re.compile(r"throughput: (\d+\.\d+) MB/s")


def measure(name, runs, mib):
    platform, extra, default_mib = CONFIGS[name]
    mib = mib or default_mib
    lan = f"bench-{name}-{os.getpid()}"
    hosts = [TernHost(platform, name=f"bench-{name}-{n}",
                      extra=["--lan", lan, "--host", str(n)] + extra) for n in (1, 2)]
    figures = []
    try:
        for h in hosts:
            h.wait_prompt()
        hosts[0].cmd("ping 10.0.0.2 2", timeout=60)
        for _ in range(runs):
            for src, dst in ((0, "10.0.0.2"), (1, "10.0.0.1")):
                out = hosts[src].cmd(f"netperf {dst} {mib}", timeout=600)
                m = THROUGHPUT.search(out)
                if not m:
                    print(f"{name}: {out.strip()}", file=sys.stderr)
                    continue
                figures.append(float(m.group(1)))
    finally:
        for h in hosts:
            h.close()
    return mib, figures


# --- Linux guests --------------------------------------------------------------

INIT = b"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/*.ko; do insmod $m; done
for w in $(cat /proc/cmdline); do case $w in tip=*) TIP=${w#tip=};; esac; done
ip link set eth0 up
ip addr add $TIP/24 dev eth0
sleep 1
echo LINUX-$((6*7))
exec setsid sh -c 'exec sh </dev/ttyS0 >/dev/ttyS0 2>&1'
"""


def cpio_newc(entries):
    out, ino = bytearray(), 1
    for name, mode, data in entries + [("TRAILER!!!", 0, b"")]:
        nb = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0)
        out += ("070701" + "".join(f"{v:08x}" for v in fields)).encode() + nb
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
        ino += 1
    return bytes(out)


def tcpblast():
    """tests/bench/tcpblast.c, built static into LINUX_DIR when missing or older."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tcpblast.c")
    out = os.path.join(LINUX_DIR, "tcpblast")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", src, "-o", out],
                       check=True)
    return out


def linux_files(nic):
    """The kernel and an initramfs (busybox, tcpblast, the NIC's module, INIT); fetched
    and built once. Returns (kernel, initrd), or raises with why not."""
    os.makedirs(LINUX_DIR, exist_ok=True)
    if not glob.glob(os.path.join(LINUX_DIR, "root", "boot", "vmlinuz-*")):
        dep = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], check=True,
                             capture_output=True, text=True).stdout
        image = re.search(r"Depends: (linux-image-\S+)", dep).group(1)
        subprocess.run(["apt-get", "download", image, "busybox-static"], cwd=LINUX_DIR,
                       check=True, capture_output=True)
        for deb in glob.glob(os.path.join(LINUX_DIR, "*.deb")):
            subprocess.run(["dpkg-deb", "-x", deb, os.path.join(LINUX_DIR, "root")], check=True)
    root = os.path.join(LINUX_DIR, "root")
    kernel = glob.glob(os.path.join(root, "boot", "vmlinuz-*"))[0]
    blast = tcpblast()
    initrd = os.path.join(LINUX_DIR, f"initrd-{nic}.cpio")
    if not os.path.exists(initrd) or os.path.getmtime(initrd) < os.path.getmtime(blast):
        mod = glob.glob(os.path.join(root, "lib", "modules", "*", "kernel", "drivers", "net",
                                     "ethernet", "intel", nic, f"{nic}.ko"))[0]
        entries = [(d, 0o40755, b"") for d in ("bin", "proc", "sys", "dev", "lib")]
        entries += [("bin/busybox", 0o100755,
                     open(os.path.join(root, "bin", "busybox"), "rb").read()),
                    ("bin/tcpblast", 0o100755, open(blast, "rb").read()),
                    ("init", 0o100755, INIT),
                    (f"lib/{nic}.ko", 0o100644, open(mod, "rb").read())]
        with open(initrd, "wb") as f:
            f.write(cpio_newc(entries))
    return kernel, initrd


def linux_guest(kernel, initrd, nic, lan, n):
    argv = ["-machine", "q35", "-m", "256", "-accel", "tcg", "-cpu", "max",
            "-display", "none", "-monitor", "none", "-no-reboot", "-net", "none",
            "-netdev", f"socket,id=lan,mcast={launch.lan.MCAST_GROUP}:"
            f"{launch.lan.qemu_port(lan)},localaddr=127.0.0.1",
            "-device", f"{nic},netdev=lan,mac={launch.host_mac(n)}",
            "-kernel", kernel, "-initrd", initrd, "-serial", "stdio",
            "-append", f"console=ttyS0 quiet tip={launch.host_ip(n)}"]
    return pexpect.spawn("qemu-system-x86_64", argv, timeout=120, encoding="utf-8",
                         codec_errors="replace")


# How the Linux guests move mib MiB to dst: (receiver's command, sender's command)
LINUX_TOOLS = {
    "tcpblast": ("tcpblast -l 5001", "tcpblast {dst} 5001 {mib}"),
    "nc": ("nc -l -p 5001 | dd of=/dev/null bs=64k 2>/dev/null",
           "dd if=/dev/zero bs=64k count={blocks} 2>/dev/null | nc {dst} 5001"),
}


def measure_linux(name, runs, mib):
    """Each tool of LINUX_TOOLS, runs times each way, on one pair of guests; MB/s from
    the host's clock, from the sender's command to the receiver's end. Returns
    {tool: [MB/s]}."""
    nic = CONFIGS[name][1][1]
    kernel, initrd = linux_files(nic)
    lan = f"bench-linux-{name}-{os.getpid()}"
    g = [linux_guest(kernel, initrd, nic, lan, n) for n in (1, 2)]
    figures = {tool: [] for tool in LINUX_TOOLS}
    try:
        for x in g:
            x.expect("LINUX-42")
        g[0].sendline("ping -c 2 10.0.0.2")
        g[0].expect("packet loss")
        for tool, (rx, tx) in LINUX_TOOLS.items():
            for _ in range(runs):
                for src, dst in ((0, 1), (1, 0)):
                    g[dst].sendline(f"{rx}; echo RX-$((6*7))")
                    time.sleep(1)      # the receiver listens (a bench: no state to wait on)
                    start = time.monotonic()
                    g[src].sendline(tx.format(dst=launch.host_ip(dst + 1), mib=mib,
                                              blocks=mib * 16) + "; echo TX-$((6*7))")
                    g[dst].expect("RX-42", timeout=900)
                    figures[tool].append(mib * 1048576 / (time.monotonic() - start) / 1e6)
                    g[src].expect("TX-42", timeout=60)
    finally:
        for x in g:
            x.terminate(force=True)
    return figures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3, help="runs each way (3)")
    p.add_argument("--mib", type=int, default=0, help="MiB a run (64 QEMU, 4 Bochs)")
    p.add_argument("--only", default=",".join(CONFIGS))
    p.add_argument("--no-linux", action="store_true", help="skip the Linux guests")
    args = p.parse_args()
    rows = []

    def span(f):
        return f"{min(f):.2f}-{max(f):.2f} ({len(f)})"
    for name in args.only.split(","):
        mib, f = measure(name, args.runs, args.mib)
        tern = statistics.median(f) if f else None
        linux = {"tcpblast": (LINUX_TESTBED_MBS[name], "measured once"),
                 "nc": (None, "")}
        if CONFIGS[name][0].startswith("qemu") and not args.no_linux:
            try:
                for tool, lf in measure_linux(name, args.runs, mib).items():
                    linux[tool] = (statistics.median(lf), span(lf))
            except Exception as e:     # the comparison is optional: say why it is missing
                print(f"{name}: Linux guests not run ({e}); using the figure measured once",
                      file=sys.stderr)
        ref = linux["tcpblast"][0]
        rows.append((name, mib, f"{tern:.2f}" if f else "failed", span(f) if f else "",
                     f"{ref:.2f}", linux["tcpblast"][1],
                     f"{linux['nc'][0]:.2f}" if linux["nc"][0] else "-", linux["nc"][1],
                     f"{tern / ref:.2f}" if f else ""))
    print(f"{'platform':<12} {'MiB':>4} {'tern MB/s':>9} {'range (runs)':>18} "
          f"{'Linux 64K':>10} {'range (runs)':>18} {'Linux nc':>9} {'range (runs)':>18} "
          f"{'tern/Linux 64K':>14}")
    for r in rows:
        print(f"{r[0]:<12} {r[1]:>4} {r[2]:>9} {r[3]:>18} {r[4]:>10} {r[5]:>18} {r[6]:>9} "
              f"{r[7]:>18} {r[8]:>14}")


if __name__ == "__main__":
    main()
