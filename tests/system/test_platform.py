"""The guests' PC platform (issue 13) on one Bochs + GRUB host: every timer path keeps
its rate against tern's clock, a guest calibrating its TSC against the PIT finds the
rate CPUID states, idle guests cost tern little and slow no busy neighbour, the
operator's console reaches a guest's UART and comes back, resets and power-off end a
run the way a PC's do, a hostile guest leaves tern and its neighbours running, and
string I/O moves the right bytes.

Time is tern's: `info cpu`'s uptime-ms and idle-ms (under Bochs they count emulated
instructions, so they run faster than the wall clock while tern sleeps). A rate is
counted from just after one of a guest's lines to just after a later one, each
followed at once by `info cpu`: the two readings lag their lines by about the same
time, so the window is the lines' distance. The console is tern's own 115200-baud
UART, polled: every line tern prints keeps it (and every guest) busy for about 87 us a
byte, so the tests print no more than they need while they measure."""
import re
import time

import pytest

from ternhost import TernHost, parse_vms

PLATFORM = "bochs-bios"
WINDOW_S = 10           # seconds of tern's clock a rate is measured over (the issue's)
RATE_TOLERANCE = 0.01   # within 1 %
HZ = 100
LINE_TIMEOUT = 120      # wall seconds for a guest's next line (Bochs under load is slow)

TICK = (rb"\[vm%d\] ticker: mode=\S+ apic=\S+ hz=\d+ ticks=(?P<ticks>\d+) "
        rb"missed=(?P<missed>\d+) doubled=(?P<doubled>\d+) tsc-khz=(?P<khz>\d+) "
        rb"sec=(?P<sec>\d+) wakeups=\d+ idle=\d+%%\r\n")


@pytest.fixture(scope="module")
def host():
    h = TernHost(PLATFORM, name="platform")
    h.wait_prompt()
    yield h
    h.close()


class Console:
    """A guest's lines as they come, including those that reached the console while a
    monitor command was being typed (the command's expect() skips over them)."""

    def __init__(self, host):
        self.host = host
        self.skipped = b""
        self.before = b""   # what came before the last expect()'s match

    def cmd(self, line, timeout=30):
        out = self.host.cmd(line, timeout)
        self.skipped += self.host.proc.before or b""
        return out

    def expect(self, pattern, timeout=LINE_TIMEOUT):
        """The next match of pattern (bytes regex): first among skipped lines, then
        on the console. Returns the match."""
        rx = re.compile(pattern)
        m = rx.search(self.skipped)
        if m:
            self.before = self.skipped[:m.start()]
            self.skipped = self.skipped[m.end():]
            return m
        self.host.expect(rx, timeout=timeout)
        self.before = self.skipped + (self.host.proc.before or b"")
        self.skipped = b""
        return self.host.proc.match

    def vm_start(self, args):
        out = self.cmd(f"vm start {args}")
        m = re.search(r"^vm(\d+) started$", out, re.M)
        assert m, out
        return int(m.group(1))

    def info(self, what):
        pairs = {}
        for ln in self.cmd(f"info {what}").splitlines():
            m = re.match(r"^([\w.-]+): (.*)$", ln.strip())
            if m:
                pairs[m.group(1)] = m.group(2).strip()
        return pairs

    def times(self):
        """(uptime-ms, idle-ms) from `info uptime`"""
        out = self.cmd("info uptime")
        get = lambda k: int(re.search(rf"^{k}: (\d+)$", out, re.M).group(1))  # noqa: E731
        return get("uptime-ms"), get("idle-ms")

    def uptime(self):
        return self.times()[0]

    def tick(self, vm):
        m = self.expect(TICK % vm)
        return {k: int(v) for k, v in m.groupdict().items()}


def vm_rows(con):
    return parse_vms(con.cmd("info vms"))


ENDS = 3   # lines at each end of a window whose readings of tern's clock are compared


def tick_window(con, vm, seconds=WINDOW_S):
    """The ticker's lines a and b, `seconds` of its TSC apart, and the ms of tern's clock
    between them: (a, b, ms). A line's time on tern's clock is read with `info uptime`
    after it, which lands late by however long the console and this test took: once
    100 ms late on a loaded CI machine, the whole 1 % a rate is held to. So each of the
    first and last ENDS lines is read (only those: every reading holds the guests a
    little), each reading brought to its end's line by the ticker's seconds between
    them, and the earliest at each end counts."""
    a = b = con.tick(vm)
    read = []                                  # (the line's second, tern's uptime after it)
    while True:
        if b["sec"] < a["sec"] + ENDS or b["sec"] > a["sec"] + seconds - ENDS:
            read.append((b["sec"], con.uptime()))
        if b["sec"] >= a["sec"] + seconds:
            break
        b = con.tick(vm)
    at_a = min(u - (sec - a["sec"]) * 1000 for sec, u in read if sec < a["sec"] + ENDS)
    at_b = min(u + (b["sec"] - sec) * 1000 for sec, u in read if sec > b["sec"] - ENDS)
    return a, b, at_b - at_a


