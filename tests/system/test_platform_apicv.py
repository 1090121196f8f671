"""APIC virtualization (issue 13, Devices): the same guests on each of tern's paths
to the local APIC, one Bochs + GRUB host per path (Bochs's corei7_skylake_x offers TPR
shadow, APIC-register virtualization, virtual-interrupt delivery and x2APIC
virtualization):

  on    the default: all four
  tpr   apicv=tpr: the TPR shadow alone (CR8 without exits, the TPR threshold)
  off   apicv=off: the trapping path (every APIC access exits to the model)

On each, the ticker in each timer mode and both APIC modes, badpc, and apicpath (the
TPR, a vector held back by the TPR, self-IPIs and EOIs, a level-triggered vector sent
again after each EOI, in both APIC modes, the switches between them and a relocated
base, CR8 in long mode) all PASS; `info cpu` names the path; and `info apic` (the
exits that reached the local APIC model, by register, and the interrupts tern
injected) shows that the CPU took over exactly what the path says: with `on`, not one
TPR, self-IPI or CR8 access, no EOI but those of level-triggered vectors and not one
local APIC interrupt reaches tern; with `tpr`, no CR8 access does; with `off`, every
one does. Only those counts are asserted: rates (exits and tern's time per timer
interrupt) are tests/bench/apicv.py's. TERN_APICV_PATHS=on,off runs some paths only."""
import os
import re

import pytest

from ternhost import TernHost, wait_for

PLATFORM = "bochs-bios"
END_TIMEOUT = 600   # wall seconds for every guest of a wave to end (Bochs under load)

PATHS = {
    "on": ("", "on (tpr-shadow, register virtualization, virtual-interrupt delivery, x2apic)"),
    "tpr": ("apicv=tpr", "on (tpr-shadow; apicv=tpr)"),
    "off": ("apicv=off", "off (apicv=off)"),
}

TICKERS = [f"mode={mode} apic={apic}" + (" route=ioapic" if mode == "pit" else "")
           for mode in ("pit", "lapic-periodic", "lapic-oneshot", "lapic-deadline")
           for apic in ("xapic", "x2apic")]
TICKER_SECONDS = 5
TRACKED = "tracked"  # a ticker whose pages are tracked (wp) while it runs
# Every case but lapic-odd-access, whose 64-bit read is an x87 FILD that tern's
# instruction emulator does not carry out: it ends the VM on every path alike.
BADPC = ("case=pit-zero,lvt-vector-low,eoi-idle,lapic-readonly,ioapic-absent-dest,"
         "pic-icw-short,rtc-fastest,storm")
N = 200             # apicpath's iterations per phase
LEVEL = 10          # times apicpath's level-triggered vector comes per mode
APICPATH = {"xapic": f"apic=xapic n={N} base=0xfed00000", "x2apic": f"apic=x2apic n={N}"}


class Run:
    """What one path's host printed and counted for each guest."""

    def __init__(self, path, host):
        self.path, self.host = path, host
        self.cpu = host.info("cpu")
        self.verdict, self.apic, self.text = {}, {}, {}

    def wave(self, guests, tracked=()):
        """Starts every guest (key -> `vm start` arguments) at once, the ones named in
        tracked under dirty tracking (wp), waits until all ended, then reads their
        verdicts, lines and `info apic`."""
        vms = {key: self.host.vm_start(args) for key, args in guests.items()}
        for key in tracked:
            out = self.host.cmd(f"dirty start {vms[key]} mode=wp")
            assert not out.startswith("error"), out
        ends = {key: rb"vm%d (exited with status \d+|killed: [^\r\n]*)" % vm
                for key, vm in vms.items()}
        assert wait_for(lambda: all(self.host.seen(p) for p in ends.values()),
                        timeout=END_TIMEOUT, every=5), \
            f"{self.path}: guests still running after {END_TIMEOUT} s"
        log = open(self.host.log_path, "rb").read()
        for key, vm in vms.items():
            lines = re.findall(rb"\[vm%d\] ([^\r\n]*)" % vm, log)
            self.text[key] = b"\n".join(lines).decode(errors="replace")
            verdicts = [ln for ln in lines if ln == b"PASS" or ln.startswith(b"FAIL")]
            end = self.host.seen(ends[key]).group(1).decode(errors="replace")
            self.verdict[key] = (verdicts[-1].decode() if verdicts else "") + " / " + end
            self.apic[key] = {k: int(v) for k, v in self.host.info(f"apic {vm}").items()
                              if v.isdigit()}

    def ticks(self, key):
        m = re.search(r"ticker: done ticks=(\d+)", self.text[key])
        return int(m.group(1)) if m else 0


@pytest.fixture(scope="module",
                params=os.environ.get("TERN_APICV_PATHS", ",".join(PATHS)).split(","))
