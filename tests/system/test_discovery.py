"""Host discovery: each host announces itself on the LAN (UDP broadcast, port 4445)
and lists the others in `info hosts`; a silent peer goes; junk announcements are
counted and ignored; forged, unsigned and replayed ones are rejected and counted; a host
without the cluster key neither announces nor listens. QEMU (TCG: discovery needs no VT-x,
and QEMU boots fast). Announcements are signed here with the LAN's key, as the launchers
give it to tern (tools/lan key)."""
import hashlib
import hmac
import os
import re
import socket
import struct
import threading
import time

import pytest

from ternhost import bochs_lan_mac, bochs_lan_port, lan_hosts, launch, wait_for

lan_tool = launch.lan


def peers(host):
    rows = {}
    for line in host.cmd("info hosts").splitlines():
        f = line.split()
        if len(f) == 10 and re.match(r"\d+\.\d+\.\d+\.\d+$", f[0]):
            rows[f[0]] = {"load": int(f[1]), "free": int(f[2]), "vms": int(f[3]),
                          "rtt": f[5], "high": int(f[7]), "margin": int(f[8]),
                          "capacity": int(f[9])}
    return rows


def checksum(data):
    """The Internet checksum (RFC 1071) of data, for IPv4 headers and TCP segments."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def mac_of(ip):
    """The MAC the test gives a host it plays at ip: 52:54:00:00:01:<last byte> (the
    launchers' hosts are 52:54:00:00:00:0N)."""
    return bytes([0x52, 0x54, 0, 0, 1, socket.inet_aton(ip)[3]])


def udp_frame(src_ip, dst_ip, dst_mac, payload, port=4445, src_mac=None):
    """An Ethernet frame: IPv4 UDP from src_ip (at src_mac, else mac_of(src_ip)) to dst_ip
    at dst_mac (no UDP checksum)."""
    udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                      socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return dst_mac + (src_mac or mac_of(src_ip)) + b"\x08\x00" + hdr + udp


def udp_broadcast_frame(src_ip, payload, port=4445, src_mac=None):
    """An Ethernet frame: IPv4 UDP from src_ip to 255.255.255.255 (no UDP checksum)."""
    return udp_frame(src_ip, "255.255.255.255", b"\xff" * 6, payload, port, src_mac)


def announcement(ip, load=10, port=4444, version=4, magic=b"TRNH", high=85, margin=25,
                 capacity=100, free=100):
    """The body (migrate/announce.h): the load is a u16, percent of one CPU; then the
    policy's load-high, balance-margin and capacity. Version 4 is followed by a counter and
    a MAC (sign)."""
    return magic + bytes([version, 0]) + struct.pack("<H", port) + \
        struct.pack("<I", struct.unpack("!I", socket.inet_aton(ip))[0]) + \
        struct.pack("<H", load) + struct.pack("<HII", 1, free, 1) + \
        struct.pack("<HHHH", high, margin, capacity, 0)


def discovery_key(cluster_hex):
    """HKDF-SHA256 (RFC 5869) of the cluster key, no salt, info "tern discovery v1": one
    block of output is the 32 bytes (tls/tls.h tls_key_derive)."""
    prk = hmac.new(b"\0" * 32, bytes.fromhex(cluster_hex), hashlib.sha256).digest()
    return hmac.new(prk, b"tern discovery v1\x01", hashlib.sha256).digest()


def sign(body, cluster_hex, counter):
    """body | counter u64 | HMAC-SHA256(discovery key, counter | body); without a key, the
    unsigned form (body | counter) of a host with insecure-migration=on."""
    c = struct.pack("<Q", counter)
    if cluster_hex is None:
        return body + c
    return body + c + hmac.new(discovery_key(cluster_hex), c + body, hashlib.sha256).digest()


def lan_key(host):
    return lan_tool.key(host.lan)


def answer(challenge, ip, cluster_hex):
    """A host's answer to a challenge (migrate/announce.h): "TRNA", version 4, the nonce,
    the answerer's own address, and the MAC of those 28 bytes under counter 1."""
    body = b"TRNA\x04\0\0\0" + challenge[8:24] + \
        struct.pack("<I", struct.unpack("!I", socket.inet_aton(ip))[0])
    return body + hmac.new(discovery_key(cluster_hex), struct.pack("<Q", 1) + body,
                           hashlib.sha256).digest()


class LanPeer:
    """A host at ip on a LAN, played by the test: it answers ARP for its address and the
    hosts' challenges (a sender must answer one before a host believes its announcements)
    under the cluster key it holds; with answers=False it hears them and says nothing, as
    a recording of a host now gone would. With announce (a body), it also announces it
    every second under a fresh counter. rx, tx, dest: where frames come in and go out (a
    Bochs LAN port, or the QEMU LAN's multicast group)."""

    def __init__(self, ip, key, rx, tx, dest, answers=True, announce=None, mac=None):
        self.ip, self.key, self.mac, self.answers = ip, key, mac or mac_of(ip), answers
        self.rx, self.tx, self.dest, self.body = rx, tx, dest, announce
        self.rx.settimeout(0.2)
        self.challenged = self.answered = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        # a gratuitous ARP: Bochs's hub forwards unicast to a port only after a broadcast
        self.arp(1, b"\xff" * 6, b"\0" * 6, ip)

    @classmethod
    def qemu(cls, lan, ip, key, **kw):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        rx.bind((lan_tool.MCAST_GROUP, lan_tool.qemu_port(lan)))
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                      socket.inet_aton(lan_tool.MCAST_GROUP) + socket.inet_aton("127.0.0.1"))
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        return cls(ip, key, rx, tx, (lan_tool.MCAST_GROUP, lan_tool.qemu_port(lan)), **kw)

    @classmethod
    def bochs(cls, lan, port, ip, key, **kw):
        s, hub = bochs_lan_port(lan, port)
        return cls(ip, key, s, s, hub, mac=bochs_lan_mac(port), **kw)

    def frame(self, payload):
        """An announcement's frame from this host."""
        return udp_broadcast_frame(self.ip, payload, src_mac=self.mac)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.rx.close()
        if self.tx is not self.rx:
            self.tx.close()

    def send(self, frame):
        self.tx.sendto(frame, self.dest)

    def arp(self, op, dst_mac, target_mac, target_ip):
        body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, self.mac,
                           socket.inet_aton(self.ip), target_mac, socket.inet_aton(target_ip))
        self.send(dst_mac + self.mac + b"\x08\x06" + body)

    def run(self):
        next_announce, n = 0, counter_now()
        while not self.stop.is_set():
            if self.body is not None and time.monotonic() >= next_announce:
                n += 1
                self.send(self.frame(sign(self.body, self.key, n)))
                next_announce = time.monotonic() + 1
            try:
                f = self.rx.recv(65536)
            except socket.timeout:
                continue
            if len(f) < 42 or f[0:6] not in (self.mac, b"\xff" * 6) or f[6:12] == self.mac:
                continue
            if f[12:14] == b"\x08\x06":
                op, sha, spa, tpa = struct.unpack("!6xH6s4s6x4s", f[14:42])
                if op == 1 and tpa == socket.inet_aton(self.ip):
                    self.arp(2, sha, sha, socket.inet_ntoa(spa))
                continue
            if f[12:14] != b"\x08\x00" or f[23] != 17 or f[30:34] != socket.inet_aton(self.ip):
                continue
            ihl = (f[14] & 15) * 4
            udp = f[14 + ihl:]
            q = udp[8:]
            if struct.unpack("!H", udp[2:4])[0] != 4445 or len(q) != 24 or q[:4] != b"TRNQ":
                continue
            self.challenged += 1
            if self.answers:
                src = socket.inet_ntoa(f[26:30])
                self.send(udp_frame(self.ip, src, f[6:12], answer(q, self.ip, self.key),
                                    src_mac=self.mac))
                self.answered += 1