def ended(con, vm, timeout=LINE_TIMEOUT):
    """The VM's verdict line ("" if none came since the last line read) and how it
    ended: `exited with status N`, `killed: ...` or `powered off`."""
    m = con.expect(rb"vm%d (exited with status \d+|killed: [^\r\n]*|powered off)\r\n" % vm,
                   timeout)
    verdicts = re.findall(rb"\[vm%d\] (PASS|FAIL[^\r\n]*)\r\n" % vm, con.before)
    return (verdicts[-1].decode() if verdicts else ""), m.group(1).decode()


# --- 1. timers against tern's clock ---

TIMERS = {
    "pit-pic": "mode=pit route=pic",
    "pit-ioapic": "mode=pit route=ioapic",
    "lapic-periodic": "mode=lapic-periodic",
    "lapic-oneshot": "mode=lapic-oneshot",
    "lapic-deadline": "mode=lapic-deadline",
    "x2apic-periodic": "mode=lapic-periodic apic=x2apic",
    "x2apic-oneshot": "mode=lapic-oneshot apic=x2apic",
    "x2apic-deadline": "mode=lapic-deadline apic=x2apic",
}


@pytest.mark.parametrize("timer", list(TIMERS))
def test_timer_keeps_rate(host, timer):
    con = Console(host)
    vm = con.vm_start(f"ticker name=t-{timer} -- {TIMERS[timer]} hz={HZ} seconds=11")
    a, b, ms = tick_window(con, vm)
    verdict, how = ended(con, vm)
    rate = (b["ticks"] - a["ticks"]) * 1000 / ms
    tsc_s = (b["sec"] - a["sec"]) * 1000 / ms
    what = f"{timer}: {b['ticks'] - a['ticks']} ticks in {ms} ms of tern's clock, {a} -> {b}"
    assert abs(rate / HZ - 1) < RATE_TOLERANCE, what
    # the guest's TSC, at the rate CPUID states, keeps tern's time
    assert abs(tsc_s - 1) < RATE_TOLERANCE, what
    assert b["doubled"] == 0, what
    assert (verdict, how) == ("PASS", "exited with status 0"), (verdict, how)


def test_pit_calibration_finds_cpuid_rate(host):
    """Measured against PIT channel 2 the two ways kernels do (latched counts; OUT2
    polled, as Linux's pit_calibrate_tsc), the TSC runs at the rate CPUID states."""
    con = Console(host)
    vm = con.vm_start("ticker -- calibrate=pit seconds=1 report=0")
    m = con.expect(rb"\[vm%d\] ticker: calibrate pit-khz=(\d+) out2-khz=(\d+) cpuid-khz=(\d+) "
                   rb"from cpuid 0x40000010\r\n" % vm)
    pit, out2, khz = (int(x) for x in m.groups())
    assert ended(con, vm) == ("PASS", "exited with status 0")
    assert abs(pit / khz - 1) < RATE_TOLERANCE, m.group(0)
    assert abs(out2 / khz - 1) < RATE_TOLERANCE, m.group(0)
    # and CPUID's rate is tern's own TSC rate (info cpu rounds it down to MHz)
    assert int(host.info("cpu")["tsc-mhz"]) == khz // 1000, m.group(0)


# --- 2. idle guests cost little; a busy one keeps its speed beside them ---

IDLE_TICKERS = ["mode=pit", "mode=lapic-periodic", "mode=lapic-deadline apic=x2apic"]
BUSY_WINDOW_S = 5   # memtouch runs Bochs at its slowest: shorter windows, more beats
BUSY_ARGS = "mib=1 beat=100 rate=16"   # small heartbeats: about 20 a second
BUSY_NOISE = 0.03   # two windows of ~100 heartbeats, each counted to +-1


def wait_tern_ms(con, since, ms):
    """Sleeps (wall time) until tern's clock is ms past since; returns (uptime, idle)."""
    u, i = con.times()
    while u - since < ms:
        time.sleep(max(0.5, (ms - (u - since)) / 1000))
        u, i = con.times()
    return u, i


