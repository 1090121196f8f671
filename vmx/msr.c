/* Guest MSR accesses. A few MSRs pass straight through (the VMCS or tern's switch code
 * keeps them per guest); the rest exit here and are emulated, or raise #GP as on a CPU
 * that lacks them. */
#include "hv/lib/string.h"
#include "hv/x86.h"
#include "vmx/vcpu.h"
#include "vmx/vmcs.h"

enum {
	MSR_TSC = 0x10,
	MSR_APIC_BASE = 0x1b,
	MSR_FEATURE_CONTROL = 0x3a,
	MSR_BIOS_SIGN_ID = 0x8b,
	MSR_MTRRCAP = 0xfe,
	MSR_SYSENTER_CS = 0x174,
	MSR_SYSENTER_ESP = 0x175,
	MSR_SYSENTER_EIP = 0x176,
	MSR_MISC_ENABLE = 0x1a0,
	MSR_PAT = 0x277,
	MSR_MTRR_DEF_TYPE = 0x2ff,
	MSR_EFER = 0xc0000080,
	MSR_STAR = 0xc0000081,
	MSR_LSTAR = 0xc0000082,
	MSR_CSTAR = 0xc0000083,
	MSR_SFMASK = 0xc0000084,
	MSR_FS_BASE = 0xc0000100,
	MSR_GS_BASE = 0xc0000101,
	MSR_KERNEL_GS_BASE = 0xc0000102,
};

#define APIC_BASE_DEFAULT 0xfee00900ull /* enabled, bootstrap processor */
#define EFER_SCE (1ull << 0)

static void pass(uint8_t *bitmap, uint32_t msr)
{
	unsigned high = msr >= 0xc0000000 ? 1024 : 0, bit = msr & 0x1fff;

	bitmap[high + bit / 8] &= (uint8_t)~(1u << (bit % 8));        /* read */
	bitmap[2048 + high + bit / 8] &= (uint8_t)~(1u << (bit % 8)); /* write */
}

void vmx_msr_bitmap_init(uint8_t *bitmap)
{
	static const uint32_t through[] = {
		MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP, MSR_STAR, MSR_LSTAR,
		MSR_CSTAR,	 MSR_SFMASK,	   MSR_FS_BASE,	     MSR_GS_BASE, MSR_KERNEL_GS_BASE,
	};

	memset(bitmap, 0xff, PAGE_SIZE);
	for (size_t i = 0; i < ARRAY_SIZE(through); i++)
		pass(bitmap, through[i]);
}

bool vmx_msr_read(struct vmx_vcpu *v, uint32_t msr, uint64_t *val)
{
	switch (msr) {
	case MSR_EFER:
		*val = vmcs_read(GUEST_IA32_EFER);
		return true;
	case MSR_PAT:
		*val = vmcs_read(GUEST_IA32_PAT);
		return true;
	case MSR_TSC:
		*val = rdtsc();
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

static bool write_efer(uint64_t val)
{
	uint64_t old = vmcs_read(GUEST_IA32_EFER), allowed = EFER_SCE | EFER_LME | EFER_LMA;

	if (rdmsr(MSR_EFER) & EFER_NXE)
		allowed |= EFER_NXE;
	/* Reserved bits, or LME changed while paging is on (SDM 2.2.1, 10.8.5): #GP. */
	if ((val & ~allowed) ||
	    (((val ^ old) & EFER_LME) && (vmcs_read(CR0_READ_SHADOW) & CR0_PG)))
		return false;
	vmcs_write(GUEST_IA32_EFER, (val & ~EFER_LMA) | (old & EFER_LMA));
	return true;
}

bool vmx_msr_write(struct vmx_vcpu *v, uint32_t msr, uint64_t val)
{
	switch (msr) {
	case MSR_EFER:
		return write_efer(val);
	case MSR_PAT:
		return pat_valid(val) && vmcs_write(GUEST_IA32_PAT, val);
	case MSR_APIC_BASE:
		return val == APIC_BASE_DEFAULT;
	case MSR_MISC_ENABLE:
	case MSR_BIOS_SIGN_ID:
	case MSR_MTRR_DEF_TYPE:
		return true; /* accepted and ignored: no effect a guest could observe here */
	default:
		return false;
	}
}
