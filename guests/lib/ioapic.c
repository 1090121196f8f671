#include "guests/lib/guest.h"
#include "guests/lib/ioapic.h"

#define IOREGSEL 0x00
#define IOWIN 0x10
#define REG_VERSION 0x01
#define REG_REDIR 0x10 /* pin n: 0x10 + 2n (low), 0x11 + 2n (high) */

static volatile uint32_t *reg32(uint32_t off)
{
	return (volatile uint32_t *)(uintptr_t)(IOAPIC_MMIO + off);
}

uint32_t ioapic_read(uint32_t reg)
{
	*reg32(IOREGSEL) = reg;
	return *reg32(IOWIN);
}

void ioapic_write(uint32_t reg, uint32_t val)
{
	*reg32(IOREGSEL) = reg;
	*reg32(IOWIN) = val;
}

unsigned ioapic_pins(void)
{
	return ((ioapic_read(REG_VERSION) >> 16) & 0xff) + 1;
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest, uint32_t flags)
{
	/* Destination first, the low word (vector, unmask) last: the entry never
	 * points an unmasked pin at a half-written destination. */
	ioapic_mask(pin);
	ioapic_write(REG_REDIR + 2 * pin + 1, (uint32_t)dest << 24);
	ioapic_write(REG_REDIR + 2 * pin, vector | flags);
}

void ioapic_mask(unsigned pin)
{
	ioapic_write(REG_REDIR + 2 * pin, ioapic_read(REG_REDIR + 2 * pin) | IOAPIC_MASKED);
}
