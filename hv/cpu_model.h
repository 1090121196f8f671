/* The CPU a VM sees: every CPUID leaf it can read, and the TSC rate those leaves state.
 * A VM keeps its model for life, across migrations (the target checks at reservation
 * that its own CPU can give every feature the model offers), so what a guest learned at
 * boot stays true. The architecture's rules (hv/x86_rules.h) ask the model which
 * features exist: a CR4 bit, an EFER bit or an XCR0 component is valid only when the
 * model offers it. */
#ifndef TERN_CPU_MODEL_H
#define TERN_CPU_MODEL_H

#include "hv/types.h"

#define CPU_MODEL_LEAVES 64
/* The guest TSC rates a model may state: emulators run theirs at some MHz, hardware at
 * some GHz. Outside these a model is taken for garbage (and 0 would divide by zero). */
#define CPU_MODEL_TSC_HZ_MIN 1000000ull
#define CPU_MODEL_TSC_HZ_MAX 100000000000ull

struct cpuid_entry {
	uint32_t leaf, sub; /* sub is 0 for leaves without subleaves */
	uint32_t eax, ebx, ecx, edx;
};

struct cpu_model {
	uint32_t nr;
	struct cpuid_entry e[CPU_MODEL_LEAVES];
	uint64_t tsc_hz; /* the guest's TSC rate, as leaves 0x15 and 0x40000010 state it */
};

/* A feature: where CPUID reports it. */
enum cpu_reg { CPU_EAX, CPU_EBX, CPU_ECX, CPU_EDX };
#define CPU_FEATURE(leaf, sub, reg, bit) \
	((uint64_t)(leaf) << 32 | (uint64_t)(sub) << 16 | (uint64_t)(reg) << 8 | (bit))

#define F_PSE CPU_FEATURE(1, 0, CPU_EDX, 3)
#define F_TSC CPU_FEATURE(1, 0, CPU_EDX, 4)
#define F_MSR CPU_FEATURE(1, 0, CPU_EDX, 5)
#define F_PAE CPU_FEATURE(1, 0, CPU_EDX, 6)
#define F_APIC CPU_FEATURE(1, 0, CPU_EDX, 9)
#define F_SEP CPU_FEATURE(1, 0, CPU_EDX, 11)
#define F_MTRR CPU_FEATURE(1, 0, CPU_EDX, 12)
#define F_PGE CPU_FEATURE(1, 0, CPU_EDX, 13)
#define F_PAT CPU_FEATURE(1, 0, CPU_EDX, 16)
#define F_FXSR CPU_FEATURE(1, 0, CPU_EDX, 24)
#define F_SSE CPU_FEATURE(1, 0, CPU_EDX, 25)
#define F_SSE2 CPU_FEATURE(1, 0, CPU_EDX, 26)
#define F_VME CPU_FEATURE(1, 0, CPU_EDX, 1)
#define F_DE CPU_FEATURE(1, 0, CPU_EDX, 2)
#define F_MCE CPU_FEATURE(1, 0, CPU_EDX, 7)
#define F_PCID CPU_FEATURE(1, 0, CPU_ECX, 17)
#define F_X2APIC CPU_FEATURE(1, 0, CPU_ECX, 21)
#define F_TSC_DEADLINE CPU_FEATURE(1, 0, CPU_ECX, 24)
#define F_XSAVE CPU_FEATURE(1, 0, CPU_ECX, 26)
#define F_AVX CPU_FEATURE(1, 0, CPU_ECX, 28)
#define F_HYPERVISOR CPU_FEATURE(1, 0, CPU_ECX, 31)
#define F_FSGSBASE CPU_FEATURE(7, 0, CPU_EBX, 0)
#define F_SMEP CPU_FEATURE(7, 0, CPU_EBX, 7)
#define F_INVPCID CPU_FEATURE(7, 0, CPU_EBX, 10)
#define F_SMAP CPU_FEATURE(7, 0, CPU_EBX, 20)
#define F_UMIP CPU_FEATURE(7, 0, CPU_ECX, 2)
#define F_LA57 CPU_FEATURE(7, 0, CPU_ECX, 16)
#define F_SYSCALL CPU_FEATURE(0x80000001u, 0, CPU_EDX, 11)
#define F_NX CPU_FEATURE(0x80000001u, 0, CPU_EDX, 20)
#define F_PAGE1GB CPU_FEATURE(0x80000001u, 0, CPU_EDX, 26)
#define F_RDTSCP CPU_FEATURE(0x80000001u, 0, CPU_EDX, 27)
#define F_LM CPU_FEATURE(0x80000001u, 0, CPU_EDX, 29)
#define F_INVARIANT_TSC CPU_FEATURE(0x80000007u, 0, CPU_EDX, 8)

/* The entry for (leaf, sub), or NULL when the model has none (a guest then reads
 * zeros, as for a leaf above the maximum). */
const struct cpuid_entry *cpu_model_find(const struct cpu_model *m, uint32_t leaf, uint32_t sub);
/* Adds or replaces an entry; false when the table is full. */
bool cpu_model_set(struct cpu_model *m, uint32_t leaf, uint32_t sub, uint32_t eax, uint32_t ebx,
		   uint32_t ecx, uint32_t edx);
bool cpu_has(const struct cpu_model *m, uint64_t feature);
/* 0 when m is a model tern can run a VM on: at most CPU_MODEL_LEAVES entries, none for
 * the same (leaf, subleaf) twice, leaf 0 present (it bounds the others), tsc_hz within
 * the limits above. Else -E_INVAL with the reason in err. For a model from elsewhere (a
 * migration's source); whether this CPU can give its features is cpu_model_check_host. */
int cpu_model_valid(const struct cpu_model *m, char *err, size_t err_size);
/* The XCR0 components the model offers (leaf 0xD.0 EDX:EAX; x87 alone without XSAVE). */
uint64_t cpu_xcr0_mask(const struct cpu_model *m);
/* Physical-address width (leaf 0x80000008 EAX[7:0]; 36 when absent). */
unsigned cpu_maxphyaddr(const struct cpu_model *m);
/* Linear-address width: 57 with LA57, else 48. */
unsigned cpu_maxlinaddr(const struct cpu_model *m);

#endif