def heartbeats(con, vm, seconds=BUSY_WINDOW_S):
    """memtouch's heartbeats per second of tern's clock over a window: those printed
    between two readings of tern's clock (tern prints a command's output in one piece,
    so a line is before or after a reading)."""
    u0 = con.uptime()
    con.skipped = b""
    u1, _ = wait_tern_ms(con, u0, seconds * 1000)
    beats = re.findall(rb"\[vm%d\] seq=(\d+) check=ok\r\n" % vm, con.skipped)
    con.skipped = b""
    return len(beats) * 1000 / (u1 - u0), len(beats), u1 - u0


def test_idle_tickers_and_busy_neighbour(host):
    con = Console(host)
    tickers = [con.vm_start(f"ticker -- {t} hz={HZ} report=0") for t in IDLE_TICKERS]
    # their first lines, in whatever order the scheduler ran them
    pending = set(tickers)
    while pending:
        m = con.expect(rb"\[vm(\d+)\] ticker: mode=\S+ route=\S+ apic=\S+ hz=\d+ "
                       rb".*seconds=0\r\n")
        pending.discard(int(m.group(1)))
    # past the tickers' start (their set-up runs busy): two seconds of tern's clock
    u0, i0 = wait_tern_ms(con, con.times()[0], 2000)
    u1, i1 = wait_tern_ms(con, u0, WINDOW_S * 1000)
    busy = 1 - (i1 - i0) / (u1 - u0)
    # tern's load (what `info hosts` announces and the policy acts on): the vCPUs
    # runnable over the last 10 s, in % of one CPU; the time tern was busy is printed
    # (under Bochs it is mostly the emulator's cost of VM exits: see tests/bench)
    load = int(con.info("policy")["load"])
    idle = f"three idle tickers at {HZ} Hz: load {load}%, tern busy {busy:.2%} of {u1 - u0} ms"
    print(idle)
    assert load < 5, idle

    # memtouch beside them loses at most the time they take (their ticks' cost: under
    # Bochs an exit costs the emulator far more than it would a CPU)
    mt = con.vm_start(f"memtouch name=busy -- {BUSY_ARGS}")
    con.expect(rb"\[vm%d\] seq=2 check=ok\r\n" % mt)
    for vm in tickers:
        con.cmd(f"stop {vm}")
    alone = heartbeats(con, mt)
    for vm in tickers:
        con.cmd(f"cont {vm}")
    beside = heartbeats(con, mt)
    rows = vm_rows(con)
    for vm in tickers + [mt]:
        con.cmd(f"kill {vm}")
    what = (f"memtouch alone: {alone[1]} beats in {alone[2]} ms; beside the tickers: "
            f"{beside[1]} in {beside[2]} ms; the tickers took {busy:.2%} of tern's time")
    print(what)
    assert all(rows[vm]["state"] == "running" for vm in tickers + [mt]), rows
    assert beside[0] >= alone[0] * (1 - busy - BUSY_NOISE), what


# --- 3. the operator's console ---

def test_console_round_trip(host):
    con = Console(host)
    echo = con.vm_start("echo")
    con.expect(rb"\[vm%d\] echo: ready[^\r\n]*\r\n" % echo)
    neighbour = con.vm_start("ticker name=chatty -- mode=lapic-periodic hz=10")
    con.tick(neighbour)
    host.send_raw(f"console {echo}\r".encode())
    con.expect(rb"console: vm%d's COM1; Ctrl-\] returns to the monitor\r\n" % echo)
    host.send_raw(b"hello tern\r")
    # raw both ways: the guest's echo of each byte, then its answer, no [vm] prefix
    con.expect(rb"echo: rx-irqs=(\d+) bytes=11 lines=1\r\n")
    # (the neighbour's lines may come between any two bytes)
    raw = re.sub(rb"\[vm%d\] [^\r\n]*\r\n" % neighbour, b"", con.before)
    assert b"hello tern\r\necho: hello tern\r\n" in raw, raw
    assert not re.search(rb"\[vm%d\]" % echo, raw), raw
    # another VM's output meanwhile stays in [vm<ID>] lines
    con.tick(neighbour)
    host.send_raw(b"\x1d")
    con.expect(rb"\ntern> ")
    assert host.info("version")["version"]
    # detached: the guest's output is in [vm<ID>] lines again
    con.cmd(f"vm send {echo} after")
    con.expect(rb"\[vm%d\] echo: after\r\n" % echo)
    con.cmd(f"vm send {echo} exit")
    assert ended(con, echo) == ("PASS", "exited with status 0")
    con.cmd(f"kill {neighbour}")



