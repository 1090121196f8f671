"""Linux guests under Bochs + GRUB (the quicker boot), on two hosts of one LAN: Debian's
kernel with the initramfs `make` builds (busybox, guests/linux/init, the Linux memtouch)
boots to a shell on ttyS0, which the operator drives through `console`; its clocks hold;
it migrates to the other host, runs there at its share beside a second Linux VM and the
test guests, and comes back, memtouch working all along; `reboot -f` restarts it and
`poweroff -f` ends it; broken or misfitting images are refused with their reason and
nothing left allocated. Linux is slow under Bochs: the two VMs boot at once, one on each
host (each Bochs on its own core), every check that can share a boot shares it, and the
checks run in the order below (the last one reboots)."""
import os
import re
import struct

import pytest

from ternhost import BUILD, free_kib, lan_hosts, wait_for

LINUX = os.path.join(BUILD, "linux")
BOOT_TIMEOUT = 1800     # Linux under Bochs on a loaded 2-core machine: minutes
PROMPT = rb"linux:[^\r\n]*# "
CTRL_RBRACKET = b"\x1d"
DEFAULT_CMDLINE = "console=ttyS0,115200"     # tern's, when `vm start` gives none
# init_on_free=1: Linux zeroes the memory it frees (at boot, all it never used), so a
# migration sends what it holds as zero-page markers; cryptomgr.notests skips the crypto
# self-tests, 7.5 of the kernel's 17 s to init under Bochs (README, Boot time), which
# this VM's reboot pays again; the second VM keeps the default
CMDLINE = DEFAULT_CMDLINE + " init_on_free=1 cryptomgr.notests"


