#include <stdio.h>
#include <string.h>
#include "hv/dev/pic.h"
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

static struct dev_log dlog;
static struct pic pic;

static int setup(void **state)
{
	log_text[0] = 0;
	log_lines = 0;
	dlog = (struct dev_log){ log_emit, NULL, 0 };
	pic_init(&pic, &dlog);
	return 0;
}

/* What Linux's init_8259A() writes: mask, ICW1-4 per chip (vectors 0x30/0x38). */
static void linux_init(struct pic *p, uint8_t master_icw4)
{
	pic_write(p, 0x21, 0xff);
	pic_write(p, 0xa1, 0xff);
	pic_write(p, 0x20, 0x11);
	pic_write(p, 0x21, 0x30);
	pic_write(p, 0x21, 0x04);
	pic_write(p, 0x21, master_icw4);
	pic_write(p, 0xa0, 0x11);
	pic_write(p, 0xa1, 0x38);
	pic_write(p, 0xa1, 0x02);
	pic_write(p, 0xa1, 0x01);
	pic_write(p, 0x21, 0x00);
	pic_write(p, 0xa1, 0x00);
}

static uint8_t read_isr(struct pic *p, uint16_t cmd)
{
	pic_write(p, cmd, 0x0b);
	return pic_read(p, cmd);
}

static uint8_t read_irr(struct pic *p, uint16_t cmd)
{
	pic_write(p, cmd, 0x0a);
	return pic_read(p, cmd);
}

static void edge(unsigned irq)
{
	pic_set_irq(&pic, irq, true);
	pic_set_irq(&pic, irq, false);
}

static void test_linux_init(void **state)
{
	assert_false(pic_intr(&pic));
	pic_set_irq(&pic, 0, true); /* before any init: everything masked */
	assert_false(pic_intr(&pic));
	pic_set_irq(&pic, 0, false);

	pic_set_irq(&pic, 0, true);
	linux_init(&pic, 0x01);
	assert_int_equal(log_lines, 0); /* masking before ICW1 is Linux's probe, no error */
	assert_int_equal(read_irr(&pic, 0x20), 0x00); /* ICW1 reset the edge latch */
	pic_set_irq(&pic, 0, false);
	pic_write(&pic, 0x21, 0xfa);
	assert_int_equal(pic_read(&pic, 0x21), 0xfa);
	assert_int_equal(pic_read(&pic, 0xa1), 0x00);
	edge(0);
	assert_true(pic_intr(&pic));
	assert_int_equal(read_irr(&pic, 0x20), 0x01);
	assert_int_equal(pic_intack(&pic), 0x30);
	assert_false(pic_intr(&pic));
	assert_int_equal(read_isr(&pic, 0x20), 0x01);
	assert_int_equal(read_irr(&pic, 0x20), 0x00);
	pic_write(&pic, 0x20, 0x60); /* Linux acks with a specific EOI */
	assert_int_equal(read_isr(&pic, 0x20), 0x00);
	edge(1); /* masked */
	assert_false(pic_intr(&pic));
	assert_int_equal(read_irr(&pic, 0x20), 0x02);
	assert_int_equal(log_lines, 0);
}

/* SeaBIOS interleaves the two chips and uses vectors 0x08 and 0x70. */
static void test_bios_init(void **state)
{
	static const uint16_t port[] = { 0x20, 0xa0, 0x21, 0xa1, 0x21, 0xa1, 0x21, 0xa1 };
	static const uint8_t val[] = { 0x11, 0x11, 0x08, 0x70, 0x04, 0x02, 0x01, 0x01 };

	for (unsigned i = 0; i < ARRAY_SIZE(port); i++)
		pic_write(&pic, port[i], val[i]);
	pic_write(&pic, 0x21, 0xfb);
	pic_write(&pic, 0xa1, 0xff);
	edge(1);
	edge(8);
	assert_false(pic_intr(&pic));
	pic_write(&pic, 0x21, 0xf9);
	assert_int_equal(pic_intack(&pic), 0x09);
	pic_write(&pic, 0x20, 0x20);
	pic_write(&pic, 0xa1, 0xfe); /* IRQ8's latched edge now reaches the master */
	assert_true(pic_intr(&pic));
	assert_int_equal(pic_intack(&pic), 0x70);
	assert_int_equal(log_lines, 0);
}

