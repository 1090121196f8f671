/* An 82093AA-style I/O APIC: 24 input pins, each turned into an APIC message by its
 * redirection entry (Intel 82093AA I/O APIC datasheet, 290566-001, section 3).
 *
 * Registers are reached indirectly: IOREGSEL at offset 0x00 selects one, IOWIN at 0x10
 * reads or writes it, both with 32-bit accesses. The EOI register at 0x40 of later
 * I/O APICs (version 0x20) is also there; a guest that trusts the version 0x11 never
 * uses it.
 *
 * A pin's input is the electrical level; the entry's polarity says which level is
 * asserted. Edge-triggered pins send on the edge into the asserted level; level ones
 * send while asserted and set remote IRR until an EOI with their vector. */
#ifndef TERN_IOAPIC_H
#define TERN_IOAPIC_H

#include "hv/dev/apic_msg.h"
#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_SIZE 0x1000u
#define IOAPIC_PINS 24
#define IOAPIC_DEFAULT_ID 1

/* MMIO offsets */
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10
#define IOAPIC_EOI 0x40

/* Register indexes (datasheet 3.1-3.2) */
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDIR 0x10 /* entry n: low half at 0x10 + 2n, high half at 0x11 + 2n */

/* Redirection entry fields (datasheet 3.2.4) */
#define IOAPIC_VECTOR 0xffull
#define IOAPIC_MODE_SHIFT 8
#define IOAPIC_LOGICAL (1ull << 11)
#define IOAPIC_DELIVS (1ull << 12) /* read-only: always idle here */
#define IOAPIC_POLARITY_LOW (1ull << 13)
#define IOAPIC_REMOTE_IRR (1ull << 14) /* read-only */
#define IOAPIC_LEVEL (1ull << 15)
#define IOAPIC_MASKED (1ull << 16)
#define IOAPIC_DEST_SHIFT 56

struct ioapic_state {
	uint64_t redir[IOAPIC_PINS];
	uint32_t pin_level; /* the input pins' electrical levels, one bit each */
	uint8_t regsel;     /* IOREGSEL */
	uint8_t id;         /* bits 27:24 of the ID register */
	uint8_t arb;        /* the arbitration ID, loaded from the ID when it is written */
};

struct ioapic_ops {
	/* Sends a message to the local APICs; false when it names none (logged once). */
	bool (*deliver)(void *ctx, const struct apic_msg *m);
	void *ctx;
};

struct ioapic {
	struct ioapic_state s;
	const struct ioapic_ops *ops;
	struct dev_log *log;
};

/* Reset: ID IOAPIC_DEFAULT_ID, every entry masked, edge, active high. */
void ioapic_init(struct ioapic *io, const struct ioapic_ops *ops, struct dev_log *log);
/* offset within the 4 KiB window; other sizes and offsets are logged once: reads 0
 * writes ignored. */
uint32_t ioapic_read(struct ioapic *io, uint32_t offset, unsigned size);
void ioapic_write(struct ioapic *io, uint32_t offset, unsigned size, uint32_t value);
/* A pin's electrical level; ioapic_irq_line fits struct irq_line (ctx = the ioapic). */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level);
void ioapic_irq_line(void *ctx, unsigned pin, bool level);
/* A local APIC's EOI broadcast: entries with this vector lose their remote IRR, and
 * are sent again if their pin is still asserted. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);
/* s was replaced by a decoded record: nothing is sent until the next input change. */
void ioapic_restore(struct ioapic *io);

extern const struct vms_desc ioapic_vms;

#endif
