#include <stdio.h>
#include <string.h>
#include "hv/calendar.h"
#include "hv/dev/rtc.h"
#include "hv/error.h"
#include "hv/wallclock.h"
#include "tests/unit/stubs.h"

#define S(n) ((uint64_t)(n) * NS_PER_S)
#define T_2024_03_15_134530 1710510330ll /* a Friday */
#define T_1999_12_31_235959 946684799ll
#define T_2099_12_31_235959 4102444799ll
#define T_2024_02_28_235959 1709164799ll
#define T_2024_01_01_120000 1704110400ll

/* IRQ8 as the PIC sees it: the level, and how many times it rose. */
struct line {
	bool level;
	int rises;
	uint64_t calls;
};

static void line_set(void *ctx, unsigned pin, bool level)
{
	struct line *l = ctx;

	assert_int_equal(pin, RTC_IRQ);
	l->rises += level && !l->level;
	l->level = level;
	l->calls++;
}

static struct line irq;
static struct dev_log log;
static char logged[512];

static void log_emit(void *ctx, const char *line)
{
	strncat(logged, line, sizeof(logged) - strlen(logged) - 2);
	strcat(logged, "\n");
}

static void start(struct rtc *r, int64_t unix0, uint64_t ram)
{
	memset(&irq, 0, sizeof(irq));
	memset(&log, 0, sizeof(log));
	logged[0] = 0;
	log.emit = log_emit;
	rtc_init(r, (struct irq_line){ line_set, &irq, RTC_IRQ }, &log, (uint64_t)unix0, ram, 0);
}

static uint8_t rd(struct rtc *r, uint8_t reg, uint64_t now)
{
	rtc_write(r, RTC_PORT_INDEX, reg, now);
	return rtc_read(r, RTC_PORT_DATA, now);
}

static void wr(struct rtc *r, uint8_t reg, uint8_t val, uint64_t now)
{
	rtc_write(r, RTC_PORT_INDEX, reg, now);
	rtc_write(r, RTC_PORT_DATA, val, now);
}

/* The clock's eight bytes: s, min, h, wday, mday, mon, year, century. */
static void clock_bytes(struct rtc *r, uint64_t now, uint8_t out[8])
{
	static const uint8_t regs[8] = { 0, 2, 4, 6, 7, 8, 9, 0x32 };

	for (int i = 0; i < 8; i++)
		out[i] = rd(r, regs[i], now);
}

static void assert_clock(struct rtc *r, uint64_t now, const uint8_t want[8])
{
	uint8_t got[8];

	clock_bytes(r, now, got);
	assert_memory_equal(got, want, 8);
}

/* --- calendar --- */

static void test_calendar_rules(void **state)
{
	assert_false(cal_leap(1900));
	assert_true(cal_leap(2000));
	assert_true(cal_leap(2024));
	assert_false(cal_leap(2023));
	assert_false(cal_leap(2100));
	assert_int_equal(cal_month_days(2024, 2), 29);
	assert_int_equal(cal_month_days(2023, 2), 28);
	assert_int_equal(cal_month_days(2100, 2), 28);
	assert_int_equal(cal_month_days(2000, 2), 29);
	assert_int_equal(cal_month_days(2023, 4), 30);
	assert_int_equal(cal_month_days(2023, 12), 31);
	assert_int_equal(cal_month_days(2023, 13), 0);
	assert_int_equal(cal_weekday(1970, 1, 1), 4);  /* Thursday */
	assert_int_equal(cal_weekday(2000, 1, 1), 6);  /* Saturday */
	assert_int_equal(cal_weekday(2000, 2, 29), 2); /* Tuesday */
	assert_int_equal(cal_weekday(2024, 3, 15), 5); /* Friday */
	assert_int_equal(cal_weekday(2100, 1, 1), 5);  /* Friday */
	assert_int_equal(cal_days(1970, 1, 1), 0);
	assert_int_equal(cal_days(1969, 12, 31), -1);
	assert_int_equal(cal_days(2000, 3, 1), 11017);
}

