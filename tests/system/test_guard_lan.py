"""A keyed peer that misbehaves, with another host on an address of its own beside it
(issue 16). test_migrate_wire.py plays the misbehaving peers itself, through user-mode
networking, where every connection comes from 10.0.2.2: there a bystander shares the
attacker's address, and a rule kept per address cannot be seen to spare it. Here three
tern hosts (Bochs + OVMF: only Bochs runs guests here) share a LAN and its key, each at
its own address: host A loops `migrate` and `migrate_cancel` of a 128 MiB VM into host
B, as a buggy or hostile source with the key might, each reservation making B zero
128 MiB for a few hundred bytes. B refuses A once A's reservations that came to nothing
pass A's budget (1 GiB, refilled at 16 MiB/s of B's clock); host C's migration into B
goes through while A goes on looping and is refused again meanwhile, B's monitor
answers throughout, and A's VM runs on at A.

On the same LAN the test itself is host 4, a stranger without the key (through bxhub's
port for it, with a TCP of its own that only connects): its silent connection to B is
replaced by its next one from the same address while host C's migration into B is under
way, and C's migration completes."""
import random
import re
import socket
import struct
import threading

import pytest

from ternhost import bochs_lan_port, free_kib, heartbeats, lan_hosts, launch, wait_for
from test_discovery import checksum

A_IP, B_IP = "10.0.0.1", "10.0.0.2"
LOOP_TURN_MAX_MS = 1000
REFUSAL = (r"too many reservations from this host came to nothing; the next one in "
           r"(\d+) s")


def beat(host, vm, timeout=120):
    """Waits for vm's next memtouch heartbeat, its ledger intact."""
    seq = (heartbeats(host, vm) or [0])[-1]
    assert wait_for(lambda: (heartbeats(host, vm) or [0])[-1] > seq, timeout), \
        host.console_text()[-600:]


def attempt(a, vm):
    """One turn of the loop: migrate, then cancel once B has reserved. Returns B's
    refusal when B refused instead, else None."""
    out = a.cmd(f"migrate {vm} {B_IP}")
    assert f"migration vm{vm} -> {B_IP}: started" in out, out
    assert wait_for(lambda: a.info("migrate")["status"] in ("iterative copy", "failed"), 60,
                    every=0.1), a.info("migrate")
    info = a.info("migrate")
    if info["status"] == "failed":
        assert info["failed-at"] == "reservation" and re.search(REFUSAL, info["error"]), info
        return info["error"]
    a.cmd(f"migrate_cancel {vm}")
    assert wait_for(lambda: a.info("migrate")["status"] == "failed", 60, every=0.1), \
        a.info("migrate")
    info = a.info("migrate")
    assert "cancelled by the operator" in info["error"], info
    return None


@pytest.fixture(scope="module")
def lan():
    with lan_hosts("bochs-uefi", "guard", mems=(512, 512, 512), timeout=240,
                   cmdline="shadow=160") as hosts:
        yield hosts


