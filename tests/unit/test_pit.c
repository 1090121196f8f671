#include <stdio.h>
#include <string.h>
#include "hv/dev/pit.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

static char log_text[2048];
static int log_lines;

static void log_emit(void *ctx, const char *line)
{
	strncat(log_text, line, sizeof(log_text) - strlen(log_text) - 2);
	strcat(log_text, "\n");
	log_lines++;
}

/* IRQ0 as a fake line: counts rising edges, and checks each falls again (a pulse). */
static int pulses;
static bool irq_level;

static void irq0_set(void *ctx, unsigned pin, bool level)
{
	assert_int_equal(pin, 0);
	assert_true(level != irq_level);
	irq_level = level;
	pulses += level;
}

static struct dev_log dlog;
static struct pit pit;

static int setup(void **state)
{
	log_text[0] = 0;
	log_lines = 0;
	pulses = 0;
	irq_level = false;
	dlog = (struct dev_log){ log_emit, NULL, 0 };
	pit_init(&pit, (struct irq_line){ irq0_set, NULL, 0 }, &dlog, 0);
	return 0;
}

/* The first ns of PIT tick k, computed here independently of the model. */
static uint64_t tns(uint64_t k)
{
	return (uint64_t)(((unsigned __int128)k * 1000000000u + 1193181) / 1193182);
}

/* Accesses happen a little into tick k, still within it (a tick is 838 ns). */
static void wr(uint16_t port, uint8_t v, uint64_t k)
{
	pit_write(&pit, port, v, tns(k) + 100);
}

static uint8_t rd(uint16_t port, uint64_t k)
{
	return pit_read(&pit, port, tns(k) + 100);
}

/* A control word and a two-byte count, all within tick k. */
static void program(unsigned ch, uint8_t control, uint16_t count, uint64_t k)
{
	wr(0x43, control, k);
	wr(0x40 + ch, count & 0xff, k);
	wr(0x40 + ch, count >> 8, k);
}

/* The counter-latch command, then LSB and MSB (access mode LSB then MSB). */
static unsigned count_at(unsigned ch, uint64_t k)
{
	unsigned lo, hi;

	wr(0x43, ch << 6, k);
	lo = rd(0x40 + ch, k);
	hi = rd(0x40 + ch, k);
	return lo | hi << 8;
}

/* Read-back of the status alone. */
static uint8_t status_at(unsigned ch, uint64_t k)
{
	wr(0x43, 0xe0 | 2 << ch, k);
	return rd(0x40 + ch, k);
}

/* Two reads, LSB then MSB, in that order. */
static unsigned rd16(uint16_t port, uint64_t k)
{
	unsigned lo = rd(port, k);

	return lo | rd(port, k) << 8;
}

static bool out_at(unsigned ch, uint64_t k)
{
	return status_at(ch, k) >> 7;
}

static bool out2_ns(uint64_t ns)
{
	return pit_read(&pit, 0x61, ns) >> 5 & 1;
}

static void test_clock_and_refresh(void **state)
{
	assert_int_equal(tns(18), 15086); /* 15.085 us */
	assert_int_equal(rd(0x61, 0) & 0x10, 0);
	assert_int_equal(pit_read(&pit, 0x61, tns(18) - 1) & 0x10, 0);
	assert_int_equal(pit_read(&pit, 0x61, tns(18)) & 0x10, 0x10);
	assert_int_equal(rd(0x61, 35) & 0x10, 0x10);
	assert_int_equal(rd(0x61, 36) & 0x10, 0);
	assert_int_equal(rd(0x61, 18 * 1001) & 0x10, 0x10);
	/* the BIOS state: channel 0 square wave at 18.2 Hz, first edge 65536 ticks in */
	assert_int_equal(pit_next_event(&pit), tns(1 + 65536));
	assert_int_equal(status_at(0, 10), 0x80 | 0x36);
	assert_int_equal(status_at(1, 10), 0x80 | 0x34);
	assert_int_equal(status_at(2, 10), 0x80 | 0x40 | 0x36); /* no count yet: null */
}

