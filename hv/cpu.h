/* tern's own CPU tables: a GDT with a TSS for each CPU, and the IDT whose handlers
 * report exceptions (one for all CPUs: it never changes after boot). */
#ifndef TERN_CPU_H
#define TERN_CPU_H

#include "hv/types.h"

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18

/* Register state saved by the trap entry stubs (hv/trap_entry.S), lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

/* The 64-bit TSS (SDM 8.7): the stacks for exceptions that can arrive on a broken one. */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;

/* Separate stacks for NMI, #DF and #MC (SDM 6.14.5), IST_COUNT of them per CPU. */
#define IST_STACK_SIZE 8192
#define IST_COUNT 3

/* One CPU's descriptor tables; the TSS descriptor takes two GDT slots (SDM 8.2.3). */
struct cpu_tables {
	uint64_t gdt[5] __attribute__((aligned(16)));
	struct tss tss;
};

/* Fills t for a CPU whose IST stacks are the IST_COUNT * IST_STACK_SIZE bytes at ist,
 * and loads it on the calling CPU (GDT, segments, task register). */
void gdt_load(struct cpu_tables *t, uint8_t *ist);
/* Builds the IDT (the boot CPU, once) and loads it on the calling CPU. */
void idt_init(void);
void idt_load(void);

/* Prints a full register dump for an unexpected exception and halts the CPU. */
__noreturn void trap_fatal(const struct trap_frame *f);

#endif