def broken_kernels(tmp):
    """Debian's bzImage cut short after its first MiB, and one whose setup header
    points its payload past the end of the kernel."""
    with open(os.path.join(LINUX, "linux"), "rb") as f:
        image = bytearray(f.read())
    cut = os.path.join(tmp, "linux-cut")
    with open(cut, "wb") as f:
        f.write(image[:1 << 20])
    struct.pack_into("<I", image, 0x24c, len(image))     # payload_length
    bad = os.path.join(tmp, "linux-bad")
    with open(bad, "wb") as f:
        f.write(image)
    return [cut, bad]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Hosts 1 and 2 on a LAN, each with the Linux guest's images; host 1 also has two
    broken kernels."""
    extra = ["--linux"]
    for k in broken_kernels(str(tmp_path_factory.mktemp("kernels"))):
        extra += ["--guest", k]
    # a migration's dirty tracking keeps a copy of the VM's RAM in the shadow region
    with lan_hosts("bochs-bios", "linux", mems=(768, 768), timeout=600,
                   extra=extra, cmdline="shadow=160") as hosts:
        yield hosts


@pytest.fixture(scope="module")
def host(pair):
    return pair[0]


def uptime_ms(host):
    return int(host.info("cpu")["uptime-ms"])


def vms(host):
    return {vm: {k: row[k] for k in ("name", "state", "kind")}
            for vm, row in host.vms().items()}


class Guests:
    """Where the first Linux VM is (its host and id change as it migrates), the second
    one's id on host 2, and the first one's boot time."""

    def __init__(self, host, vm, vm2, boot_s):
        self.host, self.vm, self.vm2, self.boot_s = host, vm, vm2, boot_s


def start_linux(host, args):
    out = host.cmd(f"vm start linux mem=128 {args}", timeout=600)  # zeroes 128 MiB
    m = re.search(r"^vm(\d+) started$", out, re.M)
    assert m, out
    return int(m.group(1))


@pytest.fixture(scope="module")
def linux(pair):
    """A 128 MiB Linux VM at its shell on host 1, with CMDLINE, and meanwhile a second
    one (tern's default command line) on host 2; prints the first one's seconds from `vm
    start` to init's line (tern's clock)."""
    a, b = pair
    t0 = uptime_ms(a)
    vm = start_linux(a, f"initrd=initramfs -- {CMDLINE}")
    vm2 = start_linux(b, "name=linux2 initrd=initramfs")
    a.expect(rf"\[vm{vm}\] init: up after ([\d.]+) s; clocksource (\w+)".encode(),
             timeout=BOOT_TIMEOUT)
    kernel_s, clocksource = (g.decode() for g in a.proc.match.groups())
    boot_s = (uptime_ms(a) - t0) / 1000
    print(f"linux: vm start to init in {boot_s:.1f} s of tern's clock; the kernel's "
          f"uptime then {kernel_s} s; clocksource {clocksource}")
    b.expect(rf"\[vm{vm2}\] init: up after".encode(), timeout=BOOT_TIMEOUT)
    yield Guests(a, vm, vm2, boot_s)


class Console:
    """The guest's shell through `console <vm>`, as a context manager (it always gives
    the console back to the monitor): one command at a time, its output and exit status
    read back (a marker after it, which the echo of the line cannot match)."""

    def __init__(self, host, vm):
        self.host, self.vm = host, vm

    def __enter__(self):
        self.host.send_raw(f"console {self.vm}\r".encode())   # no tern> until Ctrl-]
        self.host.expect(rf"console: vm{self.vm}'s COM1".encode())
        # A prompt printed while detached may still be in the buffer: sync on output
        # that only this command makes, then on the prompt after it.
        self.host.send_raw(b"\recho @@$((40 + 2))@@\r")
        self.host.expect(rb"@@42@@\r\n", timeout=120)
        self.host.expect(PROMPT, timeout=60)
        self.attached = True
        return self

    def __exit__(self, *exc):
        if self.attached:   # else the VM ended, which gave the console back
            self.host.send_raw(CTRL_RBRACKET)
            self.host.expect(rb"\ntern> ", timeout=60)

    def run(self, line, timeout=120):
        self.host.send_raw(line.encode() + b"; echo @@$?@@\r")
        self.host.expect(rb"@@(\d+)@@\r\n", timeout=timeout)
        status = int(self.host.proc.match.group(1))
        out = self.host.proc.before.decode("utf-8", "replace").replace("\r\n", "\n")
        # drop the echoed line, which the shell wraps at 80 columns
        out = out.split("@@$?@@", 1)[-1].lstrip("\r\n")
        self.host.expect(PROMPT, timeout=60)
        return status, out


def kernel_needs_mib():
    """The RAM (MiB) Debian's kernel needs before it reads its memory map: it runs at
    its pref_address and needs init_size bytes there (boot.rst)."""
    with open(os.path.join(LINUX, "linux"), "rb") as f:
        hdr = f.read(0x270)
    pref, = struct.unpack_from("<Q", hdr, 0x258)
    init_size, = struct.unpack_from("<I", hdr, 0x260)
    return -(-(pref + init_size) // (1 << 20))


def test_images_listed_and_refused(host):
    """Before any Linux runs: the formats `info modules` gives, and every refusal, each
    with its reason and no memory kept."""
    need = kernel_needs_mib()
    initrd_mib = os.path.getsize(os.path.join(LINUX, "initramfs")) / (1 << 20)
    tight = need + need % 2          # VMs get RAM in 2 MiB chunks
    assert tight - need < initrd_mib, "the initramfs would fit beside the kernel"
    out = host.cmd("info modules")
    assert re.search(r"^linux\s+\d+\s+linux\s", out, re.M), out
    assert re.search(r"^initramfs\s+\d+\s+initrd\s", out, re.M), out
    assert re.search(r"^linux-cut\s+\d+\s+invalid\s", out, re.M), out
    assert re.search(r"^linux-bad\s+\d+\s+invalid\s", out, re.M), out
    free = free_kib(host)
    cases = [
        ("linux-cut mem=128 initrd=initramfs", "truncated"),
        ("linux-bad mem=128 initrd=initramfs", "corrupt: the payload"),
        (f"linux mem={need - 2} initrd=initramfs", f"the kernel needs RAM up to {need} MiB"),
        (f"linux mem={tight} initrd=initramfs", "the initrd"),
        ("linux mem=128 mod=initramfs", "takes initrd=, not mod="),
        ("linux mem=128 initrd=nosuch", "no initrd 'nosuch'"),
        ("hello initrd=initramfs", "initrd= is for Linux kernels"),
    ]
    for args, says in cases:
        out = host.cmd(f"vm start {args}")
        assert out.startswith("error: ") and says in out, (args, out)
    assert not vms(host)
    assert free_kib(host) == free


def test_shell_through_console(host, linux):
    vm = linux.vm
    assert vms(host)[vm] == {"name": "linux", "state": "running", "kind": "linux"}
    with Console(host, vm) as con:
        status, out = con.run("echo $((6 * 7)) $(uname -r)")
        assert status == 0 and re.match(r"42 6\.\d+\.\d+-\d+-amd64\n", out), out
        status, out = con.run("cat /proc/cmdline")
        assert out.strip() == CMDLINE, out
        # the e820 map gives Linux all 128 MiB less the legacy hole; its image (code,
        # data, bss: 45 MiB of Debian's 6.1) and memory map are not in MemTotal (82056 kB)
        status, out = con.run("grep MemTotal /proc/meminfo")
        assert 64 * 1024 < int(out.split()[1]) <= 128 * 1024, out
        status, out = con.run("ls /nonexistent")
        assert status != 0 and "No such file" in out, out
        status, out = con.run("memtouch mib=8 rate=64 ms=200 count=3")
        assert status == 0 and re.findall(r"seq=(\d+) check=ok", out) == ["1", "2", "3"], out
    assert host.info("version")["version"]  # the monitor is back


def test_timekeeping(host, linux):
    """The TSC is the clocksource and nobody calls it unstable; sleep 10 and the
    guest's clocks run at tern's rate within 2 %; a minute idle brings no complaint."""
    vm = linux.vm
    with Console(host, vm) as con:
        status, out = con.run("cat /sys/devices/system/clocksource/clocksource0/"
                              "current_clocksource")
    assert out.strip() == "tsc", out
    # sleep 10, timed by tern across the command's round trip, and by the guest
    t0 = uptime_ms(host)
    with Console(host, vm) as con:
        status, out = con.run("a=$(date +%s); u=$(cut -d' ' -f1 /proc/uptime); sleep 10; "
                              "b=$(date +%s); v=$(cut -d' ' -f1 /proc/uptime); "
                              "echo date=$((b - a)) uptime=$u,$v", timeout=300)
    tern_s = (uptime_ms(host) - t0) / 1000
    m = re.search(r"date=(\d+) uptime=([\d.]+),([\d.]+)", out)
    assert m, out
    guest_s = float(m.group(3)) - float(m.group(2))
    print(f"sleep 10: guest {guest_s:.2f} s (date {m.group(1)} s), tern {tern_s:.2f} s")
    assert abs(guest_s - 10) <= 0.2, out
    assert 9 <= int(m.group(1)) <= 11, out
    assert guest_s <= tern_s, (guest_s, tern_s)
    # the guest's clock against tern's over a minute idle
    with Console(host, vm) as con:
        _, before = con.run("cut -d' ' -f1 /proc/uptime")
    t0 = uptime_ms(host)
    assert wait_for(lambda: uptime_ms(host) - t0 >= 60_000, timeout=1200, every=5)
    t1 = uptime_ms(host)
    with Console(host, vm) as con:
        _, after = con.run("cut -d' ' -f1 /proc/uptime")
        guest_s, tern_s = float(after) - float(before), (t1 - t0) / 1000
        print(f"idle: guest {guest_s:.2f} s while tern counted {tern_s:.2f} s")
        assert abs(guest_s - tern_s) <= 0.02 * tern_s + 2, (guest_s, tern_s)
        status, out = con.run("dmesg | grep -i -E 'unstable|lost|hung|spurious|"
                              "clocksource.*(watchdog|skew)' ; true")
        assert out.strip() == "", out


# --- migration: a working Linux VM there and back, at its share on the other host ------

A_IP, B_IP = "10.0.0.1", "10.0.0.2"


def heartbeats(host, vm):
    """Every seq=<n> the VM printed on this host so far, in order, all check=ok."""
    text = host.console_text()
    # the shell's prompt may share the line, when a command ends as a beat is printed
    found = re.findall(rf"\[vm{vm}\] [^\r\n]*?seq=(\d+) check=(\w+)", text)
    assert all(c == "ok" for _, c in found), [f for f in found if f[1] != "ok"]
    return [int(n) for n, _ in found]


def guest_free_pages(host, vm):
    """The pages Linux counts free (MemFree), asked through its COM1."""
    host.cmd(f"vm send {vm} echo free=$(grep MemFree /proc/meminfo)")
    host.expect(rf"\[vm{vm}\] free=MemFree: +(\d+) kB\r\n".encode(), timeout=120)
    return int(host.proc.match.group(1)) // 4


def guest_uptime(host, vm, tag):
    """The guest's /proc/uptime, asked through its COM1 (`vm send`)."""
    host.cmd(f"vm send {vm} echo {tag}=$(cut -d' ' -f1 /proc/uptime)")
    host.expect(rf"\[vm{vm}\] {tag}=([\d.]+)\r\n".encode(), timeout=120)
    return float(host.proc.match.group(1))