static void test_mode0(void **state)
{
	program(0, 0x30, 10, 100);
	assert_int_equal(status_at(0, 100), 0x40 | 0x30); /* OUT low, count not yet loaded */
	assert_int_equal(status_at(0, 101), 0x30);
	assert_int_equal(count_at(0, 101), 10);
	assert_int_equal(count_at(0, 105), 6);
	assert_int_equal(count_at(0, 110), 1);
	assert_false(out_at(0, 110));
	assert_int_equal(pit_next_event(&pit), tns(111));
	pit_run(&pit, tns(111) - 1);
	assert_int_equal(pulses, 0);
	pit_run(&pit, tns(111));
	assert_int_equal(pulses, 1);
	assert_int_equal(count_at(0, 111), 0);
	assert_true(out_at(0, 111));
	assert_int_equal(count_at(0, 112), 0xffff); /* it wraps and goes on counting */
	assert_int_equal(count_at(0, 112 + 0x10000), 0xffff);
	assert_true(out_at(0, 112 + 0x10000));
	pit_run(&pit, tns(200000));
	assert_int_equal(pulses, 1);
	assert_int_equal(pit_next_event(&pit), DEV_NEVER);
	/* a new count starts over: OUT low again, no edge for that */
	wr(0x40, 3, 200000);
	assert_false(out_at(0, 200000));
	/* half a count written: counting stopped where it was */
	assert_int_equal(count_at(0, 200002), (10 + 0x40000 - (200000 - 101)) & 0xffff);
	wr(0x40, 0, 200002);
	assert_int_equal(count_at(0, 200003), 3);
	assert_int_equal(pit_next_event(&pit), tns(200006));
}

static void test_mode0_gate(void **state)
{
	wr(0x61, 0x00, 1000);
	program(2, 0xb0, 20, 1000);
	assert_int_equal(count_at(2, 1010), 20); /* loaded, held by the low gate */
	assert_false(rd(0x61, 1010) & 0x20);
	wr(0x61, 0x01, 1010);
	assert_int_equal(count_at(2, 1015), 15);
	wr(0x61, 0x00, 1015);
	assert_int_equal(count_at(2, 1100), 15);
	wr(0x61, 0x01, 1100);
	assert_false(out2_ns(tns(1115) - 1));
	assert_true(out2_ns(tns(1115)));
	/* held after the terminal count: OUT stays high */
	wr(0x61, 0x00, 1120);
	assert_true(rd(0x61, 1200) & 0x20);
	assert_int_equal(count_at(2, 1200), 0xfffb);
	wr(0x61, 0x01, 1200);
	assert_true(rd(0x61, 1300) & 0x20);
	assert_int_equal(count_at(2, 1300), 0xfffb - 100);
	/* half a count written: the gate's rise does not restart counting */
	wr(0x61, 0x00, 2000);
	wr(0x42, 50, 2000);
	wr(0x61, 0x01, 2010);
	assert_int_equal(count_at(2, 2020), 0xfffb - 800);
	assert_false(rd(0x61, 2020) & 0x20);
	wr(0x42, 0, 2020);
	assert_int_equal(count_at(2, 2021), 50);
	assert_int_equal(count_at(2, 2030), 41);
}

/* Linux's pit_calibrate_tsc(): gate on, speaker off, channel 2 in mode 0 with a 10 ms
 * count, then poll port 0x61 bit 5 until OUT2 rises. */
static void test_tsc_calibration(void **state)
{
	const unsigned latch = 1193182 / 100;
	uint64_t w = tns(5000) + 333, t, rise;

	pit_write(&pit, 0x61, (pit_read(&pit, 0x61, w) & ~0x02) | 0x01, w);
	pit_write(&pit, 0x43, 0xb0, w);
	pit_write(&pit, 0x42, latch & 0xff, w);
	pit_write(&pit, 0x42, latch >> 8, w);
	rise = tns(5000 + 1 + latch); /* loaded on the next tick, then latch ticks */
	for (t = w; !(pit_read(&pit, 0x61, t) & 0x20); t += 97)
		assert_true(t < rise);
	assert_true(t >= rise && t - 97 < rise);
	assert_false(out2_ns(rise - 1));
	assert_true(out2_ns(rise));
	assert_int_equal(rise - w, 9999818); /* 11932 ticks, less the write's offset */
	assert_int_equal(log_lines, 0);
}

