/* The scheduler: each CPU runs the vCPUs at home there (hv/sched.h), and the hold by
 * which CPU 0 acts on a VM that runs on other CPUs.
 *
 * The handshake between CPU 0 and each CPU H a VM has vCPUs at home on, on the VM's
 * [a] fields:
 *   H, before a slice:   sets bit H of runners; fence; then reads home, state, hold,
 *                        request and enters only if all allow it
 *   H, after the slice:  its vCPUs put (registers to memory, VMCLEAR); clears bit H
 *   CPU 0, to act:       changes state or hold; fence; kicks every H in runners and
 *                        waits for runners to hold no CPU but its own
 * Both sides store, fence, then load (Dekker): either H sees CPU 0's change before it
 * enters, or CPU 0 sees H inside and waits. H checks hold before every entry, so the
 * kick's VM exit (external-interrupt exiting) ends its slice at once; the preemption
 * timer ends it anyway, so a guest spinning with interrupts off cannot stall CPU 0.
 *
 * Between the CPUs that run vCPUs of one VM at once, the VM's lock (vm->lock) keeps
 * its devices, APICs and vCPU events whole; an IPI between vCPUs on different CPUs
 * kicks the target's CPU (sched_kick_vcpu) so it takes it at once. */
#include "hv/apic_host.h"
#include "hv/backend.h"
#include "hv/error.h"
#include "hv/idle.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"
#include "hv/load.h"
#include "hv/monitor.h"
#include "hv/pc.h"
#include "hv/pcpu.h"
#include "hv/sched.h"
#include "hv/spin.h"
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

static uint64_t bit(uint32_t cpu)
{
	return 1ull << cpu;
}

/* Whether some vCPU of the VM is at home on cpu (never while its slot is refilled) */
static bool at_home(const struct vm *vm, uint32_t cpu)
{
	return load32(&vm->home) != VM_HOME_NONE &&
	       (__atomic_load_n(&vm->cpus, __ATOMIC_ACQUIRE) & bit(cpu));
}

static bool here(const struct vm *vm, unsigned k, uint32_t cpu)
{
	return vm->vcpu_home[k] == cpu;
}

/* The CPUs other than this one that run vCPUs of the VM */
static uint64_t elsewhere(const struct vm *vm)
{
	return __atomic_load_n(&vm->cpus, __ATOMIC_ACQUIRE) & ~bit(this_cpu());
}

static void kick_cpu(uint32_t cpu)
{
	const struct pcpu *p = pcpu_get(cpu);

	if (cpu != this_cpu() && p)
		apic_host_send(p->apic_id, ICR_FIXED | ICR_ASSERT | VEC_WAKE);
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

/* vCPUs at home on the CPU, of VMs running or on their way in */
static unsigned vcpus_at(uint32_t cpu)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VM_MAX; i++) {
		const struct vm *vm = vm_at(i);
		if (!vm || (vm->state != VM_RUNNING && vm->state != VM_INCOMING) ||
		    load32(&vm->home) == VM_HOME_NONE)
			continue;
		for (unsigned k = 0; k < vm->nr_vcpus; k++)
			n += here(vm, k, cpu);
	}
	return n;
}

unsigned sched_load(uint32_t cpu)
{
	unsigned n = 0;

	for (unsigned i = 0; i < VM_MAX; i++) {
		const struct vm *vm = vm_at(i);
		n += vm && at_home(vm, cpu) && (vm->state == VM_RUNNING || vm->state == VM_INCOMING);
	}
	return n;
}

static int check_cpu(uint32_t cpu, const char *how, char *err, size_t err_size)
{
	const struct pcpu *p = pcpu_get(cpu);

	if (p && can_run_guests(p))
		return 0;
	fmt_snprintf(err, err_size, "%s%u cannot run guests: %s (see info cpu)", how, cpu,
		     why_not(p));
	return -E_INVAL;
}

