"""Shared code of tools/run-bochs and tools/run-qemu: boot one tern host on a
private image and bridge its COM1 to this process's stdin/stdout.

COM1 reaches us over a socket that we listen on and the emulator connects to
(Bochs: TCP socket-client on 127.0.0.1 with a kernel-chosen port; QEMU: a unix
socket). A socket is binary-clean in both directions and, unlike QEMU's stdio
chardev, interprets nothing; the emulator's own stdout/stderr go to a file so
they never mix with the console.
"""
import argparse
import ctypes
import glob
import importlib.machinery
import importlib.util
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MKIMG = os.path.join(ROOT, "tools", "mkimg")
TMP_PREFIX = "tern-host."
CTRL_A = 0x01
PR_SET_PDEATHSIG = 1


def note(msg):
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr, flush=True)


def die(msg, code=2):
    note(msg)
    sys.exit(code)


BOCHS_IPS = 100000000


def parse_args(platform):
    p = argparse.ArgumentParser(
        description=f"Boot one tern host under {platform}; its COM1 is this terminal.")
    p.add_argument("--mem", type=int, default=512, metavar="MiB", help="host RAM (512)")
    p.add_argument("--cpus", type=int, default=1, choices=range(1, 9), metavar="N",
                   help="host CPUs, 1..8 (1); tern's cpus= may start fewer")
    p.add_argument("--cmdline", default="", help="tern command line")
    p.add_argument("--guest", action="append", default=[], metavar="FILE[=ARGS]",
                   help="extra guest image, after build/guests/*.elf (repeatable)")
    p.add_argument("--linux", action="store_true",
                   help="also bring the Linux guest: build/linux/linux and initramfs")
    p.add_argument("--firmware", choices=("uefi", "bios"), default="uefi")
    p.add_argument("--build", default=os.path.join(ROOT, "build"), metavar="DIR")
    p.add_argument("--verbose", action="store_true", help="say where logs are")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (image, logs)")
    p.add_argument("--host", type=int, choices=range(1, 7), default=None, metavar="N",
                   help="host N (1..6) on its LAN: MAC 52:54:00:00:00:0N and, unless "
                   "--cmdline has ip=, ip=10.0.0.N/24")
    p.add_argument("--lan", default=None, metavar="NAME",
                   help="give the host an e1000 on the emulated LAN NAME, shared by every "
                   "launcher with the same NAME (default host 1)")
    p.add_argument("--forward", default=None, metavar="HOSTPORT:PORT",
                   help="instead of a LAN, user-mode networking: an e1000 on a private "
                   "network where the host is 10.0.2.15 and 10.0.2.2 is this machine; "
                   "TCP to 127.0.0.1:HOSTPORT here reaches the host's PORT")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--no-key", action="store_true",
                      help="no cluster key: the host takes no part in migration or discovery")
    keys.add_argument("--insecure", action="store_true",
                      help="insecure-migration=on instead of a key (the plain protocol)")
    if platform == "bochs":
        p.add_argument("--ips", type=int, default=BOCHS_IPS, metavar="N",
                       help=f"emulated instructions per emulated second ({BOCHS_IPS}); "
                       "Bochs polls its NIC by emulated time, so fewer make the LAN faster "
                       "and every CPU slower")
    if platform == "qemu":
        p.add_argument("--accel", choices=("kvm", "tcg"), default=None,
                       help="default: kvm when /dev/kvm offers VT-x, else tcg")
        p.add_argument("--nic", choices=("e1000", "e1000e"), default="e1000",
                       help="the NIC model with --lan (e1000: 82540EM, e1000e: 82574L)")
    args = p.parse_args()
    if platform == "bochs" and not 1000000 <= args.ips <= 2000000000:
        p.error(f"--ips {args.ips}: expected 1000000..2000000000")
    if args.forward is not None:
        m = re.fullmatch(r"(\d+):(\d+)", args.forward)
        if not m or not all(0 < int(x) < 65536 for x in m.groups()):
            p.error(f"--forward {args.forward}: expected HOSTPORT:PORT, ports 1..65535")
        if args.lan is not None or args.host is not None:
            p.error("--forward gives the host its own network: not with --lan or --host")
        args.forward = tuple(int(x) for x in m.groups())
        if not re.search(r"(^|\s)ip=", args.cmdline):
            args.cmdline = f"{args.cmdline} ip={USER_NET_IP}/24 gw={USER_NET_GW}".strip()
    if args.lan is not None and args.host is None:
        args.host = 1
    if args.host is not None and not re.search(r"(^|\s)ip=", args.cmdline):
        args.cmdline = f"{args.cmdline} ip={host_ip(args.host)}/24".strip()
    args.cmdline = f"{args.cmdline} {cluster_words(args)}".strip()
    return args


