/* 32-bit IDT: one interrupt gate per exception, all into trap_handler. Faults inside
 * probe_insn() resume at its recovery point; anything else ends the guest. The table
 * has room for all 256 vectors; irq.c fills 32-255 for guests that take interrupts
 * (an interrupt through an empty gate raises #NP, SDM 3A, 6.12.1). */
#include "guests/lib/guest.h"
#include "guests/lib/probe.h"
#include "guests/lib/segments.h"
#include "guests/lib/trap.h"

#define STUB_SIZE 16        /* trap_entry.S aligns each stub to this */
#define GATE_INTR32 0x8e00  /* present, DPL 0, 32-bit interrupt gate */

struct gate {
	uint16_t off_lo, sel, type, off_hi;
} __packed;

/* pusha order, then what the stub and the CPU push */
struct trap_frame {
	uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
};

extern char trap_stubs[];
void trap_init(void);
void trap_handler(struct trap_frame *f);

/* Armed by probe_insn() (trap_entry.S) */
uint32_t probe_eip, probe_esp;
int probe_vector;

static struct gate idt[NR_VECTORS] __attribute__((aligned(8)));

void idt_set_gate(int vector, uintptr_t handler)
{
	idt[vector] = (struct gate){ handler & 0xffff, SEL_CODE32, GATE_INTR32, handler >> 16 };
}

void trap_init(void)
{
	struct {
		uint16_t limit;
		uint32_t base;
	} __packed desc = { sizeof(idt) - 1, (uint32_t)idt };

	for (int v = 0; v < NR_EXCEPTIONS; v++)
		idt_set_gate(v, (uintptr_t)trap_stubs + v * STUB_SIZE);
	asm volatile("lidt %0" : : "m"(desc));
}

void trap_handler(struct trap_frame *f)
{
	if (probe_eip) {
		probe_vector = f->vector;
		f->eip = probe_eip;
		probe_eip = 0;
		return;
	}
	unexpected_exception(f->vector, f->eip, f->error, read_cr2());
}
