/* What every device model of the guest platform shares: interrupt lines, guest time,
 * and a way to report a guest's misprogramming once.
 *
 * A device model is pure C over its own state: it knows nothing of VT-x or of the VM
 * around it. It is reached through its register accessors (port or MMIO offset), it
 * raises and lowers interrupt lines through struct irq_line, it is told the guest's
 * time as an argument (`now`, nanoseconds of the VM's clock, which never goes
 * backwards and continues across pauses and migrations), and a timer device says
 * when its next event is due (`*_next_event()`, DEV_NEVER when none) and fires what is
 * due when the platform calls its `*_run(now)`. So every model is unit-tested hosted. */
#ifndef TERN_DEV_H
#define TERN_DEV_H

#include "hv/types.h"

#define DEV_NEVER UINT64_MAX /* no event pending */
#define NS_PER_S 1000000000ull

/* One wire from a device to an interrupt controller input (a PIC pin, an I/O APIC pin,
 * a local APIC LINT): set(ctx, pin, level). ISA devices pulse it for an edge. */
struct irq_line {
	void (*set)(void *ctx, unsigned pin, bool level);
	void *ctx;
	unsigned pin;
};

static inline void irq_set(const struct irq_line *l, bool level)
{
	if (l->set)
		l->set(l->ctx, l->pin, level);
}

static inline void irq_pulse(const struct irq_line *l)
{
	irq_set(l, true);
	irq_set(l, false);
}

/* Misprogramming (a PIT count of 0 is not one, an LVT vector below 16 is) gets what the
 * hardware does, plus one line in tern's log per kind of mistake and device, so a
 * hostile guest cannot flood the log. kind is a bit number below 32 the device picks. */
struct dev_log {
	void (*emit)(void *ctx, const char *line);
	void *ctx;
	uint32_t said; /* kinds already reported */
};

void dev_warn(struct dev_log *l, unsigned kind, const char *fmt, ...) __printf(3, 4);

/* a * b / c with a 128-bit intermediate (MUL, DIV: no libgcc call in tern); c > 0.
 * UINT64_MAX when the quotient does not fit in 64 bits. */
static inline uint64_t dev_muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t hi, lo, q, r;

	asm("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "rm"(b) : "cc");
	if (hi >= c)
		return UINT64_MAX;
	asm("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(c) : "cc");
	return q;
}

#endif
