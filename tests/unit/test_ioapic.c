#include <stdio.h>
#include <string.h>
#include "hv/dev/ioapic.h"
#include "hv/dev/lapic.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

static struct ioapic IO;
static struct dev_log LOG;
static int nlog;
static char last_log[160];
static struct apic_msg sent[16];
static int nsent;
static bool apic_there;

static void emit(void *ctx, const char *line)
{
	nlog++;
	snprintf(last_log, sizeof(last_log), "%s", line);
}

static bool fake_deliver(void *ctx, const struct apic_msg *m)
{
	if (nsent < 16)
		sent[nsent] = *m;
	nsent++;
	return apic_there;
}

static const struct ioapic_ops ops = { fake_deliver, NULL };

static void fresh(void)
{
	LOG = (struct dev_log){ emit, NULL, 0 };
	nlog = nsent = 0;
	apic_there = true;
	ioapic_init(&IO, &ops, &LOG);
}

static uint32_t reg_rd(uint8_t r)
{
	ioapic_write(&IO, IOAPIC_IOREGSEL, 4, r);
	return ioapic_read(&IO, IOAPIC_IOWIN, 4);
}

static void reg_wr(uint8_t r, uint32_t v)
{
	ioapic_write(&IO, IOAPIC_IOREGSEL, 4, r);
	ioapic_write(&IO, IOAPIC_IOWIN, 4, v);
}

static void redir(unsigned pin, uint64_t e)
{
	reg_wr(IOAPIC_REG_REDIR + 2 * pin + 1, e >> 32);
	reg_wr(IOAPIC_REG_REDIR + 2 * pin, (uint32_t)e);
}

static uint32_t redir_lo(unsigned pin)
{
	return reg_rd(IOAPIC_REG_REDIR + 2 * pin);
}

static void test_registers(void **state)
{
	fresh();
	assert_int_equal(reg_rd(IOAPIC_REG_ID), 0x01000000);
	assert_int_equal(reg_rd(IOAPIC_REG_VER), 0x00170011); /* 24 entries, version 0x11 */
	assert_int_equal(reg_rd(IOAPIC_REG_ARB), 0x01000000);
	assert_int_equal(ioapic_read(&IO, IOAPIC_IOREGSEL, 4), IOAPIC_REG_ARB);
	reg_wr(IOAPIC_REG_ID, 0xfa000000);
	assert_int_equal(reg_rd(IOAPIC_REG_ID), 0x0a000000);
	assert_int_equal(reg_rd(IOAPIC_REG_ARB), 0x0a000000); /* loaded by the ID write */
	reg_wr(IOAPIC_REG_VER, 0);
	assert_int_equal(reg_rd(IOAPIC_REG_VER), 0x00170011);
	assert_int_equal(nlog, 1);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		assert_int_equal(redir_lo(pin), 0x10000); /* masked */
		assert_int_equal(reg_rd(IOAPIC_REG_REDIR + 2 * pin + 1), 0);
	}
	/* every field but the read-only status bits and the reserved ones */
	redir(23, 0xffffffffffffffffull);
	assert_int_equal(redir_lo(23), 0x1afff);
	assert_int_equal(reg_rd(IOAPIC_REG_REDIR + 47), 0xff000000);
	assert_int_equal(reg_rd(0x40), 0); /* past the table */
	assert_int_equal(nlog, 2);
	assert_int_equal(nsent, 0);
}

