"""Drive one tern host through its launcher (tools/run-bochs, tools/run-qemu).

The launcher bridges the host's COM1 to its stdin/stdout; we talk to it through
pipes (pexpect's PopenSpawn), so the launcher passes bytes through untouched.
Console output is logged to build/test-logs/<name>.log.
"""
import contextlib
import os
import re
import signal
import socket
import sys
import time

import pexpect
from pexpect.popen_spawn import PopenSpawn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import launch  # noqa: E402  (for kvm_has_vmx, shared with tools/run)

# TERN_BUILD lets the harness run against another build directory.
BUILD = os.environ.get("TERN_BUILD", os.path.join(ROOT, "build"))
LOG_DIR = os.path.join(ROOT, "build", "test-logs")

PLATFORMS = {
    "bochs-uefi": ["run-bochs", "--firmware", "uefi"],
    "bochs-bios": ["run-bochs", "--firmware", "bios"],
    "qemu-uefi": ["run-qemu", "--firmware", "uefi", "--accel", "tcg"],
    "kvm-uefi": ["run-qemu", "--firmware", "uefi", "--accel", "kvm"],
}

# The prompt starts a line; every line before it ends in \n (tern sends \r\n).
PROMPT = re.compile(rb"\ntern> ")
KEY_VALUE = re.compile(r"^([\w.-]+): (.*)$")
BOOT_TIMEOUT = 120      # Bochs + OVMF reaches tern in 10-20 s; a loaded machine is slower
CMD_TIMEOUT = 30


def why_no_kvm_vmx():
    """None when KVM can offer VT-x to a guest, else why not."""
    return launch.why_no_kvm_vmx()


