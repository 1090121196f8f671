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
answers throughout, and A's VM runs on at A."""
import re

from ternhost import free_kib, heartbeats, lan_hosts, wait_for

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


def test_hello_loop_refused_bystander_migrates():
    with lan_hosts("bochs-uefi", "guard", mems=(512, 512, 512), timeout=240,
                   cmdline="shadow=160") as (a, b, c):
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
