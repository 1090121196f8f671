#!/usr/bin/python3
"""Benchmark (not a test): live migration between two tern hosts on one LAN (issue 6).

Boots two hosts (QEMU/KVM when KVM offers VT-x, else Bochs + OVMF), measures the LAN
with `netperf 10.0.0.2 8` (before and after the migrations: 8 MiB, since 1 MiB read
0.82-1.47 MB/s in eight runs back to back under Bochs where 8 MiB read 1.22-1.28 in
three), then for each case starts
memtouch on host 1, waits for two heartbeats, migrates it once to host 2 and kills it
there. Prints a table of the figures and draws one migration's rounds (pages sent and
pages dirtied per round) into build/bench/migration-rounds.png, copied to
docs/migration-rounds.png for the README.

Usage: tests/bench/migrate.py [--platform P] [--plot CASE] [--no-plot] [--insecure]
       tests/bench/migrate.py --grid [--sizes 16,64,256] [--rates 0,0.1,0.5,2] [--insecure]
                              [--fills dense,sparse] [--xbzrle off,on]
The hosts share their LAN's cluster key, so migrations go over TLS (issue 16); --insecure
boots them with insecure-migration=on instead, for the plain stream's figures.
--grid (issue 15) migrates memtouch of each guest size (a quarter of it touched) at each
dirty rate, given as a multiple of the LAN's first netperf figure (pages per heartbeat,
a heartbeat being about one second), and prints the goodput: bytes the target
acknowledged during the iterative copy ÷ its length, beside netperf in the same run.
Before the grid it migrates a small idle guest once, so the model has the link's
goodput to this peer for every row, and samples each guest (the policy's sampling, every
3 s) while it runs; each row then prints tern's prediction at the start beside the
measurement, the model's inputs, and the time left each progress line announced.
--fills runs memtouch with fill=dense (every word of a written page new) and/or
fill=sparse (8 words of it), --xbzrle migrates with `migrate_set_parameter xbzrle`
off and/or on: each row then also shows the pages sent as deltas, the bytes that saved
and the source's time encoding.
Each grid row also gives the share of tern's clock, over the migration, that each host's
CPU 0 spent halted and napping (`info uptime`), to tell a host short of CPU from one
waiting on the wire.
It asserts nothing about speed; it fails only when a migration does.
"""
import argparse
import os
import re
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "system"))
from ternhost import PLATFORMS, ROOT, TernHost, why_no_kvm_vmx  # noqa: E402

PAGE = 4096
PAGE_MSG = 16 + 12 + PAGE   # a page on the wire: header, address and kind, data
ZERO_MSG = 16 + 12          # a zero-page marker
# (guest MiB, MiB memtouch touches, pages it writes per heartbeat: its dirty rate)
CASES = [(8, 2, 16), (8, 3, 256), (16, 6, 64), (32, 6, 64)]
ROUND = re.compile(r"migration vm(\d+): round (\d+): (\d+) pages, ([\d.]+) MB/s, "
                   r"dirty rate (\d+) pages/s, expected downtime (\d+) ms")
THROUGHPUT = re.compile(r"throughput: (\d+\.\d+) MB/s")
# the model's prediction at the start (migrate/precopy.c), printed beside the result
MODEL = re.compile(r"migration vm(\d+): the model predicted downtime (\d+) ms, total (\d+) ms, "
                   r"(\d+) rounds")
# the progress line, once a second: the time left the source expects
PROGRESS = re.compile(r"migration vm(\d+): round \d+ \d+%, [\d.]+ MB/s, dirty \d+ pages/s, "
                      r"downtime ~(?:\d+ ms|\?), ([\d.]+) s left")
PNG = os.path.join(ROOT, "build", "bench", "migration-rounds.png")
DOCS_PNG = os.path.join(ROOT, "docs", "migration-rounds.png")


def console(host):
    host.seen(rb"x")                    # flushes the log
    with open(host.log_path, "rb") as f:
        return f.read().decode("latin-1")


