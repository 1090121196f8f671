/* tern's own CPU tables: GDT with a TSS, and the IDT whose handlers report exceptions. */
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

void gdt_init(void);
void idt_init(void);

/* Prints a full register dump for an unexpected exception and halts the CPU. */
__noreturn void trap_fatal(const struct trap_frame *f);

#endif