static void test_priority_nested(void **state)
{
	linux_init(&pic, 0x01);
	edge(5);
	edge(3);
	edge(6);
	assert_int_equal(pic_intack(&pic), 0x33);
	assert_false(pic_intr(&pic)); /* 5 and 6 rank below 3 in service */
	edge(1);		      /* 1 outranks it */
	assert_true(pic_intr(&pic));
	assert_int_equal(pic_intack(&pic), 0x31);
	assert_int_equal(read_isr(&pic, 0x20), 0x0a);
	pic_write(&pic, 0x20, 0x20); /* non-specific: the highest, 1 */
	assert_int_equal(read_isr(&pic, 0x20), 0x08);
	assert_false(pic_intr(&pic));
	pic_write(&pic, 0x20, 0x20);
	assert_int_equal(pic_intack(&pic), 0x35);
	pic_write(&pic, 0x20, 0x20);
	assert_int_equal(pic_intack(&pic), 0x36);
	pic_write(&pic, 0x20, 0x20);
	assert_false(pic_intr(&pic));
}

static void test_specific_eoi(void **state)
{
	linux_init(&pic, 0x01);
	edge(4);
	assert_int_equal(pic_intack(&pic), 0x34);
	edge(1);
	assert_int_equal(pic_intack(&pic), 0x31);
	pic_write(&pic, 0x20, 0x64); /* the outer level first */
	assert_int_equal(read_isr(&pic, 0x20), 0x02);
	pic_write(&pic, 0x20, 0x67); /* not in service: nothing */
	assert_int_equal(read_isr(&pic, 0x20), 0x02);
	pic_write(&pic, 0x20, 0x40); /* OCW2 no-op */
	assert_int_equal(read_isr(&pic, 0x20), 0x02);
	pic_write(&pic, 0x20, 0x61);
	assert_int_equal(read_isr(&pic, 0x20), 0x00);
}

static void test_rotation(void **state)
{
	linux_init(&pic, 0x01);
	pic_write(&pic, 0x20, 0xc4); /* set priority: 4 lowest, 5 highest */
	edge(3);
	edge(6);
	assert_int_equal(pic_intack(&pic), 0x36);
	/* rotate on non-specific EOI: 6 becomes the lowest, 7 the highest */
	pic_write(&pic, 0x20, 0xa0);
	edge(6);
	edge(0);
	assert_int_equal(pic_intack(&pic), 0x30);
	pic_write(&pic, 0x20, 0xe0); /* rotate on specific EOI of 0: 1 highest */
	assert_int_equal(pic_intack(&pic), 0x33);
	assert_false(pic_intr(&pic)); /* 6 ranks below 3 now */
	pic_write(&pic, 0x20, 0x63);
	assert_int_equal(pic_intack(&pic), 0x36);
	pic_write(&pic, 0x20, 0x66);
	/* rotation on each EOI: equal devices take turns */
	pic_write(&pic, 0x20, 0xc7);
	edge(7);
	edge(0);
	assert_int_equal(pic_intack(&pic), 0x30);
	pic_write(&pic, 0x20, 0xa0);
	edge(0);
	assert_int_equal(pic_intack(&pic), 0x37);
	pic_write(&pic, 0x20, 0xa0);
	assert_int_equal(pic_intack(&pic), 0x30);
}

static void test_auto_eoi(void **state)
{
	linux_init(&pic, 0x03);
	assert_int_equal(log_lines, 0);
	edge(4);
	edge(3);
	assert_int_equal(pic_intack(&pic), 0x33);
	assert_int_equal(read_isr(&pic, 0x20), 0x00);
	assert_true(pic_intr(&pic)); /* nothing in service holds 4 back */
	assert_int_equal(pic_intack(&pic), 0x34);
	/* rotate in AEOI: the served level becomes the lowest */
	pic_write(&pic, 0x20, 0x80);
	edge(1);
	assert_int_equal(pic_intack(&pic), 0x31);
	edge(1);
	edge(5);
	assert_int_equal(pic_intack(&pic), 0x35);
	pic_write(&pic, 0x20, 0x00); /* rotate in AEOI off: priorities stay */
	edge(5);
	assert_int_equal(pic_intack(&pic), 0x31);
	assert_int_equal(pic_intack(&pic), 0x35);
}

