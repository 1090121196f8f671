/* The host's MADT read for its processors: hand-built tables with the layout of ACPI
 * 6.5, 5.2.12 written out here (local APIC entries of 8 bytes, local x2APIC entries of
 * 16), each parsed from a heap block of exactly its size so that the sanitizer catches
 * any read past it. */
#include <stdlib.h>
#include <string.h>
#include "hv/acpi.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

#define ENABLED 1u
#define ONLINE_CAPABLE 2u

struct madt {
	uint8_t b[2048];
	size_t len;
};

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void begin(struct madt *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->b, "APIC", 4);
	put32(m->b + 36, 0xfee00000u); /* local APIC address */
	put32(m->b + 40, 1);           /* PCAT_COMPAT */
	m->len = 44;
}

static void lapic(struct madt *m, uint8_t uid, uint8_t id, uint32_t flags)
{
	uint8_t *e = m->b + m->len;

	e[0] = 0, e[1] = 8, e[2] = uid, e[3] = id;
	put32(e + 4, flags);
	m->len += 8;
}

static void x2apic(struct madt *m, uint32_t id, uint32_t flags, uint32_t uid)
{
	uint8_t *e = m->b + m->len;

	e[0] = 9, e[1] = 16;
	put32(e + 4, id);
	put32(e + 8, flags);
	put32(e + 12, uid);
	m->len += 16;
}

/* An I/O APIC entry (type 1, 12 bytes): not a processor, skipped by its length. */
static void ioapic(struct madt *m)
{
	uint8_t *e = m->b + m->len;

	e[0] = 1, e[1] = 12, e[2] = 1;
	put32(e + 4, 0xfec00000u);
	m->len += 12;
}

/* Parses the first `avail` bytes from a block of exactly that size; the header's
 * length field says `hdr_len`. */
static int parse(const struct madt *m, uint32_t hdr_len, size_t avail, struct acpi_cpus *c)
{
	uint8_t *copy = malloc(avail ? avail : 1);
	int r;

	memcpy(copy, m->b, avail);
	if (avail >= 8)
		put32(copy + 4, hdr_len);
	r = acpi_parse_madt(copy, avail, c);
	free(copy);
	return r;
}

static int parse_whole(const struct madt *m, struct acpi_cpus *c)
{
	return parse(m, (uint32_t)m->len, m->len, c);
}

static void test_enabled_only(void **state)
{
	struct madt m;
	struct acpi_cpus c;

	begin(&m);
	lapic(&m, 0, 0, ENABLED);
	ioapic(&m);
	lapic(&m, 1, 2, ENABLED);
	lapic(&m, 2, 4, 0);              /* present in the table, disabled */
	lapic(&m, 3, 6, ONLINE_CAPABLE); /* hot-pluggable: not there yet */
	lapic(&m, 4, 0xff, ENABLED);     /* 0xff is no processor */
	lapic(&m, 5, 7, ENABLED | ONLINE_CAPABLE);
	assert_int_equal(parse_whole(&m, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.apic_id[0], 0);
	assert_int_equal(c.apic_id[1], 2);
	assert_int_equal(c.apic_id[2], 7);
	assert_int_equal(c.not_enabled, 2);
	assert_int_equal(c.dropped, 0);
}

static void test_x2apic_entries(void **state)
{
	struct madt m;
	struct acpi_cpus c;

	begin(&m);
	lapic(&m, 0, 1, ENABLED);
	x2apic(&m, 1, ENABLED, 0);       /* the same CPU listed twice: counted once */
	x2apic(&m, 300, ENABLED, 7);     /* an ID a local APIC entry cannot hold */
	x2apic(&m, 301, 0, 8);
	x2apic(&m, 0xffffffffu, ENABLED, 9);
	assert_int_equal(parse_whole(&m, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.apic_id[0], 1);
	assert_int_equal(c.apic_id[1], 300);
	assert_int_equal(c.not_enabled, 1);
}

static void test_bad_lengths_refused(void **state)
{
	struct madt m;
	struct acpi_cpus c;

	begin(&m);
	lapic(&m, 0, 0, ENABLED);
	m.b[m.len - 7] = 6; /* a local APIC entry of 6 bytes: its flags would be cut */
	assert_int_equal(parse_whole(&m, &c), -E_FORMAT);

	begin(&m);
	x2apic(&m, 5, ENABLED, 0);
	m.b[m.len - 15] = 12;
	m.len -= 4;
	assert_int_equal(parse_whole(&m, &c), -E_FORMAT);

	begin(&m);
	lapic(&m, 0, 0, ENABLED);
	m.b[m.len - 7] = 0; /* a zero length would loop forever */
	assert_int_equal(parse_whole(&m, &c), -E_FORMAT);
	m.b[m.len - 7] = 1;
	assert_int_equal(parse_whole(&m, &c), -E_FORMAT);

	begin(&m);
	lapic(&m, 0, 0, ENABLED);
	m.b[m.len - 7] = 9; /* runs one byte past the table */
	assert_int_equal(parse_whole(&m, &c), -E_FORMAT);
	assert_int_equal(c.n, 0);

	begin(&m);
	lapic(&m, 0, 0, ENABLED);
	m.b[m.len++] = 0; /* a lone type byte without its length */
	assert_int_equal(parse_whole(&m, &c), -E_FORMAT);

	begin(&m);
	assert_int_equal(parse(&m, 40, m.len, &c), -E_FORMAT); /* shorter than its fixed part */
	assert_int_equal(parse(&m, 44, 43, &c), -E_FORMAT);
	assert_int_equal(parse(&m, 44, 44, &c), 0);
	assert_int_equal(c.n, 0);
}

/* The header says more than may be read: refused, and nothing past the block is read
 * (the sanitizer would stop the test). */
static void test_lying_length(void **state)
{
	struct madt m;
	struct acpi_cpus c;

	begin(&m);
	lapic(&m, 0, 0, ENABLED);
	lapic(&m, 1, 1, ENABLED);
	assert_int_equal(parse(&m, (uint32_t)m.len + 8, m.len, &c), -E_FORMAT);
	assert_int_equal(parse(&m, 0xffffffffu, m.len, &c), -E_FORMAT);
	/* A header shorter than the bytes at hand: only what it says is read. */
	assert_int_equal(parse(&m, (uint32_t)m.len - 8, m.len, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.apic_id[0], 0);
}

static void test_too_many(void **state)
{
	struct madt m;
	struct acpi_cpus c;

	begin(&m);
	for (unsigned i = 0; i < ACPI_MAX_CPUS + 3; i++)
		x2apic(&m, 1000 + i, ENABLED, i);
	assert_true(m.len <= sizeof(m.b));
	assert_int_equal(parse_whole(&m, &c), 0);
	assert_int_equal(c.n, ACPI_MAX_CPUS);
	assert_int_equal(c.apic_id[ACPI_MAX_CPUS - 1], 1000 + ACPI_MAX_CPUS - 1);
	assert_int_equal(c.dropped, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enabled_only),
		cmocka_unit_test(test_x2apic_entries),
		cmocka_unit_test(test_bad_lengths_refused),
		cmocka_unit_test(test_lying_length),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