def migrate(src, vm, dst_ip):
    out = src.cmd(f"migrate {vm} {dst_ip}")
    assert f"migration vm{vm} -> {dst_ip}: started" in out, out
    src.expect(rf"migration vm{vm} -> {dst_ip}: (completed|failed)[^\r\n]*\r\n".encode(),
               timeout=1200)
    line = src.proc.match.group(0).decode().strip()
    assert "completed" in line, line
    return src.info("migrate")


def leg(linux, dst, dst_ip):
    """Moves the first VM, running memtouch, to dst: the heartbeat goes on there without a
    gap or a repeat, every check passes, the shell answers, the guest's clock advances by
    no more than the move took and steps by no more than the pause (clockstep), and the
    memory Linux holds free (zeroed, with init_on_free=1) travels as zero-page markers,
    so the pages sent are those Linux uses and memtouch rewrites."""
    src, vm = linux.host, linux.vm
    free = guest_free_pages(src, vm)
    before = guest_uptime(src, vm, f"before{dst_ip}")
    src.cmd(f"vm send {vm} clockstep &")
    src.expect(rf"\[vm{vm}\] [^\r\n]*?clockstep: every 10 ms".encode(), timeout=120)
    info = migrate(src, vm, dst_ip)
    new = int(info["target-vm"])
    dst.expect(rf"vm{new} arrived from".encode(), timeout=120)
    dst.cmd(f"vm send {new} echo shell-$((6 * 7))")
    dst.expect(rf"\[vm{new}\] shell-42".encode(), timeout=120)
    after = guest_uptime(dst, new, f"after{dst_ip}")
    assert 0 <= after - before <= int(info["total-time"]) / 1000 + 30, (before, after)
    for _ in range(2):
        dst.expect(rf"\[vm{new}\] [^\r\n]*?seq=\d+ check=ok\r\n".encode(), timeout=600)
    # the guest's clock across the pause: clockstep's largest step on the target within
    # the pause as the guest had it: tern's downtime plus the time it had been off the
    # CPU before (pause-lead: auto-converge's sit-out reaches 99 ms a slice at 99 %),
    # but for clockstep's 10 ms period and its wake on the target (50 ms); the kill
    # shows that it ran on
    dst.cmd(f"vm send {new} kill $! && echo clockstep-$((6 * 7))")
    dst.expect(rf"\[vm{new}\] [^\r\n]*?clockstep-42".encode(), timeout=120)
    text = dst.console_text()
    text = text[text.rindex(f"vm{new} arrived from"):]
    steps = [int(n) for n in re.findall(rf"\[vm{new}\] [^\r\n]*?clockstep: step=(\d+) ms",
                                        text)]
    downtime, lead = int(info["downtime"]), int(info["pause-lead"])
    assert max(steps, default=0) <= downtime + lead + 50, (steps, downtime, lead)
    old, now = heartbeats(src, vm), heartbeats(dst, new)
    assert now[0] == old[-1] + 1, (old[-3:], now[:3])
    assert now == list(range(now[0], now[0] + len(now))), now
    pages, zero = 128 * 256, int(info["zero-pages"])
    data = int(info["transferred-pages"]) - zero
    assert zero >= free * 0.95, (free, info)
    assert data <= (pages - free) * 1.3, (free, info)
    print("leg:", {k: info[k] for k in ("downtime", "pause-lead", "total-time",
                                        "transferred-pages", "zero-pages", "rounds")} |
          {"free-pages": free, "clock-steps-ms": steps})
    linux.host, linux.vm = dst, new   # the tests after this one find it there


