/* A virtual machine: its RAM, its devices, its vCPU, its state. */
#ifndef TERN_VM_H
#define TERN_VM_H

#include "hv/cpu_model.h"
#include "hv/boot.h"
#include "hv/dirty.h"
#include "hv/pcpu.h"
#include "hv/types.h"
#include "hv/vm_id.h"

/* INCOMING: a shell being filled by an incoming migration; never scheduled. */
enum vm_state { VM_RUNNING, VM_PAUSED, VM_EXITED, VM_KILLED, VM_INCOMING };

#define VM_MAX 16 /* a VM's VPID is its slot + 1 (vmx/vcpu.c): at most 0xfffe */
#define VM_CHUNK (2 * MIB) /* guest RAM is allocated and mapped in 2 MiB chunks */
#define VM_NAME_MAX 32
#define VM_HOME_NONE 0xffffffffu /* vm->home while its slot is being reused */
#define VM_VCPUS_MAX 8 /* vCPUs of one VM; vCPU i has local APIC ID i */

struct vcpu;
struct pc;
struct vm;

/* A part of tern that holds a VM for a while: a migration, on its source, from `migrate`
 * until it completes or fails. Meanwhile the operator's commands that would pause, resume,
 * end or track the VM are refused with its description, and kill asks it to let go first.
 * Set and cleared by the holder (hv never calls into the module that holds it otherwise). */
struct vm_owner {
	/* what holds the VM ("migrating to 10.0.0.2") and what the operator can do about it
	 * ("migrate_cancel vm3 first"), each in size bytes */
	void (*describe)(const struct vm *vm, char *what, char *how, size_t size);
	/* gives the VM back as it was, for the operator to end it (a migration cancels,
	 * printing why: "cancelled <why>"); 0, or why not in err */
	int (*release)(struct vm *vm, const char *why, char *err, size_t err_size);
};

/* Exits that reached the local APIC model, by register (TPR, EOI, ICR and self-IPI,
 * CR8, the rest), and interrupts tern itself delivered at VM entry. With APIC
 * virtualization the CPU handles most of these without tern (`info apic`). Kept for
 * the VM's life and after it ended. */
struct apic_counts {
	uint64_t tpr, eoi, icr, cr8, other;
	uint64_t injected;
};

/* How a VM was started (beside its image, vm.image), to start it again the same way on
 * a reset: one of its migration records (hv/pc.h), so a VM reset on a migration's
 * target boots with the command line, modules and initrd it was started with. */
struct vm_boot {
	char args[BOOT_CMDLINE_MAX]; /* the guest's command line, when has_args */
	char mods[8][VM_NAME_MAX];   /* a Multiboot kernel's modules, by name */
	char initrd[VM_NAME_MAX];    /* a Linux kernel's initrd module; "" for none */
	uint8_t has_args;            /* args replace the module's own arguments */
	uint8_t nr_mods;
};

struct vms_desc;
extern const struct vms_desc vm_boot_vms;

struct vm {
	int id;                 /* 1, 2, ... VM_ID_MAX, then 1 again: never one a slot holds */
	char name[VM_NAME_MAX];
	char image[VM_NAME_MAX];
	enum vm_state state;
	uint64_t mem_size;      /* bytes of RAM from guest-physical 0 */
	struct cpu_model cpu;   /* the CPU the guest sees, for life (also after a migration) */
	uint64_t *chunks;       /* host-physical address of each 2 MiB chunk */
	uint64_t nr_chunks;
	void *s2;               /* the backend's stage-2 tables (EPT) */
	struct vcpu *vcpu;      /* the bootstrap processor, vcpus[0]: its TSC is the VM's clock */
	struct vcpu *vcpus[VM_VCPUS_MAX];
	unsigned nr_vcpus;      /* 0 once they are freed (it ended) */
	unsigned vcpus_given;   /* what it was started with, for listing after that */
	uint64_t exits;
	uint64_t run_tsc;       /* TSC ticks spent running the guest */
	uint64_t last_out_tsc;  /* host TSC as it last left the guest (its pause begins there) */
	uint64_t exit_tsc;      /* TSC ticks tern spent between its exits and entries */
	struct apic_counts apic_counts;
	uint64_t runnable_us;   /* time it was runnable (running, not halted): hv/load.h */
	struct pc *pc;          /* its PC platform: devices, interrupts, firmware tables */
	struct vm_boot boot;    /* how it was started, to start it so again on a reset */
	struct dirty dirty;
	const struct vm_owner *owner; /* NULL, or what holds the VM (above) */
	uint32_t throttle_pct;  /* share of wall time withheld (hv/throttle.h): vm_throttle */
	uint64_t throttle_until; /* host TSC before which the scheduler leaves it off the CPU */
	/* the scheduler's (hv/sched.c), by the CPUs its vCPUs are at home on: */
	uint64_t window_mark;   /* run_tsc when the scheduler's share window began */
	bool may_boost;         /* it used less than its share in the last window */
	bool boost;             /* woken from HLT: runs next, for one short slice */
	uint8_t last_vcpu[PCPU_MAX]; /* [o] each CPU's round robin among its vCPUs there */
	/* Where it runs (hv/sched.c; the legend of hv/pcpu.h): */
	uint32_t home;          /* [h] vCPU 0's CPU (pcpu index): where it is listed */
	/* [h] the CPU whose scheduler runs each vCPU, and bit c: a vCPU of it is at home
	 * on CPU c (set at creation; then changed only by CPU 0 under a hold, balancing) */
	uint32_t vcpu_home[VM_VCPUS_MAX];
	uint64_t cpus;
	bool movable;           /* [I] placed by load (no cpu=, no pin=): balancing may move it */
	uint64_t runners;       /* [a] bit c: CPU c is inside a slice of it now */
	uint32_t hold;          /* [a] CPU 0's holds: while > 0 no CPU enters it */
	/* [l] The VM's lock: its devices and local APICs, its vCPUs' events and start
	 * state, its dirty log and EPT while it runs, its counters. Taken by a CPU
	 * running one of its vCPUs around everything but the guest itself (hv/spin.h);
	 * a hold (all its CPUs out) stands in for it. */
	uint32_t lock;
	uint32_t s2_gen;        /* [a] moved when CPU 0 may have changed its EPT (a hold) */
	uint32_t end_pending;   /* [a] it ended on another CPU or in an exit handler; CPU 0
				 * still announces it */
	char end_msg[224];      /* what to announce, written before end_pending */
};