NETPERF_MIB = 8


def netperf(src, dst_ip):
    out = src.cmd(f"netperf {dst_ip} {NETPERF_MIB}", timeout=600)
    m = THROUGHPUT.search(out)
    if not m:
        raise SystemExit(f"netperf failed: {out}")
    return float(m.group(1))


def frames(host):
    n = host.info("net")
    return int(n["tx-packets"]), int(n["rx-packets"])


def dropped(host):
    """Frames the NIC had no receive buffer for (e1000's missed-packet count)."""
    return int(host.info("net")["rx-dropped"])


def clock(host):
    """tern's clock and how much of it CPU 0 spent halted: (uptime, idle, nap) in ms."""
    u = host.info("uptime")
    return int(u["uptime-ms"]), int(u["idle-ms"]), int(u["nap-ms"])


def halted_share(before, after):
    """% of tern's clock between two readings that CPU 0 was halted, and napping (halted
    with frames flowing: waiting for the wire, not for work)."""
    span = max(after[0] - before[0], 1)
    return 100 * (after[1] - before[1]) // span, 100 * (after[2] - before[2]) // span


def migrate_once(a, b, mem, mib, rate, sampled=False, fill="dense", stopped=False, cpu=None):
    """memtouch on a (on its CPU cpu: None, tern's choice), moved to b; returns the figures
    of that migration."""
    tx0, rx0 = frames(a)
    drop0 = dropped(b)
    where = f" cpu={cpu}" if cpu is not None else ""
    out = a.cmd(f"vm start memtouch mem={mem} name=bench{where} -- mib={mib} rate={rate} "
                f"fill={fill}")
    vm = int(re.search(r"^vm(\d+) started$", out, re.M).group(1))
    a.expect(rf"\[vm{vm}\] seq=2 check=ok".encode(), timeout=300)
    if sampled:
        # a sample of the running guest (the policy's, every few s), for the model
        n = int(a.info("policy")["samples"])
        while int(a.info("policy")["samples"]) < n + 2:
            time.sleep(2)
    # what the model is given at the start: the guest's sample, the link and round trip
    sample = re.search(rf"^vm{vm}: load \d+%, dirty-rate (\d+) pages/s, hot (\d+) pages, "
                       rf"wss (\d+) pages, zero (\d+) pages$", a.cmd("info policy"), re.M)
    # the share of its sample the model expects the guest to dirty while it migrates
    # (what the last migration from its CPU measured; "-": none yet)
    copy_pct = a.info("policy").get("copy-dirty-pct", "-")
    peer = re.search(r"^10\.0\.0\.2\s+\S+\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)",
                     a.cmd("info hosts"), re.M)
    if stopped:
        # paused at the source (it runs again at the target): the sender has CPU 0 alone
        assert f"vm{vm} paused" in a.cmd(f"stop {vm}")
    clocks = clock(a), clock(b)
    out = a.cmd(f"migrate {vm} 10.0.0.2")
    assert "started" in out, out
    a.expect(rf"migration vm{vm} -> 10\.0\.0\.2: (completed|failed)[^\r\n]*\r\n".encode(),
             timeout=900)
    line = a.proc.match.group(0).decode().strip()
    halted = halted_share(clocks[0], clock(a)), halted_share(clocks[1], clock(b))
    if "completed" not in line:
        raise SystemExit(f"migration failed: {line}")
    info = a.info("migrate")
    new = int(info["target-vm"])
    b.expect(rf"\[vm{new}\] seq=\d+ check=ok\r\n".encode(), timeout=300)
    b.cmd(f"kill {new}")
    # the pause as the guest saw it: memtouch's longest stall in its first beat on b
    first = re.search(rf"\[vm{new}\] seq=(\d+) ", console(b)).group(1)
    stall = re.search(rf"\[vm{new}\] memtouch: stalled (\d+) ms before seq={first}\r",
                      console(b))
    tx1, rx1 = frames(a)
    drops = dropped(b) - drop0
    text = console(a)
    rounds = [(int(m.group(2)), int(m.group(3)), int(m.group(5)))
              for m in ROUND.finditer(text) if int(m.group(1)) == vm]
    model = [m for m in MODEL.finditer(text) if int(m.group(1)) == vm]
    left = [float(m.group(2)) for m in PROGRESS.finditer(text) if int(m.group(1)) == vm]
    return {
        "mem": mem, "mib": mib, "rate": rate,
        "downtime": int(info["downtime"]), "total": int(info["total-time"]),
        "commit": int(info.get("downtime-commit", 0)),
        "wire": int(info.get("downtime-wire", 0)),
        "drain": int(info.get("drain-ms", 0)),
        "drain_bytes": int(info.get("drain-bytes", 0)),
        "inflight": int(info.get("pause-inflight-bytes", 0)),
        # what the pause had to send: its pages, the device records, the vCPU state
        "pause_bytes": int(info.get("final-pages", 0)) * PAGE_MSG
        + int(info.get("device-bytes", 0)) + int(info.get("cpu-state-bytes", 0)),
        "pause_lead": int(info.get("pause-lead", 0)),
        "stall": int(stall.group(1)) if stall else 0,   # 0: under memtouch's 10 ms
        "rounds": int(info["rounds"]), "pages": int(info["transferred-pages"]),
        "zero": int(info["zero-pages"]), "progress": rounds,
        "iterate_ms": int(info.get("iterate-ms", 0)),
        "iterate_bytes": int(info.get("iterate-acked-bytes", 0)),
        "blocked_ms": int(info.get("send-blocked-ms", 0)),
        "handshake_us": int(info.get("handshake-us", 0)),
        "tx": tx1 - tx0, "rx": rx1 - rx0, "drops": drops,
        "xbz_pages": int(info.get("xbzrle-pages", 0)),
        "xbz_saved": int(info.get("xbzrle-bytes-saved", 0)),
        "xbz_us": int(info.get("xbzrle-encode-us", 0)),
        "dirty_rate": max([d for _, _, d in rounds] or [0]),
        "model": tuple(int(x) for x in model[-1].groups()[1:]) if model else None,
        "left": left,
        # the sample's dirty rate, hot pages, working set (the RAM: not told), zero pages
        "sample": tuple(int(x) for x in sample.groups()) if sample else None,
        "wss": int(info.get("wss-pages", 0)),   # the migration's own estimate; 0: none
        "copy_pct": copy_pct,
        "peer": tuple(float(x) for x in peer.groups()) if peer else None,
        "line": line,
        "halted": halted,
    }


