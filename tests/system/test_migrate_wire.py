"""A live tern host (Bochs + OVMF, with VT-x) fed migration streams by this test over
user-mode networking: malformed and out-of-order messages, as target and as source.
Each one ends that migration with a clear reason, frees what it reserved, and
disturbs nothing else: the host's memory returns to its baseline, and a VM it was
sending runs on."""
import re
import socket
import struct

import pytest

from ternhost import TernHost

MAGIC, VERSION = b"TRNM", 3
HELLO, RESERVED, PAGE, ROUND, STATE, COMMIT, ACTIVATE, ACTIVATED, ABORT = range(1, 10)
PAGE_SIZE = 4096
STATE_LEN = 115 * 8 + 832 + (6 + 2 + 160 + 2 + 256) + 8  # vCPU fields, XSAVE, UART, digest
GATEWAY = "10.0.2.2"                                 # this machine, seen from the host


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


def frame(kind, payload=b"", version=VERSION, length=None):
    n = len(payload) if length is None else length
    return MAGIC + struct.pack("<HHII", version, kind, n, fnv1a(payload)) + payload


def hello(mem=2 << 20, features=3, devices=3, load=0, name=b"wire", image=b"memtouch"):
    return frame(HELLO, struct.pack("<QIIIII", mem, PAGE_SIZE, 1, features, devices, load) +
                 name.ljust(32, b"\0") + image.ljust(32, b"\0"))


def page(gpa, data=None):
    if data is None:
        return frame(PAGE, struct.pack("<QI", gpa, 1))
    return frame(PAGE, struct.pack("<QI", gpa, 0) + data)


def read_frame(sock, timeout=30):
    """The next frame from tern: (type, payload), or None when it closed."""
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < 16:
        chunk = sock.recv(16 - len(buf))
        if not chunk:
            return None
        buf += chunk
    assert buf[:4] == MAGIC, buf
    version, kind, n, check = struct.unpack("<HHII", buf[4:])
    assert version == VERSION
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        assert chunk, "tern closed in the middle of a frame"
        body += chunk
    assert fnv1a(body) == check
    return kind, body


def reason(body, at):
    return body[at:].split(b"\0")[0].decode()


def free_kib(host):
    return int(host.info("mem")["free"].split()[0])


def vm_states(host):
    return {l.split()[0]: l.split()[2] for l in host.cmd("info vms").splitlines()[1:]
            if len(l.split()) > 2}


@pytest.fixture(scope="module")
def host():
    with socket.socket() as s:          # a free port here for the forward
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    h = TernHost("bochs-uefi", name="migrate-wire", extra=["--forward", f"{port}:4444"])
    try:
        h.wait_prompt(timeout=240)
        assert "migrate: listening on port 4444" in h.boot_text, h.boot_text[-500:]
        h.port = port
        yield h
    finally:
        h.close()


def connect(host):
    return socket.create_connection(("127.0.0.1", host.port), timeout=30)


def expect_failure(host, stage, why):
    host.expect(re.compile(rf"migration from {re.escape(GATEWAY)}: failed at {stage}: "
                           rf"[^\r\n]*{re.escape(why)}".encode()), timeout=60)


def aborted(sock):
    f = read_frame(sock)
    assert f and f[0] == ABORT, f
    return reason(f[1], 0)


def reserved(sock):
    """Reads RESERVED; returns (ok, vm id, reason)."""
    f = read_frame(sock)
    assert f and f[0] == RESERVED, f
    ok, vm = struct.unpack("<II", f[1][:8])
    return ok, vm, reason(f[1], 8)


# Each case: what this test sends, the stage tern must name and words of its reason.
# The stream either never gets a VM reserved or gets one and must lose it again.
BEFORE_RESERVING = [
    ("not a stream", b"GET / HTTP/1.0\r\n\r\n", "reservation", "bad magic"),
    ("old version", frame(ACTIVATE, version=1), "reservation", "unsupported stream version"),
    ("unknown type", frame(42), "reservation", "unknown message type"),
    ("oversized", frame(PAGE, b"", length=1 << 20), "reservation", "length wrong"),
    ("bad checksum", hello()[:12] + b"\0\0\0\0" + hello()[16:], "reservation",
     "checksum mismatch"),
    ("page first", page(0), "reservation", "address outside the VM's memory"),
    ("activate first", frame(ACTIVATE), "reservation", "message 7 out of order"),
    ("odd memory size", hello(mem=(2 << 20) + 4096), "reservation", "multiple of 2 MiB"),
    ("name not text", hello(name=b"\x1b[2Jx"), "reservation", "name is not text"),
    ("load past 10000%", hello(load=10001), "reservation", "load out of range"),
]


@pytest.mark.parametrize("what,data,stage,why", BEFORE_RESERVING,
                         ids=[c[0] for c in BEFORE_RESERVING])
def test_malformed_before_reserving(host, what, data, stage, why):
    base = free_kib(host)
    with connect(host) as s:
        s.sendall(data)
        assert why in aborted(s)
        assert read_frame(s) is None        # and tern closed the connection
    expect_failure(host, stage, why)
    assert free_kib(host) == base
    assert "incoming" not in vm_states(host).values()


