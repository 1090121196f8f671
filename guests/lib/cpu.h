/* CPU helpers for guests, 32-bit and 64-bit: CPUID with a subleaf, the TSC, control
 * registers, XCR0, and the interrupt flag. */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include "hv/types.h"

/* CPUID.1 feature bits (SDM 2A, CPUID, tables 3-10 and 3-11) */
#define CPUID1_ECX_X2APIC (1u << 21)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_XSAVE (1u << 26)
#define CPUID1_ECX_AVX (1u << 28)
#define CPUID1_ECX_HYPERVISOR (1u << 31)
#define CPUID1_EDX_TSC (1u << 4)
#define CPUID1_EDX_APIC (1u << 9)
#define CPUID1_EDX_FXSR (1u << 24)
#define CPUID1_EDX_SSE (1u << 25)

#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_NE (1u << 5)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define CR4_OSXSAVE (1u << 18)

#define CPUID_HV_BASE 0x40000000u /* hypervisor leaves; EBX:ECX:EDX = signature */
#define CPUID_HV_TIMING 0x40000010u /* EAX = TSC kHz, EBX = LAPIC timer kHz */

struct cpuid_regs {
	uint32_t a, b, c, d;
};

static inline struct cpuid_regs cpuid_sub(uint32_t leaf, uint32_t sub)
{
	struct cpuid_regs r;

	asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
	return r;
}

/* Highest basic leaf */
static inline uint32_t cpuid_max(void)
{
	return cpuid_sub(0, 0).a;
}

/* Highest hypervisor leaf, 0 without a hypervisor: the 0x40000000 range is only
 * defined when CPUID.1:ECX[31] says one is there (real CPUs answer it with the data of
 * their highest basic leaf). */
static inline uint32_t cpuid_hv_max(void)
{
	if (!(cpuid_sub(1, 0).c & CPUID1_ECX_HYPERVISOR))
		return 0;
	return cpuid_sub(CPUID_HV_BASE, 0).a;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline unsigned long read_cr0(void)
{
	unsigned long v;

	asm volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void write_cr0(unsigned long v)
{
	asm volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline unsigned long read_cr4(void)
{
	unsigned long v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void write_cr4(unsigned long v)
{
	asm volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static inline uint64_t xgetbv(uint32_t index)
{
	uint32_t lo, hi;

	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(index));
	return ((uint64_t)hi << 32) | lo;
}

static inline void xsetbv(uint32_t index, uint64_t v)
{
	asm volatile("xsetbv" : : "c"(index), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void irq_enable(void)
{
	asm volatile("sti" : : : "memory");
}

static inline void irq_disable(void)
{
	asm volatile("cli" : : : "memory");
}

#endif
