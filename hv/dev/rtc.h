/* The PC's CMOS real-time clock, a Motorola MC146818A as every PC chipset still offers it:
 * port 0x70 selects a register (bit 7 of that write masks NMI), port 0x71 reads or writes
 * it; IRQ8.
 *
 *   0x00-0x09  seconds, alarm s, minutes, alarm min, hours, alarm h, day of week (1 =
 *              Sunday), day of month, month, year; BCD or binary, 12 h (bit 7 = PM) or
 *              24 h, per register B. Alarm bytes 0xC0-0xFF match any value.
 *   0x0A       A: UIP (read-only), DV2-0 (010 runs the clock, 11x holds the divider in
 *              reset), RS3-0 (periodic rate)
 *   0x0B       B: SET, PIE, AIE, UIE, SQWE, DM (binary), 24/12, DSE
 *   0x0C       C: IRQF, PF, AF, UF (read-only; reading clears it)
 *   0x0D       D: VRT (always 1: the battery is good)
 *   0x0E-0x7F  NVRAM, with the memory sizes a PC BIOS stores, and the century at 0x32
 *
 * The clock is the wall-clock time when the VM was created plus the VM's own clock; the
 * guest sets it as on the chip (SET, then the registers). Register C's flags are set by
 * the updates and periodic ticks between two accesses (computed when the guest looks, or
 * when the platform calls rtc_run() at rtc_next_event()). IRQ8 is IRQF: the line is held
 * from a flag whose interrupt is enabled until the guest reads C, as the chip's IRQ# pin
 * is on a PC; the PIC sees one edge per interrupt. DSE (daylight saving) is kept but has
 * no effect: tern's guests keep UTC. SQWE drives no pin. There is no extended bank at
 * 0x72/0x73. */
#ifndef TERN_DEV_RTC_H
#define TERN_DEV_RTC_H

#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define RTC_PORT_INDEX 0x70
#define RTC_PORT_DATA 0x71
#define RTC_IRQ 8
#define RTC_CMOS_SIZE 128
/* The platform's RAM below 4 GiB ends at 3 GiB at most: the rest of the 32-bit space is
 * the MMIO hole (PCI, I/O APIC, local APIC); RAM beyond that is mapped from 4 GiB. */
#define RTC_LOW_RAM_MAX (3 * GIB)

/* rtc_state.cmos indices other than the clock's registers. */
enum {
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
};

/* dev_warn kinds */
enum { RTC_WARN_DIVIDER, RTC_WARN_TIME, RTC_WARN_READ_ONLY };

struct rtc_state {
	uint64_t unix0;     /* the wall clock (Unix s) when the VM was created, guest ns 0 */
	int64_t offset;     /* seconds the guest moved its clock by (with divider restarts) */
	uint64_t synced_ns; /* register C holds every event up to this guest time */
	uint32_t phase_ns;  /* updates happen at guest ns = phase_ns mod 1 s; 1..1e9 */
	uint8_t index;      /* the selected register */
	uint8_t nmi_masked; /* bit 7 of the last write to port 0x70 */
	uint8_t flags;      /* register C's PF, AF, UF (IRQF follows from them and B) */
	uint8_t wday_adj;   /* the day of week the guest set minus the date's, mod 7 */
	/* Bytes as the guest sees them, except: 0x00-0x09 and 0x32's clock bytes hold the
	 * time only while the clock is stopped (SET, or the divider not running); UIP in A
	 * and all of C and D are 0 (they are computed). */
	uint8_t cmos[RTC_CMOS_SIZE];
};

struct rtc {
	struct rtc_state s;
	struct irq_line irq8;
	struct dev_log *log;
	bool line; /* IRQ8's level as last set */
};

extern const struct vms_desc rtc_vms;

/* Power-on with a BIOS's settings (A = 0x26: 32.768 kHz, 1024 Hz; B = 0x02: BCD, 24 h),
 * the clock at unix_seconds_at_0 when guest time is 0, and the NVRAM's memory sizes for
 * ram_bytes of RAM. */
void rtc_init(struct rtc *r, struct irq_line irq8, struct dev_log *log,
	      uint64_t unix_seconds_at_0, uint64_t ram_bytes, uint64_t now);
/* port is RTC_PORT_INDEX (reads 0xFF: write-only on a PC) or RTC_PORT_DATA. */
uint8_t rtc_read(struct rtc *r, uint16_t port, uint64_t now);
void rtc_write(struct rtc *r, uint16_t port, uint8_t val, uint64_t now);
/* NMI is masked: bit 7 of the last index write. */
bool rtc_nmi_masked(const struct rtc *r);
/* When IRQ8 may next rise (DEV_NEVER: not before the guest's next access). */
uint64_t rtc_next_event(const struct rtc *r);
void rtc_run(struct rtc *r, uint64_t now);
void rtc_restore(struct rtc *r, uint64_t now);

#endif