@pytest.mark.parametrize("what,msg,why", [
    ("too big", hello(mem=48 << 30), "not enough memory"),
    ("unknown features", hello(features=3 | 1 << 7), "unknown features 0x80"),
    ("unknown devices", hello(devices=1 << 5), "unknown devices 0x20"),
    # a policy's migration (feature bit 3) says its VM's load; the target judges it by
    # the balance rule from the source's announcement, and this source announced none
    ("load check, source unheard", hello(features=3 | 1 << 3, load=90),
     "the source's load is not known here (no announcement heard)"),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_refused_requests(host, what, msg, why):
    base = free_kib(host)
    with connect(host) as s:
        s.sendall(msg)
        ok, _, text = reserved(s)
        assert not ok and why in text, text
    expect_failure(host, "reservation", why)
    assert free_kib(host) == base


def reserve(host, s):
    s.sendall(hello())
    ok, vm, text = reserved(s)
    assert ok, text
    assert vm_states(host).get(str(vm)) == "incoming"
    return vm


def zero_pages(skip=()):
    return b"".join(page(i * PAGE_SIZE) for i in range(512) if i not in skip)


@pytest.mark.parametrize("what,tail,stage,why", [
    ("page outside the VM", page(2 << 20), "iterative copy", "outside the VM's memory"),
    ("page not aligned", page(0x10), "iterative copy", "outside the VM's memory"),
    ("page of wrong length", frame(PAGE, struct.pack("<QI", 0, 0) + b"x" * 10),
     "iterative copy", "bad kind or length"),
    ("hello twice", hello(), "iterative copy", "message 1 out of order"),
    # field 25 is CS's 16-bit selector
    ("bad register", frame(STATE, b"\0" * 8 * 30 + b"\xff" * 8 + b"\0" * (STATE_LEN - 248)),
     "iterative copy", "register value out of range"),
    ("missing page", zero_pages(skip={7}) + frame(STATE, b"\0" * STATE_LEN),
     "commitment", "page 0x7000 never arrived"),
    ("wrong digest", zero_pages() + frame(STATE, b"\0" * STATE_LEN), "commitment",
     "digest mismatch"),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_malformed_after_reserving(host, what, tail, stage, why):
    base = free_kib(host)
    with connect(host) as s:
        vm = reserve(host, s)
        s.sendall(tail)
        f = read_frame(s)
        assert f and f[0] in (ABORT, COMMIT), f
        text = reason(f[1], 0 if f[0] == ABORT else 8)
        assert why in text, text
    expect_failure(host, stage, why)
    assert str(vm) not in vm_states(host)
    assert free_kib(host) == base


def test_stream_cut_mid_frame(host):
    base = free_kib(host)
    with connect(host) as s:
        vm = reserve(host, s)
        s.sendall(page(0, b"\xaa" * PAGE_SIZE)[:2000])    # then the cable goes
    expect_failure(host, "iterative copy", "closed the connection")
    assert str(vm) not in vm_states(host)
    assert free_kib(host) == base


def fake_target(host, vm, answer):
    """Listens here, migrates vm to it, reads the HELLO and answers with answer(s)."""
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(60)
        port = ls.getsockname()[1]
        out = host.cmd(f"migrate {vm} {GATEWAY}:{port}")
        assert "started" in out, out
        s, _ = ls.accept()
        with s:
            f = read_frame(s)
            assert f and f[0] == HELLO, f
            mem, = struct.unpack("<Q", f[1][:8])
            assert mem == 4 << 20 and f[1][28:28 + 5] == b"liver"
            answer(s)
            host.expect(re.compile(rf"migration vm{vm} -> {re.escape(GATEWAY)}: failed at "
                                   rf"[^\r\n]*\r\n".encode()), timeout=60)
    return host.proc.match.group(0).decode()


def still_beating(host, vm):
    for _ in range(2):
        host.expect(rf"\[vm{vm}\] seq=\d+ check=ok\r\n".encode(), timeout=120)
    assert vm_states(host).get(str(vm)) == "running"


def test_as_source_bad_answers(host):
    vm = host.vm_start("memtouch mem=4 name=liver -- mib=1")
    host.expect(rf"\[vm{vm}\] seq=1 check=ok".encode(), timeout=120)

    line = fake_target(host, vm, lambda s: s.sendall(b"\0" * 64))
    assert "failed at reservation: bad message from the target: " in line, line
    assert f"vm{vm} runs on here" in line, line
    still_beating(host, vm)

    # yes, then a message from the end of the protocol while pages flow
    def yes_then_nonsense(s):
        s.sendall(frame(RESERVED, struct.pack("<II", 1, 9) + b"\0" * 120))
        read_frame(s)
        s.sendall(frame(ACTIVATED, struct.pack("<I", 9)))
    line = fake_target(host, vm, yes_then_nonsense)
    assert "failed at iterative copy: unexpected message 8 from the target" in line, line
    still_beating(host, vm)
    assert host.info(f"dirty {vm}")["mode"] == "off"    # tracking ended with it
    host.cmd(f"kill {vm}")
