#include "hv/x86.h"
#include "vmx/vmx.h"

/* Capability MSRs (SDM Appendix A) */
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PINBASED 0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_MISC 0x485
#define MSR_VMX_PROCBASED2 0x48b
#define MSR_VMX_EPT_VPID_CAP 0x48c
#define MSR_VMX_TRUE_PINBASED 0x48d
#define MSR_VMX_TRUE_PROCBASED 0x48e

#define FC_LOCK (1ULL << 0)
#define FC_VMX_OUTSIDE_SMX (1ULL << 2)

#define BASIC_TRUE_CTLS (1ULL << 55)
#define PIN_PREEMPTION_TIMER (1ULL << 6)
#define PROC_TPR_SHADOW (1ULL << 21)
#define PROC_SECONDARY (1ULL << 31)
#define PROC2_VIRT_APIC_ACCESS (1ULL << 0)
#define PROC2_EPT (1ULL << 1)
#define PROC2_VPID (1ULL << 5)
#define PROC2_VIRT_X2APIC (1ULL << 4)
#define PROC2_UNRESTRICTED (1ULL << 7)
#define PROC2_APIC_REG_VIRT (1ULL << 8)
#define PROC2_VIRT_INTR_DELIVERY (1ULL << 9)
#define PROC2_PML (1ULL << 17)
#define PROC2_TSC_SCALING (1ULL << 25)
#define EPT_CAP_WB (1ULL << 14)
#define EPT_CAP_PWL4 (1ULL << 6)
#define EPT_CAP_AD (1ULL << 21)

static struct vmx_caps caps;

/* A control can be set when its bit is 1 in the high half ("allowed-1") of its MSR. */
static bool allowed1(uint64_t msr_value, uint64_t bit)
{
	return (msr_value >> 32) & bit;
}

bool vmx_feature_control(void)
{
	uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);

	if (!(fc & FC_LOCK)) {
		fc |= FC_LOCK | FC_VMX_OUTSIDE_SMX;
		wrmsr(MSR_IA32_FEATURE_CONTROL, fc);
		fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
	}
	return fc & FC_VMX_OUTSIDE_SMX;
}

void vmx_probe(struct hv_caps *c)
{
	uint64_t basic, pin, proc, proc2 = 0, ept = 0;

	c->name = "vmx";
	c->present = cpuid(1, 0).ecx & (1u << 5);
	if (!c->present) {
		c->why = "the CPU has no VT-x (CPUID.1:ECX.VMX is clear)";
		return;
	}
	if (!vmx_feature_control()) {
		c->why = "the firmware locked VT-x off in IA32_FEATURE_CONTROL";
		return;
	}
	c->usable = true;
	basic = rdmsr(MSR_VMX_BASIC);
	caps.revision = basic & 0x7fffffff;
	caps.true_ctls = basic & BASIC_TRUE_CTLS;
	pin = rdmsr(caps.true_ctls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED);
	proc = rdmsr(caps.true_ctls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED);
	if (allowed1(proc, PROC_SECONDARY))
		proc2 = rdmsr(MSR_VMX_PROCBASED2);
	if (allowed1(proc2, PROC2_EPT) || allowed1(proc2, PROC2_VPID))
		ept = rdmsr(MSR_VMX_EPT_VPID_CAP);
	caps.ept_vpid_cap = ept;
	/* tern's EPT is 4-level write-back: anything less is no EPT to it. */
	c->stage2 = allowed1(proc2, PROC2_EPT) && (ept & EPT_CAP_PWL4) && (ept & EPT_CAP_WB);
	c->tagged_tlb = allowed1(proc2, PROC2_VPID);
	c->unrestricted = c->stage2 && allowed1(proc2, PROC2_UNRESTRICTED);
	c->dirty_flags = c->stage2 && (ept & EPT_CAP_AD);
	/* PML logs only through EPT dirty flags (SDM 28.3.6): without A/D it is useless. */
	c->dirty_log = c->dirty_flags && allowed1(proc2, PROC2_PML);
	c->preemption_timer = allowed1(pin, PIN_PREEMPTION_TIMER);
	c->tsc_scaling = allowed1(proc2, PROC2_TSC_SCALING);
	c->tpr_shadow = allowed1(proc, PROC_TPR_SHADOW);
	c->apic_reg_virt = c->tpr_shadow && allowed1(proc2, PROC2_VIRT_APIC_ACCESS) &&
			   allowed1(proc2, PROC2_APIC_REG_VIRT);
	c->virt_intr_delivery = c->apic_reg_virt && allowed1(proc2, PROC2_VIRT_INTR_DELIVERY);
	c->x2apic_virt = c->tpr_shadow && allowed1(proc2, PROC2_VIRT_X2APIC);
	caps.preemption_rate = rdmsr(MSR_VMX_MISC) & 0x1f;
	if (!c->stage2 || !c->unrestricted)
		c->why = "the CPU lacks EPT or unrestricted guest, which tern requires";
	else if (!c->preemption_timer)
		c->why = "the CPU lacks the VMX-preemption timer, which tern schedules with";
}

const struct vmx_caps *vmx_caps(void)
{
	return &caps;
}