def counter_now():
    """What a host would send now (migrate/announce.c announce_next_counter)."""
    return int(time.time()) << 16


@pytest.fixture
def pair():
    with lan_hosts("qemu-uefi", "discovery") as hosts:
        yield hosts


def test_hosts_find_each_other_and_forget_the_silent(pair):
    a, b = pair
    assert "cluster: key set" in a.boot_text, a.boot_text
    assert lan_key(a) not in a.boot_text and "key=..." in a.boot_text
    info = a.info("net")
    assert info["key"] == "set" and info["insecure-migration"] == "off", info
    assert lan_key(a) not in a.cmd("info net")
    assert wait_for(lambda: "10.0.0.2" in peers(a) and "10.0.0.1" in peers(b))
    row = peers(a)["10.0.0.2"]
    assert row["load"] == 0 and row["free"] > 100 and row["vms"] == 0, row
    assert row["high"] == 85 and row["margin"] == 25, row     # the policy's defaults
    assert row["capacity"] == 100, row                          # one CPU
    # the round trip, from an ICMP echo to each peer: a number of ms, not '-'
    assert wait_for(lambda: re.match(r"\d+\.\d$", peers(a)["10.0.0.2"]["rtt"]) and
                    re.match(r"\d+\.\d$", peers(b)["10.0.0.1"]["rtt"]), 20), \
        (a.cmd("info hosts"), b.cmd("info hosts"))
    info = a.info("hosts")
    assert int(info["rtt-answers"]) >= 1 and int(info["rtt-stray"]) == 0, info
    # each other's announcements, signed with the LAN's key, all believed once the
    # sender answered this host's challenge (the first ones were held until then)
    assert int(info["announced"]) >= 1 and int(info["announcements"]) >= 1, info
    assert info["rejected"] == "0" and info["malformed"] == "0", info
    assert int(info["held-unproven"]) >= 1 and int(info["challenges"]) >= 1, info
    assert int(info["challenges-answered"]) >= 1 and int(info["answered"]) >= 1, info
    assert info["answers-refused"] == "0", info
    b.poweroff()
    assert wait_for(lambda: "10.0.0.2" not in peers(a), timeout=30), "a silent peer stays"


