/* The scheduler: each CPU runs the VMs at home there (hv/sched.h), and the hold by which
 * CPU 0 acts on a VM that runs on another CPU.
 *
 * The handshake between CPU 0 and a VM's home CPU H, on the VM's [a] fields:
 *   H, before a slice:   runner = H+1; fence; then reads home, state, hold, request
 *                        and enters only if all allow it
 *   H, after the slice:  the vCPU put (registers to memory, VMCLEAR); runner = 0
 *   CPU 0, to act:       changes state or hold; fence; kicks H and waits for runner = 0
 * Both sides store, fence, then load (Dekker): either H sees CPU 0's change before it
 * enters, or CPU 0 sees H inside and waits. H checks hold before every entry, so the
 * kick's VM exit (external-interrupt exiting) ends its slice at once; the preemption
 * timer ends it anyway, so a guest spinning with interrupts off cannot stall CPU 0. */
#include "hv/apic_host.h"
#include "hv/backend.h"
#include "hv/error.h"
#include "hv/idle.h"
#include "hv/lib/fmt.h"
#include "hv/load.h"
#include "hv/monitor.h"
#include "hv/pc.h"
#include "hv/pcpu.h"
#include "hv/sched.h"
#include "hv/throttle.h"
#include "hv/time.h"
#include "hv/vcpu.h"
#include "hv/vm.h"
#include "hv/x86.h"

#define SLICE_MS 10
#define HURRY_SLICE_MS 1
/* A VM woken from HLT by its event runs before the busy ones at home on its CPU, as Xen's
 * credit scheduler boosts a waking vCPU: a 100 Hz ticker beside three busy VMs otherwise
 * waited up to three slices for each tick and kept 35 of its 100 Hz. Only a VM that used
 * less than an equal share of its CPU over the last window is boosted, and for one short
 * slice, so a guest that halts often gains no more than round robin gives it. */
#define SHARE_WINDOW_MS 100
#define BOOST_SLICE_MS 1
#define IDLE_POLL_US 1000 /* the NIC, lwIP's timers and the console, when all VMs sleep */
#define NAP_US 50        /* the same while traffic flows; see sched_idle */

static unsigned hurry;

static uint32_t this_cpu(void)
{
	return pcpu_this()->index;
}

static uint32_t load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* --- placement --- */

static bool can_run_guests(const struct pcpu *p)
{
	uint32_t st = load32(&p->state);

	if (p->index == 0)
		return hv_enabled();
	return (st == PCPU_ONLINE || st == PCPU_PARKED) &&
	       __atomic_load_n(&p->virt_on, __ATOMIC_ACQUIRE);
}

static const char *why_not(const struct pcpu *p)
{
	if (!p)
		return "no such CPU";
	if (!__atomic_load_n(&p->virt_on, __ATOMIC_ACQUIRE))
		return "VT-x is off there";
	return "it is not up";
}

unsigned sched_guest_cpus(void)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < pcpu_count(); i++)
		n += can_run_guests(pcpu_get(i));
	return n;
}

unsigned sched_load(uint32_t cpu)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VM_MAX; i++) {
		const struct vm *vm = vm_at(i);
		n += vm && vm->home == cpu && (vm->state == VM_RUNNING || vm->state == VM_INCOMING);
	}
	return n;
}

int sched_place(int cpu, uint32_t *home, char *err, size_t err_size)
{
	unsigned best = ~0u;

	if (cpu >= 0) {
		const struct pcpu *p = pcpu_get((uint32_t)cpu);
		if (!p || !can_run_guests(p)) {
			fmt_snprintf(err, err_size, "cpu%d cannot run guests: %s (see info cpu)",
				     cpu, why_not(p));
			return -E_INVAL;
		}
		*home = (uint32_t)cpu;
		return 0;
	}
	*home = 0;
	for (uint32_t i = 0; i < pcpu_count(); i++) {
		unsigned n = sched_load(i) + (i == 0); /* CPU 0 also runs tern's loop */
		if (can_run_guests(pcpu_get(i)) && n < best) {
			best = n;
			*home = i;
		}
	}
	return 0;
}

/* --- CPU 0's side of the handshake --- */

