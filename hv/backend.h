/* The boundary between tern's vendor-neutral core and a virtualization backend (VT-x
 * today in vmx/, AMD-V later beside it). The core owns VMs, their memory, devices and
 * the architecture's rules; a backend owns the CPU's virtualization structures (VMCS,
 * EPT) and turns the CPU's exits into calls of the core's handlers (hv/vcpu.h). One
 * backend is chosen at boot from CPUID; nothing above this line knows which. */
#ifndef TERN_BACKEND_H
#define TERN_BACKEND_H

#include "hv/types.h"

struct vm;
struct vcpu;
struct vcpu_state;
struct seg_state;

/* What the backend and its CPU can do, in neutral terms. */
struct hv_caps {
	const char *name;     /* "vmx" */
	bool present;         /* the CPU has the extension (CPUID) */
	bool usable;          /* present and allowed by the firmware */
	const char *why;      /* when not usable (or not enough for tern): for the operator */
	bool stage2;          /* nested paging: EPT */
	bool tagged_tlb;      /* VPID */
	bool unrestricted;    /* real mode and paging-off guests run natively */
	bool dirty_log;       /* the CPU logs written pages (PML) */
	bool dirty_flags;     /* stage-2 dirty flags (EPT A/D) */
	bool preemption_timer;
	bool tsc_scaling;
	/* APIC virtualization: each is used when present, else the trapping path runs */
	bool tpr_shadow, apic_reg_virt, virt_intr_delivery, x2apic_virt;
};

/* Stage-2 permissions */
#define S2_R (1u << 0)
#define S2_W (1u << 1)
#define S2_X (1u << 2)
#define S2_RWX (S2_R | S2_W | S2_X)

/* Control registers and MSRs the backend keeps in its own structures. */
enum vcpu_sreg {
	SREG_CR0, SREG_CR2, SREG_CR3, SREG_CR4, SREG_EFER, SREG_PAT, SREG_XCR0, SREG_CS_ATTR
};

struct hv_backend {
	const char *name;
	/* Reads the CPU's capabilities (once, at boot), enabling the extension in the
	 * firmware's lock register where it was left unlocked. */
	void (*probe)(struct hv_caps *caps);
	/* Enters virtualization operation on the boot CPU (once), after what every CPU
	 * shares is set up. */
	int (*enable)(const char **why);
	/* For each other CPU (hv/pcpu.h's index): cpu_prepare runs on the boot CPU before
	 * that CPU starts and allocates what it needs (the CPU itself must not use the
	 * allocator); cpu_enable then runs on that CPU and enters virtualization there. */
	int (*cpu_prepare)(uint32_t cpu);
	int (*cpu_enable)(uint32_t cpu, const char **why);

	/* stage 2: the guest-physical address space of a VM */
	int (*s2_init)(struct vm *vm);
	void (*s2_destroy)(struct vm *vm);
	int (*s2_map)(struct vm *vm, gpa_t g, hpa_t h, uint64_t size, unsigned perm);

	/* vCPUs */
	int (*vcpu_create)(struct vcpu *v);
	void (*vcpu_destroy)(struct vcpu *v);
	/* Runs the vCPU until deadline_tsc, until the core asks it to stop (a handler's
	 * VA_STOP), or until the VM stops running. */
	void (*vcpu_run)(struct vcpu *v, uint64_t deadline_tsc);
	/* On the CPU that ran or inspected the vCPU: its state back in memory and nothing
	 * of it left cached in this CPU's virtualization structures, so that another CPU
	 * may run it next. */
	void (*vcpu_put)(struct vcpu *v);
	void (*get_state)(struct vcpu *v, struct vcpu_state *s);
	/* s has passed x86_state_check(): the backend only translates it. */
	void (*set_state)(struct vcpu *v, const struct vcpu_state *s);
	/* Registers the core reads or writes while it handles an exit (the general ones,
	 * RIP and RFLAGS are in struct vcpu). set_sreg applies a value the core's rules
	 * accepted, with its side effects (long-mode activation, PDPTEs). */
	uint64_t (*get_sreg)(struct vcpu *v, enum vcpu_sreg r);
	void (*set_sreg)(struct vcpu *v, enum vcpu_sreg r, uint64_t val);
	void (*get_seg)(struct vcpu *v, int idx, struct seg_state *s);
	/* Delivers a hardware exception on the next entry. */
	void (*inject_exception)(struct vcpu *v, unsigned vector, bool has_error, uint32_t error);
	/* Drops cached stage-2 translations of the VM (after its tables changed). */
	void (*flush)(struct vcpu *v);
	/* Drops the guest's own cached linear translations (after tern emulated a write
	 * to CR0, CR3 or CR4 that changes them). */
	void (*flush_guest_tlb)(struct vcpu *v);

	/* dirty tracking, in the mode vm->dirty.mode names */
	int (*dirty_arm)(struct vm *vm);
	void (*dirty_disarm)(struct vm *vm);
	void (*dirty_collect)(struct vm *vm);
	void (*dirty_rearm)(struct vm *vm, const uint32_t *pfns, uint64_t n);
};

/* Chooses the backend for this CPU and probes it (once, at boot). */
void hv_backend_init(void);
const struct hv_backend *hv_backend(void);
const struct hv_caps *hv_caps(void);
/* Enters virtualization operation if not yet done; on failure *why says why. */
int hv_enable(const char **why);
/* Whether hv_enable succeeded on the boot CPU. */
bool hv_enabled(void);

#endif
