/* Guest MSR accesses that exit: emulated here, or #GP as on a CPU that lacks them. The
 * backend lets a few MSRs through untrapped (it keeps them per guest itself). */
#ifndef TERN_MSR_H
#define TERN_MSR_H

#include "hv/types.h"

struct vcpu;

enum {
	MSR_TSC = 0x10,
	MSR_APIC_BASE = 0x1b,
	MSR_FEATURE_CONTROL = 0x3a,
	MSR_TSC_ADJUST = 0x3b,
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

/* false: the guest gets #GP */
bool msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
bool msr_write(struct vcpu *v, uint32_t msr, uint64_t val);

#endif