static void test_edge(void **state)
{
	fresh();
	redir(2, 3ull << 56 | 0x30);
	ioapic_set_irq(&IO, 2, true);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].vector, 0x30);
	assert_int_equal(sent[0].mode, APIC_DM_FIXED);
	assert_false(sent[0].level);
	assert_false(sent[0].logical);
	assert_int_equal(sent[0].dest, 3);
	assert_int_equal(sent[0].shorthand, APIC_SH_NONE);
	ioapic_set_irq(&IO, 2, true); /* no edge */
	assert_int_equal(nsent, 1);
	ioapic_set_irq(&IO, 2, false);
	ioapic_set_irq(&IO, 2, true);
	assert_int_equal(nsent, 2);
	assert_false(redir_lo(2) & IOAPIC_REMOTE_IRR);
	/* an edge on a masked pin is lost */
	ioapic_set_irq(&IO, 2, false);
	redir(2, IOAPIC_MASKED | 0x30);
	ioapic_set_irq(&IO, 2, true);
	redir(2, 0x30);
	assert_int_equal(nsent, 2);
	/* irq_pulse through the line callback */
	struct irq_line line = { ioapic_irq_line, &IO, 4 };
	redir(4, IOAPIC_LOGICAL | 1ull << 56 | 0x34);
	irq_pulse(&line);
	assert_int_equal(nsent, 3);
	assert_true(sent[2].logical);
	assert_int_equal(sent[2].dest, 1);
}

static void test_level_remote_irr(void **state)
{
	fresh();
	redir(9, IOAPIC_LEVEL | 0x39);
	ioapic_set_irq(&IO, 9, true);
	assert_int_equal(nsent, 1);
	assert_true(sent[0].level);
	assert_true(redir_lo(9) & IOAPIC_REMOTE_IRR);
	ioapic_set_irq(&IO, 9, true);
	ioapic_eoi(&IO, 0x40); /* another vector */
	assert_int_equal(nsent, 1);
	ioapic_eoi(&IO, 0x39); /* still asserted: sent again */
	assert_int_equal(nsent, 2);
	assert_true(redir_lo(9) & IOAPIC_REMOTE_IRR);
	ioapic_set_irq(&IO, 9, false);
	ioapic_eoi(&IO, 0x39);
	assert_int_equal(nsent, 2);
	assert_false(redir_lo(9) & IOAPIC_REMOTE_IRR);
	/* a guest write cannot set or clear remote IRR */
	ioapic_set_irq(&IO, 9, true);
	redir(9, IOAPIC_LEVEL | 0x39);
	assert_true(redir_lo(9) & IOAPIC_REMOTE_IRR);
	assert_int_equal(nsent, 3);
	/* the EOI register of version 0x20 I/O APICs does the same */
	ioapic_set_irq(&IO, 9, false);
	ioapic_write(&IO, IOAPIC_EOI, 4, 0x39);
	assert_false(redir_lo(9) & IOAPIC_REMOTE_IRR);
	/* to edge: remote IRR goes */
	ioapic_set_irq(&IO, 9, true);
	assert_true(redir_lo(9) & IOAPIC_REMOTE_IRR);
	redir(9, 0x39);
	assert_false(redir_lo(9) & IOAPIC_REMOTE_IRR);
}

static void test_masked_while_asserted(void **state)
{
	fresh();
	redir(10, IOAPIC_MASKED | IOAPIC_LEVEL | 0x3a);
	ioapic_set_irq(&IO, 10, true);
	assert_int_equal(nsent, 0);
	redir(10, IOAPIC_LEVEL | 0x3a);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].vector, 0x3a);
	/* masked again and the line dropped meanwhile: nothing on unmask */
	ioapic_eoi(&IO, 0x3a);
	assert_int_equal(nsent, 2);
	redir(10, IOAPIC_MASKED | IOAPIC_LEVEL | 0x3a);
	ioapic_eoi(&IO, 0x3a);
	ioapic_set_irq(&IO, 10, false);
	redir(10, IOAPIC_LEVEL | 0x3a);
	assert_int_equal(nsent, 2);
}