int sched_place(const struct sched_want *w, unsigned vcpus, uint32_t *homes, char *err,
		size_t err_size)
{
	unsigned placed[PCPU_MAX] = { 0 };
	int e;

	if (w->cpu >= 0) {
		if ((e = check_cpu((uint32_t)w->cpu, "cpu", err, err_size)))
			return e;
		for (unsigned i = 0; i < vcpus; i++)
			homes[i] = (uint32_t)w->cpu;
		return 0;
	}
	for (unsigned i = 0; i < w->npin; i++)
		if ((e = check_cpu(w->pin[i], "pin: cpu", err, err_size)))
			return e;
	for (unsigned i = 0; i < vcpus; i++) {
		unsigned best = ~0u;

		if (w->npin) {
			homes[i] = w->pin[i % w->npin];
			continue;
		}
		homes[i] = 0;
		for (uint32_t c = 0; c < pcpu_count() && c < PCPU_MAX; c++) {
			/* CPU 0 also runs tern's loop */
			unsigned n = vcpus_at(c) + placed[c] + (c == 0);
			if (can_run_guests(pcpu_get(c)) && n < best) {
				best = n;
				homes[i] = c;
			}
		}
		placed[homes[i]]++;
	}
	return 0;
}

void sched_set_homes(struct vm *vm, const uint32_t *homes)
{
	uint64_t cpus = 0;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		__atomic_store_n(&vm->vcpu_home[i], homes[i], __ATOMIC_RELEASE);
		cpus |= bit(homes[i]);
	}
	__atomic_store_n(&vm->cpus, cpus, __ATOMIC_RELEASE);
	__atomic_store_n(&vm->home, homes[0], __ATOMIC_RELEASE);
}

/* --- CPU 0's side of the handshake --- */

void sched_kick(const struct vm *vm)
{
	uint64_t m = elsewhere(vm);

	for (uint32_t c = 0; m; c++, m >>= 1)
		if (m & 1)
			kick_cpu(c);
}

void sched_kick_vcpu(const struct vcpu *v)
{
	kick_cpu(v->vm->vcpu_home[v->index]);
}

/* The CPUs other than this one inside a slice of the VM now */
static uint64_t inside(const struct vm *vm)
{
	return __atomic_load_n(&vm->runners, __ATOMIC_ACQUIRE) & ~bit(this_cpu());
}

void sched_wait_out(struct vm *vm)
{
	uint64_t t0, cycles, in;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	in = inside(vm);
	if (!in)
		return;
	t0 = rdtsc();
	sched_kick(vm);
	while (inside(vm))
		cpu_relax();
	/* the IPI's round trip as CPU 0 sees it: delivery, the guest's exit, the VMCS put
	 * away; `info cpu` shows it (hold-us), for each CPU that was inside */
	cycles = rdtsc() - t0;
	for (uint32_t c = 0; in; c++, in >>= 1) {
		struct pcpu *p = pcpu_get(c);
		if (!(in & 1) || !p)
			continue;
		__atomic_store_n(&p->holds, p->holds + 1, __ATOMIC_RELEASE);
		__atomic_store_n(&p->hold_cycles, p->hold_cycles + cycles, __ATOMIC_RELEASE);
		if (cycles > p->hold_cycles_max)
			__atomic_store_n(&p->hold_cycles_max, cycles, __ATOMIC_RELEASE);
	}
}

void vm_hold(struct vm *vm)
{
	if (!elsewhere(vm))
		return;
	__atomic_fetch_add(&vm->hold, 1, __ATOMIC_SEQ_CST);
	sched_wait_out(vm);
}

/* What CPU 0 did under the hold may have changed the VM's EPT: the other CPUs drop
 * their cached translations before they enter again (the backend compares s2_gen). */
void vm_unhold(struct vm *vm)
{
	if (!elsewhere(vm))
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		hv_backend()->vcpu_put(vm->vcpus[i]); /* no VMCS may stay active here */
	__atomic_fetch_add(&vm->s2_gen, 1, __ATOMIC_RELEASE);
	if (__atomic_sub_fetch(&vm->hold, 1, __ATOMIC_SEQ_CST) == 0)
		sched_kick(vm);
}

