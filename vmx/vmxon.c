/* Entering VMX operation on this CPU (SDM 24.7, 24.8). */
#include "hv/error.h"
#include "hv/pmm.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmx.h"

#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489

static bool vmx_on;

/* Bits that must be 1 are set in FIXED0; bits that may be 1 are set in FIXED1. */
static bool cr_fits(uint64_t cr, uint32_t fixed0_msr, uint32_t fixed1_msr)
{
	uint64_t must = rdmsr(fixed0_msr), may = rdmsr(fixed1_msr);

	return (cr & must) == must && (cr & ~may) == 0;
}

int vmx_enable(const char **why)
{
	const struct hv_caps *c = hv_caps();
	uint64_t region;
	uint8_t fail;

	if (vmx_on)
		return 0;
	if (!c->usable) {
		*why = c->why;
		return -E_NOSUP;
	}
	if (!c->stage2 || !c->unrestricted || !c->preemption_timer) {
		*why = c->why;
		return -E_NOSUP;
	}
	write_cr4(read_cr4() | CR4_VMXE);
	write_cr0(read_cr0() | CR0_NE);
	if (!cr_fits(read_cr0(), MSR_VMX_CR0_FIXED0, MSR_VMX_CR0_FIXED1) ||
	    !cr_fits(read_cr4(), MSR_VMX_CR4_FIXED0, MSR_VMX_CR4_FIXED1)) {
		*why = "CR0/CR4 cannot satisfy the VMX fixed bits";
		return -E_NOSUP;
	}
	if (vmx_apicv_enable() < 0) {
		*why = "out of memory for the APIC-access page";
		return -E_NOMEM;
	}
	region = pmm_alloc(1);
	if (!region) {
		*why = "out of memory for the VMXON region";
		return -E_NOMEM;
	}
	*(uint32_t *)(uintptr_t)region = vmx_caps()->revision;
	asm volatile("vmxon %1; setna %0" : "=qm"(fail) : "m"(region) : "cc", "memory");
	if (fail) {
		pmm_free(region, 1);
		*why = "VMXON failed";
		return -E_IO;
	}
	vmx_on = true;
	return 0;
}
