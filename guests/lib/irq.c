#include "guests/lib/guest.h"
#include "guests/lib/cpu.h"
#include "guests/lib/irq.h"
#include "guests/lib/trap.h"

#define IRQ_STUB_SIZE 16 /* irq_entry.S aligns each stub to this */

extern char irq_stubs[];
void irq_dispatch(uint32_t vector);

volatile struct irq_stats irq_stats;
static irq_fn handlers[NR_VECTORS];

void irq_init(void)
{
	for (int v = IRQ_FIRST_VECTOR; v < NR_VECTORS; v++)
		idt_set_gate(v, (uintptr_t)irq_stubs + (v - IRQ_FIRST_VECTOR) * IRQ_STUB_SIZE);
}

void irq_set_handler(uint32_t vector, irq_fn fn)
{
	EXPECT(vector >= IRQ_FIRST_VECTOR && vector < NR_VECTORS);
	handlers[vector] = fn;
}

void irq_dispatch(uint32_t vector)
{
	irq_stats.taken++;
	if (handlers[vector]) {
		handlers[vector](vector);
		return;
	}
	/* Nobody asked for it, so nobody knows whom to acknowledge: count and go on. */
	irq_stats.unhandled++;
	irq_stats.last_unhandled = vector;
}

bool irq_halt(void)
{
	uint32_t before = irq_stats.taken;
	uint64_t t0 = rdtsc();

	/* STI delays interrupt recognition until after the next instruction (SDM 2B,
	 * STI), so one arriving between the caller's check and HLT wakes the HLT
	 * instead of being taken before it and leaving us asleep. */
	asm volatile("sti; hlt; cli" : : : "memory");
	irq_stats.halted_tsc += rdtsc() - t0;
	irq_stats.wakeups++;
	if (irq_stats.taken != before)
		return true;
	irq_stats.empty_wakeups++;
	return false;
}
