"""Network: tern hosts on an emulated LAN ping each other, measure TCP bulk
transfer (netperf) both ways, survive a peer that vanishes mid-transfer and a
flood of junk frames. QEMU (TCG, fast to boot) carries most variations, with an
e1000 (82540EM) and an e1000e (82574L) on the same LAN; Bochs (a full core per
host, about 1.5 MB/s on its LAN) does the essential two-host ping and netperf."""
import os
import re
import secrets
import signal
import subprocess
import time

from ternhost import ROOT, launch, wait_for

lan_tool = launch.lan

LAN_TOOL = os.path.join(ROOT, "tools", "lan")
THROUGHPUT = re.compile(r"^throughput: (\d+\.\d\d) MB/s$", re.M)
COUNTERS = ("rx-packets", "tx-packets")


def lan_name(tag):
    # Per run, so concurrent test runs on one machine don't share a LAN.
    return f"test-{tag}-{os.getpid()}"


def ping_ok(h, ip, count=3, timeout=60):
    out = h.cmd(f"ping {ip} {count}", timeout=timeout)
    replies = re.findall(rf"^reply from {re.escape(ip)}: seq=\d+ time=\d+\.\d+ ms$", out, re.M)
    assert replies, out
    assert re.search(rf"^ping: {count} sent, \d+ received, \d+% loss; rtt min/avg/max ", out,
                     re.M), out
    return out


def netperf_ok(h, ip, mib, timeout):
    out = h.cmd(f"netperf {ip} {mib}", timeout=timeout)
    m = THROUGHPUT.search(out)
    assert m and float(m.group(1)) > 0, out
    assert f"netperf: {mib} MiB to {ip} in " in out, out
    return float(m.group(1))


def counters(h):
    info = h.info("net")
    return {k: int(info[k]) for k in COUNTERS + ("rx-dropped", "tx-errors")}


def nap_ms(h):
    return int(h.info("uptime")["nap-ms"])


def check_pair(a, b, mib, timeout, ip_a="10.0.0.1", ip_b="10.0.0.2"):
    before = counters(a)
    ping_ok(a, ip_b)
    ping_ok(b, ip_a)
    naps = nap_ms(a), nap_ms(b)
    ab = netperf_ok(a, ip_b, mib, timeout)
    ba = netperf_ok(b, ip_a, mib, timeout)
    naps = nap_ms(a) - naps[0], nap_ms(b) - naps[1]
    after = counters(a)
    # A MiB is 718 full segments: each host sent and received at least that many
    # frames per MiB (data one way, then ACKs for the other way's data).
    for k in COUNTERS:
        assert after[k] - before[k] > 718 * mib, (before, after)
    # While the frames flowed, both hosts' loops halted between them rather than spin
    # (a spinning vCPU holds a core its NIC's device model wants: see the README).
    assert naps[0] > 0 and naps[1] > 0, naps
    print(f"napped during the transfers: {naps[0]} and {naps[1]} ms")
    return ab, ba


# --- QEMU (TCG) ----------------------------------------------------------------

def test_qemu_two_hosts_e1000_and_e1000e(hosts):
    lan = lan_name("pair")
    a = hosts("qemu-uefi", 1, lan, nic="e1000")
    b = hosts("qemu-uefi", 2, lan, nic="e1000e")
    boot_a, boot_b = a.wait_prompt(), b.wait_prompt()
    assert re.search(r"net: 82540EM at .*, mac 52:54:00:00:00:01, ip 10\.0\.0\.1, link up",
                     boot_a), boot_a
    assert re.search(r"net: 82574L at .*, mac 52:54:00:00:00:02, ip 10\.0\.0\.2, link up",
                     boot_b), boot_b
    assert re.search(r"^00:\S+\s+8086:100e\s+020000 0:mem:", a.cmd("info pci"), re.M)
    assert re.search(r"^00:\S+\s+8086:10d3\s+020000 0:mem:", b.cmd("info pci"), re.M)
    info = a.info("net")
    assert info["mac"] == "52:54:00:00:00:01" and info["ip"] == "10.0.0.1/24", info
    assert info["link"] == "up", info
    check_pair(a, b, 8, 120)


