"""Host discovery: each host announces itself on the LAN (UDP broadcast, port 4445)
and lists the others in `info hosts`; a silent peer goes; junk announcements are
counted and ignored. QEMU (TCG: discovery needs no VT-x, and QEMU boots fast)."""
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
        if len(f) == 9 and re.match(r"\d+\.\d+\.\d+\.\d+$", f[0]):
            rows[f[0]] = {"load": int(f[1]), "free": int(f[2]), "vms": int(f[3]),
                          "rtt": f[5], "high": int(f[7]), "margin": int(f[8])}
    return rows


def udp_broadcast_frame(src_ip, payload, port=4445):
    """An Ethernet frame: IPv4 UDP from src_ip to 255.255.255.255 (no UDP checksum)."""
    udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                      socket.inet_aton(src_ip), b"\xff\xff\xff\xff")
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xffff) + hdr[12:]
    return b"\xff" * 6 + bytes([0x52, 0x54, 0, 0, 0, 9]) + b"\x08\x00" + hdr + udp


def announcement(ip, load=10, port=4444, version=3, magic=b"TRNH", high=85, margin=25,
                 capacity=100):
    """Version 3 (migrate/announce.h): the load is a u16, percent of one CPU; then the
    policy's load-high, balance-margin and capacity."""
    return magic + bytes([version, 0]) + struct.pack("<H", port) + \
        struct.pack("<I", struct.unpack("!I", socket.inet_aton(ip))[0]) + \
        struct.pack("<H", load) + struct.pack("<HII", 1, 100, 1) + \
        struct.pack("<HHHH", high, margin, capacity, 0)


@pytest.fixture
def pair():
    with lan_hosts("qemu-uefi", "discovery") as hosts:
        yield hosts


def test_hosts_find_each_other_and_forget_the_silent(pair):
    a, b = pair
    assert wait_for(lambda: "10.0.0.2" in peers(a) and "10.0.0.1" in peers(b))
    row = peers(a)["10.0.0.2"]
    assert row["load"] == 0 and row["free"] > 100 and row["vms"] == 0, row
    assert row["high"] == 85 and row["margin"] == 25, row     # the policy's defaults
    # the round trip, from an ICMP echo to each peer: a number of ms, not '-'
    assert wait_for(lambda: re.match(r"\d+\.\d$", peers(a)["10.0.0.2"]["rtt"]) and
                    re.match(r"\d+\.\d$", peers(b)["10.0.0.1"]["rtt"]), 20), \
        (a.cmd("info hosts"), b.cmd("info hosts"))
    info = a.info("hosts")
    assert int(info["rtt-answers"]) >= 1 and int(info["rtt-stray"]) == 0, info
    b.poweroff()
    assert wait_for(lambda: "10.0.0.2" not in peers(a), timeout=30), "a silent peer stays"


def test_junk_announcements_counted_and_ignored(pair):
    a, _ = pair
    assert wait_for(lambda: "10.0.0.2" in peers(a))
    before = int(a.info("hosts")["malformed"])
    junk = [b"x" * 24, announcement("10.0.0.9", magic=b"XXXX"),
            announcement("10.0.0.9", version=7), announcement("10.0.0.9", version=1),
            announcement("10.0.0.9", version=2)[:24],  # before load-high and margin
            announcement("10.0.0.9", high=0), announcement("10.0.0.9", capacity=99),
            announcement("10.0.0.9", load=10001),  # over ANNOUNCE_LOAD_MAX
            announcement("10.0.0.8"),            # speaks for another host
            announcement("10.0.0.9", port=0), announcement("10.0.0.9") + b"!"]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    for _ in range(3):                           # the LAN may lose one
        for payload in junk:
            s.sendto(udp_broadcast_frame("10.0.0.9", payload),
                     (lan_tool.MCAST_GROUP, lan_tool.qemu_port(a.lan)))
        time.sleep(0.2)
    assert wait_for(lambda: int(a.info("hosts")["malformed"]) - before >= len(junk))
    assert set(peers(a)) == {"10.0.0.2"}
    # a well-formed one is taken
    # a well-formed one is taken, with a load past 100% (runnable vCPUs)
    s.sendto(udp_broadcast_frame("10.0.0.9", announcement("10.0.0.9", load=342)),
             (lan_tool.MCAST_GROUP, lan_tool.qemu_port(a.lan)))
    assert wait_for(lambda: peers(a).get("10.0.0.9", {}).get("load") == 342, timeout=10)
