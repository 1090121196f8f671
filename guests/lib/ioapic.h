/* The I/O APIC at the platform's fixed address (82093AA datasheet): an index register
 * and a data window, 64-bit redirection entries from register 0x10. */
#ifndef GUEST_IOAPIC_H
#define GUEST_IOAPIC_H

#include "hv/types.h"

#define IOAPIC_MMIO 0xFEC00000u

/* Redirection entry flags, low word (fixed delivery, physical destination: all 0) */
#define IOAPIC_ACTIVE_LOW (1u << 13)
#define IOAPIC_LEVEL (1u << 15)
#define IOAPIC_MASKED (1u << 16)

uint32_t ioapic_read(uint32_t reg);
void ioapic_write(uint32_t reg, uint32_t val);
/* Number of redirection entries (version register, bits 23:16, plus one) */
unsigned ioapic_pins(void);
/* Sends pin to vector at the LAPIC with APIC ID dest (8 bits: physical mode). */
void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest, uint32_t flags);
void ioapic_mask(unsigned pin);

#endif