void sched_kick(const struct vm *vm)
{
	const struct pcpu *p = pcpu_get(vm->home);

	if (vm->home != this_cpu() && p)
		apic_host_send(p->apic_id, ICR_FIXED | ICR_ASSERT | VEC_WAKE);
}

void sched_wait_out(struct vm *vm)
{
	struct pcpu *home;
	uint64_t t0, cycles;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (vm->home == this_cpu() || !load32(&vm->runner))
		return;
	t0 = rdtsc();
	sched_kick(vm);
	while (load32(&vm->runner))
		cpu_relax();
	/* the IPI's round trip as CPU 0 sees it: delivery, the guest's exit, the VMCS put
	 * away; `info cpu` shows it (hold-us) */
	cycles = rdtsc() - t0;
	home = pcpu_get(vm->home);
	__atomic_store_n(&home->holds, home->holds + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&home->hold_cycles, home->hold_cycles + cycles, __ATOMIC_RELEASE);
	if (cycles > home->hold_cycles_max)
		__atomic_store_n(&home->hold_cycles_max, cycles, __ATOMIC_RELEASE);
}

void vm_hold(struct vm *vm)
{
	if (vm->home == this_cpu())
		return;
	__atomic_fetch_add(&vm->hold, 1, __ATOMIC_SEQ_CST);
	sched_wait_out(vm);
}

/* What CPU 0 did under the hold may have changed the VM's EPT: the home CPU drops its
 * cached translations before it enters again (the backend compares s2_gen). */
void vm_unhold(struct vm *vm)
{
	if (vm->home == this_cpu())
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		hv_backend()->vcpu_put(vm->vcpus[i]); /* no VMCS may stay active here */
	__atomic_fetch_add(&vm->s2_gen, 1, __ATOMIC_RELEASE);
	if (__atomic_sub_fetch(&vm->hold, 1, __ATOMIC_SEQ_CST) == 0)
		sched_kick(vm);
}

/* --- running VMs --- */

void sched_hurry(bool *held, bool on)
{
	if (*held == on)
		return;
	*held = on;
	if (on)
		hurry++;
	else
		hurry--;
}

/* vCPUs of the VM with guest code to run now */
static unsigned runnable_vcpus(const struct vm *vm)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		n += vcpu_runnable(vm->vcpus[i]);
	return n;
}

static bool runnable(const struct vm *vm)
{
	return vm->state == VM_RUNNING && runnable_vcpus(vm);
}

/* Charges the time since the last call to the VMs runnable now, on any CPU, once for
 * each runnable vCPU, and to the host's load, so the host's load is the sum of the VMs'
 * shares. A VM that halted or
 * woke within the last slice is charged as it is now: an error of one slice, for one
 * pass over the table a slice. CPU 0 only. */
static void account_runnable(void)
{
	static uint64_t last_us;
	uint64_t now = time_now_us();
	unsigned n = 0;

	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		unsigned k = vm && vm->vcpu && vm->state == VM_RUNNING ? runnable_vcpus(vm) : 0;
		if (k) {
			vm->runnable_us += (now - last_us) * k;
			n += k;
		}
	}
	load_account(now, n);
	last_us = now;
}

/* The VM is this CPU's to run now: at home here, running, not held, nothing asked of
 * CPU 0. On another CPU than 0 this opens the handshake (runner); sched_leave closes
 * it. */
static bool enter(struct vm *vm, uint32_t cpu)
{
	if (__atomic_load_n(&vm->home, __ATOMIC_ACQUIRE) != cpu)
		return false;
	if (cpu == 0)
		return vm->state == VM_RUNNING && vm->vcpu;
	__atomic_store_n(&vm->runner, cpu + 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vm->home, __ATOMIC_ACQUIRE) == cpu && vm->state == VM_RUNNING &&
	    !vm_held(vm) && !vm->pc->request && !load32(&vm->end_pending))
		return true;
	__atomic_store_n(&vm->runner, 0, __ATOMIC_RELEASE);
	return false;
}

static void leave(struct vm *vm, uint32_t cpu)
{
	if (cpu == 0)
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		hv_backend()->vcpu_put(vm->vcpus[i]);
	__atomic_store_n(&vm->runner, 0, __ATOMIC_RELEASE);
}

/* Every SHARE_WINDOW_MS: which VMs at home here used less than an equal share of this
 * CPU among those that run here (halted or not) over the window that ended. */