def cluster_words(args):
    """What tern's command line gets for issue 16's cluster key, unless it has its own: the
    LAN's key (tools/lan key), or a key of its own for a host on no LAN; --insecure and
    --no-key for the tests of the other two modes."""
    if re.search(r"(^|\s)(key|key-file|insecure-migration)(=|\s|$)", args.cmdline) or \
            args.no_key:
        return ""
    if args.insecure:
        return "insecure-migration=on"
    return f"key={lan.key(args.lan) if args.lan else secrets.token_hex(32)}"


# --- the LAN (tools/lan) ------------------------------------------------------

def _load_lan():
    path = os.path.join(ROOT, "tools", "lan")
    loader = importlib.machinery.SourceFileLoader("lan", path)
    spec = importlib.util.spec_from_loader("lan", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


lan = _load_lan()


USER_NET_IP, USER_NET_GW = "10.0.2.15", "10.0.2.2"   # slirp's defaults, in both emulators


def host_mac(n):
    return f"52:54:00:00:00:{n:02x}"


def host_ip(n):
    return f"10.0.0.{n}"


def why_no_kvm_vmx():
    """None when KVM can give a guest VT-x (the host CPU has vmx and /dev/kvm
    opens read-write); else the reason, in words."""
    with open("/proc/cpuinfo") as f:
        if not any(ln.startswith("flags") and "vmx" in ln.split() for ln in f):
            return "the CPU has no vmx flag in /proc/cpuinfo"
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        return f"/dev/kvm: {e.strerror}"
    return None


def kvm_has_vmx():
    return why_no_kvm_vmx() is None


def sweep_stale_dirs():
    """Remove temp dirs of launchers that died by SIGKILL (no chance to clean up).
    Each dir is named after its launcher's pid."""
    for d in glob.glob(os.path.join(tempfile.gettempdir(), TMP_PREFIX + "*")):
        try:
            pid = int(os.path.basename(d)[len(TMP_PREFIX):].split(".")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError):
            pass


def build_image(args, tmp):
    """Build this host's private boot image; return its path."""
    modules = sorted(glob.glob(os.path.join(args.build, "guests", "*.elf"))) + args.guest
    if args.linux:
        modules += [os.path.join(args.build, "linux", f) for f in ("linux", "initramfs")]
    mods = [a for m in modules for a in ("--module", m)]
    if args.firmware == "uefi":
        out = os.path.join(tmp, "tern.img")
        cmd = [MKIMG, "efi", "--efi", os.path.join(args.build, "tern.efi")]
    else:
        out = os.path.join(tmp, "tern.iso")
        cmd = [MKIMG, "iso", "--elf", os.path.join(args.build, "tern.elf")]
    r = subprocess.run(cmd + ["--out", out, "--cmdline", args.cmdline] + mods)
    if r.returncode != 0:
        die("could not build the boot image")
    return out


def _die_with(launcher):
    """Return the emulator child's pre-exec step: it gets SIGKILL when the
    launcher dies, even by SIGKILL, so no emulator outlives its launcher."""
    def setup():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != launcher:    # it died before prctl took effect
            os._exit(1)
    return setup


class Host:
    """One emulator child, its temp dir and its COM1 connection."""

    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.child = None
        self.conn = None
        self.tty_saved = None
        self.cleanups = []      # run when the launcher ends, however it ends

    def spawn(self, argv):
        self.out_path = os.path.join(self.tmp, "emulator.out")
        with open(self.out_path, "wb") as out:
            self.child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, cwd=self.tmp,
                                          preexec_fn=_die_with(os.getpid()),
                                          start_new_session=True)

    def accept(self, listener, timeout=60):
        """Wait for the emulator to connect COM1; fail if it exits first."""
        listener.settimeout(0.2)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                self.conn, _ = listener.accept()
                self.conn.setblocking(True)
                listener.close()
                return
            except socket.timeout:
                if self.child.poll() is not None:
                    break
        self.fail_start()

    def fail_start(self):
        tail = open(self.out_path, errors="replace").read()[-2000:]
        die(f"emulator did not connect COM1 (status {self.child.poll()}):\n{tail}")

    def kill(self):
        if self.child and self.child.poll() is None:
            self.child.kill()
            self.child.wait()

    def bridge(self):
        """Copy bytes between stdin/stdout and COM1 until the emulator exits.
        With a terminal on stdin: raw mode, Ctrl-A x quits, Ctrl-A a sends Ctrl-A.
        Without one: bytes pass untouched, and stdin EOF only stops reading it."""
        fin, fout, com = sys.stdin.fileno(), sys.stdout.fileno(), self.conn.fileno()
        interactive = os.isatty(fin)
        if interactive:
            self.tty_saved = termios.tcgetattr(fin)
            tty.setraw(fin)
            note("COM1 of tern is this terminal; Ctrl-A x quits\r")
        readers, escape, out_ok = [fin, com], False, True
        while True:
            r, _, _ = select.select(readers, [], [], 0.2)
            if com in r:
                data = self.conn.recv(65536)
                if not data:
                    readers.remove(com)
                elif out_ok:
                    try:
                        write_all(fout, data)
                    except OSError:         # nobody reads us any more: keep running
                        out_ok = False
            if fin in r:
                data = os.read(fin, 65536)
                if not data:
                    readers.remove(fin)
                if interactive:
                    data, escape, quit_ = unescape(data, escape)
                    if quit_:
                        return None
                if data:
                    self.conn.sendall(data)
            if self.child.poll() is not None:
                self.drain(fout if out_ok else None)
                return self.child.returncode

    def drain(self, fout):
        """Pass on what the emulator sent just before it exited."""
        self.conn.settimeout(0.2)
        try:
            while data := self.conn.recv(65536):
                if fout is not None:
                    write_all(fout, data)
        except OSError:
            pass

    def restore_tty(self):
        if self.tty_saved:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.tty_saved)
            self.tty_saved = None


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def unescape(data, escape):
    """Handle Ctrl-A escapes typed at a terminal. Returns (bytes for COM1, escape
    pending, quit requested)."""
    out = bytearray()
    for b in data:
        if escape:
            escape = False
            if b in b"xX":
                return bytes(out), False, True
            if b == CTRL_A or b in b"aA":
                out.append(CTRL_A)
            continue
        if b == CTRL_A:
            escape = True
        else:
            out.append(b)
    return bytes(out), escape, False