def send_to_qemu_lan(host, frames, times=1):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    try:
        for _ in range(times):
            for f in frames:
                s.sendto(f, (lan_tool.MCAST_GROUP, lan_tool.qemu_port(host.lan)))
            time.sleep(0.2)
    finally:
        s.close()


def test_junk_forged_unsigned_and_replayed_announcements(pair):
    a, _ = pair
    assert wait_for(lambda: "10.0.0.2" in peers(a))
    before = int(a.info("hosts")["malformed"])
    key, n = lan_key(a), counter_now()
    junk = [b"x" * 24, sign(announcement("10.0.0.9", magic=b"XXXX"), key, n),
            sign(announcement("10.0.0.9", version=7), key, n),
            sign(announcement("10.0.0.9", version=1), key, n),
            announcement("10.0.0.9", version=2)[:24],  # before load-high and margin
            announcement("10.0.0.9", version=3),       # before the counter and MAC
            sign(announcement("10.0.0.9", version=3), key, n),
            sign(announcement("10.0.0.9", high=0), key, n),
            sign(announcement("10.0.0.9", capacity=99), key, n),
            sign(announcement("10.0.0.9", load=10001), key, n),  # over ANNOUNCE_LOAD_MAX
            sign(announcement("10.0.0.8"), key, n),            # speaks for another host
            sign(announcement("10.0.0.9", port=0), key, n),
            sign(announcement("10.0.0.9"), key, n) + b"!"]
    # the LAN may lose one
    send_to_qemu_lan(a, [udp_broadcast_frame("10.0.0.9", p) for p in junk], times=3)
    assert wait_for(lambda: int(a.info("hosts")["malformed"]) - before >= len(junk))
    assert set(peers(a)) == {"10.0.0.2"}
    assert a.info("hosts")["rejected"] == "0"
    # a well-formed one is taken, with a load past 100% (runnable vCPUs), once its sender
    # answered the host's challenge
    nine = LanPeer.qemu(a.lan, "10.0.0.9", key)
    try:
        counters = iter(range(n + 1, n + 1000))

        def listed():
            body = sign(announcement("10.0.0.9", load=342), key, next(counters))
            send_to_qemu_lan(a, [udp_broadcast_frame("10.0.0.9", body)])
            return peers(a).get("10.0.0.9", {}).get("load") == 342
        assert wait_for(listed, timeout=20), a.cmd("info hosts")
        assert nine.answered >= 1
    finally:
        nine.close()
    forged_unsigned_and_replayed(pair)


