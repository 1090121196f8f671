"""Nothing a peer does blocks tern's loop (Bochs + OVMF, two hosts on one LAN): the
monitor's ping to a silent address holds the console, and meanwhile the loop runs a
guest, takes a migration from the other host and serves its netperf; Ctrl-C ends the
ping at once, Ctrl-] a netperf to a silent address. The target's guards against peers
that misbehave inside a migration (a trickling reservation, a HELLO loop):
test_migrate_wire.py."""
import re

import pytest

from ternhost import PROMPT, lan_hosts

A_IP, B_IP, SILENT = "10.0.0.1", "10.0.0.2", "10.0.0.99"   # nothing answers SILENT
NO_REPLY = re.compile(rb"seq=\d+: no reply within 1000 ms\r\n")


@pytest.fixture(scope="module")
def pair():
    with lan_hosts("bochs-uefi", "peers", mems=(512, 512), timeout=240) as (a, b):
        yield a, b


def beats(host, vm, n=2):
    for _ in range(n):
        host.expect(rf"\[vm{vm}\] seq=\d+ check=ok\r\n".encode(), timeout=120)


def test_ping_silent_peer_loop_runs_on(pair):
    a, b = pair
    beater = a.vm_start("memtouch mem=4 name=beater -- mib=1")
    mover = b.vm_start("memtouch mem=4 name=mover -- mib=1")
    beats(a, beater, 1)
    beats(b, mover, 1)
    a.send_raw(f"ping {SILENT} 1000\r".encode())
    a.expect(NO_REPLY, timeout=30)
    # the console is ping's: the loop still runs the guest ...
    beats(a, beater)
    # ... takes a migration in ...
    out = b.cmd(f"migrate {mover} {A_IP}")
    assert f"migration vm{mover} -> {A_IP}: started" in out, out
    b.expect(rf"migration vm{mover} -> {A_IP}: (completed|failed)[^\r\n]*\r\n".encode(),
             timeout=600)
    line = b.proc.match.group(0).decode()
    assert "completed" in line, line
    a.expect(rf"vm(\d+) arrived from {B_IP}".encode(), timeout=60)
    arrived = int(a.proc.match.group(1))
    beats(a, arrived)
    # ... and serves another host's netperf
    out = b.cmd(f"netperf {A_IP} 1", timeout=120)
    assert re.search(r"^throughput: \d+\.\d\d MB/s", out, re.M), out
    a.expect(NO_REPLY, timeout=30)              # and the ping went on all along
    a.send_raw(b"\x03")                         # Ctrl-C: it ends now, not in 1000 s
    a.expect(rb"ping: (\d+) sent, 0 received, 100% loss\r\n", timeout=5)
    assert int(a.proc.match.group(1)) >= 2
    a.expect(PROMPT, timeout=5)
    assert a.info("version").get("version")
    for h in (a, b):
        h.kill_vms()


def test_netperf_silent_peer_cancelled(pair):
    a, _ = pair
    beater = a.vm_start("memtouch mem=4 name=beater2 -- mib=1")
    a.send_raw(f"netperf {SILENT} 1\r".encode())
    beats(a, beater)                            # the transfer holds the console, not the loop
    a.send_raw(b"\x1d")                         # Ctrl-]: the monitor's escape
    a.expect(rf"error: netperf to {re.escape(SILENT)}: cancelled \(0 of 1048576 bytes "
             rf"acknowledged\)\r\n".encode(), timeout=5)
    a.expect(PROMPT, timeout=5)
    a.kill_vms()