def registers(con, vm):
    """`info registers <vm>` as a dict of its `name: value` lines and its register
    words (`rip` -> int, ...)."""
    out = con.cmd(f"info registers {vm}")
    regs = {m.group(1): m.group(2) for m in re.finditer(r"^([\w-]+): (.*)$", out, re.M)}
    for m in re.finditer(r"\b(r\w\w?|cr\d|efer) +([0-9a-f]{8,16})\b", out):
        regs[m.group(1)] = int(m.group(2), 16)
    return out, regs


def test_info_registers(host):
    """A guest waiting for its UART shows as halted in protected mode; a ticker's local
    APIC shows its periodic timer armed within one period; a VM that is not there is an
    error."""
    con = Console(host)
    echo = con.vm_start("echo")
    con.expect(rb"\[vm%d\] echo: ready[^\r\n]*\r\n" % echo)
    # its ready line reaches the console before the guest is done with its UART: wait
    # for the halt, a command at a time
    for _ in range(20):
        out, regs = registers(con, echo)
        if regs["halted"] == "yes":
            break
    assert regs["halted"] == "yes" and regs["cr0"] & 1 and regs["rip"] > 0x1000, out
    tick = con.vm_start("ticker name=regs -- mode=lapic-periodic hz=10")
    con.tick(tick)
    out, regs = registers(con, tick)
    m = re.search(r"lvt-timer ([0-9a-f]{8}) tmict (\d+)", regs["apic"])
    assert m, out
    lvt, tmict = int(m.group(1), 16), int(m.group(2))
    assert lvt & (1 << 17) and not lvt & (1 << 16) and tmict > 0, out   # periodic, unmasked
    # within one 10 Hz period, ahead or just passed (it fires when the VM next runs)
    m = re.match(r"(in (\d+) ns|due (\d+) ns ago)$", regs["apic-timer"])
    assert m and int(m.group(2) or m.group(3)) <= 100_000_000, out
    assert con.cmd("info registers 999").startswith("error: no VM"), "a missing VM"
    con.cmd(f"kill {tick}")
    con.cmd(f"vm send {echo} exit")
    assert ended(con, echo) == ("PASS", "exited with status 0")

# --- 4. reset and power-off ---

RESETS = ["reset kbc", "reset cf9", "reset port92", "reset acpi"]


def power_boot(con, vm):
    """The power guest's banner and ready lines: (fresh, apic-base at boot, ready)."""
    m = con.expect(rb"\[vm%d\] power: boot fresh=(\w+) apic-base=(0x[0-9a-f]+)\r\n" % vm)
    r = con.expect(rb"\[vm%d\] power: ready apic=(\w+) apic-base=(0x[0-9a-f]+)\r\n" % vm)
    return m.group(1).decode(), m.group(2).decode(), r.group(1).decode()


def test_reset_and_power_off(host):
    con = Console(host)
    vm = con.vm_start("power")
    assert power_boot(con, vm) == ("yes", "0xfee00900", "x2apic")
    con.cmd(f"vm send {vm} acpi")
    con.expect(rb"\[vm%d\] power: acpi rsdp=0x[0-9a-f]+ pm1a-cnt=0x604 s5-slp-typ=5 "
               rb"reset-reg=io:0xcf9 reset-value=0x6\r\n" % vm)
    for how in RESETS:
        con.cmd(f"vm send {vm} {how}")
        con.expect(rb"vm%d reset\r\n" % vm)
        # from its image again (its data as linked), the local APIC at power-on (xAPIC,
        # enabled, BSP) although the guest had switched it to x2APIC
        assert power_boot(con, vm) == ("yes", "0xfee00900", "x2apic"), how
        assert vm_rows(con)[vm]["state"] == "running", how
    con.cmd(f"vm send {vm} off")
    assert ended(con, vm) == ("", "powered off")
    assert vm_rows(con)[vm]["state"] == "exited"
    assert host.info("version")["version"]


# --- 5. a hostile guest ---