def main(platform, start):
    """Common launcher flow. start(host, args, image) spawns the emulator and
    connects COM1; it returns a function mapping the emulator's exit status to
    ours."""
    args = parse_args(platform)
    sweep_stale_dirs()
    tmp = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}.")
    host = Host(args, tmp)

    def on_signal(sig, _frame):
        # Raise SystemExit so the finally below kills the child and cleans up.
        sys.exit(128 + sig)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    # A closed stdout must not kill us before we kill the emulator.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    status = 1
    try:
        image = build_image(args, tmp)
        exit_status = start(host, args, image)
        if args.verbose:
            note(f"temp dir {tmp}, emulator output {host.out_path}")
        code = host.bridge()
        # None: the user quit with Ctrl-A x. Negative: the emulator died by a signal.
        status = 0 if code is None else 128 - code if code < 0 else exit_status(code)
    finally:
        host.restore_tty()
        host.kill()
        for fn in host.cleanups:
            fn()
        if args.keep:
            note(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(status)


# --- Bochs -------------------------------------------------------------------



def bochs_lan(host, args):
    """bochsrc lines for the host's e1000 on its LAN (bxhub, via tools/lan), or on
    Bochs's slirp with --forward."""
    if args.forward is not None:
        conf = os.path.join(host.tmp, "slirp.conf")
        with open(conf, "w") as f:
            f.write("# slirp config\n"
                    f"hostfwd = tcp:127.0.0.1:{args.forward[0]}-{USER_NET_IP}:{args.forward[1]}\n")
        return ["pci: enabled=1, chipset=i440fx, slot1=e1000",
                f"e1000: enabled=1, mac={host_mac(1)}, ethmod=slirp, script={conf}"]
    if args.lan is None:
        return []
    lan.join_bochs(args.lan, os.getpid())
    host.cleanups.append(lambda: lan.leave_bochs(args.lan, os.getpid()))
    port = lan.bochs_port(args.lan, args.host)
    return ["pci: enabled=1, chipset=i440fx, slot1=e1000",
            f"e1000: enabled=1, mac={host_mac(args.host)}, ethmod=socket, ethdev={port}"]


def start_bochs(host, args, image):
    if args.host is not None and args.host > lan.HUB_PORTS:
        die(f"--host {args.host}: bxhub connects at most {lan.HUB_PORTS} Bochs hosts")
    tmp = host.tmp
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))     # kernel-chosen port: hosts never clash
    listener.listen(1)
    port = listener.getsockname()[1]
    log = os.path.join(tmp, "bochs.log")
    if args.firmware == "uefi":
        firmware = ["romimage: file=/usr/share/ovmf/OVMF.fd, address=0xffe00000",
                    f"ata0-master: type=disk, path={image}, mode=flat",
                    "boot: disk"]
    else:
        firmware = ["romimage: file=/usr/share/bochs/BIOS-bochs-latest",
                    f"ata0-master: type=cdrom, path={image}, status=inserted",
                    "boot: cdrom"]
    rc = [f"cpu: model=corei7_skylake_x, count={args.cpus}, ips={args.ips}",
          f"megs: {args.mem}",
          *firmware,
          "vgaromimage: file=/usr/share/vgabios/vgabios.bin",
          # Debian's Bochs has no nogui; rfb with timeout=0 needs no client and
          # picks the first free port of 5900-5949 itself.
          'display_library: rfb, options="timeout=0"',
          # Without dummy sound drivers Bochs aborts (buffer overflow detected).
          "sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy",
          "clock: sync=none, time0=local",
          *bochs_lan(host, args),
          f"com1: enabled=1, mode=socket-client, dev=127.0.0.1:{port}",
          "port_e9_hack: enabled=1",
          f"log: {log}",
          # A panic (ACPI soft power-off is one) ends Bochs instead of asking.
          "panic: action=fatal", "error: action=report", "info: action=report",
          "debug: action=ignore"]
    with open(os.path.join(tmp, "bochsrc"), "w") as f:
        f.write("\n".join(rc) + "\n")
    with open(os.path.join(tmp, "cmds"), "w") as f:
        f.write("c\n")
    host.log_path = log
    host.spawn(["bochs", "-q", "-f", "bochsrc", "-rc", "cmds"])
    host.accept(listener)
    if args.verbose:
        note(f"bochs log {log}")

    def exit_status(code):
        # ACPI soft-off is a Bochs "panic" with status 1: a clean power-off to us.
        try:
            with open(log, errors="replace") as f:
                if "ACPI control: soft power off" in f.read():
                    return 0
        except OSError:
            pass
        return code
    return exit_status