static void share_window(struct pcpu *cpu, uint64_t now)
{
	uint64_t len = now - cpu->sched.window_start;
	unsigned n = 0;

	if (len < time_tsc_hz() / 1000 * SHARE_WINDOW_MS)
		return;
	for (unsigned i = 0; i < VM_MAX; i++) {
		const struct vm *vm = vm_at(i);
		n += vm && vm->state == VM_RUNNING &&
		     __atomic_load_n(&vm->home, __ATOMIC_ACQUIRE) == cpu->index;
	}
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		if (!vm || __atomic_load_n(&vm->home, __ATOMIC_ACQUIRE) != cpu->index)
			continue;
		vm->may_boost = n && (vm->run_tsc - vm->window_mark) * n < len;
		vm->window_mark = vm->run_tsc;
	}
	cpu->sched.window_start = now;
}

/* Halted vCPUs at home here whose event came due run again (boosted, if they may);
 * returns the host TSC of the earliest event any other halted one waits for. */
static uint64_t wake_halted(uint32_t cpu, uint64_t until)
{
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		if (!vm || !enter(vm, cpu))
			continue;
		for (unsigned k = 0; k < vm->nr_vcpus; k++) {
			struct vcpu *v = vm->vcpus[k];
			if (!v->halted || v->mp == VCPU_MP_WAIT_SIPI)
				continue;
			if (vcpu_wake(v))
				vm->boost = vm->may_boost;
			else
				until = MIN(until, vcpu_deadline_tsc(v));
		}
		leave(vm, cpu);
	}
	return until;
}

void vm_throttle(struct vm *vm, uint32_t pct)
{
	vm->throttle_pct = MIN(pct, (uint32_t)THROTTLE_MAX_PCT);
	if (!pct)
		vm->throttle_until = 0;
}

/* The VM's next vCPU with guest code to run, round robin: its vCPUs share the VM's
 * slices (and its home CPU). */
static struct vcpu *next_vcpu(struct vm *vm)
{
	for (unsigned n = 1; n <= vm->nr_vcpus; n++) {
		unsigned i = (vm->last_vcpu + n) % vm->nr_vcpus;
		if (vcpu_runnable(vm->vcpus[i])) {
			vm->last_vcpu = i;
			return vm->vcpus[i];
		}
	}
	return vm->vcpu;
}

/* Runs the VM for a slice; a throttled one then sits out its share of wall time. */
static void run_slice(struct vm *vm, uint64_t deadline)
{
	uint64_t t0 = rdtsc(), t1;
	struct vcpu *v = next_vcpu(vm);

	vcpu_mp_enter(v);
	hv_backend()->vcpu_run(v, deadline);
	t1 = rdtsc();
	if (vm->throttle_pct)
		vm->throttle_until = t1 + throttle_hold(t1 - t0, vm->throttle_pct);
}

/* Whether a throttled VM is sitting out; if so, its return is a wake-up like a halted
 * VM's event, so an idle loop comes back for it. */
static bool held(const struct vm *vm, uint64_t now, uint64_t *wake)
{
	if (now >= vm->throttle_until)
		return false;
	*wake = MIN(*wake, vm->throttle_until);
	return true;
}

/* The VM at home here woken with a boost, if any: it runs before the round robin's next,
 * for a short slice. */
static struct vm *boosted(struct pcpu *cpu, uint64_t now, uint64_t *back)
{
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		if (!vm || __atomic_load_n(&vm->home, __ATOMIC_ACQUIRE) != cpu->index ||
		    !vm->boost || !enter(vm, cpu->index))
			continue;
		vm->boost = false;
		if (runnable(vm) && !held(vm, now, back))
			return vm; /* entered: the caller leaves it */
		leave(vm, cpu->index);
	}
	return NULL;
}

/* One turn of a CPU's scheduler over the VMs at home there: runs a boosted one for a
 * short slice, else the round robin's next runnable one for a slice. Returns the VM it
 * ran; NULL when none had anything to run (cpu->sched.next_wake then says when to look
 * again). */
static struct vm *run_once(struct pcpu *cpu, uint64_t slice, uint64_t poll)
{
	uint64_t wake = wake_halted(cpu->index, UINT64_MAX), now = rdtsc(), back = UINT64_MAX;
	struct vm *vm;

