#include "hv/cpuid.h"
#include "hv/hv.h"
#include "hv/lib/string.h"

/* CPUID.1:ECX bits (SDM Vol. 2A, Table 3-10) */
#define ECX_MONITOR (1u << 3)
#define ECX_DS_CPL (1u << 4)
#define ECX_VMX (1u << 5)
#define ECX_SMX (1u << 6)
#define ECX_EST (1u << 7)
#define ECX_TM2 (1u << 8)
#define ECX_PDCM (1u << 15)
#define ECX_X2APIC (1u << 21)
#define ECX_TSC_DEADLINE (1u << 24)
#define ECX_XSAVE (1u << 26)
#define ECX_OSXSAVE (1u << 27)
#define ECX_AVX (1u << 28)
#define ECX_HYPERVISOR (1u << 31)
/* CPUID.7.0:EBX bits that need XSAVE state */
#define EBX7_AVX2 (1u << 5)
#define EBX7_AVX512F (1u << 16)
/* CPUID.80000001h:ECX */
#define ECX_SVM (1u << 2)

#define LEAF_HV_BASE 0x40000000u
#define LEAF_HV_MAX 0x40000001u

void vcpu_cpuid(uint32_t leaf, uint32_t sub, struct cpuid_regs *r)
{
	if (leaf >= LEAF_HV_BASE && leaf < LEAF_HV_BASE + 0x100) {
		*r = (struct cpuid_regs){ 0 };
		if (leaf == LEAF_HV_BASE) {
			r->eax = LEAF_HV_MAX;
			memcpy(&r->ebx, TERN_CPUID_SIGNATURE, 4);
			memcpy(&r->ecx, TERN_CPUID_SIGNATURE + 4, 4);
			memcpy(&r->edx, TERN_CPUID_SIGNATURE + 8, 4);
		} else if (leaf == LEAF_HV_MAX) {
			r->eax = 1; /* interface version */
		}
		return;
	}
	*r = cpuid(leaf, sub);
	switch (leaf) {
	case 1:
		r->ecx &= ~(ECX_MONITOR | ECX_DS_CPL | ECX_VMX | ECX_SMX | ECX_EST | ECX_TM2 |
			    ECX_PDCM | ECX_X2APIC | ECX_TSC_DEADLINE | ECX_XSAVE | ECX_OSXSAVE |
			    ECX_AVX);
		r->ecx |= ECX_HYPERVISOR;
		r->ebx &= 0x00ffffff; /* APIC id 0 */
		break;
	case 7:
		if (sub == 0)
			r->ebx &= ~(EBX7_AVX2 | EBX7_AVX512F);
		break;
	case 0xd: /* XSAVE state enumeration: nothing, since XSAVE is hidden */
		*r = (struct cpuid_regs){ 0 };
		break;
	case 0x80000001:
		r->ecx &= ~ECX_SVM;
		break;
	default:
		break;
	}
}
