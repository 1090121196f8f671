#include "hv/backend.h"
#include "hv/msr.h"
#include "hv/vcpu.h"
#include "hv/x86.h"

#define APIC_BASE_DEFAULT 0xfee00900ull /* enabled, bootstrap processor */
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	switch (msr) {
	case MSR_EFER:
		*val = hv_backend()->get_sreg(v, SREG_EFER);
		return true;
	case MSR_PAT:
		*val = hv_backend()->get_sreg(v, SREG_PAT);
		return true;
	case MSR_TSC:
		*val = rdtsc() + (uint64_t)v->tsc_offset;
		return true;
	case MSR_APIC_BASE:
		*val = APIC_BASE_DEFAULT;
		return true;
	case MSR_FEATURE_CONTROL:
		*val = 1; /* locked, VMX off: what a CPU without VT-x shows */
		return true;
	case MSR_MISC_ENABLE:
		*val = 1; /* fast strings */
		return true;
	case MSR_BIOS_SIGN_ID:
	case MSR_MTRRCAP:
	case MSR_MTRR_DEF_TYPE:
		*val = 0;
		return true;
	default:
		return false;
	}
}

static bool pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		uint8_t t = (pat >> (8 * i)) & 0xff;
		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

static bool write_efer(struct vcpu *v, uint64_t val)
{
	const struct hv_backend *b = hv_backend();
	uint64_t old = b->get_sreg(v, SREG_EFER), allowed = EFER_SCE | EFER_LME | EFER_LMA;

	if (rdmsr(MSR_IA32_EFER) & EFER_NXE)
		allowed |= EFER_NXE;
	/* Reserved bits, or LME changed while paging is on (SDM 2.2.1, 10.8.5): #GP. */
	if ((val & ~allowed) ||
	    (((val ^ old) & EFER_LME) && (b->get_sreg(v, SREG_CR0) & CR0_PG)))
		return false;
	b->set_sreg(v, SREG_EFER, (val & ~EFER_LMA) | (old & EFER_LMA));
	return true;
}

bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	switch (msr) {
	case MSR_EFER:
		return write_efer(v, val);
	case MSR_PAT:
		if (!pat_valid(val))
			return false;
		hv_backend()->set_sreg(v, SREG_PAT, val);
		return true;
	case MSR_APIC_BASE:
		return val == APIC_BASE_DEFAULT;
	case MSR_TSC:
		v->tsc_offset = (int64_t)(val - rdtsc());
		return true;
	case MSR_MISC_ENABLE:
	case MSR_BIOS_SIGN_ID:
	case MSR_MTRR_DEF_TYPE:
		return true; /* accepted and ignored: no effect a guest could observe here */
	default:
		return false;
	}
}