	/* A halted VM's next event ends the running VM's slice early, so its interrupt is
	 * not late by a slice. */
	cpu->sched.next_wake = MIN(wake, poll ? now + poll : UINT64_MAX);
	share_window(cpu, now);
	vm = boosted(cpu, now, &back);
	if (vm) {
		run_slice(vm, MIN(now + MIN(slice, time_tsc_hz() / 1000 * BOOST_SLICE_MS), wake));
		leave(vm, cpu->index);
		return vm;
	}
	for (int n = 1; n <= VM_MAX; n++) {
		int i = (cpu->sched.last + n) % VM_MAX;
		vm = vm_at((unsigned)i);
		if (!vm || !enter(vm, cpu->index))
			continue;
		if (!runnable(vm) || held(vm, now, &back)) {
			leave(vm, cpu->index);
			continue;
		}
		cpu->sched.last = i;
		run_slice(vm, MIN(now + slice, wake));
		leave(vm, cpu->index);
		return vm;
	}
	cpu->sched.next_wake = MIN(cpu->sched.next_wake, back);
	return NULL;
}

/* What VMs at home on other CPUs left for CPU 0: an end to announce, a reset or power-off
 * their platform asked for. */
static void serve_others(void)
{
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		if (!vm || vm->home == 0)
			continue;
		if (load32(&vm->end_pending)) {
			vm_settle(vm);
		} else if (vm->state == VM_RUNNING && vm->pc && vm->pc->request) {
			vm_hold(vm);
			vm_platform_request(vm);
			vm_unhold(vm);
		}
	}
}

bool sched_run_once(void)
{
	struct pcpu *cpu = pcpu_this();
	uint64_t slice = time_tsc_hz() / 1000 * (hurry ? HURRY_SLICE_MS : SLICE_MS);
	struct vm *ran;

	account_runnable();
	mon_drain_events();
	serve_others();
	ran = run_once(cpu, slice, time_tsc_hz() / 1000000 * IDLE_POLL_US);
	if (ran && ran->pc->request)
		vm_platform_request(ran);
	vm_reap();
	return ran != NULL;
}

/* Spinning between frames costs little on hardware, but QEMU (and KVM, for a nested
 * tern) gives each vCPU a host thread, and a polling one holds a host core: two polling
 * tern hosts on a 2-core machine left their NICs' device models and sockets a fraction
 * of the CPU, and netperf under QEMU went from 16-18 MB/s to 28-33 with a 50 us nap
 * (200 us: the same). A frame that lands during a nap waits at most NAP_US, well inside
 * a 64 KiB window's time on the wire. */
void sched_idle(bool traffic)
{
	uint64_t wake = pcpu_this()->sched.next_wake;

	if (traffic || hurry)
		idle_nap(MIN(wake, rdtsc() + time_tsc_hz() / 1000000 * NAP_US));
	else
		idle_until(wake);
}

/* parked: no VM at home here; online: some */
static void show_state(struct pcpu *p)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VM_MAX; i++) {
		const struct vm *vm = vm_at(i);
		n += vm && __atomic_load_n(&vm->home, __ATOMIC_ACQUIRE) == p->index &&
		     vm->state != VM_EXITED && vm->state != VM_KILLED;
	}
	__atomic_store_n(&p->state, n ? PCPU_ONLINE : PCPU_PARKED, __ATOMIC_RELEASE);
}

/* An AP's slices are never shortened by sched_hurry: that is for CPU 0's loop. With
 * nothing to run it halts until its earliest halted vCPU's event, or a kick. Between
 * slices it takes the interrupts waiting for it (kicks): a kick should end the slice
 * through an external-interrupt exit, but Bochs 2.7 makes none while the guest runs
 * with IF=0 (seen with the spin guest), so there the kick waits for the slice's end,
 * which the preemption timer brings. */
__noreturn void sched_ap_loop(struct pcpu *p)
{
	uint64_t slice = time_tsc_hz() / 1000 * SLICE_MS;

	for (;;) {
		show_state(p);
		if (run_once(p, slice, 0))
			asm volatile("sti; nop; cli" ::: "memory");
		else
			idle_until(p->sched.next_wake);
	}
}
