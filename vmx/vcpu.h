/* The VT-x vCPU, private to vmx/. */
#ifndef TERN_VMX_VCPU_H
#define TERN_VMX_VCPU_H

#include "hv/types.h"

/* General registers the VMCS does not hold; layout known to vmx/entry.S. */
struct guest_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/* MSRs the VMCS does not switch; tern loads them around the guest it runs. */
struct guest_msrs {
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
};

struct vm;

struct vmx_vcpu {
	struct guest_regs regs;   /* first: entry.S takes its address */
	uint8_t fxsave[512] __attribute__((aligned(16)));
	struct guest_msrs msrs;
	uint64_t cr2;
	uint64_t vmcs;            /* host-physical */
	uint64_t io_bitmaps;      /* two pages */
	uint64_t msr_bitmap;
	uint16_t vpid;
	bool launched;
	struct vm *vm;
};

/* vmx/entry.S: loads regs, enters the guest (VMLAUNCH when !launched, else VMRESUME),
 * and returns 0 after a VM exit with regs saved, 1 on VMfailInvalid, 2 on VMfailValid. */
int vmx_enter(struct guest_regs *regs, int launched);
void vmx_exit_entry(void);

/* vmx/exit.c: handles the exit that just happened; false stops the current slice. */
bool vmx_handle_exit(struct vmx_vcpu *v);
/* vmx/msr.c */
bool vmx_msr_read(struct vmx_vcpu *v, uint32_t msr, uint64_t *val);
bool vmx_msr_write(struct vmx_vcpu *v, uint32_t msr, uint64_t val);
void vmx_msr_bitmap_init(uint8_t *bitmap);

/* Names for the operator. */
const char *vmx_exit_name(uint32_t reason);
const char *vmx_insn_error_name(uint32_t err);

#endif
