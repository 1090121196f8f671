"""Every CPU of the host comes up (issue 17, first step): Bochs with 2 emulated CPUs
through OVMF (no ACPI tables there: the CPU list comes from UEFI's MP services), and
with 4 through the Bochs BIOS and GRUB (the ACPI MADT) with `cpus=3`. Each application
processor started must reach tern's C code, enter VMX operation and park, and answer a
wake-up IPI; the one past `cpus=` stays down and is listed so; the monitor and a guest
on CPU 0 still work.

QEMU (TCG, no VT-x) with 2 CPUs as well: OVMF with ACPI tables there, an AMD CPU model;
the AP comes up and says that VMX is off.

One boot per configuration, shared by its checks (Bochs with 4 CPUs is slow to boot).

Then VMs on every CPU (issue 17, second step), on two more hosts, Bochs/BIOS with 2
CPUs each on one LAN: two spin VMs pinned one per CPU each get nearly a whole CPU; the
monitor answers while a spin VM runs on CPU 1; stop, cont and kill reach a VM on CPU 1
and take effect; dirty tracking stays exact in every mode with the writer on CPU 1 (the
pages guest, as test_dirty.py checks it), no write is lost while rounds end under it,
and memtouch's ledger holds under it; and memtouch on CPU 1 migrates to the other host
and back."""
import re
import time

import pytest

from ternhost import TernHost, lan_hosts, wait_for
from test_dirty import MODES, PAGE, dump, start_pages, sync, wrote_lines
from test_discovery import peers

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


def took(row):
    """IPIs a CPU took, as `info cpu` counts them: its handler counts one (ipis) and a
    parked CPU then leaves HLT (wakeups). What `answered` waits for is either; under
    QEMU's threaded TCG the listing was printed once between the two (answered=yes
    ipis=1 wakeups=0), so a check of wakeups alone failed."""
    return int(row["wakeups"]) + int(row.get("ipis", 0))


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
        # parked, in VMX operation where there is VT-x, and it took the IPI `info cpu`
        # sent it
        assert cpu[i]["state"] == "parked" and cpu[i]["vmx"] == on, info
        if not smp_host.vmx:
            assert cpu[i]["why"] == "not enabled on the boot CPU", info
        assert cpu[i]["answered"] == "yes" and took(cpu[i]) >= 1, info


def test_guest_runs_and_aps_park_again(smp_host):
    """A VM started without cpu= goes to an AP (CPU 0 counts busier); once it ended,
    every AP is parked again and answers."""
    if smp_host.vmx:
        vm = smp_host.vm_start("hello -- greeting=1")
        smp_host.expect(rf"\[vm{vm}\] PASS".encode(), timeout=120)
        smp_host.expect(rf"vm{vm} exited with status 0".encode(), timeout=60)
        assert smp_host.vms()[vm]["cpu"] == 1
    before = rows(smp_host.info("cpu"))
    after = rows(smp_host.info("cpu"))
    for i in range(1, smp_host.cpus):
        if i >= (smp_host.limit or smp_host.cpus):
            assert after[i]["state"] == "disabled" and after[i]["wakeups"] == "0", after
            continue
        assert after[i]["state"] == "parked" and after[i]["answered"] == "yes", after
        assert took(after[i]) > took(before[i]), (before, after)


# --- VMs on every CPU: one Bochs/BIOS boot with 2 CPUs ---

MEASURE_MS = 10000   # of tern's clock (uptime-ms), not the wall's


@pytest.fixture(scope="module")
def pair():
    """Two hosts of 2 CPUs on one LAN: the scheduling checks run on the first, the
    migration between them last."""
    with lan_hosts("bochs-bios", "smp-sched", timeout=BOOT_TIMEOUT, cpus=2) as hosts:
        yield hosts


@pytest.fixture
def clean(pair):
    yield pair[0]
    for h in pair:
        h.kill_vms()


def uptime_ms(host):
    return int(host.info("cpu")["uptime-ms"])


def wait_tern_ms(host, ms):
    """Waits until `ms` of tern's clock went by; returns how many did."""
    t0 = uptime_ms(host)
    while uptime_ms(host) - t0 < ms:
        time.sleep(1)
    return uptime_ms(host) - t0