# --- QEMU --------------------------------------------------------------------

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def qemu_lan(args):
    """The NIC: none without --lan; else an e1000(e) on a multicast socket netdev
    bound to 127.0.0.1, which every QEMU on the same LAN name shares; or on slirp
    with --forward."""
    if args.forward is not None:
        return ["-net", "none", "-netdev", f"user,id=lan,hostfwd=tcp:127.0.0.1:"
                f"{args.forward[0]}-{USER_NET_IP}:{args.forward[1]}",
                "-device", f"{args.nic},netdev=lan,mac={host_mac(1)}"]
    if args.lan is None:
        return ["-net", "none"]
    return ["-net", "none", "-netdev", f"socket,id=lan,mcast={lan.MCAST_GROUP}:"
            f"{lan.qemu_port(args.lan)},localaddr=127.0.0.1",
            "-device", f"{args.nic},netdev=lan,mac={host_mac(args.host)}"]


def start_qemu(host, args, image):
    tmp = host.tmp
    accel = args.accel or ("kvm" if kvm_has_vmx() else "tcg")
    sock = os.path.join(tmp, "com1.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock)
    listener.listen(1)
    argv = ["qemu-system-x86_64", "-machine", "q35", "-m", str(args.mem),
            "-smp", str(args.cpus),
            "-accel", accel, "-cpu", "host" if accel == "kvm" else "max",
            "-display", "none", "-monitor", "none", "-parallel", "none",
            *qemu_lan(args), "-no-reboot",
            "-chardev", f"socket,id=com1,path={sock}", "-serial", "chardev:com1"]
    if args.firmware == "uefi":
        vars_copy = os.path.join(tmp, "OVMF_VARS.fd")
        shutil.copy(OVMF_VARS, vars_copy)
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}",
                 "-drive", f"file={image},format=raw,if=ide"]
    else:
        argv += ["-cdrom", image, "-boot", "d"]
    if args.verbose:
        note(f"accel {accel}: {' '.join(argv)}")
    host.spawn(argv)
    host.accept(listener)
    return lambda code: code
