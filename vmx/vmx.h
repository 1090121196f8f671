/* The VT-x backend. The core reaches it only through vmx_backend (hv/backend.h); the
 * rest of this header is for vmx/ itself. */
#ifndef TERN_VMX_H
#define TERN_VMX_H

#include "hv/backend.h"
#include "hv/types.h"

extern const struct hv_backend vmx_backend;

struct vmx_caps {
	bool true_ctls;          /* IA32_VMX_TRUE_*_CTLS present */
	uint32_t revision;       /* VMCS revision identifier */
	uint8_t preemption_rate; /* the timer counts every 2^rate TSC ticks */
	uint64_t ept_vpid_cap;   /* IA32_VMX_EPT_VPID_CAP, raw */
};

/* vmx/cap.c */
void vmx_probe(struct hv_caps *caps);
/* Locks VT-x on in IA32_FEATURE_CONTROL where the firmware left it unlocked, on the
 * calling CPU (the MSR is per CPU); false when it is locked off. */
bool vmx_feature_control(void);
const struct vmx_caps *vmx_caps(void);
/* vmx/vmxon.c */
int vmx_enable(const char **why);
int vmx_cpu_prepare(uint32_t cpu);
int vmx_cpu_enable(uint32_t cpu, const char **why);

#endif