def run(request):
    """One host per path; the tickers side by side, then both apicpaths, then badpc."""
    path = request.param
    host = TernHost(PLATFORM, name=f"apicv-{path}", cmdline=PATHS[path][0])
    try:
        host.wait_prompt()
        r = Run(path, host)
        r.wave({**{t: f"ticker -- {t} seconds={TICKER_SECONDS}" for t in TICKERS},
                TRACKED: f"ticker -- mode=lapic-periodic apic=xapic seconds={TICKER_SECONDS}"},
               tracked=[TRACKED])
        r.wave({f"apicpath {k}": f"apicpath -- {a}" for k, a in APICPATH.items()})
        r.wave({"badpc": f"badpc -- {BADPC}"})  # alone: it times the PIT's period
        yield r
    finally:
        host.close()


def passed(run, key):
    assert run.verdict[key].startswith("PASS / exited with status 0"), \
        f"{run.path}: {key}: {run.verdict[key]}\n{run.text[key][-1500:]}"


def test_info_cpu_names_the_path(run):
    assert run.cpu["apic-virtualization"] == PATHS[run.path][1], run.cpu


@pytest.mark.parametrize("ticker", TICKERS)
def test_ticker(run, ticker):
    """Every timer interrupt reaches the guest, on time (PASS: none doubled, no HLT
    woken for nothing, no stray vector), and on `on` the CPU delivered and EOIed each
    one itself: these vectors are edge-triggered, so no EOI exits."""
    passed(run, ticker)
    ticks, c = run.ticks(ticker), run.apic[ticker]
    # at 100 Hz: at least a second's worth (starting the others stalls the first
    # ones' slices; those ticks coalesce, as on a busy machine)
    assert ticks >= 100, (ticks, run.text[ticker][-800:])
    if run.path == "on":
        assert (c["exits-eoi"], c["exits-tpr"], c["exits-icr"], c["injected"]) == (0, 0, 0, 0), c
    else:
        assert c["exits-eoi"] >= ticks and c["injected"] >= ticks, (ticks, c)
    assert c["exits-cr8"] == 0, c   # a 32-bit guest has no CR8


def test_ticker_under_dirty_tracking(run):
    """A tracked guest keeps its interrupts on every path, and on every path tern
    injects them itself while it tracks: with `on`, tracking's exits can interrupt the
    CPU's delivery of a virtual interrupt, which Bochs then reports as another event
    (vmx/apicv.c, vmx_apicv_select), so the CPU delivers none while a VM is tracked.
    Every tick after `dirty start` is injected and its EOI reaches the model (the
    first few, before it, may be the CPU's)."""
    passed(run, TRACKED)
    ticks, c = run.ticks(TRACKED), run.apic[TRACKED]
    assert ticks >= 100, (ticks, run.text[TRACKED][-800:])
    assert c["injected"] >= ticks * 9 // 10 and c["exits-eoi"] >= ticks * 9 // 10, (ticks, c)


def test_badpc(run):
    """Misprogramming survived on every path; the PIC's interrupts (ExtINT: the RTC's,
    pic-icw-short's IRQ0) are injected by tern on every path, also with virtual-interrupt
    delivery."""
    passed(run, "badpc")
    assert run.apic["badpc"]["injected"] > 0, run.apic["badpc"]
    assert re.search(r"pic-icw-short: .* irq0=[1-9]", run.text["badpc"]), run.text["badpc"]


@pytest.mark.parametrize("first", list(APICPATH))
def test_apicpath(run, first):
    """The accesses APIC virtualization takes over, each n times in each APIC mode (and
    CR8 n times): their meaning is the same on every path (PASS), and which of them
    reached tern is what the path says."""
    key = f"apicpath {first}"
    passed(run, key)
    text, c = run.text[key], run.apic[key]
    for mode in ("xapic", "x2apic"):
        assert re.search(rf"^apicpath: apic={mode} base=\S+ tpr={N} ipi={N} masked=ok "
                         rf"level={LEVEL}", text, re.M), text
    if first == "xapic":   # relocated before the APIC was used, kept through the switches
        assert "apic=xapic base=0xfed00000" in text, text
    assert re.search(rf"^apicpath: cr8={N} masked=ok", text, re.M), text
    if run.path == "on":
        # only the level-triggered vector's EOIs exit (the EOI-exit bitmap), each once
        want = {"exits-tpr": 0, "exits-eoi": 2 * LEVEL, "exits-icr": 0, "exits-cr8": 0,
                "injected": 0}
        assert {k: c[k] for k in want} == want, c
        return
    # per mode: n TPR writes and n reads, n self-IPIs and their EOIs, each injected
    assert c["exits-tpr"] >= 4 * N and c["exits-icr"] >= 2 * N, c
    assert c["exits-eoi"] >= 2 * (N + LEVEL) and c["injected"] >= 2 * (N + LEVEL), c
    if run.path == "tpr":
        assert c["exits-cr8"] == 0, c
    else:
        assert c["exits-cr8"] >= 2 * N, c   # n writes, n reads