@pytest.fixture(scope="module")
def hostile(host):
    """badpc beside a ticker, the monitor asked during badpc's interrupt storm; what
    each saw, for the tests below."""
    con = Console(host)
    r = {}
    tick = con.vm_start("ticker name=witness -- mode=lapic-periodic hz=100 seconds=11")
    # badpc is created first and set going inside the window: creating a VM stops
    # tern for as long as it takes to clear the VM's RAM (about 12 ms a MiB under
    # Bochs), which is the operator's doing, not the guest's. It waits for a line on
    # its COM1: stopping it instead could stop it inside a case that times itself
    bad = con.vm_start("badpc -- storm=1 wait=1")
    con.expect(rb"\[vm%d\] badpc: waiting for a line on COM1\r\n" % bad)
    a = con.tick(tick)
    u0 = con.uptime()
    con.cmd(f"vm send {bad} go")
    con.expect(rb"\[vm%d\] badpc: storm\r\n" % bad, timeout=240)
    t0 = time.monotonic()
    seen = len(con.skipped)
    # (a short answer: each byte tern prints keeps every guest waiting 87 us)
    r["storm_version"] = con.info("version").get("version")
    r["storm_answer_s"] = time.monotonic() - t0
    r["storm_over_before_answer"] = b"badpc: storm: count=" in con.skipped[seen:]
    r["badpc"] = ended(con, bad, timeout=600)
    b = a
    while b["sec"] < a["sec"] + WINDOW_S:
        b = con.tick(tick)
    r["window"] = (a, b, con.uptime() - u0)
    r["ticker"] = ended(con, tick)
    r["log"] = host.seen(rb"(?s)vm%d started.*" % bad).group(0).decode("latin-1")
    return r


def test_hostile_badpc_ends_pass(hostile):
    unexpected = re.findall(r"badpc: UNEXPECTED: [^\r\n]*", hostile["log"])
    assert hostile["badpc"] == ("PASS", "exited with status 0"), (hostile["badpc"], unexpected)


def test_hostile_monitor_answers_during_storm(hostile):
    assert hostile["storm_version"], hostile
    assert not hostile["storm_over_before_answer"], "the storm ended before the monitor answered"


def test_hostile_neighbour_keeps_rate(hostile):
    a, b, ms = hostile["window"]
    rate = (b["ticks"] - a["ticks"]) * 1000 / ms
    what = f"ticker beside badpc: {b['ticks'] - a['ticks']} ticks in {ms} ms; {a} -> {b}"
    assert abs(rate / HZ - 1) < RATE_TOLERANCE, what
    assert hostile["ticker"] == ("PASS", "exited with status 0"), hostile["ticker"]


def test_hostile_fp_access_to_apic(host):
    """An x87 load of 8 bytes from the local APIC's page: undefined (SDM 3A, 10.4.1: "any
    FP/MMX/SSE access to an APIC register ... may cause undefined behavior", machine
    checks included). tern may end that VM, with its reason; tern and the monitor go on."""
    con = Console(host)
    vm = con.vm_start("badpc -- case=lapic-fp-read")
    verdict, how = ended(con, vm)
    assert (verdict, how) == ("PASS", "exited with status 0") or \
        re.fullmatch(r"killed: device memory at 0xfee00030: .* at rip 0x[0-9a-f]+", how), how
    assert host.info("version")["version"]


# --- 6. string I/O ---

PATTERN = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def outs_line(i):
    head = f"power: outsb {i:02d} "
    return head + "".join(PATTERN[(i + k) % len(PATTERN)] for k in range(len(head), 95))


def test_string_io(host):
    con = Console(host)
    vm = con.vm_start("power")
    power_boot(con, vm)
    con.cmd(f"vm send {vm} strio")
    # 48 lines by one REP OUTSB (4,608 bytes across two page boundaries: several exits)
    for i in range(48):
        m = con.expect(rb"\[vm%d\] (power: outsb \d\d [^\r\n]*)\r\n" % vm)
        assert m.group(1).decode() == outs_line(i)
    con.expect(rb"\[vm%d\] power: outsb backward %s\r\n" % (vm, PATTERN[:40].encode()))
    con.expect(rb"\[vm%d\] power: insd 00:00.0 id=0x12378086 got 0x12378086 0x12378086 "
               rb"0x12378086 0x12378086\r\n" % vm)
    con.expect(rb"\[vm%d\] power: strio ok\r\n" % vm)
    # REP INSB of typed bytes, more than the 16-byte FIFO holds
    typed = PATTERN[10:50]
    con.cmd(f"vm send {vm} insb {len(typed)}")
    con.expect(rb"\[vm%d\] power: insb waiting for 40 bytes\r\n" % vm)
    con.cmd(f"vm send {vm} {typed}")
    con.expect(rb"\[vm%d\] power: insb '%s'\r\n" % (vm, typed.encode()))
    con.cmd(f"vm send {vm} exit")
    assert ended(con, vm) == ("PASS", "exited with status 0")
