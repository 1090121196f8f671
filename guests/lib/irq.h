/* Hardware interrupts for 32-bit guests: vectors 32-255 go to C handlers, and a guest
 * waits for them in HLT. Handlers run with interrupts off (interrupt gates) and must
 * acknowledge their source (PIC or LAPIC EOI) themselves. */
#ifndef GUEST_IRQ_H
#define GUEST_IRQ_H

#include "hv/types.h"

#define IRQ_FIRST_VECTOR 32

typedef void (*irq_fn)(uint32_t vector);

/* What the interrupt path saw; written by handlers, so volatile. */
struct irq_stats {
	uint32_t taken;          /* interrupts dispatched, handled or not */
	uint32_t unhandled;      /* ...on a vector without a handler */
	uint32_t last_unhandled; /* its vector */
	uint32_t wakeups;        /* irq_halt() calls that returned */
	uint32_t empty_wakeups;  /* ...without an interrupt having been taken */
	uint64_t halted_tsc;     /* TSC cycles spent inside irq_halt() */
};

extern volatile struct irq_stats irq_stats;

/* Fills IDT gates 32-255; every vector starts unhandled (counted, nothing else). */
void irq_init(void);
void irq_set_handler(uint32_t vector, irq_fn fn);
/* Called with interrupts off, after the caller found nothing to do: enables them and
 * halts until one arrives, then disables them again. Returns whether an interrupt was
 * taken meanwhile. */
bool irq_halt(void);

#endif
