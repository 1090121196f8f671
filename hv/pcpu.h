/* Per-CPU data: one struct pcpu for each host CPU tern knows of, CPU 0 the boot CPU.
 * A running CPU finds its own through GS base (pcpu_this()); the boot CPU reads the
 * others through pcpu_get() for `info cpu`.
 *
 * Who may touch what (the legend of OpenBSD's vmm):
 *   [I] set before the CPU starts, then immutable
 *   [o] the CPU itself only (no other CPU reads it while it runs)
 *   [a] written by the CPU itself with atomic stores, read by others atomically
 * and on struct vm (hv/vm.h):
 *   [l] the VM's lock
 *   [h] written by CPU 0 only while it holds the VM (every CPU out of it), read
 *       atomically
 * An application processor touches its own pcpu, and the VMs at home on it under the
 * handshake of hv/sched.c; the rest (the allocator, the monitor, the network, creating
 * and freeing VMs) is the boot CPU's alone. docs/architecture.md has the whole legend. */
#ifndef TERN_PCPU_H
#define TERN_PCPU_H

#include "hv/cpu.h"
#include "hv/types.h"

#define PCPU_MAX 64

enum pcpu_state {
	PCPU_DISABLED = 1, /* listed by the firmware, not started (cpus=) */
	PCPU_STARTING,     /* INIT-SIPI-SIPI sent, not yet in tern's C code */
	PCPU_ONLINE,       /* runs tern's loop (the boot CPU) */
	PCPU_PARKED,       /* idle in HLT, woken by IPIs: ready for work */
	PCPU_FAILED,       /* did not come up (why says why) */
};

struct pcpu {
	struct pcpu *self;        /* [I] at %gs:0, for pcpu_this() */
	uint32_t index;           /* [I] 0 = the boot CPU */
	uint32_t apic_id;         /* [I] its local APIC ID */
	uint32_t state;           /* [a] enum pcpu_state */
	uint32_t start_stage;     /* [a] how far a failed start got (hv/ap_start.h stages) */
	const char *why;          /* [a] why it failed, or why virtualization is off */
	uint8_t virt_on;          /* [a] the backend's cpu_enable succeeded (VMXON) */
	uint64_t wakeups;         /* [a] times it woke from HLT */
	uint64_t ipis;            /* [a] wake-up IPIs (kicks) it took */
	/* What reaching a guest here costs CPU 0 [a, written by CPU 0] (hv/sched.c): holds
	 * that had to kick this CPU out of a guest, and the TSC cycles from the kick until
	 * it was out (in all, the longest). */
	uint64_t holds, hold_cycles, hold_cycles_max;
	/* [a] Translations this CPU dropped because CPU 0 changed a VM's EPT under a hold
	 * (the backend): how many times, and the cycles INVEPT and INVVPID took in all. */
	uint64_t flushes, flush_cycles;
	uint64_t stack_top;       /* [I] its stack (the boot CPU: the loader's) */
	uint8_t *ist;             /* [I] IST_COUNT stacks of IST_STACK_SIZE */
	struct cpu_tables tables; /* [o] its GDT and TSS */
	/* The scheduler's state for this CPU's run queue [o] (hv/sched.c): where the round
	 * robin over the VMs at home here resumes, the TSC by which to look again, and when
	 * the share window (which VMs may be boosted) began. */
	struct {
		int last;
		uint64_t next_wake;
		uint64_t window_start;
	} sched;
};

/* The boot CPU's pcpu (index 0): its tables loaded and GS base set. Before the
 * allocator runs: its IST stacks are static. */
void pcpu_boot_init(void);
/* A new entry for an application processor, with its stacks; NULL when out of memory
 * or past PCPU_MAX. */
struct pcpu *pcpu_add(uint32_t apic_id, uint32_t state);
/* On each CPU: caches on, FXSAVE/XSAVE allowed, as tern needs. */
void cpu_control_init(void);
/* On the CPU itself: loads its GDT, TSS and the IDT, and points GS base at p. */
void pcpu_enter(struct pcpu *p);
struct pcpu *pcpu_get(uint32_t index);
uint32_t pcpu_count(void);
const char *pcpu_state_name(uint32_t state);

#define PCPU_STACK_SIZE (16 * 1024)

static inline struct pcpu *pcpu_this(void)
{
	struct pcpu *p;

	asm volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}

#endif