static void assert_time(int64_t secs, uint32_t y, unsigned mon, unsigned d, unsigned h,
			unsigned min, unsigned s, unsigned wday)
{
	struct cal_time t;

	cal_from_unix(secs, &t);
	assert_int_equal(t.year, y);
	assert_int_equal(t.mon, mon);
	assert_int_equal(t.mday, d);
	assert_int_equal(t.hour, h);
	assert_int_equal(t.min, min);
	assert_int_equal(t.sec, s);
	assert_int_equal(t.wday, wday);
	assert_int_equal(cal_to_unix(&t), secs);
}

static void test_calendar_edges(void **state)
{
	assert_time(0, 1970, 1, 1, 0, 0, 0, 4);
	assert_time(-1, 1969, 12, 31, 23, 59, 59, 3);
	assert_time(T_1999_12_31_235959, 1999, 12, 31, 23, 59, 59, 5);
	assert_time(T_1999_12_31_235959 + 1, 2000, 1, 1, 0, 0, 0, 6);
	assert_time(T_2024_02_28_235959, 2024, 2, 28, 23, 59, 59, 3);
	assert_time(T_2024_02_28_235959 + 1, 2024, 2, 29, 0, 0, 0, 4);
	assert_time(T_2024_02_28_235959 + 86400, 2024, 2, 29, 23, 59, 59, 4);
	assert_time(T_2024_02_28_235959 + 86401, 2024, 3, 1, 0, 0, 0, 5);
	assert_time(T_2099_12_31_235959, 2099, 12, 31, 23, 59, 59, 4);
	assert_time(T_2099_12_31_235959 + 1, 2100, 1, 1, 0, 0, 0, 5);
	/* 2100 is no leap year: February 28th is followed by March 1st */
	assert_time(4107542399ll + 1, 2100, 3, 1, 0, 0, 0, 1);
	assert_time(2147483648ll, 2038, 1, 19, 3, 14, 8, 2);
}

/* Day by day from 1900 to 2500, the conversion agrees with counting days through the
 * months, and the weekday steps by one. */