def cpu_ms_over(host, vms, ms=MEASURE_MS):
    """Each VM's cpu-ms over `ms` of tern's clock, and the time it took."""
    before = host.vms()
    took = wait_tern_ms(host, ms)
    after = host.vms()
    return {vm: after[vm]["cpu_ms"] - before[vm]["cpu_ms"] for vm in vms}, took


def start_spin(host, cpu):
    vm = host.vm_start(f"spin cpu={cpu}")
    host.expect(rf"\[vm{vm}\] spin: every=".encode(), timeout=60)
    return vm


def test_cpu_must_be_able_to_run_guests(clean):
    out = clean.cmd("vm start spin cpu=2")
    assert "error: cpu2 cannot run guests: no such CPU" in out, out
    assert clean.vms() == {}


def test_two_spin_vms_each_get_a_cpu(clean):
    a = start_spin(clean, 1)
    alone, t_alone = cpu_ms_over(clean, [a])
    b = start_spin(clean, 0)
    both, t_both = cpu_ms_over(clean, [a, b])
    rows = clean.vms()
    print(f"\nspin alone on cpu1: {alone[a]} cpu-ms in {t_alone} ms; pinned pair: "
          f"cpu1 {both[a]}, cpu0 {both[b]} cpu-ms in {t_both} ms")
    assert rows[a]["cpu"] == 1 and rows[b]["cpu"] == 0, rows
    assert alone[a] > 0.8 * t_alone, (alone, t_alone)
    # one CPU shared would give each about half of what one alone got
    for vm in (a, b):
        assert both[vm] * t_alone > 0.75 * alone[a] * t_both, (alone, both)


def test_monitor_answers_while_a_guest_spins_on_cpu1(clean):
    vm = start_spin(clean, 1)
    for _ in range(3):
        cpu = rows(clean.info("cpu"))
        assert cpu[1]["state"] == "online" and cpu[1]["vms"] == "1", cpu
        assert cpu[1]["answered"] == "yes", cpu
    assert clean.vms()[vm]["state"] == "running"


def test_spread_vcpus_spinning_with_interrupts_off_stall_no_one(clean):
    """A VM whose vCPUs spin with interrupts off, one on each CPU (memtouch cpus=2
    pin=1,0 never enables them), beside a spin VM on CPU 0: the monitor answers, CPU 1
    takes its IPIs, a hold of the spread VM (`info registers` of each vCPU) returns,
    and the spin VM and both of memtouch's vCPUs make progress. The hold waits for the
    slice's VMX-preemption timer on each CPU, as Bochs's guests with IF=0 never exit
    on the kick: were CPU 1's slices not ended by it, the hold would never return."""
    spin = start_spin(clean, 0)
    vm = clean.vm_start("memtouch mem=8 cpus=2 pin=1,0 -- mib=1")
    clean.expect(rf"\[vm{vm}\] memtouch: mode=32 [^\r\n]* cpus=2\r\n".encode(), timeout=60)
    first = memtouch_beat(clean, vm)
    for k in (0, 1):
        regs = clean.cmd(f"info registers {vm} vcpu={k}")
        assert f"vcpu: {k}" in regs and "mp-state: run" in regs, regs
    cpu = rows(clean.info("cpu"))
    assert cpu[1]["answered"] == "yes" and cpu[1]["state"] == "online", cpu
    got, took = cpu_ms_over(clean, [spin, vm])
    second = memtouch_beat(clean, vm)
    print(f"\nspread memtouch beside a spin VM on cpu0: spin {got[spin]}, memtouch "
          f"{got[vm]} cpu-ms in {took} ms; writes {first} -> {second}")
    assert all(y > x for x, y in zip(first, second)), (first, second)
    # CPU 0 is shared by the spin VM, memtouch's vCPU 1 and tern's loop
    assert got[spin] > 0.2 * took, (got, took)
    assert clean.vms()[vm]["vcpu_cpus"] == [1, 0]
    assert "check=FAIL" not in clean.console_text()