static void test_masking_and_smm(void **state)
{
	linux_init(&pic, 0x01);
	pic_write(&pic, 0x21, 0x20);
	edge(5);
	assert_false(pic_intr(&pic));
	pic_write(&pic, 0x21, 0x00); /* the latched edge waits for the unmask */
	assert_int_equal(pic_intack(&pic), 0x35);
	edge(3);
	assert_int_equal(pic_intack(&pic), 0x33);
	edge(6);
	assert_false(pic_intr(&pic));
	/* special mask mode: 3's handler masks itself and lets lower levels in */
	pic_write(&pic, 0x21, 0x08);
	pic_write(&pic, 0x20, 0x68);
	assert_true(pic_intr(&pic));
	assert_int_equal(pic_intack(&pic), 0x36);
	edge(7);
	assert_true(pic_intr(&pic)); /* 6 and 5 in service do not block 7 either */
	assert_int_equal(pic_intack(&pic), 0x37);
	edge(6);
	assert_false(pic_intr(&pic)); /* but a level in service does not re-enter */
	pic_write(&pic, 0x20, 0x48);  /* reset special mask mode */
	pic_write(&pic, 0x21, 0x00);
	pic_write(&pic, 0x20, 0x63);
	pic_write(&pic, 0x20, 0x65);
	assert_false(pic_intr(&pic)); /* fully nested again: 6 in service holds 6 */
	pic_write(&pic, 0x20, 0x66);
	assert_int_equal(pic_intack(&pic), 0x36); /* and 6 outranks 7 in service */
}

static void test_cascade(void **state)
{
	linux_init(&pic, 0x01);
	edge(10);
	assert_true(pic_intr(&pic));
	assert_int_equal(read_irr(&pic, 0x20), 0x04);
	assert_int_equal(read_irr(&pic, 0xa0), 0x04);
	assert_int_equal(pic_intack(&pic), 0x3a);
	assert_int_equal(read_isr(&pic, 0x20), 0x04);
	assert_int_equal(read_isr(&pic, 0xa0), 0x04);
	edge(9); /* a higher slave level waits: the master's IR2 is in service */
	assert_false(pic_intr(&pic));
	edge(4);
	assert_false(pic_intr(&pic));
	pic_write(&pic, 0xa0, 0x20);
	assert_false(pic_intr(&pic));
	pic_write(&pic, 0x20, 0x20);
	assert_true(pic_intr(&pic));
	assert_int_equal(pic_intack(&pic), 0x39);
	pic_write(&pic, 0xa0, 0x20);
	pic_write(&pic, 0x20, 0x20);
	assert_int_equal(pic_intack(&pic), 0x34);
	/* a slave interrupt outranks master IR3-7 */
	edge(15);
	edge(3);
	assert_int_equal(pic_intack(&pic), 0x3f);
}

/* An AEOI slave with a second request: its INT stays high through the acknowledge, and
 * the master's edge-triggered IR2 must still see the second request. */
static void test_cascade_aeoi_slave(void **state)
{
	linux_init(&pic, 0x03);
	pic_write(&pic, 0xa0, 0x11);
	pic_write(&pic, 0xa1, 0x38);
	pic_write(&pic, 0xa1, 0x02);
	pic_write(&pic, 0xa1, 0x03);
	edge(9);
	edge(12);
	assert_int_equal(pic_intack(&pic), 0x39);
	assert_true(pic_intr(&pic));
	assert_int_equal(pic_intack(&pic), 0x3c);
	assert_false(pic_intr(&pic));
	assert_int_equal(read_isr(&pic, 0x20) | read_isr(&pic, 0xa0), 0);
}