def test_hello_loop_refused_bystander_migrates(lan):
    a, b, c = lan
    looper = a.vm_start("memtouch mem=128 name=looper -- mib=1")
    passer = c.vm_start("memtouch mem=16 name=passer -- mib=4")
    # B runs a guest that never halts, so its clock (by which the budget grows
    # back) keeps to the emulated CPU's pace, not an idle Bochs's faster one
    b.vm_start("spin mem=4 name=busy")
    beat(a, looper)
    beat(c, passer)
    base_b = free_kib(b)
    n = 0
    while (line := attempt(a, looper)) is None:
        n += 1
        assert n < 40, "40 reservations of 128 MiB in a loop, none refused"
    # 1 GiB of budget is 8 reservations of 128 MiB, plus what grew back meanwhile
    assert n >= 8, (n, line)
    b.expect(rf"migration from {re.escape(A_IP)}: failed at reservation: refused: "
             rf"{REFUSAL}".encode(), timeout=30)
    assert free_kib(b) == base_b
    # C's migration into B (slowed to last a few seconds) while A goes on looping:
    # A is refused meanwhile, C is not
    assert "max-bandwidth: 1" in c.cmd("migrate_set_parameter max-bandwidth 1")
    out = c.cmd(f"migrate {passer} {B_IP}")
    assert f"migration vm{passer} -> {B_IP}: started" in out, out
    end = re.compile(rf"migration vm{passer} -> {re.escape(B_IP)}: (completed|failed)"
                     rf"[^\r\n]*")
    refused_meanwhile = 0
    for _ in range(40):
        if end.search(c.console_text()):
            break
        refused_meanwhile += attempt(a, looper) is not None
    if not end.search(c.console_text()):
        c.expect(end.pattern.encode(), timeout=300)
    line = end.search(c.console_text()).group(0)
    assert "completed" in line, line
    assert refused_meanwhile >= 1, "A was never refused while C's migration ran"
    came = int(c.info("migrate")["target-vm"])
    beat(b, came)
    beat(a, looper)
    ms = int(b.info("cpu")["longest-turn-ms"])
    print(f"refused after {n} reservations, {refused_meanwhile} times more while C's "
          f"migration ran; B's longest loop turn {ms} ms")
    assert ms < LOOP_TURN_MAX_MS, f"B's loop was away {ms} ms at once"


class Stranger:
    """Host 4 of the Bochs LAN (10.0.0.4), played by the test through bxhub: it answers
    ARP for its address and opens TCP connections by hand (SYN, then the ACK of the
    SYN-ACK) that then say nothing. No tern tool opens a silent connection from an
    address of its own on a LAN."""

    IP, MAC = "10.0.0.4", bytes([0x52, 0x54, 0, 0, 0, 4])

    def __init__(self, lan_name):
        self.s, self.hub = bochs_lan_port(lan_name, 4)
        self.s.settimeout(0.2)
        self.conns = {}                  # our port -> "syn", "established", "reset", "fin"
        self.isn = {}
        self.lock = threading.Condition()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        # bxhub forwards unicast to a port only after it has sent a broadcast
        self.arp(1, b"\xff" * 6, b"\0" * 6, self.IP)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.s.close()

    def arp(self, op, dst_mac, target_mac, target_ip):
        body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, self.MAC,
                           socket.inet_aton(self.IP), target_mac, socket.inet_aton(target_ip))
        self.s.sendto(dst_mac + self.MAC + b"\x08\x06" + body, self.hub)

    def tcp(self, dst_mac, dst_ip, sport, dport, seq, ack, flags, options=b""):
        off = (20 + len(options)) // 4
        seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 8192, 0, 0) \
            + options
        pseudo = socket.inet_aton(self.IP) + socket.inet_aton(dst_ip) + \
            struct.pack("!BBH", 0, 6, len(seg))
        seg = seg[:16] + struct.pack("!H", checksum(pseudo + seg)) + seg[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), random.getrandbits(16), 0,
                         64, 6, 0, socket.inet_aton(self.IP), socket.inet_aton(dst_ip))
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        self.s.sendto(dst_mac + self.MAC + b"\x08\x00" + ip + seg, self.hub)

    def run(self):
        while not self.stop.is_set():
            try:
                f = self.s.recv(65536)
            except socket.timeout:
                continue
            if len(f) < 42 or f[0:6] not in (self.MAC, b"\xff" * 6):
                continue
            if f[12:14] == b"\x08\x06":
                op, sha, spa, tpa = struct.unpack("!6xH6s4s6x4s", f[14:42])
                if op == 1 and tpa == socket.inet_aton(self.IP):
                    self.arp(2, sha, sha, socket.inet_ntoa(spa))
                continue
            if f[12:14] != b"\x08\x00" or f[23] != 6 or f[30:34] != socket.inet_aton(self.IP):
                continue
            ihl = (f[14] & 15) * 4
            sport, dport, seq, _, _, flags = struct.unpack("!HHIIBB", f[14 + ihl:14 + ihl + 14])
            src_ip = socket.inet_ntoa(f[26:30])
            with self.lock:
                state = self.conns.get(dport)
                if state is None:
                    continue
                if flags & 0x04:                                  # RST
                    self.conns[dport] = "reset"
                elif flags & 0x12 == 0x12 and state == "syn":     # SYN-ACK
                    self.tcp(f[6:12], src_ip, dport, sport, self.isn[dport] + 1, seq + 1, 0x10)
                    self.conns[dport] = "established"
                elif flags & 0x01:                                # FIN
                    self.conns[dport] = "fin"
                self.lock.notify_all()

    def connect(self, ip, mac, port=4444, timeout=30):
        """A connection from a new port of ours that completes its handshake and then says
        nothing; returns our port."""
        sport = random.randrange(20000, 60000)
        with self.lock:
            self.conns[sport] = "syn"
            self.isn[sport] = random.getrandbits(32)
        for _ in range(timeout):     # a SYN a second until the SYN-ACK (Bochs drops some)
            with self.lock:
                if self.conns[sport] == "syn":
                    self.tcp(mac, ip, sport, port, self.isn[sport], 0, 0x02,
                             struct.pack("!BBH", 2, 4, 1460))
                if self.lock.wait_for(lambda: self.conns[sport] != "syn", 1):
                    break
        assert self.conns[sport] == "established", self.conns
        return sport

    def state(self, sport):
        with self.lock:
            return self.conns[sport]


