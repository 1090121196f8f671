/* The VT-x backend's public face. hv/ talks to VT-x only through this header. */
#ifndef TERN_VMX_H
#define TERN_VMX_H

#include "hv/types.h"

struct vmx_caps {
	bool cpu_vmx;        /* CPUID.1:ECX.VMX */
	bool usable;         /* VMX present and allowed by IA32_FEATURE_CONTROL */
	const char *why;     /* when not usable: the reason, for the operator */
	bool true_ctls;      /* IA32_VMX_TRUE_*_CTLS present */
	uint32_t revision;   /* VMCS revision identifier */
	bool ept, vpid, unrestricted, pml, ept_ad, preemption_timer;
	uint8_t preemption_rate; /* the timer counts every 2^rate TSC ticks */
	uint64_t ept_vpid_cap;   /* IA32_VMX_EPT_VPID_CAP, raw */
};

/* Reads CPUID and the capability MSRs; when the firmware left IA32_FEATURE_CONTROL
 * unlocked, enables VMX in it and locks it (SDM 23.7). Call once at boot. */
void vmx_probe(void);
const struct vmx_caps *vmx_caps(void);

/* Enters VMX operation on this CPU (once). On failure *why says what is missing. */
int vmx_enable(const char **why);

struct vm;
struct vcpu_state;

/* Creates the vCPU of a VM whose RAM and EPT are set up: VMCS, VPID, bitmaps. */
int vmx_vcpu_create(struct vm *vm);
void vmx_vcpu_destroy(struct vm *vm);
/* Puts the vCPU in the state the Multiboot specification describes for an OS image:
 * 32-bit protected mode, paging off, EAX = magic, EBX = info, EIP = entry. */
void vmx_vcpu_reset_multiboot(struct vm *vm, uint32_t entry, uint32_t mbi);
/* Runs the VM until its slice ends (TSC deadline), it halts, or it stops running.
 * Exits are handled inside; a guest's misdeed kills that VM, never tern. */
void vmx_vcpu_run(struct vm *vm, uint64_t deadline_tsc);
/* The vCPU's architectural state, for migration and checkpoints. */
void vmx_vcpu_get_state(struct vm *vm, struct vcpu_state *s);
void vmx_vcpu_set_state(struct vm *vm, const struct vcpu_state *s);
/* Flushes the EPT translations of the VM (after its EPT changed). */
void vmx_flush_ept(struct vm *vm);

/* Dirty tracking backends (vmx/dirty.c), in the mode vm->dirty.mode names. */
int vmx_dirty_arm(struct vm *vm);
void vmx_dirty_disarm(struct vm *vm);
/* Moves what the CPU recorded (PML buffer, EPT dirty flags) into the bitmap. */
void vmx_dirty_collect(struct vm *vm);
/* Arms tracking again for the pages of the round that just ended. */
void vmx_dirty_rearm(struct vm *vm, const uint32_t *pfns, uint64_t n);
/* Exit handlers: true when the exit was tracking's. */
bool vmx_dirty_write_fault(struct vm *vm, uint64_t gpa);
bool vmx_dirty_pml_full(struct vm *vm);

#endif
