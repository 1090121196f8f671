#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/time.h"
#include "hv/wallclock.h"
#include "hv/x86.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_A_UIP 0x80
#define CENTURY_MIN 20
#define CENTURY_MAX 29
/* UIP stays up at most 244 + 1984 us (MC146818A, table 6: tBUC + tUC at 32.768 kHz). */
#define UIP_WAIT_US 10000
#define READ_TRIES 8

static uint64_t boot_unix, boot_us;

int wallclock_from_cmos(const struct cmos_clock *c, uint8_t reg_b, uint64_t *unix_secs)
{
	struct cmos_clock k = *c;
	struct cal_time t;
	int century = cmos_decode_byte(c->century, reg_b);

	if (century < CENTURY_MIN || century > CENTURY_MAX)
		k.century = cmos_encode_byte(CENTURY_MIN, reg_b);
	if (!cmos_decode(&k, reg_b, &t))
		return -E_RANGE;
	*unix_secs = (uint64_t)cal_to_unix(&t); /* year 2000 or later */
	return 0;
}

/* The index byte's bit 7 masks NMI; tern leaves it clear, as the firmware does. */
static uint8_t cmos_in(uint8_t reg)
{
	outb(CMOS_INDEX, reg);
	return inb(CMOS_DATA);
}

static bool uip_wait(void)
{
	uint64_t end = time_now_us() + UIP_WAIT_US;

	while (cmos_in(REG_A) & REG_A_UIP) {
		if (time_now_us() > end)
			return false;
		cpu_relax();
	}
	return true;
}

/* With UIP clear, no update starts for 244 us: time enough to read the eight bytes. */
static void read_clock(struct cmos_clock *c)
{
	c->sec = cmos_in(0x00);
	c->min = cmos_in(0x02);
	c->hour = cmos_in(0x04);
	c->wday = cmos_in(0x06);
	c->mday = cmos_in(0x07);
	c->mon = cmos_in(0x08);
	c->year = cmos_in(0x09);
	c->century = cmos_in(0x32);
}

/* Two reads that agree were not split by an update (nor by an SMI that outlasted the
 * 244 us before one). */
int wallclock_init(void)
{
	struct cmos_clock a, b;

	for (int i = 0; i < READ_TRIES; i++) {
		if (!uip_wait())
			return -E_IO;
		read_clock(&a);
		if (!uip_wait())
			return -E_IO;
		read_clock(&b);
		if (memcmp(&a, &b, sizeof(a)))
			continue;
		boot_us = time_now_us();
		if (wallclock_from_cmos(&b, cmos_in(REG_B), &boot_unix)) {
			boot_unix = 0;
			return -E_IO;
		}
		return 0;
	}
	return -E_IO;
}

uint64_t wallclock_now(void)
{
	return boot_unix + (time_now_us() - boot_us) / 1000000;
}
