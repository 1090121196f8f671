/* Reading the virtual-APIC page and writing the MSR bitmap; see vapic.h. */
#include "vmx/vapic.h"

#define X2APIC_FIRST 0x800u
#define X2APIC_LAST 0x8ffu

static uint32_t reg(const uint32_t *page, unsigned off)
{
	return page[off / 4];
}

int vapic_highest(const uint32_t *page, unsigned base)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = reg(page, base + 16 * (unsigned)i);
		if (w)
			return 32 * i + 31 - __builtin_clz(w);
	}
	return -1;
}

uint16_t vapic_intr_status(const uint32_t *page)
{
	int rvi = vapic_highest(page, VAPIC_IRR), svi = vapic_highest(page, VAPIC_ISR);

	return (uint16_t)((rvi < 0 ? 0 : rvi) | (svi < 0 ? 0 : svi) << 8);
}

void vapic_eoi_exit(const uint32_t *page, uint64_t out[4])
{
	for (unsigned i = 0; i < 4; i++)
		out[i] = reg(page, VAPIC_TMR + 32 * i) |
			 (uint64_t)reg(page, VAPIC_TMR + 32 * i + 16) << 32;
}

uint32_t vapic_tpr_threshold(const uint32_t *page)
{
	int irr = vapic_highest(page, VAPIC_IRR), isr = vapic_highest(page, VAPIC_ISR);
	uint32_t irr_class, tpr_class = (reg(page, VAPIC_TPR) & 0xff) >> 4;

	if (irr < 0)
		return 0;
	irr_class = (uint32_t)irr >> 4;
	/* held back by a vector in service: its EOI exits, and tern looks again then */
	if (isr >= 0 && irr_class <= (uint32_t)isr >> 4)
		return 0;
	return irr_class <= tpr_class ? irr_class : 0;
}

static unsigned bit_of(uint32_t msr, unsigned *byte)
{
	unsigned high = msr >= 0xc0000000u ? 1024 : 0, bit = msr & 0x1fff;

	*byte = high + bit / 8;
	return bit % 8;
}

void msr_bitmap_set(uint8_t *bitmap, uint32_t msr, bool read_exits, bool write_exits)
{
	unsigned byte, bit = bit_of(msr, &byte);
	uint8_t m = (uint8_t)(1u << bit);

	bitmap[byte] = read_exits ? bitmap[byte] | m : bitmap[byte] & (uint8_t)~m;
	byte += 2048;
	bitmap[byte] = write_exits ? bitmap[byte] | m : bitmap[byte] & (uint8_t)~m;
}

bool msr_bitmap_exits(const uint8_t *bitmap, uint32_t msr, bool write)
{
	unsigned byte, bit = bit_of(msr, &byte);

	return bitmap[byte + (write ? 2048 : 0)] & (1u << bit);
}

/* x2APIC registers the CPU reads from the page for the guest (SDM Table 11-6, less the
 * ones vapic.h names), as xAPIC offsets. */
static bool page_readable(unsigned off, bool intr_delivery)
{
	static const uint16_t single[] = { 0x020, 0x030, 0x080, 0x0d0, 0x0f0, 0x280, 0x380,
					   0x3e0 };

	if (off == 0x0a0)
		return intr_delivery; /* PPR: the CPU keeps VPPR only then (SDM 29.1.3) */
	if (off >= VAPIC_ISR && off < VAPIC_IRR + 0x80)
		return true; /* ISR, TMR, IRR */
	if (off >= 0x320 && off <= 0x370)
		return true; /* the six LVT entries */
	for (unsigned i = 0; i < ARRAY_SIZE(single); i++)
		if (off == single[i])
			return true;
	return false;
}

void vapic_x2apic_msrs(uint8_t *bitmap, bool on, bool reg_virt, bool intr_delivery)
{
	for (uint32_t msr = X2APIC_FIRST; msr <= X2APIC_LAST; msr++) {
		unsigned off = (msr - X2APIC_FIRST) * 16;
		bool rd = on && (off == VAPIC_TPR ||
				 (reg_virt && page_readable(off, intr_delivery)));
		bool wr = on && (off == VAPIC_TPR ||
				 (intr_delivery && (off == 0x0b0 || off == 0x3f0)));

		msr_bitmap_set(bitmap, msr, !rd, !wr);
	}
}