def per_round(r):
    """[(round, pages sent, pages dirtied during it)]. The source prints a line at the
    end of each copy round but none for the stop-and-copy round: its size is what the
    total leaves. Pages dirtied during round n are exactly the pages round n+1 sends
    (the source's `dirty rate` is that count ÷ the round's time)."""
    sent = [(n, pages) for n, pages, _ in r["progress"]]
    last = r["pages"] - sum(p for _, p in sent)
    sent.append((len(sent) + 1, last))
    return [(n, pages, sent[i + 1][1] if i + 1 < len(sent) else None)
            for i, (n, pages) in enumerate(sent)]


def plot(r, platform, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = per_round(r)
    n = [x[0] for x in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    ax.bar([i - 0.2 for i in n], [x[1] for x in rows], width=0.4, label="pages sent")
    ax.bar([i + 0.2 for i in n[:-1]], [x[2] for x in rows[:-1]], width=0.4,
           label="pages dirtied meanwhile (= next round's size)")
    ax.set_yscale("log")
    ax.set_xticks(n, [str(i) if i < n[-1] else f"{i}\n(stop+copy)" for i in n])
    ax.set_xlabel("round")
    ax.set_ylabel("4 KiB pages")
    ax.set_title(f"tern live migration, {platform}: memtouch mem={r['mem']} MiB, "
                 f"mib={r['mib']} rate={r['rate']}\ndowntime {r['downtime']} ms, "
                 f"total {r['total']} ms, {r['pages']} pages in {r['rounds']} rounds",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def grid_table(results, lan_mbs, platform):
    net = statistics.mean(lan_mbs)
    print(f"\nlive migration grid, {platform}; LAN: netperf 10.0.0.2 {NETPERF_MIB} = "
          + ", ".join(f"{x:.2f}" for x in lan_mbs) + f" MB/s (mean {net:.2f})")
    print("| guest MiB | touched MiB | dirty × link | dirty pages/hb | measured dirty pages/s "
          "| rounds | sent ÷ touched | iterate ms | goodput MB/s | ÷ netperf | total ms "
          "| limit ms | total ÷ limit | downtime ms | downtime bound ms | ÷ bound "
          "| commit ms (wire) | drained bytes, ms (in flight at the pause) | pause-lead ms "
          "| guest's pause ms "
          "| frames out/s | target rx-dropped | send blocked % "
          "| TLS handshake ms | fill | xbzrle | delta pages | saved KB | encode ms "
          "| source halted % (napping) | target halted % (napping) |")
    print("|" + "---|" * 31)
    for r in results:
        goodput = r["iterate_bytes"] / (r["iterate_ms"] * 1000) if r["iterate_ms"] else 0
        # the bytes that had to cross (each sent page once, as data or marker) at netperf's rate
        must = (r["pages"] - r["zero"]) * PAGE_MSG + r["zero"] * ZERO_MSG
        limit = must / (net * 1000)
        touched = r["mib"] * 256
        # issue 15's bound on the pause: its bytes at the link's rate (this migration's
        # goodput) and one round trip (`info hosts` before it)
        rtt = r["peer"][1] if r["peer"] else 0
        bound = r["pause_bytes"] / (goodput * 1000) + rtt if goodput else 0
        print(f"| {r['mem']} | {r['mib']} | {r['factor']} | {r['rate']} | {r['dirty_rate']} "
              f"| {r['rounds']} | {(r['pages'] - r['zero']) / touched:.2f} "
              f"| {r['iterate_ms']} | {goodput:.2f} | {goodput / net:.2f} | {r['total']} "
              f"| {limit:.0f} | {r['total'] / limit:.2f} | {r['downtime']} "
              f"| {bound:.0f} | {r['downtime'] / bound if bound else 0:.2f} "
              f"| {r['commit']} ({r['wire']}) "
              f"| {r['drain_bytes']}, {r['drain']} ({r['inflight']}) "
              f"| {r['pause_lead']} | {r['stall']} "
              f"| {r['tx'] * 1000 // max(r['total'], 1)} | {r['drops']} "
              f"| {100 * r['blocked_ms'] // max(r['iterate_ms'], 1)} "
              f"| {r['handshake_us'] / 1000 if r['handshake_us'] else 'plain'} "
              f"| {r['fill']} | {r['xbzrle']} | {r['xbz_pages']} | {r['xbz_saved'] // 1000} "
              f"| {r['xbz_us'] / 1000:.1f} "
              f"| {r['halted'][0][0]} ({r['halted'][0][1]}) "
              f"| {r['halted'][1][0]} ({r['halted'][1][1]}) |")
    print("\nthe model at the start (the policy's sample of the guest, the last migration's "
          "goodput to this peer) against the measurement:")
    print("| guest MiB | dirty × link | sampled dirty pages/s | under migration, % of the "
          "sample | measured dirty pages/s | sampled hot pages | sampled wss pages "
          "| the migration's wss pages "
          "| zero pages | link MB/s | rtt ms "
          "| predicted downtime ms | measured | ÷ | predicted total ms "
          "| measured | ÷ | predicted rounds | measured | time left at each progress line, s |")
    print("|" + "---|" * 20)
    for r in results:
        if not r["model"]:
            print(f"| {r['mem']} | {r['factor']} | no prediction: {r['line']} |")
            continue
        down, total, rounds = r["model"]
        rate, hot, wss, zero = r["sample"] or ("?", "?", "?", "?")
        link, rtt = r["peer"] or ("?", "?")
        print(f"| {r['mem']} | {r['factor']} | {rate} | {r['copy_pct']} | {r['dirty_rate']} "
              f"| {hot} | {wss} | {r['wss'] or '-'} | {zero} | {link} | {rtt} "
              f"| {down} | {r['downtime']} "
              f"| {down / max(r['downtime'], 1):.2f} | {total} | {r['total']} "
              f"| {total / max(r['total'], 1):.2f} | {rounds} | {r['rounds']} "
              f"| {', '.join(f'{x:.1f}' for x in r['left'])} |")
    print("goodput: iterate-acked-bytes ÷ iterate-ms (`info migrate`: what the target "
          "acknowledged by the pause ÷ the iterative copy's length); limit: (data pages × "
          f"{PAGE_MSG} + zero pages × {ZERO_MSG} bytes) ÷ netperf's mean; frames out/s: the "
          "source NIC's tx-packets over the whole migration ÷ total; target rx-dropped: "
          "frames the target's NIC missed for want of a receive buffer over the migration "
          "(`info net` rx-dropped); downtime bound: the pause's bytes (its pages, "
          "device records and vCPU state) ÷ goodput + one round trip (`info hosts`), "
          "issue 15's bound before its 1.2; commit: from the state queued to the target's "
          "answer (`downtime-commit`: the bytes lwIP still held crossing, the target's "
          "check, the answer), and in brackets until the target acknowledged the last of "
          "them (`downtime-wire`; its ACK may ride on the answer); drained: the bytes the "
          "iterative copy left in flight that the stop let cross before the pause, the "
          "guest running, and how long that took (`drain-bytes`, `drain-ms`), and in "
          "brackets the bytes still unacknowledged at the pause (`pause-inflight-bytes`); "
          "pause-lead: how long before the pause the guest had last "
          "run; guest's pause: memtouch's longest stall across it; send blocked: time the "
          "sender had pages but no room in lwIP ÷ iterate-ms. Times are tern's own clock "
          "(emulated). sent ÷ touched: data pages sent ÷ pages memtouch touches. delta "
          "pages, saved: `xbzrle-pages`, `xbzrle-bytes-saved` (the limit counts deltas as "
          "whole pages); encode: `xbzrle-encode-us`, the source's time encoding every "
          "resent page, paid or not. halted: the share of tern's clock, from `migrate` to "
          "the completion line, that each host's CPU 0 spent in HLT (`info uptime` idle-ms), "
          "and in brackets the naps (nap-ms: halted while frames flowed, so waiting on the "
          "wire or the peer, not short of CPU).")


def host_opts(args):
    """The launcher options both hosts get from ours: the plain stream, Bochs's ips."""
    return (["--insecure"] if args.insecure else []) + \
        (["--ips", str(args.ips)] if args.ips else [])


def run_grid(args, platform):
    sizes = [int(x) for x in args.sizes.split(",")]
    factors = [x for x in args.rates.split(",")]
    # the shadow region holds the guest's dirty log and staged pages: its RAM and more
    shadow = max(64, max(sizes) + 16)
    host_mem = max(512, max(sizes) + shadow + 256)
    lan = f"bench-mig-{os.getpid()}"
    t0 = time.monotonic()
    opts = host_opts(args)
    a = TernHost(platform, name="bench-migrate-1", mem=host_mem, cmdline=f"shadow={shadow}",
                 extra=["--host", "1", "--lan", lan, *opts], cpus=args.cpus)
    b = TernHost(platform, name="bench-migrate-2", mem=host_mem, cmdline=f"shadow={shadow}",
                 extra=["--host", "2", "--lan", lan, *opts], cpus=args.cpus)
    results = []
    try:
        a.wait_prompt(timeout=600)
        b.wait_prompt(timeout=600)
        lan_mbs = [netperf(a, "10.0.0.2")]
        print(f"netperf {lan_mbs[0]:.2f} MB/s", flush=True)
        # the model's link figure is the goodput of the last migration to the peer:
        # a small one first, so the grid's first row has a prediction too; and the
        # policy's sampling often enough that each guest is sampled while it runs
        a.cmd("policy set sample-every 3")
        warm = migrate_once(a, b, 4, 1, 0)
        print(f"warm-up: {warm['line']}", flush=True)
        cases = [(mem, f, fill, x) for mem in sizes for f in factors
                 for fill in args.fills.split(",") for x in args.xbzrle.split(",")]
        for mem, f, fill, x in cases:
            rate = round(float(f) * (args.link or lan_mbs[0]) * 1e6 / PAGE)
            a.cmd(f"migrate_set_parameter xbzrle {x}")
            print(f"migrating memtouch mem={mem} mib={mem // 4} rate={rate} fill={fill} "
                  f"({f} × link), xbzrle {x} ...", flush=True)
            r = migrate_once(a, b, mem, mem // 4, rate, sampled=True, fill=fill,
                             stopped=args.stopped, cpu=args.guest_cpu)
            r.update(factor=f, fill=fill, xbzrle=x)
            results.append(r)
            print(f"  goodput {r['iterate_bytes'] / max(r['iterate_ms'], 1) / 1000:.2f} "
                  f"MB/s, total {r['total']} ms, rounds {r['rounds']}, deltas {r['xbz_pages']} "
                  f"saving {r['xbz_saved']} bytes", flush=True)
            print("  rounds (pages sent, dirty pages/s during it): " +
                  ", ".join(f"{n}: {p} {d}" for n, p, d in r["progress"]), flush=True)
        lan_mbs.append(netperf(a, "10.0.0.2"))
    finally:
        a.close()
        b.close()
        if results:
            grid_table(results, lan_mbs if "lan_mbs" in dir() else [0],
                       platform + (f", ips={args.ips}" if args.ips else "") +
                       (f", {args.cpus} CPUs" if args.cpus > 1 else "") +
                       (f", guests on CPU {args.guest_cpu}" if args.guest_cpu is not None
                        else ""))
    print(f"({time.monotonic() - t0:.0f} s in all)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", action="store_true")
    ap.add_argument("--sizes", default="16,64,256")
    ap.add_argument("--rates", default="0,0.1,0.5,2")
    ap.add_argument("--fills", default="dense")
    ap.add_argument("--xbzrle", default="off")
    ap.add_argument("--platform", choices=sorted(PLATFORMS),
                    help="default: kvm-uefi when KVM offers VT-x, else bochs-uefi")
    ap.add_argument("--plot", type=int, default=None, metavar="CASE",
                    help="which case (1..) to plot; default the one with the most rounds")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--insecure", action="store_true",
                    help="insecure-migration=on on both hosts: the plain stream")
    ap.add_argument("--cpus", type=int, default=1, metavar="N",
                    help="with --grid: CPUs of each host (the launchers' --cpus)")
    ap.add_argument("--guest-cpu", type=int, default=None, metavar="N",
                    help="with --grid: the source CPU each guest runs on (vm start cpu=N); "
                    "with --cpus 2 and 1 the sender has CPU 0 to itself")
    ap.add_argument("--stopped", action="store_true",
                    help="with --grid: each guest paused (`stop`) before it migrates, so "
                    "the sender has the source's CPU to itself")
    ap.add_argument("--link", type=float, default=None, metavar="MB/s",
                    help="with --grid: the link rate the dirty rates are multiples of "
                    "(default: the run's first netperf figure; with 1 MiB it spread "
                    "from 0.6 to 2.3 MB/s between runs under Bochs); to repeat another "
                    "run's rates")
    ap.add_argument("--ips", type=int, default=None, metavar="N",
                    help="Bochs only: emulated instructions per emulated "
                    "second (the launcher's --ips): fewer make the LAN faster, the CPUs "
                    "slower")
    args = ap.parse_args()
    platform = args.platform or ("kvm-uefi" if why_no_kvm_vmx() is None else "bochs-uefi")
    if args.ips and not platform.startswith("bochs"):
        ap.error(f"--ips is Bochs's: not for {platform}")
    if args.grid:
        run_grid(args, platform)
        return

    lan = f"bench-mig-{os.getpid()}"
    t0 = time.monotonic()
    opts = host_opts(args)
    a = TernHost(platform, name="bench-migrate-1", extra=["--host", "1", "--lan", lan, *opts])
    b = TernHost(platform, name="bench-migrate-2", extra=["--host", "2", "--lan", lan, *opts])
    try:
        a.wait_prompt(timeout=300)
        b.wait_prompt(timeout=300)
        lan_mbs = [netperf(a, "10.0.0.2")]
        results = []
        for mem, mib, rate in CASES:
            print(f"migrating memtouch mem={mem} mib={mib} rate={rate} ...", flush=True)
            results.append(migrate_once(a, b, mem, mib, rate))
        lan_mbs.append(netperf(a, "10.0.0.2"))
    finally:
        a.close()
        b.close()

    net = statistics.mean(lan_mbs)
    print(f"\nlive migration, {platform}, host 1 -> host 2 once per case; "
          f"LAN: netperf 10.0.0.2 {NETPERF_MIB} = {lan_mbs[0]:.2f} MB/s before, "
          f"{lan_mbs[1]:.2f} after")
    print(f"{'guest':>5} {'touched':>7} {'dirty':>9} {'downtime':>8} {'total':>7} "
          f"{'rounds':>6} {'sent/guest':>10} {'data MB/s':>9} {'guest MB/s':>10} "
          f"{'netperf':>7}")
    print(f"{'MiB':>5} {'MiB':>7} {'pages/hb':>9} {'ms':>8} {'ms':>7} {'':>6} "
          f"{'pages':>10} {'':>9} {'':>10} {'MB/s':>7}")
    for r in results:
        guest_pages = r["mem"] * 256
        data = (r["pages"] - r["zero"]) * PAGE / (r["total"] * 1000)
        moved = r["pages"] * PAGE / (r["total"] * 1000)
        print(f"{r['mem']:5} {r['mib']:7} {r['rate']:9} {r['downtime']:8} {r['total']:7} "
              f"{r['rounds']:6} {r['pages'] / guest_pages:10.2f} {data:9.2f} {moved:10.2f} "
              f"{net:7.2f}")
    print("sent/guest pages: transferred-pages (every round, all-zero pages included) ÷ "
          "guest RAM pages.\n"
          "data MB/s: (transferred-pages - zero-pages) × 4096 bytes ÷ total-time, i.e. the "
          "page contents that crossed the LAN (all-zero pages go as markers).\n"
          "guest MB/s: transferred-pages × 4096 bytes ÷ total-time, i.e. guest memory "
          "moved per second. MB = 10^6 bytes, as netperf's.\n"
          "netperf MB/s: mean of the two runs above. dirty pages/hb: pages memtouch "
          "writes per heartbeat (about 1 s under Bochs). downtime, total-time, rounds: "
          "`info migrate` on the source.")

    for i, r in enumerate(results, 1):
        print(f"\ncase {i} rounds (round: pages sent, pages dirtied meanwhile = next round):")
        print("  " + "; ".join(f"{n}: {s}" + (f", {d}" if d is not None else " (stop+copy)")
                               for n, s, d in per_round(r)))
    if not args.no_plot:
        pick = args.plot or max(range(1, len(results) + 1),
                                key=lambda i: results[i - 1]["rounds"])
        plot(results[pick - 1], platform, PNG)
        os.makedirs(os.path.dirname(DOCS_PNG), exist_ok=True)
        shutil.copyfile(PNG, DOCS_PNG)
        print(f"\nplot of case {pick}: {PNG} (copied to {DOCS_PNG})")
    print(f"({time.monotonic() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