/* A second ICW1 starts over: nothing in service, nothing masked, IR7 lowest, IRR read. */
static void test_reinit(void **state)
{
	linux_init(&pic, 0x01);
	pic_write(&pic, 0x20, 0xc2);
	pic_write(&pic, 0x4d0, 0x40); /* IRQ6 level-triggered, its line high */
	pic_set_irq(&pic, 6, true);
	edge(5);
	assert_int_equal(pic_intack(&pic), 0x35);
	pic_write(&pic, 0x21, 0xff);
	pic_write(&pic, 0x20, 0x0b);
	pic_write(&pic, 0x20, 0x11);
	assert_int_equal(pic_read(&pic, 0x20), 0x40); /* IRR again: only the level line */
	pic_write(&pic, 0x21, 0x40);
	pic_write(&pic, 0x21, 0x04);
	pic_write(&pic, 0x21, 0x01);
	assert_int_equal(pic_read(&pic, 0x21), 0x00);
	assert_int_equal(read_isr(&pic, 0x20), 0x00);
	pic_set_irq(&pic, 6, false);
	edge(4);
	edge(1);
	assert_int_equal(pic_intack(&pic), 0x41); /* IR7 lowest again, not IR2 */
	pic_write(&pic, 0x20, 0x20);
	assert_int_equal(pic_intack(&pic), 0x44);
}

static void test_irq_line_wrapper(void **state)
{
	struct irq_line l = { pic_irq_line_set, &pic, 12 };

	linux_init(&pic, 0x01);
	irq_pulse(&l);
	assert_int_equal(pic_intack(&pic), 0x3c);
}

static void test_spurious(void **state)
{
	linux_init(&pic, 0x01);
	pic_write(&pic, 0x4d0, 0x20); /* IRQ5 level-triggered */
	pic_set_irq(&pic, 5, true);
	assert_true(pic_intr(&pic));
	pic_set_irq(&pic, 5, false); /* the request vanished before INTA */
	assert_false(pic_intr(&pic));
	assert_int_equal(pic_intack(&pic), 0x37);
	assert_int_equal(read_isr(&pic, 0x20), 0x00);
	/* masked after INTR rose: the same */
	edge(6);
	pic_write(&pic, 0x21, 0x40);
	assert_int_equal(pic_intack(&pic), 0x37);
	assert_int_equal(read_isr(&pic, 0x20), 0x00);
	/* the slave's spurious: its request masked, the master's IR2 edge latched */
	edge(12);
	pic_write(&pic, 0xa1, 0x10);
	assert_true(pic_intr(&pic));
	assert_int_equal(pic_intack(&pic), 0x3f);
	assert_int_equal(read_isr(&pic, 0x20), 0x04);
	assert_int_equal(read_isr(&pic, 0xa0), 0x00);
	pic_write(&pic, 0x20, 0x62);
	assert_int_equal(read_isr(&pic, 0x20), 0x00);
}

static void test_edge_vs_level(void **state)
{
	linux_init(&pic, 0x01);
	/* edge: a line held high requests once */
	pic_set_irq(&pic, 4, true);
	assert_int_equal(pic_intack(&pic), 0x34);
	pic_write(&pic, 0x20, 0x20);
	assert_false(pic_intr(&pic));
	pic_set_irq(&pic, 4, true);
	assert_false(pic_intr(&pic));
	pic_set_irq(&pic, 4, false);
	pic_set_irq(&pic, 4, true);
	assert_int_equal(pic_intack(&pic), 0x34);
	pic_write(&pic, 0x20, 0x20);
	pic_set_irq(&pic, 4, false);
	/* level (ELCR): IRR follows the line, a held line requests after each EOI */
	pic_write(&pic, 0x4d1, 0x02); /* IRQ9 */
	assert_int_equal(pic_read(&pic, 0x4d1), 0x02);
	pic_set_irq(&pic, 9, true);
	assert_int_equal(pic_intack(&pic), 0x39);
	pic_write(&pic, 0xa0, 0x20);
	pic_write(&pic, 0x20, 0x20);
	assert_int_equal(read_irr(&pic, 0xa0), 0x02);
	assert_int_equal(pic_intack(&pic), 0x39);
	pic_set_irq(&pic, 9, false);
	assert_int_equal(read_irr(&pic, 0xa0), 0x00);
	pic_write(&pic, 0xa0, 0x20);
	pic_write(&pic, 0x20, 0x20);
	assert_false(pic_intr(&pic));
	/* a line already high when made level-triggered requests at once */
	pic_set_irq(&pic, 11, true);
	assert_int_equal(pic_intack(&pic), 0x3b);
	pic_write(&pic, 0xa0, 0x20);
	pic_write(&pic, 0x20, 0x20);
	assert_false(pic_intr(&pic));
	pic_write(&pic, 0x4d1, 0x0a);
	assert_true(pic_intr(&pic));
	/* IRQ0, 1, 2, 8, 13 are edge-only, said once */
	assert_int_equal(log_lines, 0);
	pic_write(&pic, 0x4d0, 0xff);
	pic_write(&pic, 0x4d1, 0xff);
	assert_int_equal(pic_read(&pic, 0x4d0), 0xf8);
	assert_int_equal(pic_read(&pic, 0x4d1), 0xde);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "edge-only"));
	/* ICW1 LTIM makes every input of that chip level-triggered */
	pic_write(&pic, 0x20, 0x19);
	pic_write(&pic, 0x21, 0x30);
	pic_write(&pic, 0x21, 0x04);
	pic_write(&pic, 0x21, 0x01);
	pic_set_irq(&pic, 1, true);
	assert_int_equal(pic_intack(&pic), 0x31);
	pic_write(&pic, 0x20, 0x20);
	assert_int_equal(pic_intack(&pic), 0x31);
}