/* Linux's quick_pit_calibrate(): mode 0 from 0xffff, the MSB read falls every 256
 * ticks (reads LSB then MSB without a latch). */
static void test_quick_calibration_msb(void **state)
{
	wr(0x61, 0x01, 10);
	program(2, 0xb0, 0xffff, 10);
	for (unsigned i = 0; i < 200; i++) {
		uint64_t k = 11 + 256 * i + 7;

		assert_int_equal(rd(0x42, k), 0xff - 7);
		assert_int_equal(rd(0x42, k), 0xff - i);
	}
}

static void test_mode1(void **state)
{
	wr(0x61, 0x00, 2000);
	program(2, 0xb2, 5, 2000);
	assert_true(rd(0x61, 2005) & 0x20);
	assert_int_equal(status_at(2, 2005), 0x80 | 0x40 | 0x32); /* waits for a trigger */
	wr(0x61, 0x01, 2010);
	assert_true(rd(0x61, 2010) & 0x20); /* low on the tick after the trigger */
	assert_false(rd(0x61, 2011) & 0x20);
	assert_int_equal(status_at(2, 2011), 0x32);
	assert_int_equal(count_at(2, 2011), 5);
	wr(0x61, 0x00, 2012); /* the gate's level does not matter */
	assert_int_equal(count_at(2, 2015), 1);
	assert_false(rd(0x61, 2015) & 0x20);
	assert_true(rd(0x61, 2016) & 0x20);
	assert_int_equal(count_at(2, 2017), 0xffff);
	/* retriggered while running: the one-shot starts over */
	wr(0x61, 0x01, 2030);
	wr(0x61, 0x00, 2032);
	wr(0x61, 0x01, 2033);
	assert_false(rd(0x61, 2038) & 0x20);
	assert_true(rd(0x61, 2039) & 0x20);
	/* channel 0's gate is tied high: mode 1 never fires there */
	program(0, 0x32, 5, 3000);
	assert_int_equal(pit_next_event(&pit), DEV_NEVER);
	pit_run(&pit, tns(100000));
	assert_int_equal(pulses, 0);
}

static void test_mode2(void **state)
{
	static const unsigned want[] = { 4, 3, 2, 1, 4, 3 };
	static const bool want_out[] = { 1, 1, 1, 0, 1, 1 };

	program(0, 0x34, 4, 200);
	assert_int_equal(pit_next_event(&pit), tns(205));
	pit_run(&pit, tns(205) - 1);
	assert_int_equal(pulses, 0);
	pit_run(&pit, tns(205));
	assert_int_equal(pulses, 1);
	for (unsigned i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(count_at(0, 201 + i), want[i]);
		assert_int_equal(out_at(0, 201 + i), want_out[i]);
	}
	assert_int_equal(pulses, 1);
	assert_int_equal(pit_next_event(&pit), tns(209));
	pit_run(&pit, tns(209));
	assert_int_equal(pulses, 2);
	/* a new count takes over where the period ends (tick 213) */
	wr(0x40, 6, 210);
	wr(0x40, 0, 210);
	assert_int_equal(count_at(0, 211), 2);
	assert_int_equal(status_at(0, 212) & 0x40, 0x40);
	assert_int_equal(count_at(0, 213), 6);
	assert_int_equal(status_at(0, 213) & 0x40, 0);
	pit_run(&pit, tns(214)); /* the old period's end at 213 was an edge */
	assert_int_equal(pulses, 3);
	assert_int_equal(pit_next_event(&pit), tns(219));
	assert_false(out_at(0, 218));
	assert_int_equal(count_at(0, 218), 1);
	/* mode 6 is mode 2 */
	program(0, 0x3c, 3, 300);
	assert_int_equal(status_at(0, 300) & 0x0e, 0x04);
	assert_int_equal(pit_next_event(&pit), tns(304));
}

static void test_mode2_gate(void **state)
{
	wr(0x61, 0x01, 300);
	program(2, 0xb4, 4, 300);
	assert_int_equal(count_at(2, 303), 2);
	assert_false(rd(0x61, 304) & 0x20);
	wr(0x61, 0x00, 304); /* OUT high at once */
	assert_true(rd(0x61, 304) & 0x20);
	assert_int_equal(count_at(2, 310), 1);
	assert_true(rd(0x61, 310) & 0x20);
	wr(0x61, 0x01, 310); /* the rise reloads */
	assert_int_equal(count_at(2, 311), 4);
	assert_true(rd(0x61, 313) & 0x20);
	assert_false(rd(0x61, 314) & 0x20);
	assert_true(rd(0x61, 315) & 0x20);
}