/* Whether CPU 0 holds the VM (hv/sched.h): its CPU leaves the guest at once. */
static inline bool vm_held(const struct vm *vm)
{
	return __atomic_load_n(&vm->hold, __ATOMIC_ACQUIRE) != 0;
}

struct vm_start_args {
	const char *image;
	uint64_t mem_mib;
	const char *name;
	const char *mods[8];
	unsigned nr_mods;
	const char *initrd;  /* a Linux kernel's initrd module, or NULL */
	const char *cmdline; /* NULL: the module's own arguments */
	int cpu;             /* the host CPU all its vCPUs run on (cpu=); -1: placed */
	unsigned vcpus;      /* vCPUs (cpus=), 1..VM_VCPUS_MAX */
	unsigned npin;       /* pin=: vCPU i runs on host CPU pin[i % npin]; 0: none */
	uint8_t pin[VM_VCPUS_MAX];
};

/* Creates, loads and starts a VM; on failure prints nothing and writes the reason to err. */
int vm_start(const struct vm_start_args *a, struct vm **out, char *err, size_t err_size);
/* An empty VM for an incoming migration: RAM, EPT, vCPUs and devices, nothing loaded. It
 * has the source's CPU model cpu (checked by the caller: cpu_model_valid, and
 * cpu_model_check_host), which it keeps for life. */
int vm_create_incoming(uint64_t mem_size, unsigned vcpus, const char *name,
		       const char *image, const struct cpu_model *cpu, struct vm **out,
		       char *err, size_t err_size);
/* The incoming VM is complete: it runs from now on. */
void vm_activate(struct vm *vm);
/* Frees the VM and forgets it (a failed incoming one, or one that migrated away). */
void vm_discard(struct vm *vm);
struct vm *vm_find(const char *id_or_name);
/* The live (running or paused) VM with this id, or NULL. */
struct vm *vm_find_id(int id);
struct vm *vm_at(unsigned slot);
/* The VM's slot, 0..VM_MAX-1: no two VMs that exist at once share it (the backend tags
 * the VM's TLB entries with it: hardware tags are 16 bits, VM ids are not). */
unsigned vm_slot(const struct vm *vm);
/* VMs running or paused (not ended, not incoming). */
unsigned vm_count(void); /* for listing: NULL for empty slots */
void vm_pause(struct vm *vm);
/* Withholds pct % (0..THROTTLE_MAX_PCT, hv/throttle.h) of wall time from the VM from its
 * next slice on; 0 lifts the throttle at once. The VM's demand is unchanged: it counts as
 * runnable while withheld, so the host's load (hv/load.h) is what the guests ask for. */
void vm_throttle(struct vm *vm, uint32_t pct);
void vm_resume(struct vm *vm);
/* Ends a VM with a reason printed as "vm<ID> killed: <reason>", freeing its memory. */
void vm_kill(struct vm *vm, const char *fmt, ...) __printf(2, 3);
/* The guest wrote the exit port. */
void vm_exit_status(struct vm *vm, uint32_t status);
const char *vm_state_name(const struct vm *vm);
/* What the VM was started from: "linux" (a bzImage), "multiboot", or "-" when its image
 * is not on this host. */
const char *vm_image_kind(const struct vm *vm);
/* An image's format for listing: "linux", "multiboot", "initrd" (a cpio archive or a
 * compressed one), or "invalid". */
const char *vm_image_format(const uint8_t *data, uint64_t size);

/* The VM's clock (hv/dev/dev.h): nanoseconds of its TSC at the rate its CPU model
 * states; and a moment of it as a host TSC value, for tern's timers. */
uint64_t vm_now_ns(const struct vm *vm);
uint64_t vm_ns_to_host_tsc(const struct vm *vm, uint64_t ns);

/* Guest memory by guest-physical address; false when [g, g+len) is not all RAM. */
bool gpa_read(const struct vm *vm, gpa_t g, void *dst, uint64_t len);
bool gpa_write(struct vm *vm, gpa_t g, const void *src, uint64_t len);

/* Whether guest page pfn is all zeros, read in place (false outside its RAM). */
bool vm_page_zero(const struct vm *vm, uint64_t pfn);

/* Folds the VM's whole RAM, in address order, into h with fn, straight from memory (no
 * copies: it runs while a migrating VM is paused). */
uint64_t vm_mem_fold(const struct vm *vm, uint64_t h,
		     uint64_t (*fn)(uint64_t h, const uint8_t *p, size_t n));

/* For the scheduler (hv/sched.c), on CPU 0: frees what ended VMs hold; acts on the
 * reset or power-off the VM's platform asked for; waits until the VM's home CPU is out
 * of it and announces an end that happened there. */
void vm_reap(void);
void vm_platform_request(struct vm *vm);
void vm_settle(struct vm *vm);

#endif