def wait_for(fn, timeout=30, every=1):
    """Calls fn every `every` s until it returns something true (returned) or the
    timeout passes (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(every)
    return False


def pid_alive(pid):
    """True while pid exists and is not a zombie (an orphaned emulator killed by
    PDEATHSIG may linger as a zombie until init reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def children_of(ppid):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                    pids.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return pids


def wait_gone(pids, timeout=15):
    """Wait until none of pids is alive; return those still alive."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = [p for p in pids if pid_alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if pid_alive(p)]


def to_text(data):
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def parse_vms(text):
    """`info vms` as {id: {name, state, mem, exits, cpu_ms, cpu, vcpus, vcpu_cpus, kind}}
    (cpu: the host CPU vCPU 0 runs on; vcpu_cpus: each vCPU's, a list, empty once the VM
    ended; a throttled VM's row ends in `throttled N%`, kept as throttled)."""
    rows = {}
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 10:
            continue
        rows[int(f[0])] = {"name": f[1], "state": f[2], "mem": int(f[3]), "exits": int(f[4]),
                           "cpu_ms": int(f[5]), "cpu": int(f[6]), "vcpus": int(f[7]),
                           "vcpu_cpus": [int(c) for c in f[8].split(",") if c != "-"],
                           "kind": f[9], "throttled": f[11] if len(f) > 11 else None}
    return rows


class TernHost:
    def __init__(self, platform, name=None, mem=512, cmdline="", guests=(), extra=(), cpus=1):
        """cpus: how many CPUs the emulator gives the host (--cpus); tern's own cpus=
        in cmdline may start fewer."""
        self.platform = platform
        self.cpus = cpus
        tool, *opts = PLATFORMS[platform]
        argv = [os.path.join(ROOT, "tools", tool), *opts, "--build", BUILD,
                "--mem", str(mem), "--cmdline", cmdline, "--cpus", str(cpus), *extra]
        for g in guests:
            argv += ["--guest", g]
        os.makedirs(LOG_DIR, exist_ok=True)
        safe = re.sub(r"[^\w.-]+", "_", name or platform)
        self.log_path = os.path.join(LOG_DIR, f"{safe}.log")
        self.log = open(self.log_path, "wb")
        self.proc = PopenSpawn(argv, timeout=CMD_TIMEOUT, cwd=ROOT)
        self.proc.logfile_read = self.log
        self.emulators = []     # emulator pids, seen once the host has booted
        self.boot_text = ""     # console output before the first prompt
        self.exit_status = None

    @property
    def pid(self):
        return self.proc.pid

    def _note_emulators(self):
        if self.proc.proc.poll() is None:
            self.emulators = children_of(self.pid) or self.emulators

    def expect(self, pattern, timeout=CMD_TIMEOUT):
        """pexpect's expect on the console; returns the index of the match. A
        timeout or an exited launcher fails the test with the console's tail
        instead of pexpect's long dump."""
        try:
            return self.proc.expect(pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            what = "timed out" if isinstance(e, pexpect.TIMEOUT) else "launcher exited"
            tail = to_text(self.proc.before or b"")[-600:]
            raise AssertionError(f"{self.platform}: {what} after {timeout} s waiting for "
                                 f"{pattern!r}; console ends:\n{tail}\n"
                                 f"(full log: {self.log_path})") from None

    def seen(self, pattern):
        """The last match of pattern in everything the console printed so far (also
        what cmd() skipped over while looking for a command's output), or None. Reads
        what the console has printed meanwhile first (into the log, not for expect())."""
        end = time.monotonic() + 0.5     # bounded: chatty guests never fall silent
        try:
            while time.monotonic() < end:
                self.proc.read_nonblocking(65536, timeout=0.05)
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass
        self.log.flush()
        with open(self.log_path, "rb") as f:
            found = list(re.finditer(pattern, f.read()))
        return found[-1] if found else None

    def console_text(self):
        """Everything the console printed so far, as text (read up to now first)."""
        self.seen(rb"x")
        with open(self.log_path, "rb") as f:
            return f.read().decode("latin-1")

    def wait_prompt(self, timeout=BOOT_TIMEOUT):
        """Wait for the first prompt; return the boot output before it."""
        self.expect(PROMPT, timeout=timeout)
        self.boot_text = to_text(self.proc.before)
        self._note_emulators()
        return self.boot_text

    def send_raw(self, data):
        self.proc.send(data)

    def cmd(self, line, timeout=CMD_TIMEOUT):
        """Send a command line; return its output up to the next prompt, without
        the echo of the line itself.

        Guests' lines may arrive while the command is typed: tern then erases the
        prompt line, prints theirs and draws the prompt and the partial input again,
        so the last drawing of the prompt holds the whole line. A command's own
        output is printed in one piece, before the next prompt."""
        self.proc.send(line.encode() + b"\r")
        # (the prompt before the echo may already have been consumed)
        echo = re.compile(re.escape(line.encode()) + rb"\r\n((?:.*?\n)??)tern> ", re.DOTALL)
        self.expect(echo, timeout=timeout)
        return to_text(self.proc.match.group(1))

    def info(self, what, timeout=CMD_TIMEOUT):
        """Run `info <what>` and parse its `key: value` lines."""
        pairs = {}
        for ln in self.cmd(f"info {what}", timeout).splitlines():
            m = KEY_VALUE.match(ln.strip())
            if m:
                pairs[m.group(1)] = m.group(2).strip()
        return pairs

    def vm_start(self, args):
        """`vm start <args>`; returns the new VM's id (fails the test otherwise)."""
        out = self.cmd(f"vm start {args}")
        m = re.search(r"^vm(\d+) started$", out, re.M)
        assert m, out
        return int(m.group(1))

    def kill_vms(self):
        """Kill every VM still running or paused, so that a failed test leaves a
        shared host as the next test expects it."""
        for vm, row in self.vms().items():
            if row["state"] in ("running", "paused"):
                self.cmd(f"kill {vm}")

    def vms(self):
        return parse_vms(self.cmd("info vms"))

    def poweroff(self, timeout=60):
        """Send `poweroff`, wait for the launcher to exit, return its status."""
        self._note_emulators()
        self.proc.send(b"poweroff\r")
        self.expect(pexpect.EOF, timeout=timeout)
        return self.wait(timeout)

    def wait(self, timeout=60):
        end = time.monotonic() + timeout
        while self.proc.proc.poll() is None and time.monotonic() < end:
            time.sleep(0.05)
        self.exit_status = self.proc.proc.poll()
        return self.exit_status

    def kill(self, sig=signal.SIGKILL):
        """Signal the launcher itself (not its emulator)."""
        self._note_emulators()
        os.kill(self.pid, sig)
        return self.wait()

    def close(self):
        """End the launcher if it still runs, and check that no emulator it
        started is left (AssertionError naming the survivors otherwise)."""
        if self.proc.proc.poll() is None:
            self._note_emulators()
            self.proc.proc.terminate()
            if self.wait(15) is None:
                self.proc.proc.kill()
                self.wait(5)
        if not self.log.closed:
            self.log.close()
        left = wait_gone(self.emulators)
        for pid in left:                # don't let one failure leak into later tests
            os.kill(pid, signal.SIGKILL)
        assert not left, f"{self.platform}: emulator processes left behind: {left}"


@contextlib.contextmanager
def lan_hosts(platform, tag, mems=(512, 512), timeout=BOOT_TIMEOUT, extra=(), cmdline="",
              cpus=1):
    """Hosts 1, 2, ... (one per entry of mems: its RAM in MiB), named <tag>-a, <tag>-b,
    ..., on one emulated LAN of their own (<tag>-<pid>, also as each host's .lan), with
    extra launcher options, tern's command line and `cpus` CPUs each. Yields them at their prompts; closes them all after, each
    checked for leftover emulators."""
    lan = f"{tag}-{os.getpid()}"
    hosts = []
    try:
        for i, mem in enumerate(mems):
            h = TernHost(platform, name=f"{tag}-{chr(ord('a') + i)}", mem=mem, cmdline=cmdline,
                         extra=["--host", str(i + 1), "--lan", lan, *extra], cpus=cpus)
            h.lan = lan
            hosts.append(h)
        for h in hosts:
            h.wait_prompt(timeout=timeout)
        yield hosts
    finally:
        close_all(hosts)


def close_all(hosts):
    """Closes every host, then fails with what any of them left behind."""
    errors = []
    for h in hosts:
        try:
            h.close()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "; ".join(errors)


def bochs_lan_mac(host):
    """The MAC the launchers give host number host (52:54:00:00:00:0N): what frames the
    test sends from that host's port must carry, as bxhub ties a port to the first
    source MAC it broadcast from (a frame for another MAC never reaches it)."""
    return bytes([0x52, 0x54, 0, 0, 0, host])


def bochs_lan_port(lan, host):
    """Host number host's port on the Bochs LAN lan, played by the test: a UDP socket bound
    where bxhub sends that host's frames, and the hub's address to send frames to."""
    port = launch.lan.bochs_port(lan, host)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    return s, ("127.0.0.1", port + 1)


def free_kib(host):
    """The host's free memory (`info mem`), in KiB."""
    return int(host.info("mem")["free"].split()[0])


def heartbeats(host, vm):
    """Every seq=<n> memtouch VM vm printed on this host so far, in order, all check=ok."""
    text = host.console_text()
    found = re.findall(rf"\[vm{vm}\] seq=(\d+) check=(\w+)", text)
    assert all(c == "ok" for _, c in found), [f for f in found if f[1] != "ok"]
    return [int(n) for n, _ in found]