def test_stranger_replaced_bystander_migrates(lan):
    """A stranger's silent connection to B (10.0.0.4, no key: it never starts TLS) holds
    an incoming slot unproven; its next connection from the same address replaces it
    (a source opens one migration at a time) while C's migration into B is under way at
    C's own address, and C's migration completes."""
    _, b, c = lan
    passer = c.vm_start("memtouch mem=16 name=passer2 -- mib=4")
    beat(c, passer)
    b_mac = bytes.fromhex(launch.host_mac(2).replace(":", ""))
    stranger = Stranger(b.lan)
    try:
        first = stranger.connect(B_IP, b_mac)
        # C's migration into B, slowed to last a few seconds (max-bandwidth 1 from the
        # test above); the stranger's next connection comes once B has reserved for C
        assert "max-bandwidth: 1" in c.cmd("migrate_set_parameter max-bandwidth 1")
        out = c.cmd(f"migrate {passer} {B_IP}")
        assert f"migration vm{passer} -> {B_IP}: started" in out, out
        assert wait_for(lambda: c.info("migrate")["status"] not in ("initialization",
                                                                    "reservation"), 120,
                        every=0.1), c.info("migrate")
        assert c.info("migrate")["status"] == "iterative copy", c.info("migrate")
        stranger.connect(B_IP, b_mac)
        replaced = (r"migration from 10\.0\.0\.4: failed at reservation: a new connection "
                    r"from the same host replaced it")
        b.expect(replaced.encode(), timeout=60)
        assert wait_for(lambda: stranger.state(first) in ("reset", "fin"), 60), \
            stranger.conns
        end = rf"migration vm{passer} -> {re.escape(B_IP)}: (completed|failed)[^\r\n]*"
        c.expect(end.encode(), timeout=300)
        assert b"completed" in c.proc.match.group(0), c.proc.match.group(0)
        # the stranger was replaced before C's VM arrived at B: while it was on its way
        text = b.console_text()
        came = int(c.info("migrate")["target-vm"])
        arrived = re.search(rf"vm{came} arrived from 10\.0\.0\.3", text)
        assert arrived and re.search(replaced, text).start() < arrived.start(), text[-2000:]
        beat(b, came)
    finally:
        stranger.close()