static void test_mode3(void **state)
{
	static const unsigned even[] = { 6, 4, 2, 6, 4, 2, 6 };
	static const bool even_out[] = { 1, 1, 1, 0, 0, 0, 1 };
	static const unsigned odd[] = { 4, 2, 0, 4, 2, 4 };
	static const bool odd_out[] = { 1, 1, 1, 0, 0, 1 };

	program(0, 0x36, 6, 400);
	for (unsigned i = 0; i < ARRAY_SIZE(even); i++) {
		assert_int_equal(count_at(0, 401 + i), even[i]);
		assert_int_equal(out_at(0, 401 + i), even_out[i]);
	}
	/* a rewritten count waits for the end of the half-period: the high half of the
	 * period from 407 ends at 410, then the low half of 10 runs (5 ticks) */
	wr(0x40, 10, 408);
	wr(0x40, 0, 408);
	assert_int_equal(pit_next_event(&pit), tns(415)); /* not 413, the old period's */
	assert_true(out_at(0, 409));
	assert_int_equal(count_at(0, 409), 2);
	assert_false(out_at(0, 410));
	assert_int_equal(count_at(0, 410), 10);
	assert_false(out_at(0, 414));
	assert_int_equal(pit_next_event(&pit), tns(415));
	assert_true(out_at(0, 415));
	pit_run(&pit, tns(415));
	assert_int_equal(pulses, 2); /* 407 and 415 */

	program(0, 0x36, 5, 500);
	for (unsigned i = 0; i < ARRAY_SIZE(odd); i++) {
		assert_int_equal(count_at(0, 501 + i), odd[i]);
		assert_int_equal(out_at(0, 501 + i), odd_out[i]);
	}
	pit_run(&pit, tns(506));
	/* 425-495 coalesced into one when the control word at 500 caught up, which itself
	 * raised OUT0 from its low half; then 506 */
	assert_int_equal(pulses, 5);
	assert_int_equal(pit_next_event(&pit), tns(511));
	/* mode 7 is mode 3 */
	program(0, 0x3e, 8, 600);
	assert_int_equal(status_at(0, 600) & 0x0e, 0x06);
	assert_false(out_at(0, 605));
}

static void test_mode4(void **state)
{
	program(0, 0x38, 3, 600);
	assert_int_equal(pit_next_event(&pit), tns(605)); /* the strobe's rising end */
	assert_int_equal(count_at(0, 601), 3);
	assert_true(out_at(0, 603));
	assert_false(out_at(0, 604));
	assert_int_equal(count_at(0, 604), 0);
	assert_int_equal(pulses, 0);
	pit_run(&pit, tns(605));
	assert_int_equal(pulses, 1);
	assert_int_equal(pit_next_event(&pit), DEV_NEVER);
	assert_true(out_at(0, 605));
	assert_int_equal(count_at(0, 605), 0xffff);
	/* a count written during the strobe: OUT rises as it loads, and strobes again */
	program(0, 0x38, 3, 700);
	wr(0x40, 5, 704);
	wr(0x40, 0, 704);
	assert_false(out_at(0, 704));
	assert_int_equal(pit_next_event(&pit), tns(705));
	pit_run(&pit, tns(705));
	assert_int_equal(pulses, 2);
	assert_int_equal(pit_next_event(&pit), tns(705 + 5 + 1));
	/* the gate holds the count */
	wr(0x61, 0x00, 700);
	program(2, 0xb8, 3, 700);
	assert_true(rd(0x61, 720) & 0x20);
	wr(0x61, 0x01, 720);
	assert_false(rd(0x61, 723) & 0x20);
	assert_true(rd(0x61, 724) & 0x20);
}