def test_migrate_there(pair, linux):
    """The 128 MiB Linux VM, running memtouch (16 MiB), moves to host 2 (see leg())."""
    a, b = pair
    assert linux.host is a
    a.cmd(f"vm send {linux.vm} memtouch mib=16 rate=64 &")
    a.expect(rf"\[vm{linux.vm}\] [^\r\n]*?seq=2 check=ok".encode(), timeout=600)
    leg(linux, b, B_IP)


SHARE_WINDOW_MS = 10_000
TICKER_HZ = 100
# A VM woken by its timer runs before the busy ones (the scheduler's boost): without it
# round robin put the ticker behind every busy VM's 10 ms slice, and it kept 35 of its
# 100 Hz
TICKER_MIN_HZ = 90


def ticker_at(host, vm, sec=0):
    """The ticker's first line at or after its second sec: (ticks, missed, sec). Waiting
    on its lines sends no command: every line tern prints holds its loop (and the guests)
    about 9 ms, so a window read this way is the guests' alone."""
    while True:
        host.expect(rb"\[vm%d\] ticker: mode=\S+ apic=\S+ hz=\d+ ticks=(\d+) missed=(\d+) "
                    rb"doubled=\d+ tsc-khz=\d+ sec=(\d+) " % vm, timeout=300)
        ticks, missed, at = (int(g) for g in host.proc.match.groups())
        if at >= sec:
            return ticks, missed, at