static void test_polarity(void **state)
{
	fresh();
	/* level, active low: an idle (high) line is quiet, a low one asserted */
	ioapic_set_irq(&IO, 11, true);
	redir(11, IOAPIC_POLARITY_LOW | IOAPIC_LEVEL | 0x3b);
	assert_int_equal(nsent, 0);
	ioapic_set_irq(&IO, 11, false);
	assert_int_equal(nsent, 1);
	ioapic_set_irq(&IO, 11, true);
	ioapic_eoi(&IO, 0x3b);
	assert_int_equal(nsent, 1);
	/* edge, active low: the falling edge */
	redir(12, IOAPIC_POLARITY_LOW | 0x3c);
	ioapic_set_irq(&IO, 12, true);
	assert_int_equal(nsent, 1);
	ioapic_set_irq(&IO, 12, false);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[1].vector, 0x3c);
}

static void test_absent_destination(void **state)
{
	fresh();
	apic_there = false;
	redir(5, IOAPIC_LEVEL | 7ull << 56 | 0x35);
	ioapic_set_irq(&IO, 5, true);
	assert_int_equal(nsent, 1);
	assert_int_equal(nlog, 1);
	assert_non_null(strstr(last_log, "no APIC at physical destination 0x7"));
	assert_false(redir_lo(5) & IOAPIC_REMOTE_IRR); /* no EOI will come */
	ioapic_set_irq(&IO, 5, false);
	ioapic_set_irq(&IO, 5, true);
	assert_int_equal(nsent, 2);
	assert_int_equal(nlog, 1); /* said once */
}

static void test_delivery_modes(void **state)
{
	fresh();
	/* NMI is an edge whatever the trigger bit says */
	redir(1, IOAPIC_LEVEL | (uint64_t)APIC_DM_NMI << 8);
	ioapic_set_irq(&IO, 1, true);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].mode, APIC_DM_NMI);
	assert_false(sent[0].level);
	assert_false(redir_lo(1) & IOAPIC_REMOTE_IRR);
	ioapic_set_irq(&IO, 1, true);
	assert_int_equal(nsent, 1);
	/* ExtINT (virtual wire through the I/O APIC) */
	redir(0, (uint64_t)APIC_DM_EXTINT << 8);
	ioapic_set_irq(&IO, 0, true);
	assert_int_equal(sent[1].mode, APIC_DM_EXTINT);
	/* reserved modes: nothing sent, said once */
	redir(3, 3ull << 8 | 0x33);
	ioapic_set_irq(&IO, 3, true);
	assert_int_equal(nsent, 2);
	assert_int_equal(nlog, 1);
}

static void test_bad_accesses(void **state)
{
	fresh();
	ioapic_write(&IO, IOAPIC_IOREGSEL, 1, IOAPIC_REG_VER);
	assert_int_equal(ioapic_read(&IO, IOAPIC_IOREGSEL, 4), 0);
	assert_int_equal(ioapic_read(&IO, IOAPIC_IOWIN, 2), 0);
	assert_int_equal(ioapic_read(&IO, 0x20, 4), 0);
	ioapic_write(&IO, 0x14, 4, 0);
	assert_int_equal(nlog, 1);
	assert_non_null(strstr(last_log, "1-byte access at 0x0"));
	assert_int_equal(reg_rd(IOAPIC_REG_ID), 0x01000000);
}

/* --- with a local APIC, as the platform wires them --- */

static uint32_t page[1024] __attribute__((aligned(4096)));
static struct lapic A;

static void to_ioapic(void *ctx, uint8_t vector)
{
	ioapic_eoi(&IO, vector);
}

static bool to_lapic(void *ctx, const struct apic_msg *m)
{
	if (!lapic_match(&A, m->dest, m->logical))
		return false;
	lapic_deliver(&A, m);
	return true;
}