static void test_mode5(void **state)
{
	wr(0x61, 0x00, 700);
	program(2, 0xba, 3, 700);
	assert_true(rd(0x61, 705) & 0x20);
	wr(0x61, 0x01, 710);
	assert_true(rd(0x61, 713) & 0x20);
	assert_false(rd(0x61, 714) & 0x20);
	assert_true(rd(0x61, 715) & 0x20);
	wr(0x61, 0x00, 720);
	wr(0x61, 0x01, 721);
	assert_false(rd(0x61, 725) & 0x20);
}

static void test_access_modes(void **state)
{
	wr(0x61, 0x01, 10);
	wr(0x43, 0x94, 10); /* channel 2, LSB only, mode 2 */
	wr(0x42, 0x34, 10);
	assert_int_equal(rd(0x42, 11), 0x34);
	assert_int_equal(rd(0x42, 12), 0x33); /* each read an LSB: no flip-flop */
	wr(0x43, 0xa4, 20); /* MSB only */
	wr(0x42, 0x12, 20);
	assert_int_equal(rd(0x42, 21), 0x12);
	assert_int_equal(rd(0x42, 21 + 0x100), 0x11);
	assert_int_equal(rd(0x42, 21 + 0x100), 0x11);
	/* LSB then MSB: one flip-flop for reads, one for writes */
	wr(0x43, 0xb4, 1000);
	wr(0x42, 0x00, 1000);
	assert_int_equal(rd(0x42, 1000), 0x2d); /* held 4608 - 979; reads flip on their own */
	wr(0x42, 0x10, 1000);
	assert_int_equal(rd(0x42, 1001), 0x10); /* MSB, the flip-flop's turn */
	assert_int_equal(rd(0x42, 1002), 0xff);
	assert_int_equal(rd(0x42, 1002), 0x0f);
	/* a latched count stays until read whole; a second latch is ignored */
	wr(0x43, 0x80, 1010);
	wr(0x43, 0x80, 1020);
	assert_int_equal(rd(0x42, 1030), 0xf7);
	assert_int_equal(rd(0x42, 1040), 0x0f);
	assert_int_equal(rd(0x42, 1050), 0xcf); /* live again */
	/* the flip-flop now points at the MSB; a control word resets it */
	wr(0x43, 0xb4, 1070);
	wr(0x42, 0x00, 1070);
	wr(0x42, 0x01, 1070);
	assert_int_equal(rd(0x42, 1071), 0x00);
	assert_int_equal(rd(0x42, 1071), 0x01);
}

static void test_read_back(void **state)
{
	wr(0x61, 0x01, 10);
	program(0, 0x34, 1000, 10);
	program(2, 0xb0, 500, 10);
	wr(0x43, 0xc0 | 0x08 | 0x02, 110); /* count and status of channels 0 and 2 */
	assert_int_equal(rd(0x40, 200), 0xb4);
	assert_int_equal(rd16(0x40, 200), 901);
	assert_int_equal(rd(0x42, 200), 0x30);
	assert_int_equal(rd16(0x42, 200), 401);
	/* status alone leaves the count live; a status not yet read is not re-latched */
	wr(0x43, 0xe4, 500); /* channel 1 */
	wr(0x43, 0xe8, 500);
	wr(0x43, 0xe8, 700);
	assert_int_equal(rd(0x42, 800), 0x30); /* OUT2 low at 500; it rose at 511 */
	assert_int_equal(rd16(0x42, 800), 0x10000 - 289);
	assert_int_equal(rd(0x41, 800), 0xb4);
	/* count alone: no status first */
	wr(0x43, 0xd2, 900);
	assert_int_equal(rd16(0x40, 950), 1000 - (900 - 11) % 1000);
	/* null count from the control word until the count reaches the CE */
	wr(0x43, 0x34, 1000);
	assert_int_equal(status_at(0, 1000), 0x40 | 0x80 | 0x34);
	wr(0x40, 5, 1000);
	wr(0x40, 0, 1000);
	assert_int_equal(status_at(0, 1000), 0x40 | 0x80 | 0x34);
	assert_int_equal(status_at(0, 1001), 0x80 | 0x34);
	assert_int_equal(log_lines, 0);
	wr(0x43, 0xe3, 1100); /* reserved bit 0 */
	wr(0x43, 0xe3, 1100);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "reserved"));
}