def forged_unsigned_and_replayed(pair):
    """From another address on the LAN: an announcement signed with another key, one without
    a MAC (as a host with insecure-migration=on sends), and a genuine one played again, and
    one older than it: each is counted on both hosts under its reason, and the sender is
    only listed for the genuine one, whose load then stays what it said. (On the junk test's
    hosts: a boot saved.)"""
    a, b = pair
    assert wait_for(lambda: "10.0.0.2" in peers(a) and "10.0.0.1" in peers(b))
    key, n = lan_key(a), counter_now()
    other = "%064x" % (int(key, 16) ^ 1)
    frame = lambda body, k, c: udp_broadcast_frame("10.0.0.7", sign(body, k, c))  # noqa: E731
    idle = announcement("10.0.0.7", load=0, capacity=10000, free=100000)
    send_to_qemu_lan(a, [frame(idle, other, n), frame(idle, None, n)], times=2)
    for h in (a, b):
        assert wait_for(lambda: int(h.info("hosts")["rejected-forged"]) >= 2 and
                        int(h.info("hosts")["rejected-unsigned"]) >= 2, 10), h.cmd("info hosts")
        assert "10.0.0.7" not in peers(h)
    seven = LanPeer.qemu(a.lan, "10.0.0.7", key)
    try:
        # held until the sender answers each host's challenge, then believed
        send_to_qemu_lan(a, [frame(announcement("10.0.0.7", load=76), key, n + 9)])
        assert wait_for(lambda: seven.answered >= 2, 10), (seven.challenged, seven.answered)
        genuine = frame(announcement("10.0.0.7", load=77), key, n + 10)
        send_to_qemu_lan(a, [genuine])
        assert wait_for(lambda: peers(a).get("10.0.0.7", {}).get("load") == 77 and
                        peers(b).get("10.0.0.7", {}).get("load") == 77, 10)
    finally:
        seven.close()
    # played again, and an older one signed with the key: neither is heard
    send_to_qemu_lan(a, [genuine, frame(announcement("10.0.0.7", load=5), key, n + 8)], times=2)
    for h in (a, b):
        assert wait_for(lambda: int(h.info("hosts")["rejected-replayed"]) >= 4, 10), \
            h.cmd("info hosts")
        info = h.info("hosts")
        assert int(info["rejected"]) == int(info["rejected-forged"]) + \
            int(info["rejected-unsigned"]) + int(info["rejected-replayed"]), info
    assert peers(a)["10.0.0.7"]["load"] == 77
    # the sender falls silent and is forgotten; a recording of it does not bring it back
    assert wait_for(lambda: "10.0.0.7" not in peers(a), 30)
    before = int(a.info("hosts")["rejected-replayed"])
    send_to_qemu_lan(a, [genuine])
    assert wait_for(lambda: int(a.info("hosts")["rejected-replayed"]) > before, 10)
    assert "10.0.0.7" not in peers(a)
    recording_of_a_host_gone(pair)