/* --- balancing --- */

/* Once a second CPU 0 compares the CPUs that run guests by the count placement uses
 * (vCPUs of running VMs at home there, CPU 0 one more): when the busiest has two more
 * than the idlest, one vCPU placed by load moves from there to there. Pinned ones
 * (cpu=, pin=) and those of a VM a migration owns stay. One move a round; a move
 * shrinks the gap by two, so vCPUs never go back and forth. */
#define BALANCE_MS 1000

/* The move itself, under a hold that stands even when no other CPU runs the VM (its
 * CPUs change under it): every CPU out and its VMCSs cleared, CPU 0's too; the new
 * home loads the VMCS with its own host state and drops the VM's translations before
 * it first enters (the backend compares the CPU it last ran on). */
static void move_vcpu(struct vm *vm, unsigned k, uint32_t to)
{
	uint32_t homes[VM_VCPUS_MAX];

	__atomic_fetch_add(&vm->hold, 1, __ATOMIC_SEQ_CST);
	sched_wait_out(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		hv_backend()->vcpu_put(vm->vcpus[i]);
	memcpy(homes, vm->vcpu_home, sizeof(homes));
	homes[k] = to;
	sched_set_homes(vm, homes);
	__atomic_fetch_sub(&vm->hold, 1, __ATOMIC_SEQ_CST);
	sched_kick(vm);
}

/* A vCPU at home on from that balancing may move: its VM's slot index and the vCPU's */
static bool movable_on(uint32_t from, unsigned *slot, unsigned *k)
{
	for (unsigned i = 0; i < VM_MAX; i++) {
		const struct vm *vm = vm_at(i);
		if (!vm || !vm->movable || vm->owner || vm->state != VM_RUNNING ||
		    load32(&vm->home) == VM_HOME_NONE)
			continue;
		for (unsigned n = 0; n < vm->nr_vcpus; n++) {
			if (here(vm, n, from)) {
				*slot = i;
				*k = n;
				return true;
			}
		}
	}
	return false;
}

static void balance(void)
{
	static uint64_t next_ms;
	uint64_t now = time_now_ms();
	unsigned most = 0, fewest = ~0u, slot = 0, k = 0;
	uint32_t busy = 0, idle = 0;
	struct vm *vm;

	if (now < next_ms)
		return;
	next_ms = now + BALANCE_MS;
	for (uint32_t c = 0; c < pcpu_count() && c < PCPU_MAX; c++) {
		unsigned n, s, v;
		if (!can_run_guests(pcpu_get(c)))
			continue;
		n = vcpus_at(c) + (c == 0);
		if (n < fewest)
			fewest = n, idle = c;
		if (n > most && movable_on(c, &s, &v))
			most = n, busy = c, slot = s, k = v;
	}
	if (fewest == ~0u || most < fewest + 2)
		return;
	vm = vm_at(slot);
	move_vcpu(vm, k, idle);
	mon_event("vm%d: vcpu%u moved from cpu%u to cpu%u to balance the load (vCPUs at home: "
		"%u there, %u here, tern's loop counting one on cpu0)\n", vm->id, k, busy, idle,
		most, fewest);
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

/* Whether the VM has guest code to run on cpu */
static bool runnable(const struct vm *vm, uint32_t cpu)
{
	if (vm->state != VM_RUNNING)
		return false;
	for (unsigned k = 0; k < vm->nr_vcpus; k++)
		if (here(vm, k, cpu) && vcpu_runnable(vm->vcpus[k]))
			return true;
	return false;
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

/* The VM is this CPU's to run now: a vCPU at home here, running, not held, nothing
 * asked of CPU 0. On another CPU than 0 this opens the handshake (runners); leave()
 * closes it. */
static bool enter(struct vm *vm, uint32_t cpu)
{
	if (!at_home(vm, cpu))
		return false;
	if (cpu == 0)
		return vm->state == VM_RUNNING && vm->vcpu;
	__atomic_fetch_or(&vm->runners, bit(cpu), __ATOMIC_SEQ_CST);
	if (at_home(vm, cpu) && vm->state == VM_RUNNING && !vm_held(vm) && !vm->pc->request &&
	    !load32(&vm->end_pending))
		return true;
	__atomic_fetch_and(&vm->runners, ~bit(cpu), __ATOMIC_RELEASE);
	return false;
}

static void leave(struct vm *vm, uint32_t cpu)
{
	if (cpu == 0)
		return;
	for (unsigned k = 0; k < vm->nr_vcpus; k++)
		if (here(vm, k, cpu))
			hv_backend()->vcpu_put(vm->vcpus[k]);
	__atomic_fetch_and(&vm->runners, ~bit(cpu), __ATOMIC_RELEASE);
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
		n += vm && vm->state == VM_RUNNING && at_home(vm, cpu->index);
	}
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		if (!vm || !at_home(vm, cpu->index))
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
		spin_lock(&vm->lock);
		for (unsigned k = 0; k < vm->nr_vcpus; k++) {
			struct vcpu *v = vm->vcpus[k];
			if (!here(vm, k, cpu) || !v->halted || v->mp == VCPU_MP_WAIT_SIPI)
				continue;
			if (vcpu_wake(v))
				vm->boost = vm->may_boost;
			else
				until = MIN(until, vcpu_deadline_tsc(v));
		}
		spin_unlock(&vm->lock);
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

/* The VM's next vCPU at home on cpu with guest code to run, round robin: those vCPUs
 * share the VM's slices there. NULL when none has (another CPU changed that since). */
static struct vcpu *next_vcpu(struct vm *vm, uint32_t cpu)
{
	for (unsigned n = 1; n <= vm->nr_vcpus; n++) {
		unsigned i = (vm->last_vcpu[cpu] + n) % vm->nr_vcpus;
		if (here(vm, i, cpu) && vcpu_runnable(vm->vcpus[i])) {
			vm->last_vcpu[cpu] = (uint8_t)i;
			return vm->vcpus[i];
		}
	}
	return NULL;
}

/* Runs the VM for a slice; a throttled one then sits out its share of wall time. */
static void run_slice(struct vm *vm, uint32_t cpu, uint64_t deadline)
{
	uint64_t t0 = rdtsc(), t1;
	struct vcpu *v = next_vcpu(vm, cpu);

	if (!v)
		return;

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
		if (!vm || !at_home(vm, cpu->index) || !vm->boost || !enter(vm, cpu->index))
			continue;
		vm->boost = false;
		if (runnable(vm, cpu->index) && !held(vm, now, back))
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
		run_slice(vm, cpu->index,
			  MIN(now + MIN(slice, time_tsc_hz() / 1000 * BOOST_SLICE_MS), wake));
		leave(vm, cpu->index);
		return vm;
	}
	for (int n = 1; n <= VM_MAX; n++) {
		int i = (cpu->sched.last + n) % VM_MAX;
		vm = vm_at((unsigned)i);
		if (!vm || !enter(vm, cpu->index))
			continue;
		if (!runnable(vm, cpu->index) || held(vm, now, &back)) {
			leave(vm, cpu->index);
			continue;
		}
		cpu->sched.last = i;
		run_slice(vm, cpu->index, MIN(now + slice, wake));
		leave(vm, cpu->index);
		return vm;
	}
	cpu->sched.next_wake = MIN(cpu->sched.next_wake, back);
	return NULL;
}

/* What VMs left for CPU 0: an end to announce (one that happened in a guest's exit:
 * vm.c), a reset or power-off their platform asked for. */
static void serve_others(void)
{
	for (unsigned i = 0; i < VM_MAX; i++) {
		struct vm *vm = vm_at(i);
		if (!vm)
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
	serve_others(); /* what the slice left, before the loop's services */
	balance();
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
		n += vm && at_home(vm, p->index) && vm->state != VM_EXITED &&
		     vm->state != VM_KILLED;
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
