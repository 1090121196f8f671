/* The CPU model guests see: the host's, less what tern does not virtualize (VT-x, SMX,
 * XSAVE, x2APIC, MONITOR...), plus the hypervisor bit and tern's leaves. */
#ifndef TERN_CPUID_H
#define TERN_CPUID_H

#include "hv/x86.h"

#define TERN_CPUID_SIGNATURE "TernTernTern"

void vcpu_cpuid(uint32_t leaf, uint32_t sub, struct cpuid_regs *r);

#endif
