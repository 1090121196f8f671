/* Where vCPUs run, and how CPU 0 reaches a VM that runs on other CPUs.
 *
 * Each vCPU has a home CPU (vm->vcpu_home): all on N with `vm start ... cpu=N`, vCPU i
 * on the i-th CPU of `pin=` (round the list again past its end), else each in turn on
 * the CPU with the fewest vCPUs at home (CPU 0 counts one more: it carries tern's own
 * work). vm->home is vCPU 0's. Those placed by load CPU 0 moves, one a second, while
 * the busiest CPU has two more than the idlest (balancing, in sched_run_once). Every
 * CPU runs the VMs with vCPUs at home there round robin, and a VM's vCPUs there round
 * robin within its slices: CPU 0 between the services of tern's loop (sched_run_once),
 * an application processor in its own loop (sched_ap_loop). vCPUs of one VM on
 * different CPUs run at once.
 *
 * CPU 0 keeps the monitor, the network, migration, the policy, and creating and freeing
 * VMs. What it does to a VM with vCPUs elsewhere that the guest must not see half done
 * (reading or loading vCPU state, ending a dirty-tracking round, console input, a
 * reset) it does under a hold: vm_hold() asks, kicks those CPUs with an IPI (VEC_WAKE)
 * and returns once they are out of the guest, the vCPUs' registers are in memory and
 * their VMCSs are cleared; until vm_unhold() no CPU enters the guest. A hold on a VM
 * with all its vCPUs on the calling CPU is empty: it is not in its guest while tern
 * code runs. */
#ifndef TERN_SCHED_H
#define TERN_SCHED_H

#include "hv/types.h"

struct vm;
struct pcpu;
struct vcpu;

/* What `vm start` asked for: all vCPUs on cpu (>= 0), or vCPU i on pin[i % npin]
 * (npin > 0), or neither (placed by load). */
struct sched_want {
	int cpu;
	unsigned npin;
	const uint8_t *pin;
};

/* The homes of a new VM's vcpus vCPUs; err says why not when a CPU asked for cannot run
 * guests (not up, or no VT-x there). */
int sched_place(const struct sched_want *w, unsigned vcpus, uint32_t *homes, char *err,
		size_t err_size);
/* Makes vCPU i of the VM at home on homes[i] (and vm->cpus, vm->home follow): on CPU 0,
 * while no CPU can look at the VM (its creation, or under a hold). */
void sched_set_homes(struct vm *vm, const uint32_t *homes);
/* How many host CPUs can run guests (up, VT-x on): the host's capacity. */
unsigned sched_guest_cpus(void);
/* VMs with a vCPU placed on CPU i that are running or on their way in (migration). */
unsigned sched_load(uint32_t cpu);

void vm_hold(struct vm *vm);
void vm_unhold(struct vm *vm);
/* After CPU 0 changed what decides whether the VM runs (its state): returns once its
 * home CPU has seen the change, so it is not in the guest and will not enter it while
 * the change stands. */
void sched_wait_out(struct vm *vm);
/* Tells the VM's CPUs other than this one to look at it again (it may run now). */
void sched_kick(const struct vm *vm);
/* Tells the vCPU's home CPU, when not this one, to look at it again at once: another
 * vCPU's IPI (or an INIT, a SIPI) reached it. */
void sched_kick_vcpu(const struct vcpu *v);

/* CPU 0's turn of the scheduler, between services of tern's loop: runs a VM at home
 * there for a slice, and serves what VMs elsewhere left for CPU 0. Returns false when
 * no VM had anything to run. */
bool sched_run_once(void);
/* A loop turn that ran no VM and moved no frame: sleeps until the next device event of
 * a halted VM, or the next time the loop must poll the NIC and the console (1 ms). While
 * traffic flows (a frame came in lately) or sched_hurry() holds, it naps instead, for at
 * most 50 us: the next frame is a round trip away. */
void sched_idle(bool traffic);
/* While some work of tern's own is waiting on the network with a guest's time at stake
 * (a migration: every message waits for the loop to come round), CPU 0's slices shrink
 * from 10 ms to 1 ms so the loop comes round sooner. Each caller keeps its own flag in
 * *held, so that asking twice counts once; slices stay short while any flag is set. */
void sched_hurry(bool *held, bool on);

/* An application processor with VT-x on: runs the VMs at home there, forever. */
__noreturn void sched_ap_loop(struct pcpu *p);

#endif
