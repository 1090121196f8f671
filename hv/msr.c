/* Guest MSR accesses that exit: emulated here, checked by the architecture's rules
 * (hv/x86_rules.h), or #GP as on a CPU that lacks them. */
#include "hv/backend.h"
#include "hv/msr.h"
#include "hv/pc.h"
#include "hv/vcpu.h"
#include "hv/vm.h"
#include "hv/x86.h"
#include "hv/x86_rules.h"

/* Where a variable or fixed-range MTRR lives in struct vcpu; NULL for other MSRs. */
static uint64_t *mtrr_slot(struct vcpu *v, uint32_t msr)
{
	if (msr >= MSR_IA32_MTRR_PHYSBASE0 && msr < MSR_IA32_MTRR_PHYSBASE0 + 2 * MTRR_VAR)
		return &v->mtrr_var[msr - MSR_IA32_MTRR_PHYSBASE0];
	if (msr == MSR_IA32_MTRR_FIX64K_00000)
		return &v->mtrr_fixed[0];
	if (msr == MSR_IA32_MTRR_FIX16K_80000 || msr == MSR_IA32_MTRR_FIX16K_A0000)
		return &v->mtrr_fixed[1 + msr - MSR_IA32_MTRR_FIX16K_80000];
	if (msr >= MSR_IA32_MTRR_FIX4K_C0000 && msr < MSR_IA32_MTRR_FIX4K_C0000 + 8)
		return &v->mtrr_fixed[3 + msr - MSR_IA32_MTRR_FIX4K_C0000];
	if (msr == MSR_IA32_MTRR_DEF_TYPE)
		return &v->mtrr_def_type;
	if (msr == MSR_IA32_MISC_ENABLE)
		return &v->misc_enable;
	return NULL;
}

/* A write to IA32_TIME_STAMP_COUNTER or IA32_TSC_ADJUST moves the TSC by delta, and
 * IA32_TSC_ADJUST with it (SDM Vol. 3B, "Time-Stamp Counter Adjustment"). The VM's clock
 * follows its TSC. */
static void move_tsc(struct vcpu *v, int64_t delta)
{
	v->tsc_offset += delta;
	v->tsc_adjust += delta;
	pc_clock_set(v->vm);
}

bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	uint64_t *slot = mtrr_slot(v, msr);
	int r = pc_msr(v->vm, v->index, msr, false, val);

	if (r >= 0)
		return r;
	if (slot) {
		*val = *slot;
		return true;
	}
	switch (msr) {
	case MSR_EFER:
		*val = hv_backend()->get_sreg(v, SREG_EFER);
		return true;
	case MSR_PAT:
		*val = hv_backend()->get_sreg(v, SREG_PAT);
		return true;
	case MSR_TSC:
		*val = vcpu_tsc(v);
		return true;
	case MSR_TSC_ADJUST:
		*val = (uint64_t)v->tsc_adjust;
		return true;
	case MSR_FEATURE_CONTROL:
		*val = 1; /* locked, VMX off: what a CPU without VT-x shows */
		return true;
	case MSR_MTRRCAP:
		*val = X86_MTRRCAP;
		return true;
	case MSR_BIOS_SIGN_ID:
		*val = 0;
		return true;
	default:
		return false;
	}
}

bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	struct x86_ctl c = vcpu_ctl(v);
	uint64_t *slot = mtrr_slot(v, msr);
	int r = pc_msr(v->vm, v->index, msr, true, &val);

	if (r >= 0)
		return r;
	if (slot) {
		if (!x86_msr_ok(&v->vm->cpu, &c, msr, val))
			return false;
		*slot = val;
		return true;
	}
	switch (msr) {
	case MSR_EFER:
		return vcpu_write_ctl(v, CTL_EFER, val);
	case MSR_PAT:
		if (!x86_msr_ok(&v->vm->cpu, &c, msr, val))
			return false;
		hv_backend()->set_sreg(v, SREG_PAT, val);
		return true;
	case MSR_TSC:
		move_tsc(v, (int64_t)(val - (rdtsc() + (uint64_t)v->tsc_offset)));
		return true;
	case MSR_TSC_ADJUST:
		move_tsc(v, (int64_t)(val - (uint64_t)v->tsc_adjust));
		return true;
	case MSR_BIOS_SIGN_ID:
		return true; /* a microcode update's signature: nothing to load */
	default:
		return false;
	}
}
