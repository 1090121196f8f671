/* The architectural state of one vCPU, independent of VT-x: what migration sends and a
 * checkpoint would store. The backend fills it from and loads it into its VMCS. */
#ifndef TERN_VCPU_STATE_H
#define TERN_VCPU_STATE_H

#include "hv/types.h"

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, SEG_COUNT };

struct seg_state {
	uint16_t sel;
	uint32_t limit;
	uint32_t ar;   /* VMX access-rights format (SDM 25.4.1); bit 16 = unusable */
	uint64_t base;
};

struct vcpu_state {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t cr0, cr2, cr3, cr4; /* cr0/cr4 as the guest sees them */
	uint64_t efer, pat, dr7;
	struct seg_state seg[SEG_COUNT];
	uint64_t gdtr_base, idtr_base;
	uint32_t gdtr_limit, idtr_limit;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint32_t interruptibility, activity;
};

#endif
