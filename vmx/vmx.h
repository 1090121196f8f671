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
const struct vmx_caps *vmx_caps(void);
/* vmx/vmxon.c */
int vmx_enable(const char **why);

#endif
