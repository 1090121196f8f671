/* Entering VMX operation on this CPU (SDM 24.7, 24.8). */
#include "hv/error.h"
#include "hv/pcpu.h"
#include "hv/pmm.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmx.h"

#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489

/* Each CPU's VMXON region (SDM 24.11.5), by pcpu index: allocated on the boot CPU,
 * used by that CPU only. */
static struct {
	uint64_t region;
	bool on;
} cpus[PCPU_MAX];

/* Bits that must be 1 are set in FIXED0; bits that may be 1 are set in FIXED1. */
static bool cr_fits(uint64_t cr, uint32_t fixed0_msr, uint32_t fixed1_msr)
{
	uint64_t must = rdmsr(fixed0_msr), may = rdmsr(fixed1_msr);

	return (cr & must) == must && (cr & ~may) == 0;
}

/* What tern needs of the CPU, the same on every CPU: the boot CPU's caps. */
static int usable(const char **why)
{
	const struct hv_caps *c = hv_caps();

	if (!c->usable || !c->stage2 || !c->unrestricted || !c->preemption_timer) {
		*why = c->why;
		return -E_NOSUP;
	}
	return 0;
}

int vmx_cpu_prepare(uint32_t cpu)
{
	if (cpu >= PCPU_MAX)
		return -E_RANGE;
	if (!cpus[cpu].region && !(cpus[cpu].region = pmm_alloc(1)))
		return -E_NOMEM;
	*(uint32_t *)(uintptr_t)cpus[cpu].region = vmx_caps()->revision;
	return 0;
}

int vmx_cpu_enable(uint32_t cpu, const char **why)
{
	uint8_t fail;

	if (cpu >= PCPU_MAX || !cpus[cpu].region) {
		*why = "no VMXON region was prepared for this CPU";
		return -E_INVAL;
	}
	if (cpus[cpu].on)
		return 0;
	if (usable(why) < 0)
		return -E_NOSUP;
	if (!vmx_feature_control()) {
		*why = "the firmware locked VT-x off in IA32_FEATURE_CONTROL on this CPU";
		return -E_NOSUP;
	}
	write_cr4(read_cr4() | CR4_VMXE);
	write_cr0(read_cr0() | CR0_NE);
	if (!cr_fits(read_cr0(), MSR_VMX_CR0_FIXED0, MSR_VMX_CR0_FIXED1) ||
	    !cr_fits(read_cr4(), MSR_VMX_CR4_FIXED0, MSR_VMX_CR4_FIXED1)) {
		*why = "CR0/CR4 cannot satisfy the VMX fixed bits";
		return -E_NOSUP;
	}
	asm volatile("vmxon %1; setna %0" : "=qm"(fail) : "m"(cpus[cpu].region) : "cc", "memory");
	if (fail) {
		*why = "VMXON failed";
		return -E_IO;
	}
	cpus[cpu].on = true;
	return 0;
}

/* The boot CPU: what every CPU shares, then VMX operation on CPU 0. */
int vmx_enable(const char **why)
{
	int e = usable(why);

	if (e < 0)
		return e;
	if (vmx_apicv_enable() < 0) {
		*why = "out of memory for the APIC-access page";
		return -E_NOMEM;
	}
	if (vmx_cpu_prepare(0) < 0) {
		*why = "out of memory for the VMXON region";
		return -E_NOMEM;
	}
	return vmx_cpu_enable(0, why);
}