static void test_bcd(void **state)
{
	wr(0x61, 0x01, 10);
	program(2, 0xb1, 0x0100, 10);
	assert_int_equal(count_at(2, 11), 0x0100);
	assert_int_equal(count_at(2, 12), 0x0099);
	assert_int_equal(count_at(2, 111), 0x0000);
	assert_true(rd(0x61, 111) & 0x20);
	assert_false(rd(0x61, 110) & 0x20);
	assert_int_equal(count_at(2, 112), 0x9999);
	assert_int_equal(status_at(2, 112), 0x80 | 0x31);
	/* 0 is 10000 in BCD */
	program(2, 0xb1, 0, 200);
	assert_int_equal(count_at(2, 201), 0x0000);
	assert_int_equal(count_at(2, 202), 0x9999);
	assert_false(rd(0x61, 201 + 9999) & 0x20);
	assert_true(rd(0x61, 201 + 10000) & 0x20);
	program(0, 0x37, 0, 300);
	assert_int_equal(pit_next_event(&pit), tns(301 + 10000));
	assert_int_equal(count_at(0, 302), 0x9998);
	assert_int_equal(log_lines, 0);
	program(2, 0xb1, 0x00ab, 400);
	program(2, 0xb1, 0x00ab, 500);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "digit above 9"));
}

static void test_count_zero(void **state)
{
	program(0, 0x34, 0, 100);
	assert_int_equal(count_at(0, 101), 0x0000);
	assert_int_equal(count_at(0, 102), 0xffff);
	assert_int_equal(pit_next_event(&pit), tns(101 + 65536));
	program(0, 0x30, 0, 100000);
	assert_int_equal(pit_next_event(&pit), tns(100001 + 65536));
	assert_int_equal(log_lines, 0);
}

static void test_coalescing(void **state)
{
	program(0, 0x34, 100, 1000);
	pit_run(&pit, tns(1001 + 100 * 1000 + 50));
	assert_int_equal(pulses, 1);
	assert_int_equal(pit_next_event(&pit), tns(1001 + 100 * 1001));
	pit_run(&pit, tns(1001 + 100 * 1001) - 1);
	assert_int_equal(pulses, 1);
	pit_run(&pit, tns(1001 + 100 * 1001));
	assert_int_equal(pulses, 2);
	/* a write catches up first: the edges due by then come before the reprogramming */
	wr(0x43, 0x30, 1001 + 100 * 1005);
	assert_int_equal(pulses, 3);
}

/* A control word that raises OUT0 is an edge on IRQ0, as on the wire. */
static void test_control_word_edge(void **state)
{
	program(0, 0x30, 1000, 100);
	assert_int_equal(pulses, 0);
	wr(0x43, 0x34, 200);
	assert_int_equal(pulses, 1);
	wr(0x43, 0x30, 300);
	wr(0x43, 0x30, 301);
	assert_int_equal(pulses, 1);
}

static void test_port_b(void **state)
{
	wr(0x61, 0xff, 1);
	assert_int_equal(rd(0x61, 1) & 0x0f, 0x0f);
	assert_int_equal(rd(0x61, 1) & 0xc0, 0);
	wr(0x61, 0xf0, 2);
	assert_int_equal(rd(0x61, 2) & 0x0f, 0);
	assert_int_equal(log_lines, 0);
	assert_int_equal(pit_read(&pit, 0x44, 0), 0xff);
	pit_write(&pit, 0x60, 0, 0);
	assert_int_equal(log_lines, 1);
	assert_int_equal(rd(0x43, 3), 0xff);
}

static void test_warnings(void **state)
{
	program(0, 0x34, 1, 10);
	program(2, 0xb4, 1, 20);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "count 1 is illegal in mode 2"));
	assert_int_equal(pit_next_event(&pit), DEV_NEVER); /* OUT stays low */
	pit_run(&pit, tns(1000));
	assert_int_equal(pulses, 0);
}