def test_stop_cont_kill_on_cpu1(clean):
    """And what reaching CPU 1 cost, counted there: the stop is a hold that kicks it out
    of the guest (holds, hold-us), and the EPT translations it drops before it enters
    again after the hold (flushes, flush-ns)."""
    vm = start_spin(clean, 1)
    before = rows(clean.info("cpu"))[1]
    out = clean.cmd(f"stop {vm}")
    assert f"vm{vm} paused" in out, out
    stopped = clean.vms()[vm]
    wait_tern_ms(clean, 2000)
    assert clean.vms()[vm] == stopped, "cpu-ms grew while it was stopped"
    assert stopped["state"] == "paused" and stopped["cpu"] == 1
    clean.cmd(f"cont {vm}")
    wait_tern_ms(clean, 2000)
    resumed = clean.vms()[vm]
    assert resumed["state"] == "running" and resumed["cpu_ms"] > stopped["cpu_ms"] + 1000
    after = rows(clean.info("cpu"))[1]
    assert int(after["holds"]) > int(before["holds"]), (before, after)
    assert int(after["flushes"]) > int(before["flushes"]), (before, after)
    mean, longest = (int(x) for x in after["hold-us"].split("/"))
    assert 0 < mean <= longest and int(after["flush-ns"]) > 0, after
    out = clean.cmd(f"kill {vm}")
    assert f"vm{vm} killed: by the operator" in out, out
    killed = clean.vms()[vm]
    wait_tern_ms(clean, 1000)
    assert clean.vms()[vm] == killed and killed["state"] == "killed", killed
    assert rows(clean.info("cpu"))[1]["state"] == "parked"