def recording_of_a_host_gone(pair):
    """Announcements of 10.0.0.6, signed with the key and each under a new counter, as a
    recording of a host now gone would be to hosts that never heard it or rebooted since
    (they keep no counters across a reboot): each host challenges the sender, about once
    a period, nothing answers, and it is never listed; the announcements are counted as
    held."""
    a, b = pair
    key, n = lan_key(a), counter_now()
    before = {h: h.info("hosts") for h in (a, b)}
    six = LanPeer.qemu(a.lan, "10.0.0.6", key, answers=False)
    try:
        for i in range(12):                     # 6 s: three announcement periods
            send_to_qemu_lan(a, [udp_broadcast_frame("10.0.0.6", sign(
                announcement("10.0.0.6", load=0, capacity=10000, free=100000), key, n + i))])
            time.sleep(0.3)
        assert wait_for(lambda: six.challenged >= 4, 10), six.challenged
        for h in (a, b):
            info = h.info("hosts")
            assert int(info["held-unproven"]) - int(before[h]["held-unproven"]) >= 12, info
            assert int(info["challenges"]) - int(before[h]["challenges"]) >= 2, info
            assert "10.0.0.6" not in peers(h)
    finally:
        six.close()


class Sniffer:
    """Every frame on a QEMU LAN (its multicast group), for what hosts send."""

    def __init__(self, lan):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind((lan_tool.MCAST_GROUP, lan_tool.qemu_port(lan)))
        self.s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                          socket.inet_aton(lan_tool.MCAST_GROUP) + socket.inet_aton("127.0.0.1"))
        self.s.settimeout(0.2)

    def announcements(self, seconds):
        """(source ip, UDP payload) of each frame to port 4445 within seconds."""
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                f = self.s.recv(65536)
            except socket.timeout:
                continue
            if len(f) < 42 or f[12:14] != b"\x08\x00" or f[23] != 17:
                continue
            ihl = (f[14] & 15) * 4
            udp = f[14 + ihl:]
            if struct.unpack("!H", udp[2:4])[0] == 4445:
                out.append((socket.inet_ntoa(f[26:30]), udp[8:]))
        return out

    def close(self):
        self.s.close()


def test_keyless_and_insecure_hosts(hosts):
    """Host 1 without a key: it says so at boot, does not listen for migrations, sends no
    announcement, believes none (not host 2's), and `migrate` and `policy on` say why.
    Host 2 with insecure-migration=on: it says so, listens, and announces unsigned (40
    bytes); it never hears host 1."""
    lan = f"keyless-{os.getpid()}"
    a = hosts("qemu-uefi", 1, lan, extra=["--no-key"])
    b = hosts("qemu-uefi", 2, lan, extra=["--insecure"])
    sniff = Sniffer(lan)
    try:
        text = a.wait_prompt()
        no_key = "no cluster key (key= on tern's command line, or insecure-migration=on)"
        assert f"cluster: {no_key}: this host neither announces itself" in text, text
        assert f"migrate: not listening: {no_key}" in text, text
        assert "migrate: listening" not in text
        text = b.wait_prompt()
        assert "cluster: insecure-migration=on: migrations and announcements are neither " \
            "authenticated nor encrypted" in text, text
        assert "migrate: listening on port 4444" in text, text
        assert a.info("net")["key"] == "none" and b.info("net")["insecure-migration"] == "on"
        assert a.cmd("migrate 1 10.0.0.2").strip() == f"error: {no_key}"
        assert a.cmd("policy on").strip() == f"error: {no_key}"
        assert a.info("policy")["state"] == "off"
        heard = sniff.announcements(3 * 2 + 1)        # three announcement periods
        assert heard and all(ip == "10.0.0.2" for ip, _ in heard), heard
        assert all(len(p) == 40 and p[:5] == b"TRNH\x04" for _, p in heard), heard
        assert wait_for(lambda: int(b.info("hosts")["announced"]) >= 3, 10)
        info = a.info("hosts")
        assert info["announced"] == "0" and info["announcements"] == "0", info
        assert "discovery: off (no cluster key" in a.cmd("info hosts")
        assert peers(a) == {} and peers(b) == {}
    finally:
        sniff.close()