static void test_state_round_trip(void **state)
{
	static int other_pulses;
	struct pit b;
	uint8_t buf[512], again[512];
	char err[120];
	size_t n;

	wr(0x61, 0x01, 10);
	program(0, 0x36, 1000, 10);
	wr(0x40, 0x20, 600); /* a rewrite pending at the half-period */
	wr(0x40, 0x03, 600);
	program(2, 0xb0, 3000, 700);
	wr(0x43, 0x80, 800); /* a latched count, half read */
	rd(0x42, 800);
	n = vms_encode(&pit_vms, &pit.s, buf);
	assert_int_equal(n, vms_size(&pit_vms));

	pit_init(&b, (struct irq_line){ NULL, &other_pulses, 0 }, &dlog, tns(900));
	assert_int_equal(vms_decode(&pit_vms, buf, n, &b.s, err, sizeof(err)), 0);
	pit_restore(&b, tns(900));
	assert_int_equal(vms_encode(&pit_vms, &b.s, again), n);
	assert_memory_equal(buf, again, n);
	assert_int_equal(pit_next_event(&b), pit_next_event(&pit));
	assert_int_equal(pit_next_event(&b), tns(1011));
	for (uint64_t k = 900; k < 5000; k += 333) {
		assert_int_equal(pit_read(&b, 0x42, tns(k)), pit_read(&pit, 0x42, tns(k)));
		assert_int_equal(pit_read(&b, 0x61, tns(k)), pit_read(&pit, 0x61, tns(k)));
		pit_write(&b, 0x43, 0x00, tns(k));
		pit_write(&pit, 0x43, 0x00, tns(k));
		assert_int_equal(pit_read(&b, 0x40, tns(k)), pit_read(&pit, 0x40, tns(k)));
		assert_int_equal(pit_read(&b, 0x40, tns(k)), pit_read(&pit, 0x40, tns(k)));
		assert_int_equal(pit_next_event(&b), pit_next_event(&pit));
	}
}

static void expect_refused(const struct pit_state *s, const char *want)
{
	struct pit_state out;
	uint8_t buf[512];
	char err[120];
	size_t n = vms_encode(&pit_vms, s, buf);

	assert_int_equal(vms_decode(&pit_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, want);
}

static void test_bad_records(void **state)
{
	struct pit_state s;

	s = pit.s;
	s.ch[1].mode = 7;
	expect_refused(&s, "pit: ch[].mode[1] = 0x7, above its maximum 0x5");
	s = pit.s;
	s.ch[0].n = 0;
	expect_refused(&s, "pit: ch[].n[0] = 0, outside 1..65536");
	s = pit.s;
	s.ch[0].bcd = 1; /* 65536 is no BCD count */
	expect_refused(&s, "pit: ch[].n[0] = 65536, outside 1..10000");
	s = pit.s;
	s.ch[2].gate = 1;
	expect_refused(&s, "pit: ch[].gate[2] = 1, but it is wired to 0");
	s = pit.s;
	s.ch[0].run = PIT_WAIT;
	expect_refused(&s, "pit: ch[].run[0] = 1 (trigger) in mode 3");
	s = pit.s;
	s.ch[1].access = 0;
	expect_refused(&s, "pit: ch[].access[1] = 0, which is the latch command");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_clock_and_refresh, setup),
		cmocka_unit_test_setup(test_mode0, setup),
		cmocka_unit_test_setup(test_mode0_gate, setup),
		cmocka_unit_test_setup(test_tsc_calibration, setup),
		cmocka_unit_test_setup(test_quick_calibration_msb, setup),
		cmocka_unit_test_setup(test_mode1, setup),
		cmocka_unit_test_setup(test_mode2, setup),
		cmocka_unit_test_setup(test_mode2_gate, setup),
		cmocka_unit_test_setup(test_mode3, setup),
		cmocka_unit_test_setup(test_mode4, setup),
		cmocka_unit_test_setup(test_mode5, setup),
		cmocka_unit_test_setup(test_access_modes, setup),
		cmocka_unit_test_setup(test_read_back, setup),
		cmocka_unit_test_setup(test_bcd, setup),
		cmocka_unit_test_setup(test_count_zero, setup),
		cmocka_unit_test_setup(test_coalescing, setup),
		cmocka_unit_test_setup(test_control_word_edge, setup),
		cmocka_unit_test_setup(test_port_b, setup),
		cmocka_unit_test_setup(test_warnings, setup),
		cmocka_unit_test_setup(test_state_round_trip, setup),
		cmocka_unit_test_setup(test_bad_records, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