static void test_with_lapic(void **state)
{
	static const struct ioapic_ops io_ops = { to_lapic, NULL };
	static const struct lapic_ops a_ops = { to_ioapic, NULL, NULL, NULL, NULL };

	fresh();
	ioapic_init(&IO, &io_ops, &LOG);
	lapic_init(&A, page, 0, 1000000000, false, &a_ops, 0);
	lapic_mmio_write(&A, APIC_SVR, 4, 0x1ff, 0);
	redir(9, IOAPIC_LEVEL | 0x59); /* the SCI: level, active high, to APIC 0 */
	ioapic_set_irq(&IO, 9, true);
	assert_int_equal(lapic_pending(&A), 0x59);
	lapic_accept(&A, 0x59);
	lapic_mmio_write(&A, APIC_EOI, 4, 0, 0); /* still asserted: at once again */
	assert_int_equal(lapic_pending(&A), 0x59);
	lapic_accept(&A, 0x59);
	ioapic_set_irq(&IO, 9, false);
	lapic_mmio_write(&A, APIC_EOI, 4, 0, 0);
	assert_int_equal(lapic_pending(&A), -1);
	assert_false(redir_lo(9) & IOAPIC_REMOTE_IRR);
	redir(2, 0x30); /* the PIT: edge */
	ioapic_set_irq(&IO, 2, true);
	ioapic_set_irq(&IO, 2, false);
	assert_int_equal(lapic_pending(&A), 0x30);
	redir(3, 5ull << 56 | 0x31); /* APIC 5 is not there */
	ioapic_set_irq(&IO, 3, true);
	assert_non_null(strstr(last_log, "no APIC"));
}

static void test_records(void **state)
{
	struct ioapic b;
	uint8_t buf[256];
	char err[160];
	size_t n;

	fresh();
	reg_wr(IOAPIC_REG_ID, 0x05000000);
	redir(9, IOAPIC_LEVEL | 0x39);
	redir(2, 2ull << 56 | 0x30);
	ioapic_set_irq(&IO, 9, true);
	ioapic_write(&IO, IOAPIC_IOREGSEL, 4, 0x13);
	n = vms_encode(&ioapic_vms, &IO.s, buf);
	assert_true(n <= sizeof(buf));
	ioapic_init(&b, &ops, &LOG);
	assert_int_equal(vms_decode(&ioapic_vms, buf, n, &b.s, err, sizeof(err)), 0);
	ioapic_restore(&b);
	assert_memory_equal(&b.s, &IO.s, sizeof(b.s));
	assert_int_equal(nsent, 1);
	ioapic_eoi(&b, 0x39); /* the restored one resends: the pin is still up */
	assert_int_equal(nsent, 2);

	struct ioapic_state s = IO.s, out;
	s.id = 0x10;
	n = vms_encode(&ioapic_vms, &s, buf);
	assert_int_equal(vms_decode(&ioapic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "ioapic: id = 0x10, above its maximum 0xf");
	s = IO.s;
	s.pin_level = 1u << 24;
	n = vms_encode(&ioapic_vms, &s, buf);
	assert_int_equal(vms_decode(&ioapic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "ioapic: pin_level = 0x1000000, above its maximum 0xffffff");
	s = IO.s;
	s.redir[3] = 1ull << 40;
	n = vms_encode(&ioapic_vms, &s, buf);
	assert_int_equal(vms_decode(&ioapic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "ioapic: redir[3] = 0x10000000000 has reserved bits");
	s = IO.s;
	s.redir[2] |= IOAPIC_REMOTE_IRR;
	n = vms_encode(&ioapic_vms, &s, buf);
	assert_int_equal(vms_decode(&ioapic_vms, buf, n, &out, err, sizeof(err)), -E_FORMAT);
	assert_string_equal(err, "ioapic: redir[2] has remote IRR but is not level");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registers),
		cmocka_unit_test(test_edge),
		cmocka_unit_test(test_level_remote_irr),
		cmocka_unit_test(test_masked_while_asserted),
		cmocka_unit_test(test_polarity),
		cmocka_unit_test(test_absent_destination),
		cmocka_unit_test(test_delivery_modes),
		cmocka_unit_test(test_bad_accesses),
		cmocka_unit_test(test_with_lapic),
		cmocka_unit_test(test_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
