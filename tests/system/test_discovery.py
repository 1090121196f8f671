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
import time

import pytest

from ternhost import lan_hosts, launch, wait_for

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


def udp_broadcast_frame(src_ip, payload, port=4445):
    """An Ethernet frame: IPv4 UDP from src_ip to 255.255.255.255 (no UDP checksum)."""
    udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                      socket.inet_aton(src_ip), b"\xff\xff\xff\xff")
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return b"\xff" * 6 + bytes([0x52, 0x54, 0, 0, 0, 9]) + b"\x08\x00" + hdr + udp


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
    # each other's announcements, signed with the LAN's key, all believed
    assert int(info["announced"]) >= 1 and int(info["announcements"]) >= 1, info
    assert info["rejected"] == "0" and info["malformed"] == "0", info
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
    # a well-formed one is taken, with a load past 100% (runnable vCPUs)
    send_to_qemu_lan(a, [udp_broadcast_frame("10.0.0.9", sign(announcement("10.0.0.9", load=342),
                                                               key, n + 1))])
    assert wait_for(lambda: peers(a).get("10.0.0.9", {}).get("load") == 342, timeout=10)
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
    genuine = frame(announcement("10.0.0.7", load=77), key, n + 10)
    send_to_qemu_lan(a, [genuine])
    assert wait_for(lambda: peers(a).get("10.0.0.7", {}).get("load") == 77, 10)
    # played again, and an older one signed with the key: neither is heard
    send_to_qemu_lan(a, [genuine, frame(announcement("10.0.0.7", load=5), key, n + 9)], times=2)
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