def smp_lines(host, vm, vcpus, n):
    """The `smp` guest's report until PASS: its CPUs, their IPIs, two heartbeats."""
    aps = vcpus - 1
    ids = ",".join(str(i) for i in range(vcpus))
    host.expect(rf"\[vm{vm}\] smp: cpus={vcpus} apic-ids={ids} bsp=0\r\n".encode(),
                timeout=60)
    host.expect(rf"\[vm{vm}\] smp: progress pages=0x([0-9a-f]+)-0x([0-9a-f]+)\r\n".encode())
    first, last = (int(x, 16) // PAGE for x in host.proc.match.groups())
    host.expect(rf"\[vm{vm}\] smp: up={aps} of {aps} aps\r\n".encode(), timeout=60)
    if aps:
        # tern delivers lowest priority to the named APIC with the lowest TPR: the
        # guest's last AP, the only one at TPR 0x10
        host.expect(rf"\[vm{vm}\] smp: lowest-priority took=1 by={aps} lowest-tpr={aps}\r\n"
                    .encode(), timeout=60)
    host.expect(rf"\[vm{vm}\] smp: ipi={n * aps} nmi={n * aps} logical={aps} "
                rf"others={aps}\r\n".encode(), timeout=120)
    return set(range(first, last + 1))


@pytest.mark.parametrize("vcpus,cpu", [(2, 0), (4, 1)])
def test_a_vm_of_several_vcpus_starts_its_aps_and_passes_ipis(clean, vcpus, cpu):
    """A VM of n vCPUs (issue 17, guests): the MADT lists n local APICs; the guest
    starts its APs with INIT-SIPI-SIPI into its real-mode trampoline, sends fixed IPIs
    by physical and logical destination and the all-excluding-self shorthand, and NMIs,
    each answered, and a lowest-priority IPI to all APs, taken once, by the AP with the
    lowest TPR; every vCPU makes progress; `info vms` and `info registers` show
    them. At home on CPU 0 beside tern's loop, and on CPU 1."""
    vm = clean.vm_start(f"smp cpus={vcpus} cpu={cpu} -- n=20 seconds=2")
    smp_lines(clean, vm, vcpus, 20)
    for beat in (1, 2):
        clean.expect(rf"\[vm{vm}\] smp: beat={beat} progress=\d+(,\d+){{{vcpus - 1}}}"
                     .encode(), timeout=60)
    clean.expect(rf"\[vm{vm}\] PASS".encode(), timeout=60)
    clean.expect(rf"vm{vm} exited with status 0".encode(), timeout=60)
    row = clean.vms()[vm]
    assert row["vcpus"] == vcpus and row["cpu"] == cpu, row


@pytest.mark.parametrize("place,homes", [("pin=0,1", [0, 1]), ("pin=1,0", [1, 0]),
                                         ("", [1, 0])])
def test_vcpus_of_one_vm_run_on_two_cpus_at_once(clean, place, homes):
    """The vCPUs of one VM spread over host CPUs (issue 17, scheduling): pinned with
    `pin=`, or placed by load (vCPU 0 on CPU 1, as CPU 0 carries tern's loop, then
    vCPU 1 on CPU 0). The smp guest starts its AP and passes every kind of IPI between
    the two CPUs (each IPI kicks the target's CPU), both counters move, and it ends in
    `info vms` lists each vCPU's CPU."""
    vm = clean.vm_start(f"smp cpus=2 {place} -- n=20 seconds=0")
    smp_lines(clean, vm, 2, 20)
    first, second = beats(clean, vm, 2)
    assert all(y > x for x, y in zip(first, second)), (first, second)
    row = clean.vms()[vm]
    assert row["vcpu_cpus"] == homes and row["cpu"] == homes[0], row
    assert not re.search(rf"\[vm{vm}\] FAIL", clean.console_text())


def test_balancing_moves_vcpus_placed_by_load_only(clean):
    """Balancing (issue 17): three spin VMs pinned to CPU 1 make an smp VM of 2 vCPUs
    placed by load land both on CPU 0, and a spin VM is pinned there too. Once the three
    on CPU 1 are killed, CPU 0 has four vCPUs' load (tern's loop counting one) and CPU 1
    none: balancing moves the smp VM's vCPUs to CPU 1 one at a time (the first may go
    once two are killed, 4 against 1), the second as the first left a gap of two still,
    and then stops (2 and 2). The pinned spin VM stays
    on CPU 0; the smp guest goes on passing IPIs, its counters moving."""
    away = [start_spin(clean, 1) for _ in range(3)]
    vm = clean.vm_start("smp cpus=2 -- n=20 seconds=0")
    smp_lines(clean, vm, 2, 20)
    pinned = start_spin(clean, 0)
    assert clean.vms()[vm]["vcpu_cpus"] == [0, 0], clean.cmd("info vms")
    mark = len(clean.console_text())
    for s in away:
        assert f"vm{s} killed" in clean.cmd(f"kill {s}")
    # the first move may come as soon as two are killed (a gap of three already), its
    # line then inside a kill's answer: read the console since the mark, not the stream
    for k in (0, 1):
        moved = (rf"vm{vm}: vcpu{k} moved from cpu0 to cpu1 to balance the load "
                 rf"\(vCPUs at home: \d+ there, \d+ here")
        assert wait_for(lambda: re.search(moved, clean.console_text()[mark:]), 120, 0.5), \
            clean.console_text()[mark:][-2000:]
    first, second = beats(clean, vm, 2)
    assert all(y > x for x, y in zip(first, second)), (first, second)
    wait_tern_ms(clean, 3000)  # three more rounds of balancing: none moves
    rows_ = clean.vms()
    assert rows_[vm]["vcpu_cpus"] == [1, 1] and rows_[vm]["cpu"] == 1, rows_
    assert rows_[pinned]["cpu"] == 0 and rows_[pinned]["state"] == "running", rows_
    text = clean.console_text()[mark:]
    assert len(re.findall(r"moved from cpu\d to cpu\d to balance", text)) == 2, text
    assert not re.search(rf"\[vm{vm}\] FAIL", text)


def test_pin_refuses_a_cpu_that_cannot_run_guests(clean):
    out = clean.cmd("vm start smp cpus=2 pin=0,2")
    assert "error: pin: cpu2 cannot run guests: no such CPU (see info cpu)" in out, out
    out = clean.cmd("vm start smp cpus=2 pin=0,1,0")
    assert "error: pin= names 3 CPUs for 2 vCPU(s) (cpus=)" in out, out


def test_vcpus_beyond_eight_refused_and_each_vcpus_registers(clean):
    out = clean.cmd("vm start smp cpus=9")
    assert "error: bad cpus= value '9': give the VM's vCPUs, from 1 to 8" in out, out
    vm = clean.vm_start("smp cpus=2 -- seconds=0")
    smp_lines(clean, vm, 2, 100)
    regs = clean.cmd(f"info registers {vm} vcpu=1")
    assert re.search(r"^vcpu: 1$", regs, re.M) and re.search(r"^mp-state: run$", regs, re.M), \
        regs
    assert re.search(r"^rip [0-9a-f]+", regs, re.M), regs
    out = clean.cmd(f"info registers {vm} vcpu=2")
    assert f"error: vm{vm} has 2 vCPUs: vcpu=0 to vcpu=1" in out, out
    assert clean.vms()[vm]["vcpus"] == 2


@pytest.mark.parametrize("mode", MODES)
def test_dirty_tracking_sees_every_vcpus_writes(clean, mode):
    """Each of the 3 vCPUs of an `smp` VM bumps a counter on a page of its own,
    nonstop: every round in every mode holds all three pages (a page-modification log
    and the EPT pointer's A/D flag are per vCPU: one armed on the BSP alone would miss
    the APs' writes)."""
    vm = clean.vm_start("smp cpus=3 cpu=1 -- n=5 seconds=0")
    pages = smp_lines(clean, vm, 3, 5)
    assert len(pages) == 3, pages
    clean.cmd(f"dirty start {vm} mode={mode}")
    sync(clean, vm)
    for _ in range(3):
        clean.expect(rf"\[vm{vm}\] smp: beat=\d+ ".encode(), timeout=60)
        sync(clean, vm)
        got = dump(clean, vm)
        assert pages <= got, f"missing: {sorted(pages - got)}"
    clean.cmd(f"dirty stop {vm}")


def start_pages_on_cpu1(host, args):
    """The `pages` guest on CPU 1; returns (vm, its own pages, its area's pages)."""
    vm, own, area = start_pages(host, args, "cpu=1")
    assert host.vms()[vm]["cpu"] == 1
    return vm, own, set(area)


@pytest.mark.parametrize("homes", [[1], [1, 1], [0, 1]], ids=["cpu1", "2vcpus-cpu1",
                                                             "2vcpus-cpu0-cpu1"])
@pytest.mark.parametrize("mode", MODES)
def test_dirty_tracking_exact_with_writers_on_every_vcpu(clean, mode, homes):
    """test_dirty.py's exactness check in each mode, the guest on CPU 1: rounds end from
    CPU 0 (a hold: CPU 1 leaves the guest, its PML buffers are drained, its EPT
    translations flushed before it enters again). With 2 vCPUs both write and read
    their halves of every round's pages at once, at home on CPU 1 or one on each CPU:
    every page either wrote is in the round, no page only read is, nothing outside the
    guest's own memory is (with the log armed on vCPU 0 alone, the AP's pages go
    missing: tried for pml)."""
    vcpus, pin = len(homes), ",".join(str(c) for c in homes)
    vm, own, area = start_pages(clean, f"seed={10 + vcpus} count=24", f"cpus={vcpus} pin={pin}")
    area = set(area)
    assert clean.vms()[vm]["vcpu_cpus"] == homes
    clean.cmd(f"dirty start {vm} mode={mode}")
    sync(clean, vm)
    for rnd in (1, 2, 3):
        clean.cmd(f"vm send {vm} go")
        wrote = wrote_lines(clean, vm, rnd)
        if vcpus > 1:
            clean.expect(rb"\d+ by-cpu=(\d+),(\d+)\r\n", timeout=60)
            by_cpu = [int(x) for x in clean.proc.match.groups()]
            assert sum(by_cpu) == len(wrote) and min(by_cpu) > 0, by_cpu
        assert sync(clean, vm) == len(dump(clean, vm))
        dirty = dump(clean, vm)
        assert wrote <= dirty, f"missing: {sorted(wrote - dirty)}"
        extra = dirty - wrote
        assert not (extra & area), f"read, never written: {sorted(extra & area)}"
        assert extra <= own, f"outside the guest's own: {sorted(extra - own)}"


@pytest.mark.parametrize("mode", ["pml", "ad"])
def test_no_write_lost_across_rounds_on_cpu1(clean, mode):
    """The guest on CPU 1 writes 192 pages, one at a time, while CPU 0 ends rounds under
    it: every page is in exactly one round (a round's end leaves no write between the
    log CPU 0 reads and the one CPU 1 goes on filling)."""
    vm, own, area = start_pages_on_cpu1(clean, "")
    clean.cmd(f"dirty start {vm} mode={mode}")
    sync(clean, vm)
    clean.cmd(f"vm send {vm} stream 192")
    rounds, done = [], None
    while not done:
        done = clean.seen(rf"\[vm{vm}\] pages: stream done first=0x([0-9a-f]+) "
                          rf"count=192".encode())
        sync(clean, vm)
        rounds.append(dump(clean, vm) & area)
    first = int(done.group(1), 16) // PAGE
    sync(clean, vm)
    rounds.append(dump(clean, vm) & area)
    expected = set(range(first, first + 192))
    union = set().union(*rounds)
    assert union == expected, (sorted(expected - union), sorted(union - expected))
    assert sum(len(r) for r in rounds) == 192, "a page counted in two rounds"
    assert sum(1 for r in rounds if r) >= 2, "no round ended during the stream"


def test_memtouch_ledger_holds_on_cpu1_under_tracking(clean):
    vm = clean.vm_start("memtouch cpu=1 -- mib=2")
    clean.expect(rf"\[vm{vm}\] seq=1 check=ok".encode(), timeout=120)
    clean.cmd(f"dirty start {vm} mode=wp")
    for _ in range(4):
        clean.expect(rf"\[vm{vm}\] seq=\d+ check=ok".encode(), timeout=120)
        assert sync(clean, vm) > 0
    clean.cmd(f"dirty stop {vm}")
    clean.expect(rf"\[vm{vm}\] seq=\d+ check=ok".encode(), timeout=120)
    assert clean.vms()[vm]["cpu"] == 1
    assert "check=FAIL" not in open(clean.log_path, "rb").read().decode("latin-1")


def test_load_is_a_share_of_every_cpu(clean, pair):
    """The policy's capacity is 100 x the CPUs that run guests: a spin VM's 100 % of load
    is half of a 2-CPU host, and the host announces its capacity to its peers."""
    a, b = pair
    start_spin(clean, 1)
    assert wait_for(lambda: int(a.info("policy")["load"]) >= 90, 300, 1)
    info = a.info("policy")
    assert info["capacity"] == "200", info
    assert int(info["load-share"]) == int(info["load"]) * 100 // 200, info
    assert wait_for(lambda: peers(b).get("10.0.0.1", {}).get("capacity") == 200, 60, 1), \
        b.cmd("info hosts")


def beats(host, vm, vcpus, n=2):
    """The next n heartbeats of an `smp` VM: each vCPU's counter at each (the APs
    answered a ping at each)."""
    out = []
    for _ in range(n):
        host.expect(rf"\[vm{vm}\] smp: beat=\d+ progress=([\d,]+) pings=ok\r\n".encode(),
                    timeout=120)
        out.append([int(x) for x in host.proc.match.group(1).decode().split(",")])
        assert len(out[-1]) == vcpus, out
    return out


def migrated(src, vm, dst_ip, what):
    """Migrates vm from src to dst_ip, which must complete; prints the completion line
    and returns the VM's id on the target."""
    assert f"migration vm{vm} -> {dst_ip}: started" in src.cmd(f"migrate {vm} {dst_ip}")
    src.expect(rf"migration vm{vm} -> {dst_ip}: (completed|failed)[^\r\n]*\r\n".encode(),
               timeout=600)
    line = src.proc.match.group(0).decode().strip()
    assert "completed" in line, line
    print(f"\n{what}: {line}")
    return int(src.info("migrate")["target-vm"])


def test_a_vm_of_two_vcpus_migrates_there_and_back(pair):
    """Every vCPU's state and local APIC in the stream, the pause stopping them all: the
    `smp` guest with 2 vCPUs at home on CPU 1 moves to the other host and back with
    full-digest on (the target's memory is the source's at the pause), each time on
    the target its AP still answering IPIs and both vCPUs' counters moving on."""
    a, b = pair
    vm = a.vm_start("smp cpus=2 cpu=1 name=pair -- n=5 seconds=0")
    smp_lines(a, vm, 2, 5)
    beats(a, vm, 2, 1)
    for src, dst, dst_ip in ((a, b, "10.0.0.2"), (b, a, "10.0.0.1")):
        assert "full-digest: on" in src.cmd("migrate_set_parameter full-digest on")
        vm = migrated(src, vm, dst_ip, "2 vCPUs")
        first, second = beats(dst, vm, 2)
        assert all(y > x for x, y in zip(first, second)), (first, second)
        assert dst.vms()[vm]["vcpus"] == 2, dst.cmd("info vms")
    for h in pair:
        assert not re.search(r"\[vm\d+\] FAIL", h.console_text())
        h.cmd("migrate_set_parameter full-digest off")
    a.kill_vms()
    # The pause of a 2-vCPU VM beside a 1-vCPU one's, the same guest, printed (the README
    # has them): the AP's VCPU message is what the first adds
    for vcpus in (1, 2):
        vm = b.vm_start(f"smp cpus={vcpus} cpu=1 -- n=5 seconds=0")
        smp_lines(b, vm, vcpus, 5)
        vm = migrated(b, vm, "10.0.0.1", f"{vcpus} vCPU(s)")
        info = b.info("migrate")
        print(f"\n{vcpus} vCPU(s): downtime {info['downtime']} (copy {info['downtime-copy']}, "
              f"commit {info['downtime-commit']}, activate {info['downtime-activate']}), "
              f"cpu-state-bytes {info['cpu-state-bytes']}, device-us {info['device-us']}")
        beats(a, vm, vcpus, 1)
        a.kill_vms()


def memtouch_beat(host, vm):
    """memtouch's next heartbeat on host: the pages each vCPU has written so far; the
    beat's check must be ok."""
    host.expect(rf"\[vm{vm}\] memtouch: writes=([\d,]+)\r\n".encode(), timeout=120)
    writes = [int(x) for x in host.proc.match.group(1).decode().split(",")]
    host.expect(rf"\[vm{vm}\] seq=\d+ check=[^\r\n]*\r\n".encode(), timeout=120)
    line = host.proc.match.group(0).decode()
    assert "check=ok" in line, line
    return writes


def test_memtouch_of_two_vcpus_migrates_with_its_ledger(pair):
    """memtouch started with cpus=2 writes from both vCPUs, each the only writer and
    checker of its half of the pages, one vCPU on each host CPU. It moves to the other
    host and back with full-digest on, the pause stopping both CPUs: each time the
    target's memory is the source's at the pause, its ledger holds there and both
    vCPUs write on, again one on each CPU (placed by load). With the AP's writes left
    out of the dirty log the digest differs: checked by arming PML on vCPU 0 alone."""
    a, b = pair
    vm = a.vm_start("memtouch mem=8 cpus=2 pin=1,0 name=twins -- mib=2")
    a.expect(rf"\[vm{vm}\] memtouch: mode=32 [^\r\n]* cpus=2\r\n".encode(), timeout=60)
    first, second = memtouch_beat(a, vm), memtouch_beat(a, vm)
    assert len(first) == 2 and all(y > x for x, y in zip(first, second)), (first, second)
    try:
        for src, dst, dst_ip in ((a, b, "10.0.0.2"), (b, a, "10.0.0.1")):
            assert "full-digest: on" in src.cmd("migrate_set_parameter full-digest on")
            vm = migrated(src, vm, dst_ip, "memtouch, 2 vCPUs")
            first, second = memtouch_beat(dst, vm), memtouch_beat(dst, vm)
            assert all(y > x for x, y in zip(first, second)), (first, second)
            assert dst.vms()[vm]["vcpu_cpus"] == [1, 0], dst.cmd("info vms")
        for h in pair:
            assert "check=FAIL" not in h.console_text()
    finally:
        for h in pair:
            h.cmd("migrate_set_parameter full-digest off")
            h.kill_vms()


def test_migration_between_two_cpu_hosts(pair):
    """memtouch on CPU 1 of host a (its pages tracked by PML from there) moves to host b,
    where it lands on b's AP, and back: its ledger intact and its beats going on each
    time, every pause stopping it on the CPU it runs on."""
    a, b = pair
    vm = a.vm_start("memtouch mem=8 name=traveller cpu=1 -- mib=2")
    a.expect(rf"\[vm{vm}\] seq=2 check=ok".encode(), timeout=120)
    for src, dst, dst_ip in ((a, b, "10.0.0.2"), (b, a, "10.0.0.1")):
        assert src.vms()[vm]["cpu"] == 1
        vm = migrated(src, vm, dst_ip, "2-CPU hosts")
        for _ in range(2):
            dst.expect(rf"\[vm{vm}\] seq=\d+ check=ok\r\n".encode(), timeout=120)
        assert dst.vms()[vm]["cpu"] == 1, dst.cmd("info vms")
    for h in pair:
        assert "check=FAIL" not in h.console_text()