static void test_poll(void **state)
{
	linux_init(&pic, 0x01);
	pic_write(&pic, 0x21, 0xff); /* polled systems mask INT */
	pic_write(&pic, 0x20, 0x0c);
	assert_int_equal(pic_read(&pic, 0x20), 0x00); /* nothing requesting */
	pic_write(&pic, 0x21, 0x00);
	edge(6);
	edge(3);
	pic_write(&pic, 0x20, 0x0c);
	assert_int_equal(pic_read(&pic, 0x21), 0x83); /* either port; acts as INTA */
	assert_int_equal(read_isr(&pic, 0x20), 0x08);
	assert_int_equal(pic_read(&pic, 0x20), 0x08); /* the poll was one read only */
	assert_int_equal(pic_read(&pic, 0x21), 0x00); /* IMR again */
	pic_write(&pic, 0x20, 0x20);
	pic_write(&pic, 0xa0, 0x0c);
	edge(13);
	assert_int_equal(pic_read(&pic, 0xa0), 0x85);
	assert_int_equal(read_isr(&pic, 0xa0), 0x20);
	/* the slave's INT fell with the poll, the master's IR2 latch stays */
	assert_int_equal(read_irr(&pic, 0x20), 0x44);
}

static void test_warnings(void **state)
{
	pic_write(&pic, 0x20, 0x20); /* EOI before any ICW */
	pic_write(&pic, 0xa0, 0x0b);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(log_text, "before initialization"));
	pic_write(&pic, 0x20, 0x11);
	pic_write(&pic, 0x21, 0x30);
	pic_write(&pic, 0x21, 0x04);
	pic_write(&pic, 0x21, 0x11); /* SFNM */
	assert_int_equal(log_lines, 2);
	assert_non_null(strstr(log_text, "ICW4 0x11"));
	pic_write(&pic, 0x20, 0x11);
	pic_write(&pic, 0x21, 0x30);
	pic_write(&pic, 0x21, 0x04);
	pic_write(&pic, 0x21, 0x0d); /* buffered: the same kind, not said again */
	assert_int_equal(log_lines, 2);
	pic_set_irq(&pic, 2, true);
	pic_set_irq(&pic, 16, true);
	assert_int_equal(log_lines, 3);
	assert_int_equal(pic_read(&pic, 0x22), 0xff);
	assert_int_equal(log_lines, 4);
	/* ICW1 without IC4: 8080 mode, warned; no ICW4 expected */
	pic_write(&pic, 0xa0, 0x10);
	pic_write(&pic, 0xa1, 0x38);
	pic_write(&pic, 0xa1, 0x02);
	pic_write(&pic, 0xa1, 0x00); /* that is OCW1 already */
	assert_int_equal(log_lines, 5);
	assert_non_null(strstr(log_text, "8080"));
}

/* The master's INT as a line: one call per change of level. */
static int intr_calls;
static bool intr_now;

static void intr_set(void *ctx, unsigned pin, bool level)
{
	intr_calls++;
	intr_now = level;
}

static void test_intr_line(void **state)
{
	pic.intr = (struct irq_line){ intr_set, NULL, 0 };
	linux_init(&pic, 0x01);
	intr_calls = 0;
	edge(3);
	edge(4);
	assert_int_equal(intr_calls, 1);
	assert_true(intr_now);
	pic_intack(&pic);
	assert_int_equal(intr_calls, 2);
	assert_false(intr_now);
}