static void test_calendar_sweep(void **state)
{
	uint32_t y = 1900;
	unsigned m = 1, d = 1, wday = 1; /* 1900-01-01 was a Monday */
	int64_t day = cal_days(1900, 1, 1);
	struct cal_time t;

	for (; y < 2500; day++) {
		cal_from_unix(day * 86400 + 43210, &t);
		if (t.year != y || t.mon != m || t.mday != d || t.wday != wday)
			fail_msg("day %lld: %u-%u-%u wday %u, expected %u-%u-%u wday %u",
				 (long long)day, t.year, t.mon, t.mday, t.wday, y, m, d, wday);
		assert_int_equal(cal_days(y, m, d), day);
		wday = (wday + 1) % 7;
		if (++d > cal_month_days(y, m)) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
}

static void test_cmos_coding(void **state)
{
	struct cmos_clock c = { 0x30, 0x45, 0x13, 0x06, 0x15, 0x03, 0x24, 0x20 };
	struct cal_time t;

	assert_int_equal(cmos_encode_byte(59, 0), 0x59);
	assert_int_equal(cmos_encode_byte(59, CMOS_B_BINARY), 59);
	assert_int_equal(cmos_decode_byte(0x5a, 0), -1);
	assert_int_equal(cmos_decode_byte(0x5a, CMOS_B_BINARY), 0x5a);
	/* 12-hour clock: 12 AM is midnight, 12 PM noon */
	assert_int_equal(cmos_encode_hour(0, 0), 0x12);
	assert_int_equal(cmos_encode_hour(12, 0), 0x92);
	assert_int_equal(cmos_encode_hour(13, 0), 0x81);
	assert_int_equal(cmos_encode_hour(23, CMOS_B_BINARY), 0x80 | 11);
	assert_int_equal(cmos_decode_hour(0x12, 0), 0);
	assert_int_equal(cmos_decode_hour(0x92, 0), 12);
	assert_int_equal(cmos_decode_hour(0x81, 0), 13);
	assert_int_equal(cmos_decode_hour(0x13, 0), -1);
	assert_int_equal(cmos_decode_hour(0x00, 0), -1);
	assert_int_equal(cmos_decode_hour(0x23, CMOS_B_24H), 23);
	assert_int_equal(cmos_decode_hour(0x24, CMOS_B_24H), -1);
	assert_true(cmos_decode(&c, CMOS_B_24H, &t));
	assert_int_equal(cal_to_unix(&t), T_2024_03_15_134530);
	assert_int_equal(t.wday, 5);
	c.mday = 0x31; /* April has no 31st: clamped to the 30th */
	c.mon = 0x04;
	assert_false(cmos_decode(&c, CMOS_B_24H, &t));
	assert_int_equal(t.mday, 30);
}

/* --- wallclock: the host RTC's registers to Unix time --- */

static void test_wallclock_conversion(void **state)
{
	struct cmos_clock bcd24 = { 0x30, 0x45, 0x13, 0x06, 0x15, 0x03, 0x24, 0x20 };
	struct cmos_clock bin12 = { 30, 45, 0x80 | 1, 6, 15, 3, 24, 20 };
	struct cmos_clock c;
	uint64_t t;

	assert_int_equal(wallclock_from_cmos(&bcd24, CMOS_B_24H, &t), 0);
	assert_int_equal(t, T_2024_03_15_134530);
	assert_int_equal(wallclock_from_cmos(&bin12, CMOS_B_BINARY, &t), 0);
	assert_int_equal(t, T_2024_03_15_134530);
	/* 12 AM in BCD is midnight */
	c = bcd24;
	c.hour = 0x12;
	assert_int_equal(wallclock_from_cmos(&c, 0, &t), 0);
	assert_int_equal(t, T_2024_03_15_134530 - 13 * 3600);
	/* a century byte nobody keeps (0x00, 0xFF, 19) means 20xx; 21 is taken */
	c = bcd24;
	c.century = 0x00;
	assert_int_equal(wallclock_from_cmos(&c, CMOS_B_24H, &t), 0);
	assert_int_equal(t, T_2024_03_15_134530);
	c.century = 0xff;
	assert_int_equal(wallclock_from_cmos(&c, CMOS_B_24H, &t), 0);
	assert_int_equal(t, T_2024_03_15_134530);
	c.century = 0x19;
	assert_int_equal(wallclock_from_cmos(&c, CMOS_B_24H, &t), 0);
	assert_int_equal(t, T_2024_03_15_134530);
	c.century = 0x21;
	assert_int_equal(wallclock_from_cmos(&c, CMOS_B_24H, &t), 0);
	assert_int_equal(t, 4866183930ull); /* 2124-03-15 13:45:30 */
	/* a value that is no BCD number */
	c = bcd24;
	c.sec = 0x5a;
	assert_int_equal(wallclock_from_cmos(&c, CMOS_B_24H, &t), -E_RANGE);
	c = bcd24;
	c.mon = 0x13;
	assert_int_equal(wallclock_from_cmos(&c, CMOS_B_24H, &t), -E_RANGE);
}

/* --- the RTC model --- */

static void test_formats(void **state)
{
	struct rtc r;
	const uint8_t bcd24[8] = { 0x30, 0x45, 0x13, 0x06, 0x15, 0x03, 0x24, 0x20 };
	const uint8_t bin24[8] = { 30, 45, 13, 6, 15, 3, 24, 20 };
	const uint8_t bcd12[8] = { 0x30, 0x45, 0x81, 0x06, 0x15, 0x03, 0x24, 0x20 };
	const uint8_t bin12[8] = { 30, 45, 0x81, 6, 15, 3, 24, 20 };

	start(&r, T_2024_03_15_134530, 16 * MIB);
	assert_int_equal(rd(&r, RTC_REG_A, 0), 0x26);
	assert_int_equal(rd(&r, RTC_REG_B, 0), 0x02);
	assert_int_equal(rd(&r, RTC_REG_D, 0), 0x80);
	assert_clock(&r, 0, bcd24);
	wr(&r, RTC_REG_B, 0x06, 0);
	assert_clock(&r, 0, bin24);
	wr(&r, RTC_REG_B, 0x00, 0);
	assert_clock(&r, 0, bcd12);
	wr(&r, RTC_REG_B, 0x04, 0);
	assert_clock(&r, 0, bin12);
	/* noon and midnight in 12 h */
	start(&r, T_2024_01_01_120000, 16 * MIB);
	wr(&r, RTC_REG_B, 0x00, 0);
	assert_int_equal(rd(&r, 4, 0), 0x92);
	start(&r, T_2024_01_01_120000 - 12 * 3600, 16 * MIB);
	wr(&r, RTC_REG_B, 0x00, 0);
	assert_int_equal(rd(&r, 4, 0), 0x12);
}

/* UIP is up for the 244 us before each update; the time changes at the update. */
static void test_update_cycle(void **state)
{
	struct rtc r;

	start(&r, T_2024_03_15_134530, 16 * MIB);
	assert_int_equal(rd(&r, RTC_REG_A, 999755000), 0x26);
	assert_int_equal(rd(&r, 0, 999755000), 0x30);
	assert_int_equal(rd(&r, RTC_REG_A, 999756000), 0xa6);
	assert_int_equal(rd(&r, 0, 999756000), 0x30);
	assert_int_equal(rd(&r, RTC_REG_A, 999999999), 0xa6);
	assert_int_equal(rd(&r, 0, 999999999), 0x30);
	assert_int_equal(rd(&r, RTC_REG_A, S(1)), 0x26);
	assert_int_equal(rd(&r, 0, S(1)), 0x31);
	assert_int_equal(rd(&r, 0, S(30)), 0x00);
	assert_int_equal(rd(&r, 2, S(30)), 0x46);
	/* a guest that waits for UIP to fall reads the new second at once */
	assert_int_equal(rd(&r, RTC_REG_A, S(42) - 1000), 0xa6);
	assert_int_equal(rd(&r, RTC_REG_A, S(42)), 0x26);
	assert_int_equal(rd(&r, 0, S(42)), 0x12);
}

static void test_rollovers(void **state)
{
	struct rtc r;
	const uint8_t y2k[8] = { 0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20 };
	const uint8_t y2100[8] = { 0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00, 0x21 };
	const uint8_t leap[8] = { 0x00, 0x00, 0x00, 0x05, 0x29, 0x02, 0x24, 0x20 };

	start(&r, T_1999_12_31_235959, 16 * MIB);
	assert_int_equal(rd(&r, 9, 0), 0x99);
	assert_int_equal(rd(&r, 0x32, 0), 0x19);
	assert_clock(&r, S(1), y2k);
	start(&r, T_2099_12_31_235959, 16 * MIB);
	assert_clock(&r, S(1), y2100);
	start(&r, T_2024_02_28_235959, 16 * MIB);
	assert_clock(&r, S(1), leap);
}

/* SET stops the updates and clears UIE and UIP; the time written runs from SET's
 * release, its next second coming at the chain's next update. */
static void test_set_and_write(void **state)
{
	struct rtc r;
	const uint8_t set[8] = { 0x00, 0x00, 0x08, 0x01, 0x01, 0x06, 0x30, 0x20 };
	uint8_t want[8];

	start(&r, T_2024_03_15_134530, 16 * MIB);
	wr(&r, RTC_REG_B, 0x12, S(2)); /* UIE */
	wr(&r, RTC_REG_B, 0x92, S(2) + 100);
	assert_int_equal(rd(&r, RTC_REG_B, S(2) + 200), 0x82);
	assert_int_equal(rd(&r, 0, S(5)), 0x32); /* stopped at :32 */
	assert_int_equal(rd(&r, RTC_REG_A, S(6) - 1000), 0x26); /* no UIP while SET */
	/* 2030-06-01 08:00:00, a Saturday the guest calls Sunday (1) */
	for (int i = 0; i < 8; i++)
		wr(&r, (const uint8_t[]){ 0, 2, 4, 6, 7, 8, 9, 0x32 }[i], set[i], S(6));
	assert_clock(&r, S(7), set);
	wr(&r, RTC_REG_B, 0x02, S(7) + NS_PER_S / 3);
	assert_clock(&r, S(8) - 1, set);
	memcpy(want, set, 8);
	want[0] = 0x01;
	assert_clock(&r, S(8), want);
	/* a byte written while the clock runs changes the time from then on */
	wr(&r, 0, 0x45, S(9) + NS_PER_S / 2);
	assert_int_equal(rd(&r, 0, S(10) - 1), 0x45);
	assert_int_equal(rd(&r, 0, S(10)), 0x46);
	assert_int_equal(rd(&r, 2, S(10)), 0x00);
	/* the guest's day of week counts on from its own value: at midnight, Monday */
	want[0] = 0x00;
	want[2] = 0x00;
	want[3] = 0x02;
	want[4] = 0x02;
	assert_clock(&r, S(10) + S(16 * 3600 - 46), want);
	assert_string_equal(logged, "");
	/* an invalid time is taken as the nearest valid one, and said once */
	wr(&r, RTC_REG_B, 0x82, S(60000));
	wr(&r, 0, 0x75, S(60000));
	wr(&r, RTC_REG_B, 0x02, S(60000));
	assert_int_equal(rd(&r, 0, S(60000)), 0x59);
	assert_non_null(strstr(logged, "invalid"));
}

/* Releasing the divider from reset starts a second that ends 500 ms later. */
static void test_divider_reset(void **state)
{
	struct rtc r;

	start(&r, T_2024_03_15_134530, 16 * MIB);
	wr(&r, RTC_REG_A, 0x76, S(1) + 300000000); /* reset at :31.3 */
	assert_int_equal(rd(&r, 0, S(5)), 0x31);
	assert_int_equal(rd(&r, RTC_REG_A, S(5)), 0x76);
	wr(&r, RTC_REG_A, 0x26, S(5) + 100000000);
	assert_int_equal(rd(&r, 0, S(5) + 599999999), 0x31);
	assert_int_equal(rd(&r, RTC_REG_A, S(5) + 599999000), 0xa6);
	assert_int_equal(rd(&r, 0, S(5) + 600000000), 0x32);
	assert_int_equal(rd(&r, 0, S(6) + 600000000), 0x33);
	assert_string_equal(logged, "");
	wr(&r, RTC_REG_A, 0x06, S(7)); /* 4.194304 MHz: no time base on a PC */
	assert_int_equal(rd(&r, 0, S(20)), 0x33);
	assert_non_null(strstr(logged, "divider"));
}

/* Simulates a guest that answers each IRQ8 by reading C, over (from, to]; returns the
 * interrupts and the OR of C's values. */
static int run_guest(struct rtc *r, uint64_t from, uint64_t to, uint8_t *c_seen)
{
	int n = 0;

	(void)from;
	for (;;) {
		uint64_t t = rtc_next_event(r);

		if (t == DEV_NEVER || t > to)
			break;
		rtc_run(r, t);
		if (irq.level) {
			n++;
			*c_seen |= rd(r, RTC_REG_C, t);
			assert_false(irq.level);
		}
	}
	return n;
}

static void test_periodic_rates(void **state)
{
	static const struct {
		uint8_t rs;
		int per_second;
	} rates[] = { { 3, 8192 }, { 6, 1024 }, { 15, 2 }, { 1, 256 }, { 2, 128 }, { 0, 0 } };

	for (unsigned i = 0; i < ARRAY_SIZE(rates); i++) {
		struct rtc r;
		uint8_t c = 0;

		start(&r, T_2024_03_15_134530, 16 * MIB);
		wr(&r, RTC_REG_A, 0x20 | rates[i].rs, 0);
		wr(&r, RTC_REG_B, 0x42, 0); /* PIE */
		assert_int_equal(run_guest(&r, 0, S(1), &c), rates[i].per_second);
		assert_int_equal(irq.rises, rates[i].per_second);
		if (rates[i].per_second) /* IRQF | PF, and UF from the update at 1 s */
			assert_int_equal(c, 0xd0);
	}
}

/* PF is set without PIE (no interrupt), and many missed periods are one interrupt. */
static void test_periodic_flag_and_coalescing(void **state)
{
	struct rtc r;

	start(&r, T_2024_03_15_134530, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0); /* no periodic rate */
	assert_int_equal(rtc_next_event(&r), DEV_NEVER);
	wr(&r, RTC_REG_A, 0x26, 0);
	assert_int_equal(rtc_next_event(&r), DEV_NEVER);
	assert_int_equal(rd(&r, RTC_REG_C, 500000), 0x00);
	assert_int_equal(rd(&r, RTC_REG_C, 1500000), 0x40);
	assert_int_equal(irq.rises, 0);
	wr(&r, RTC_REG_B, 0x42, 1500000);
	assert_int_equal(rtc_next_event(&r), 1953125); /* the second tick: 2 * 976.5625 us */
	rtc_run(&r, S(10));
	assert_int_equal(irq.rises, 1);
	assert_int_equal(rtc_next_event(&r), DEV_NEVER); /* held until C is read */
	rtc_run(&r, S(20));
	assert_int_equal(irq.rises, 1);
	assert_int_equal(rd(&r, RTC_REG_C, S(20)), 0xd0); /* UF: updates went on */
	assert_int_equal(rd(&r, RTC_REG_C, S(20)), 0x00);
}

static void test_update_interrupt(void **state)
{
	struct rtc r;
	uint8_t c = 0;

	start(&r, T_2024_03_15_134530, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	wr(&r, RTC_REG_B, 0x12, 0); /* UIE */
	assert_int_equal(rtc_next_event(&r), S(1));
	assert_int_equal(run_guest(&r, 0, S(5), &c), 5);
	assert_int_equal(c, 0x90); /* IRQF | UF, no AF: the alarm is 00:00:00 */
	/* and each came with the update */
	start(&r, T_2024_03_15_134530, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	wr(&r, RTC_REG_B, 0x12, 0);
	rtc_run(&r, S(1) - 1);
	assert_false(irq.level);
	rtc_run(&r, S(1));
	assert_true(irq.level);
	assert_int_equal(rd(&r, 0, S(1)), 0x31);
}

/* Reading C clears it and lowers IRQ8; enabling an interrupt whose flag is up raises
 * the line, disabling it lowers it. */
static void test_c_read(void **state)
{
	struct rtc r;

	start(&r, T_2024_03_15_134530, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	rtc_run(&r, S(3));
	assert_false(irq.level);
	wr(&r, RTC_REG_B, 0x12, S(3));
	assert_true(irq.level);
	wr(&r, RTC_REG_B, 0x02, S(3));
	assert_false(irq.level);
	wr(&r, RTC_REG_B, 0x12, S(3));
	assert_true(irq.level);
	assert_int_equal(rd(&r, RTC_REG_C, S(3)), 0x90);
	assert_false(irq.level);
	assert_int_equal(rd(&r, RTC_REG_C, S(3)), 0x00);
	wr(&r, RTC_REG_C, 0xff, S(3));
	assert_non_null(strstr(logged, "read-only"));
	assert_int_equal(irq.rises, 2);
}

static void test_alarm(void **state)
{
	struct rtc r;
	uint8_t c = 0;

	/* 12:00:00, alarm at 12:00:05 */
	start(&r, T_2024_01_01_120000, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	wr(&r, 1, 0x05, 0);
	wr(&r, 3, 0x00, 0);
	wr(&r, 5, 0x12, 0);
	wr(&r, RTC_REG_B, 0x22, 0); /* AIE */
	assert_int_equal(run_guest(&r, 0, S(120), &c), 1);
	assert_int_equal(c, 0xb0); /* IRQF | AF | UF */
	start(&r, T_2024_01_01_120000, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	wr(&r, 1, 0x05, 0);
	wr(&r, 3, 0x00, 0);
	wr(&r, 5, 0x12, 0);
	wr(&r, RTC_REG_B, 0x22, 0);
	rtc_run(&r, S(5) - 1);
	assert_false(irq.level);
	rtc_run(&r, S(5));
	assert_true(irq.level);
	/* any second of 12:00: fires at each update until 12:01:00 */
	start(&r, T_2024_01_01_120000 + 57, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	wr(&r, 1, 0xff, 0);
	wr(&r, 3, 0x00, 0);
	wr(&r, 5, 0x12, 0);
	wr(&r, RTC_REG_B, 0x22, 0);
	assert_int_equal(run_guest(&r, 0, S(10), &c), 2);
	/* all three don't-care: every second */
	start(&r, T_2024_01_01_120000, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	wr(&r, 1, 0xc0, 0);
	wr(&r, 3, 0xd5, 0);
	wr(&r, 5, 0xff, 0);
	wr(&r, RTC_REG_B, 0x22, 0);
	assert_int_equal(run_guest(&r, 0, S(10), &c), 10);
	/* in 12-hour binary mode the alarm's hour carries the PM bit: 12:00:03 PM */
	start(&r, T_2024_01_01_120000, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	wr(&r, RTC_REG_B, 0x24, 0);
	wr(&r, 1, 3, 0);
	wr(&r, 3, 0, 0);
	wr(&r, 5, 0x80 | 12, 0);
	rtc_run(&r, S(2));
	assert_false(irq.level);
	rtc_run(&r, S(3));
	assert_true(irq.level);
	/* a day missed at once still finds the alarm: AF without AIE, seen in C */
	start(&r, T_2024_01_01_120000, 16 * MIB);
	wr(&r, RTC_REG_A, 0x20, 0);
	wr(&r, 1, 0x00, 0);
	wr(&r, 3, 0x30, 0);
	wr(&r, 5, 0x03, 0);
	assert_int_equal(rd(&r, RTC_REG_C, S(3600)), 0x10);
	assert_int_equal(rd(&r, RTC_REG_C, S(3 * 86400)), 0x30);
}

static void test_nmi_mask(void **state)
{
	struct rtc r;

	start(&r, T_2024_03_15_134530, 16 * MIB);
	assert_false(rtc_nmi_masked(&r));
	rtc_write(&r, RTC_PORT_INDEX, 0x8f, 0);
	assert_true(rtc_nmi_masked(&r));
	rtc_write(&r, RTC_PORT_DATA, 0x5a, 0);
	assert_int_equal(rd(&r, 0x0f, 0), 0x5a); /* the index was 0x0F */
	assert_false(rtc_nmi_masked(&r));
	assert_int_equal(rtc_read(&r, RTC_PORT_INDEX, 0), 0xff);
	wr(&r, 0x7f, 0xa5, 0);
	assert_int_equal(rd(&r, 0x7f, 0), 0xa5);
}

static void assert_sizes(uint64_t ram, uint16_t ext, uint16_t above16, uint32_t above4g)
{
	struct rtc r;
	unsigned sum = 0;

	start(&r, T_2024_03_15_134530, ram);
	assert_int_equal(rd(&r, 0x15, 0) | rd(&r, 0x16, 0) << 8, 640);
	assert_int_equal(rd(&r, 0x17, 0) | rd(&r, 0x18, 0) << 8, ext);
	assert_int_equal(rd(&r, 0x30, 0) | rd(&r, 0x31, 0) << 8, ext);
	assert_int_equal(rd(&r, 0x34, 0) | rd(&r, 0x35, 0) << 8, above16);
	assert_int_equal(rd(&r, 0x5b, 0) | rd(&r, 0x5c, 0) << 8 | rd(&r, 0x5d, 0) << 16,
			 above4g);
	assert_int_equal(rd(&r, 0x0f, 0), 0);
	assert_int_equal(rd(&r, 0x10, 0), 0);
	assert_int_equal(rd(&r, 0x14, 0), 0x02);
	for (int i = 0x10; i <= 0x2d; i++)
		sum += rd(&r, (uint8_t)i, 0);
	assert_int_equal(rd(&r, 0x2e, 0) << 8 | rd(&r, 0x2f, 0), sum);
}

static void test_nvram_sizes(void **state)
{
	assert_sizes(16 * MIB, 15 * 1024, 0, 0);
	assert_sizes(512 * MIB, 0xffff, (512 - 16) * 16, 0);
	/* 3 GiB below 4 GiB, 2 GiB above */
	assert_sizes(5 * GIB, 0xffff, (3072 - 16) * 16, 2048 * 16);
}

static void test_record(void **state)
{
	struct rtc a, b;
	struct rtc_state bad;
	uint8_t buf[512], again[512];
	uint8_t want[8];
	char err[120];
	size_t n;

	start(&a, T_2024_03_15_134530, 16 * MIB);
	wr(&a, RTC_REG_B, 0x82, S(1));
	wr(&a, 0, 0x10, S(1));
	wr(&a, RTC_REG_B, 0x12, S(1) + 1); /* 13:45:10, UIE */
	wr(&a, 0x40, 0x77, S(1) + 1);
	rtc_write(&a, RTC_PORT_INDEX, 0x80, S(1) + 1);
	rtc_run(&a, S(2));
	assert_true(irq.level);
	clock_bytes(&a, S(4), want);
	rtc_write(&a, RTC_PORT_INDEX, 0x8c, S(4)); /* C selected, NMI masked */
	n = vms_encode(&rtc_vms, &a.s, buf);
	assert_int_equal(n, vms_size(&rtc_vms));

	irq.level = false;
	memset(&b, 0, sizeof(b));
	b.irq8 = (struct irq_line){ line_set, &irq, RTC_IRQ };
	assert_int_equal(vms_decode(&rtc_vms, buf, n, &b.s, err, sizeof(err)), 0);
	assert_int_equal(vms_encode(&rtc_vms, &b.s, again), n);
	assert_memory_equal(buf, again, n);
	rtc_restore(&b, S(4));
	assert_true(irq.level);
	assert_true(rtc_nmi_masked(&b));
	assert_int_equal(rtc_read(&b, RTC_PORT_DATA, S(4)), 0xd0); /* IRQF | PF | UF */
	assert_false(irq.level);
	assert_clock(&b, S(4), want);
	assert_int_equal(want[0], 0x13);
	assert_int_equal(rd(&b, 0x40, S(4)), 0x77);

	bad = a.s;
	bad.index = 0x80;
	n = vms_encode(&rtc_vms, &bad, buf);
	assert_int_equal(vms_decode(&rtc_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "rtc: index = 0x80, above its maximum 0x7f");
	bad = a.s;
	bad.phase_ns = 0;
	n = vms_encode(&rtc_vms, &bad, buf);
	assert_int_equal(vms_decode(&rtc_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "rtc: phase_ns = 0, below its minimum 1");
	bad = a.s;
	bad.phase_ns = NS_PER_S + 1;
	n = vms_encode(&rtc_vms, &bad, buf);
	assert_int_equal(vms_decode(&rtc_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "rtc: phase_ns = 0x3b9aca01, above its maximum 0x3b9aca00");
	bad = a.s;
	bad.flags = 0x08;
	n = vms_encode(&rtc_vms, &bad, buf);
	assert_int_equal(vms_decode(&rtc_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "rtc: flags = 0x8 holds bits other than PF, AF, UF");
	bad = a.s;
	bad.offset = -(1ll << 42);
	n = vms_encode(&rtc_vms, &bad, buf);
	assert_int_equal(vms_decode(&rtc_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_non_null(strstr(err, "rtc: offset = "));
	bad = a.s;
	bad.cmos[RTC_REG_A] |= 0x80;
	n = vms_encode(&rtc_vms, &bad, buf);
	assert_int_equal(vms_decode(&rtc_vms, buf, n, &b.s, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "rtc: cmos holds UIP, C or D, which are computed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calendar_rules),
		cmocka_unit_test(test_calendar_edges),
		cmocka_unit_test(test_calendar_sweep),
		cmocka_unit_test(test_cmos_coding),
		cmocka_unit_test(test_wallclock_conversion),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_update_cycle),
		cmocka_unit_test(test_rollovers),
		cmocka_unit_test(test_set_and_write),
		cmocka_unit_test(test_divider_reset),
		cmocka_unit_test(test_periodic_rates),
		cmocka_unit_test(test_periodic_flag_and_coalescing),
		cmocka_unit_test(test_update_interrupt),
		cmocka_unit_test(test_c_read),
		cmocka_unit_test(test_alarm),
		cmocka_unit_test(test_nmi_mask),
		cmocka_unit_test(test_nvram_sizes),
		cmocka_unit_test(test_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
