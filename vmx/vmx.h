/* The VT-x backend's public face. hv/ talks to VT-x only through this header. */
#ifndef TERN_VMX_H
#define TERN_VMX_H

#include "hv/types.h"

struct vmx_caps {
	bool cpu_vmx;        /* CPUID.1:ECX.VMX */
	bool usable;         /* VMX present and allowed by IA32_FEATURE_CONTROL */
	const char *why;     /* when not usable: the reason, for the operator */
	bool true_ctls;      /* IA32_VMX_TRUE_*_CTLS present */
	uint32_t revision;   /* VMCS revision identifier */
	bool ept, vpid, unrestricted, pml, ept_ad, preemption_timer;
	uint8_t preemption_rate; /* the timer counts every 2^rate TSC ticks */
};

/* Reads CPUID and the capability MSRs; when the firmware left IA32_FEATURE_CONTROL
 * unlocked, enables VMX in it and locks it (SDM 23.7). Call once at boot. */
void vmx_probe(void);
const struct vmx_caps *vmx_caps(void);

#endif
