/* The CPU model guests see (hv/cpu_model.h), built from the host's CPUID: what tern
 * virtualizes and nothing else (no VT-x, SMX, MONITOR, performance counters, machine
 * checks, thermal or power controls, AVX-512 or compacted XSAVE), plus the hypervisor
 * bit, tern's leaves and the TSC rate. Pure: the host's CPUID is a callback, so the
 * model is tested hosted. */
#ifndef TERN_CPUID_H
#define TERN_CPUID_H

#include "hv/cpu_model.h"
#include "hv/x86.h"

#define TERN_CPUID_SIGNATURE "TernTernTern"
#define CPUID_HV_BASE 0x40000000u
#define CPUID_HV_TIMING 0x40000010u /* EAX: TSC kHz, EBX: local APIC timer kHz */
#define LAPIC_TIMER_HZ 1000000000ull  /* the local APIC timer's clock (the "crystal") */

typedef struct cpuid_regs (*cpuid_fn)(uint32_t leaf, uint32_t sub);

/* What depends on the vCPU's state when it executes CPUID. */
struct cpuid_dyn {
	bool osxsave;     /* CR4.OSXSAVE */
	bool apic_on;     /* IA32_APIC_BASE global enable */
	uint64_t xcr0;
	uint32_t apic_id;
};

void cpu_model_build(struct cpu_model *m, cpuid_fn host, uint64_t tsc_hz);
void cpu_model_query(const struct cpu_model *m, uint32_t leaf, uint32_t sub,
		     const struct cpuid_dyn *d, struct cpuid_regs *out);
/* 0 when this host's CPU can give everything model m offers, its TSC rate included
 * (host_tsc_hz: this CPU's); else -E_NOSUP with the first thing missing named in err (a
 * migration target checks the source's model). */
int cpu_model_check_host(const struct cpu_model *m, cpuid_fn host, uint64_t host_tsc_hz,
			 char *err, size_t err_size);

/* The host's own CPUID, for the callbacks above. */
struct cpuid_regs cpuid_host(uint32_t leaf, uint32_t sub);

#endif