def test_neighbours_at_their_share(pair, linux):
    """On host 2 the migrated VM (memtouch still working), the second Linux VM and a
    spinning test guest share the CPU evenly (each busy VM's time in its guest within
    20 % of theirs on average, over 10 s of tern's clock), while an idle ticker beside
    them takes next to nothing and keeps its rate (90 % of its ticks at least); both
    shells answer throughout."""
    b = pair[1]
    if linux.host is not b:
        pytest.skip("the first Linux VM did not reach host 2 (test_migrate_there)")
    vm, vm2 = linux.vm, linux.vm2
    b.cmd(f"vm send {vm2} echo cmdline=$(cat /proc/cmdline)")
    b.expect(rf"\[vm{vm2}\] cmdline=([^\r\n]*)\r\n".encode(), timeout=120)
    assert b.proc.match.group(1).decode() == DEFAULT_CMDLINE
    spin = b.vm_start("spin")
    ticker = b.vm_start(f"ticker -- mode=lapic-periodic hz={TICKER_HZ}")
    try:
        for v in (vm, vm2):
            b.cmd(f"vm send {v} while :; do :; done &")
        busy = {vm: "linux", vm2: "linux2", spin: "spin"}
        # the ticker's rate over 10 of its seconds, then the shares over the next 10
        ticks0, missed0, sec0 = ticker_at(b, ticker, 2)
        ticks1, missed1, sec1 = ticker_at(b, ticker, sec0 + SHARE_WINDOW_MS // 1000)
        t0, rows0 = uptime_ms(b), b.vms()
        _, _, sec2 = ticker_at(b, ticker)
        ticker_at(b, ticker, sec2 + SHARE_WINDOW_MS // 1000)
        t1, rows1 = uptime_ms(b), b.vms()
        share = {v: (rows1[v]["cpu_ms"] - rows0[v]["cpu_ms"]) / (t1 - t0)
                 for v in list(busy) + [ticker]}
        mean = sum(share[v] for v in busy) / len(busy)
        rate = (ticks1 - ticks0) / (sec1 - sec0)
        what = (", ".join(f"{busy[v]} {share[v]:.1%}" for v in busy) +
                f"; ticker {share[ticker]:.2%} at {rate:.1f} Hz (missed "
                f"{missed1 - missed0}) over {t1 - t0} ms of tern's clock")
        print("shares:", what)
        assert all(abs(share[v] - mean) <= 0.2 * mean for v in busy), what
        assert sum(share[v] for v in busy) >= 0.6, what
        assert share[ticker] < 0.05, what
        assert rate >= TICKER_MIN_HZ, what
    finally:
        # the busy loops are the shells' last jobs ($!; memtouch is the first VM's %1)
        for v in (vm, vm2):
            b.cmd(f"vm send {v} kill $!; echo share-$((6 * 7))")
            b.expect(rf"\[vm{v}\] share-42".encode(), timeout=120)
        for v in (spin, ticker):
            b.cmd(f"kill {v}")
    assert all(b.vms()[v]["state"] == "running" for v in (vm, vm2))


def test_migrate_back(pair, linux):
    """The VM comes home (see leg()), and memtouch checks a whole pass of its ledger."""
    a, b = pair
    if linux.host is not b:
        pytest.skip("the first Linux VM did not reach host 2 (test_migrate_there)")
    b.cmd(f"kill {linux.vm2}")   # host 2's CPU to the move
    leg(linux, a, A_IP)
    a.expect(rf"\[vm{linux.vm}\] memtouch: pass \d+ of 4096 pages ok".encode(), timeout=900)
    a.cmd(f"vm send {linux.vm} kill %1")


def test_reboot_then_poweroff(host, linux):
    """reboot -f starts the same kernel again, the same way; poweroff -f ends the VM."""
    assert linux.host is host, "the first Linux VM is not home (test_migrate_back)"
    vm = linux.vm
    with Console(host, vm) as con:
        host.send_raw(b"reboot -f\r")
        host.expect(rf"vm{vm} reset".encode(), timeout=120)
        host.expect(rb"init: up after", timeout=BOOT_TIMEOUT)
        host.expect(PROMPT, timeout=120)
        status, out = con.run("cat /proc/cmdline")
        assert out.strip() == CMDLINE, out
        host.send_raw(b"poweroff -f\r")
        host.expect(rf"vm{vm} powered off".encode(), timeout=120)
        host.expect(rb"tern> ", timeout=60)
        con.attached = False
    assert vms(host)[vm]["state"] == "exited"