def test_qemu_peer_vanishes_mid_transfer(hosts):
    lan = lan_name("vanish")
    a, b = hosts("qemu-uefi", 1, lan), hosts("qemu-uefi", 2, lan)
    a.wait_prompt()
    b.wait_prompt()
    ping_ok(a, "10.0.0.2", count=1)
    rx0 = int(b.info("net")["rx-packets"])
    a.send_raw(b"netperf 10.0.0.2 512\r")
    # mid-transfer: host 2 has taken a good part of a MiB (512 MiB take far longer)
    assert wait_for(lambda: int(b.info("net")["rx-packets"]) > rx0 + 500, 60, 0.2)
    b.kill()
    a.expect(re.compile(rb"error: netperf to 10\.0\.0\.2: [^\n]*\(\d+ of \d+ bytes "
                        rb"acknowledged\)"), timeout=60)
    a.expect(re.compile(rb"\ntern> "), timeout=10)
    assert a.info("version").get("version")
    out = a.cmd("ping 10.0.0.2 1", timeout=30)
    assert "1 sent, 0 received, 100% loss" in out, out


def test_qemu_junk_flood(hosts):
    lan = lan_name("junk")
    a, b = hosts("qemu-uefi", 1, lan), hosts("qemu-uefi", 2, lan)
    a.wait_prompt()
    b.wait_prompt()
    ping_ok(a, "10.0.0.2", count=1)
    before = counters(a)
    r = subprocess.run([LAN_TOOL, "flood", lan, "--seconds", "8"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    sent = int(re.search(r"flood: (\d+) junk frames", r.stdout).group(1))
    assert sent > 1000, r.stdout
    # Both still serve their monitors and talk to each other.
    assert a.info("version").get("version") and b.info("version").get("version")
    ping_ok(a, "10.0.0.2")
    ping_ok(b, "10.0.0.1")
    netperf_ok(a, "10.0.0.2", 2, 60)
    after = counters(a)
    assert after["rx-packets"] - before["rx-packets"] > sent // 10, (sent, before, after)


def test_qemu_no_nic_and_bad_config(hosts, tmp_path):
    # the cluster key from a file among the boot modules (key-file=), as on a real ESP
    key = secrets.token_hex(32)
    (tmp_path / "cluster.key").write_text(key + "\n")
    plain = hosts("qemu-uefi", cmdline="key-file=cluster.key",
                  guests=[str(tmp_path / "cluster.key")])
    text = plain.wait_prompt()
    assert "net: no NIC found; running without network" in text, text
    assert "cluster: key set" in text and key not in text, text
    assert plain.info("net") == {"nic": "none", "key": "set", "insecure-migration": "off"}
    assert "error: no network (no NIC)" in plain.cmd("ping 10.0.0.2 1")
    assert "error: no network (no NIC)" in plain.cmd("netperf 10.0.0.2 1")
    assert "error: usage: ping" in plain.cmd("ping 10.0.0.300")
    assert "error: usage: netperf" in plain.cmd("netperf 10.0.0.2 0")
    bad = hosts("qemu-uefi", 1, lan_name("bad"), cmdline="ip=10.0.0.300/24")
    text = bad.wait_prompt()
    assert "net: ip=10.0.0.300/24 is not A.B.C.D/N or dhcp" in text, text
    assert "net: running without network" in text, text
    assert bad.info("version").get("version")


def test_qemu_no_address(hosts):
    h = hosts("qemu-uefi", 3, lan_name("noaddr"), cmdline="ip=0.0.0.0/24")
    text = h.wait_prompt()
    assert "net: 82540EM at" in text, text
    assert "error: no network (no IP address)" in h.cmd("ping 10.0.0.1 1")


# --- Bochs -------------------------------------------------------------------------

def test_bochs_two_hosts(hosts):
    """Host 2 takes its address by DHCP from bxhub's built-in server (10.0.2.0/24);
    host 1 has a static one in that subnet."""
    lan = lan_name("bochs")
    a = hosts("bochs-uefi", 1, lan, cmdline="ip=10.0.2.101/24")
    b = hosts("bochs-uefi", 2, lan, cmdline="ip=dhcp")
    assert "net: 82540EM at" in a.wait_prompt()
    assert "ip by DHCP" in b.wait_prompt()
    end = time.monotonic() + 60
    while (info := b.info("net"))["ip"].startswith("0.0.0.0") and time.monotonic() < end:
        time.sleep(2)
    assert info["config"] == "dhcp" and info["ip"].startswith("10.0.2."), info
    ip_b = info["ip"].split("/")[0]
    ab, ba = check_pair(a, b, 1, 120, ip_a="10.0.2.101", ip_b=ip_b)
    print(f"bochs netperf: {ab} MB/s one way, {ba} MB/s the other")
    # The LAN's bxhub and state go when the last launcher does, even one killed.
    state = lan_tool.state_dir(lan)
    assert os.path.isdir(state)
    a.kill(signal.SIGKILL)
    b.close()
    end = time.monotonic() + 10
    while os.path.exists(state) and time.monotonic() < end:
        time.sleep(0.2)
    assert not os.path.exists(state), f"{state} left behind"