static void test_state_round_trip(void **state)
{
	struct pic b;
	uint8_t buf[128], again[128];
	char err[120];
	size_t n;

	linux_init(&pic, 0x01);
	pic_write(&pic, 0x4d1, 0x02);
	pic_set_irq(&pic, 9, true);
	edge(3);
	edge(14);
	pic_write(&pic, 0xa0, 0xc5); /* the slave's 6 (IRQ14) now outranks its 1 */
	assert_int_equal(pic_intack(&pic), 0x3e);
	pic_write(&pic, 0xa0, 0x0b);
	n = vms_encode(&pic_vms, &pic.s, buf);
	assert_int_equal(n, vms_size(&pic_vms));
	pic_init(&b, &dlog);
	assert_int_equal(vms_decode(&pic_vms, buf, n, &b.s, err, sizeof(err)), 0);
	pic_restore(&b);
	assert_int_equal(vms_encode(&pic_vms, &b.s, again), n);
	assert_memory_equal(buf, again, n);
	/* the copy behaves as the original */
	assert_int_equal(pic_intr(&b), pic_intr(&pic));
	assert_int_equal(pic_read(&b, 0xa0), 0x40);
	pic_write(&b, 0xa0, 0x20);
	pic_write(&b, 0x20, 0x20);
	assert_int_equal(pic_intack(&b), 0x39); /* IRQ9's line is still high */
	assert_int_equal(read_isr(&b, 0x20), 0x04);
}

static void test_bad_records(void **state)
{
	struct pic_state s, out;
	uint8_t buf[128];
	char err[120];
	size_t n;

	linux_init(&pic, 0x01);
	s = pic.s;
	s.chip[1].single = 1;
	s.chip[1].init_step = PIC_WANT_ICW3;
	n = vms_encode(&pic_vms, &s, buf);
	assert_int_equal(vms_decode(&pic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "pic: chip[].init_step[1] = 2 (ICW3) in single mode");

	s = pic.s;
	s.chip[0].lowest = 9;
	n = vms_encode(&pic_vms, &s, buf);
	assert_int_equal(vms_decode(&pic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "pic: chip[].lowest[0] = 0x9, above its maximum 0x7");

	s = pic.s;
	s.chip[0].elcr = 0x01;
	n = vms_encode(&pic_vms, &s, buf);
	assert_int_equal(vms_decode(&pic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "pic: chip[].elcr[0] = 0x01 sets edge-only IRQs");

	s = pic.s;
	s.chip[1].elcr = 0x02;
	s.chip[1].lines = 0x02; /* a level line high, its request missing */
	n = vms_encode(&pic_vms, &s, buf);
	assert_int_equal(vms_decode(&pic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_non_null(strstr(err, "chip[].irr[1] = 0x00 disagrees"));

	s = pic.s;
	s.chip[0].vbase = 0x31;
	n = vms_encode(&pic_vms, &s, buf);
	assert_int_equal(vms_decode(&pic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "pic: chip[].vbase[0] = 0x31, not a multiple of 8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_linux_init, setup),
		cmocka_unit_test_setup(test_bios_init, setup),
		cmocka_unit_test_setup(test_priority_nested, setup),
		cmocka_unit_test_setup(test_specific_eoi, setup),
		cmocka_unit_test_setup(test_rotation, setup),
		cmocka_unit_test_setup(test_auto_eoi, setup),
		cmocka_unit_test_setup(test_masking_and_smm, setup),
		cmocka_unit_test_setup(test_cascade, setup),
		cmocka_unit_test_setup(test_cascade_aeoi_slave, setup),
		cmocka_unit_test_setup(test_reinit, setup),
		cmocka_unit_test_setup(test_irq_line_wrapper, setup),
		cmocka_unit_test_setup(test_spurious, setup),
		cmocka_unit_test_setup(test_edge_vs_level, setup),
		cmocka_unit_test_setup(test_poll, setup),
		cmocka_unit_test_setup(test_warnings, setup),
		cmocka_unit_test_setup(test_intr_line, setup),
		cmocka_unit_test_setup(test_state_round_trip, setup),
		cmocka_unit_test_setup(test_bad_records, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
