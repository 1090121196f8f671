/* The guest's ACPI tables, read back the way an OS reads them: from the RSDP, through
 * the pointers, with the offsets and encodings of the ACPI 6.3 specification written
 * out here independently of hv/dev/acpi_tables.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hv/acpi.h"
#include "hv/dev/acpi_tables.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

#define BASE 0xE0000ull
#define ROOM 4096

static uint8_t buf[ROOM];
static struct acpi_layout lay;

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t g32(const uint8_t *p)
{
	return g16(p) | (uint32_t)g16(p + 2) << 16;
}

static uint64_t g64(const uint8_t *p)
{
	return g32(p) | (uint64_t)g32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static struct acpi_config config(unsigned nr_cpus)
{
	struct acpi_config c = { .ram_bytes = 64 * MIB, .nr_cpus = nr_cpus };

	for (unsigned i = 0; i < nr_cpus; i++)
		c.apic_ids[i] = (uint8_t)(i * 2); /* not the indexes, to tell them apart */
	return c;
}

static void build(unsigned nr_cpus)
{
	struct acpi_config c = config(nr_cpus);

	memset(buf, 0xcc, sizeof(buf));
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), 0);
}

/* The table at a guest-physical address, inside what acpi_build wrote. */
static const uint8_t *at(uint64_t gpa, size_t len)
{
	assert_true(gpa >= BASE && gpa - BASE + len <= lay.used);
	return buf + (gpa - BASE);
}

/* A table whose header is sane: signature, length inside the buffer, checksum 0. */
static const uint8_t *table(uint64_t gpa, const char *sig, uint8_t rev)
{
	const uint8_t *t = at(gpa, 36);

	assert_memory_equal(t, sig, 4);
	at(gpa, g32(t + 4));
	assert_int_equal(t[8], rev);
	assert_int_equal(sum(t, g32(t + 4)), 0);
	assert_memory_equal(t + 10, "TERN  ", 6);
	assert_int_equal(gpa % 8, 0);
	return t;
}

static void test_rsdp(void **state)
{
	build(1);
	assert_int_equal(lay.rsdp, BASE);
	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(sum(buf, 20), 0);
	assert_int_equal(sum(buf, 36), 0);
	assert_int_equal(buf[15], 2);          /* revision */
	assert_int_equal(g32(buf + 20), 36);   /* length */
	assert_int_equal(g32(buf + 16), lay.rsdt);
	assert_int_equal(g64(buf + 24), lay.xsdt);
	assert_true(lay.used <= ROOM && lay.used > 36);
	assert_int_equal(buf[lay.used], 0xcc); /* nothing written past what it says */
}

static void test_roots_point_to_fadt_and_madt(void **state)
{
	const uint8_t *r, *x;

	build(1);
	r = table(lay.rsdt, "RSDT", 1);
	x = table(lay.xsdt, "XSDT", 1);
	assert_int_equal(g32(r + 4), 36 + 2 * 4);
	assert_int_equal(g32(x + 4), 36 + 2 * 8);
	assert_int_equal(g32(r + 36), lay.fadt);
	assert_int_equal(g32(r + 40), lay.madt);
	assert_int_equal(g64(x + 36), lay.fadt);
	assert_int_equal(g64(x + 44), lay.madt);
	table(g32(r + 36), "FACP", 6);
	table(g64(x + 44), "APIC", 5);
}

/* A Generic Address Structure: space, bit width, bit offset, access size, address. */
static void check_gas(const uint8_t *g, uint8_t space, uint8_t bits, uint8_t access,
		      uint64_t addr)
{
	assert_int_equal(g[0], space);
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], access);
	assert_int_equal(g64(g + 4), addr);
}

static void test_fadt_fields(void **state)
{
	const uint8_t *f;

	build(1);
	f = table(lay.fadt, "FACP", 6);
	assert_int_equal(g32(f + 4), 276);
	assert_int_equal(f[131], 3);                  /* minor version */
	assert_int_equal(g32(f + 36), lay.facs);      /* FIRMWARE_CTRL */
	assert_int_equal(g32(f + 40), lay.dsdt);      /* DSDT */
	assert_int_equal(g16(f + 46), 9);             /* SCI_INT */
	assert_int_equal(g32(f + 48), 0);             /* SMI_CMD: none, always ACPI mode */
	assert_int_equal(f[52] | f[53] | f[54], 0);   /* ACPI_ENABLE/DISABLE, S4BIOS_REQ */
	assert_int_equal(g32(f + 56), 0x600);         /* PM1a_EVT_BLK */
	assert_int_equal(g32(f + 60), 0);             /* PM1b_EVT_BLK */
	assert_int_equal(g32(f + 64), 0x604);         /* PM1a_CNT_BLK */
	assert_int_equal(g32(f + 68), 0);             /* PM1b_CNT_BLK */
	assert_int_equal(g32(f + 72), 0);             /* PM2_CNT_BLK */
	assert_int_equal(g32(f + 76), 0x608);         /* PM_TMR_BLK */
	assert_int_equal(g32(f + 80) | g32(f + 84), 0); /* GPE0/1_BLK */
	assert_int_equal(f[88], 4);                   /* PM1_EVT_LEN */
	assert_int_equal(f[89], 2);                   /* PM1_CNT_LEN */
	assert_int_equal(f[90], 0);                   /* PM2_CNT_LEN */
	assert_int_equal(f[91], 4);                   /* PM_TMR_LEN */
	assert_int_equal(f[92] | f[93], 0);           /* GPE0/1_BLK_LEN */
	assert_true(g16(f + 96) > 100);               /* P_LVL2_LAT: no C2 */
	assert_true(g16(f + 98) > 1000);              /* P_LVL3_LAT: no C3 */
	/* IAPC_BOOT_ARCH: legacy devices, no 8042, no VGA */
	assert_int_equal(g16(f + 109), 1u << 0 | 1u << 2);
	/* flags: WBINVD, PROC_C1, SLP_BUTTON, FIX_RTC, TMR_VAL_EXT, RESET_REG_SUP,
	 * HEADLESS; the power button is the fixed one (PWR_BUTTON clear) */
	assert_int_equal(g32(f + 112), 1u << 0 | 1u << 2 | 1u << 5 | 1u << 6 | 1u << 8 |
						1u << 10 | 1u << 12);
	check_gas(f + 116, 1, 8, 1, 0xcf9); /* RESET_REG */
	assert_int_equal(f[128], 0x06);     /* RESET_VALUE */
	assert_int_equal(g64(f + 132), lay.facs); /* X_FIRMWARE_CTRL */
	assert_int_equal(g64(f + 140), lay.dsdt); /* X_DSDT */
	check_gas(f + 148, 1, 32, 2, 0x600); /* X_PM1a_EVT_BLK */
	check_gas(f + 160, 0, 0, 0, 0);      /* X_PM1b_EVT_BLK */
	check_gas(f + 172, 1, 16, 2, 0x604); /* X_PM1a_CNT_BLK */
	check_gas(f + 184, 0, 0, 0, 0);      /* X_PM1b_CNT_BLK */
	check_gas(f + 196, 0, 0, 0, 0);      /* X_PM2_CNT_BLK */
	check_gas(f + 208, 1, 32, 3, 0x608); /* X_PM_TMR_BLK */
	check_gas(f + 220, 0, 0, 0, 0);      /* X_GPE0_BLK */
	check_gas(f + 232, 0, 0, 0, 0);      /* X_GPE1_BLK */
}

static void test_facs(void **state)
{
	struct acpi_config c = config(1);
	const uint8_t *f;

	build(1);
	f = at(lay.facs, 64);
	assert_memory_equal(f, "FACS", 4);
	assert_int_equal(g32(f + 4), 64);
	assert_int_equal(f[32], 2);          /* version */
	assert_int_equal(g32(f + 12), 0);    /* no waking vector */
	assert_int_equal(g32(f + 20), 0);    /* flags: no S4BIOS */
	assert_int_equal(lay.facs % 64, 0);
	/* 64-byte aligned in guest-physical terms from any 16-byte aligned base */
	for (uint64_t base = BASE; base < BASE + 64; base += 16) {
		memset(buf, 0, sizeof(buf));
		assert_int_equal(acpi_build(&c, base, buf, sizeof(buf), &lay), 0);
		assert_int_equal(lay.facs % 64, 0);
		assert_memory_equal(buf + (lay.facs - base), "FACS", 4);
		assert_int_equal(lay.rsdp, base);
	}
}

struct madt_seen {
	unsigned lapics, ioapics, isos, nmis;
};

static void check_madt_entry(const uint8_t *e, unsigned nr_cpus, struct madt_seen *s)
{
	switch (e[0]) {
	case 0: /* Processor Local APIC */
		assert_int_equal(e[1], 8);
		assert_int_equal(e[2], s->lapics);         /* processor UID */
		assert_int_equal(e[3], s->lapics * 2);     /* APIC ID, as configured */
		assert_int_equal(g32(e + 4), 1);           /* enabled */
		s->lapics++;
		break;
	case 1: /* I/O APIC */
		assert_int_equal(e[1], 12);
		assert_int_equal(e[2], 1);
		assert_int_equal(g32(e + 4), 0xfec00000);
		assert_int_equal(g32(e + 8), 0);
		s->ioapics++;
		break;
	case 2: /* Interrupt Source Override: bus ISA */
		assert_int_equal(e[1], 10);
		assert_int_equal(e[2], 0);
		if (s->isos == 0) {
			assert_int_equal(e[3], 0);
			assert_int_equal(g32(e + 4), 2);
			assert_int_equal(g16(e + 8), 0x5); /* edge, active high */
		} else {
			assert_int_equal(e[3], 9);
			assert_int_equal(g32(e + 4), 9);
			assert_int_equal(g16(e + 8), 0xd); /* level, active high */
		}
		s->isos++;
		break;
	case 4: /* Local APIC NMI */
		assert_int_equal(e[1], 6);
		assert_int_equal(e[2], 0xff); /* all processors */
		assert_int_equal(g16(e + 3), 0x5);
		assert_int_equal(e[5], 1); /* LINT1 */
		s->nmis++;
		break;
	default:
		fail_msg("MADT entry type %u", e[0]);
	}
}

static void test_madt(void **state)
{
	for (unsigned n = 1; n <= ACPI_MAX_CPUS; n += ACPI_MAX_CPUS - 1) {
		struct madt_seen s = { 0 };
		const uint8_t *m, *e, *end;

		build(n);
		m = table(lay.madt, "APIC", 5);
		assert_int_equal(g32(m + 36), 0xfee00000);
		assert_int_equal(g32(m + 40), 1); /* PCAT_COMPAT */
		end = m + g32(m + 4);
		for (e = m + 44; e < end; e += e[1]) {
			assert_true(e[1] >= 2 && e + e[1] <= end);
			check_madt_entry(e, n, &s);
		}
		assert_ptr_equal(e, end);
		assert_int_equal(s.lapics, n);
		assert_int_equal(s.ioapics, 1);
		assert_int_equal(s.isos, 2);
		assert_int_equal(s.nmis, 1);
	}
}

/* tern's own S5 reader (hv/acpi.c), which powers the host off, reads the guest's
 * DSDT as a host's. */
static void test_dsdt_s5(void **state)
{
	const uint8_t *d;
	uint8_t typ = 0xee;

	build(1);
	d = table(lay.dsdt, "DSDT", 2);
	assert_true(acpi_parse_s5(d + 36, g32(d + 4) - 36, &typ));
	assert_int_equal(typ, 5);
}

/* --- an AML reader for what the DSDT may hold, printing it as an outline --- */

struct dec {
	const uint8_t *p;
	size_t end;
	char out[2048];
	size_t n;
};

static void say(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	d->n += vsnprintf(d->out + d->n, sizeof(d->out) - d->n, fmt, ap);
	va_end(ap);
	assert_true(d->n < sizeof(d->out));
}

/* PkgLength at *i: returns the offset where the object ends. */
static size_t pkglen(struct dec *d, size_t *i, size_t limit)
{
	size_t start = *i, len, k;

	assert_true(*i < limit);
	k = d->p[*i] >> 6;
	len = k ? d->p[*i] & 0xf : d->p[*i] & 0x3f;
	if (k)
		assert_int_equal(d->p[*i] & 0x30, 0); /* reserved bits */
	for (size_t j = 1; j <= k; j++)
		len |= (size_t)d->p[*i + j] << (4 + 8 * (j - 1));
	/* the shortest encoding */
	assert_true(k == 0 || len > 0x3f);
	*i += 1 + k;
	assert_true(start + len <= limit);
	return start + len;
}

static void name(struct dec *d, size_t *i)
{
	if (d->p[*i] == '\\')
		say(d, "\\"), ++*i;
	for (int j = 0; j < 4; j++) {
		char c = (char)d->p[*i + j];
		assert_true(c == '_' || (c >= 'A' && c <= 'Z') || (j && c >= '0' && c <= '9'));
	}
	say(d, "%.4s", (const char *)d->p + *i);
	*i += 4;
}

static uint64_t integer(struct dec *d, size_t *i)
{
	static const unsigned size[16] = { [0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8 };
	uint8_t op = d->p[(*i)++];
	uint64_t v = 0;

	if (op <= 1)
		return op;
	assert_true(op < 16 && size[op]);
	for (unsigned j = 0; j < size[op]; j++)
		v |= (uint64_t)d->p[(*i)++] << (8 * j);
	/* the shortest encoding, as aml_int promises */
	assert_true(v > 1 && (size[op] == 1 || v >> (8 * size[op] / 2)));
	return v;
}

/* A resource template (6.4): each descriptor's fields, ending with the end tag exactly
 * at the buffer's end. */
static void resources(struct dec *d, size_t i, size_t end)
{
	const uint8_t *p = d->p;

	for (;;) {
		assert_true(i < end);
		switch (p[i]) {
		case 0x88: /* Word address space */
			assert_int_equal(g16(p + i + 1), 13);
			assert_int_equal(p[i + 4], 0x0c); /* producer, min/max fixed */
			assert_int_equal(g16(p + i + 6), 0); /* granularity */
			assert_int_equal(g16(p + i + 12), 0); /* translation */
			assert_int_equal(g16(p + i + 14), g16(p + i + 10) - g16(p + i + 8) + 1);
			say(d, "Word%s(%#x-%#x,%#x)",
			    p[i + 3] == 2 ? "Bus" : p[i + 3] == 1 ? "IO" : "?", g16(p + i + 8),
			    g16(p + i + 10), p[i + 5]);
			i += 16;
			break;
		case 0x87: /* DWord address space */
			assert_int_equal(g16(p + i + 1), 23);
			assert_int_equal(p[i + 3], 0); /* memory */
			assert_int_equal(p[i + 4], 0x0c);
			assert_int_equal(g32(p + i + 6), 0);
			assert_int_equal(g32(p + i + 18), 0);
			assert_int_equal(g32(p + i + 22), g32(p + i + 14) - g32(p + i + 10) + 1);
			say(d, "DWordMem(%#x-%#x,%#x)", g32(p + i + 10), g32(p + i + 14), p[i + 5]);
			i += 26;
			break;
		case 0x47: /* I/O port */
			assert_int_equal(p[i + 1], 1); /* 16-bit decode */
			assert_int_equal(g16(p + i + 2), g16(p + i + 4)); /* fixed */
			say(d, "IO(%#x,%u)", g16(p + i + 2), p[i + 7]);
			i += 8;
			break;
		case 0x22: /* IRQ, no flags */
			say(d, "IRQ(%#x)", g16(p + i + 1));
			i += 3;
			break;
		case 0x79:
			assert_int_equal(i + 2, end);
			say(d, "End");
			return;
		default:
			fail_msg("resource descriptor %#x at %zu", p[i], i);
		}
	}
}

static void data_object(struct dec *d, size_t *i)
{
	size_t end, count;

	switch (d->p[*i]) {
	case 0x12: /* Package */
		++*i;
		end = pkglen(d, i, d->end);
		count = d->p[(*i)++];
		say(d, "Package(%zu){", count);
		for (size_t k = 0; k < count; k++)
			say(d, k ? ",%#llx" : "%#llx", (unsigned long long)integer(d, i));
		assert_int_equal(*i, end);
		say(d, "}");
		break;
	case 0x11: /* Buffer */
		++*i;
		end = pkglen(d, i, d->end);
		count = integer(d, i);
		assert_int_equal(*i + count, end);
		say(d, "Buffer(%zu){", count);
		resources(d, *i, end);
		say(d, "}");
		*i = end;
		break;
	default:
		say(d, "%#llx", (unsigned long long)integer(d, i));
	}
}

static void term_list(struct dec *d, size_t i, size_t end)
{
	size_t obj_end;

	while (i < end) {
		switch (d->p[i]) {
		case 0x08: /* Name */
			i++;
			say(d, "Name(");
			name(d, &i);
			say(d, ",");
			data_object(d, &i);
			say(d, ")");
			break;
		case 0x10: /* Scope */
			i++;
			obj_end = pkglen(d, &i, end);
			say(d, "Scope(");
			goto body;
		case 0x5b: /* Device */
			assert_int_equal(d->p[i + 1], 0x82);
			i += 2;
			obj_end = pkglen(d, &i, end);
			say(d, "Device(");
body:
			name(d, &i);
			say(d, "){");
			term_list(d, i, obj_end);
			say(d, "}");
			i = obj_end;
			break;
		default:
			fail_msg("AML opcode %#x at %zu", d->p[i], i);
		}
	}
	assert_int_equal(i, end);
}

static void test_dsdt_decodes(void **state)
{
	static struct dec d;
	const uint8_t *t;

	build(1);
	t = table(lay.dsdt, "DSDT", 2);
	d = (struct dec){ .p = t, .end = g32(t + 4) };
	term_list(&d, 36, d.end);
	assert_string_equal(d.out,
		"Name(_S5_,Package(4){0x5,0,0,0})"
		"Scope(\\_SB_){"
		"Device(PCI0){"
		"Name(_HID,0x30ad041)" /* EISAID("PNP0A03") */
		"Name(_UID,0)"
		"Name(_BBN,0)"
		"Name(_CRS,Buffer(76){"
		"WordBus(0-0xff,0)"
		"WordIO(0-0xcf7,0x3)"
		"WordIO(0xd00-0xffff,0x3)"
		"DWordMem(0x4000000-0xfebfffff,0x1)"
		"End})}"
		"Device(COM1){"
		"Name(_HID,0x105d041)" /* EISAID("PNP0501") */
		"Name(_CRS,Buffer(13){IO(0x3f8,8)IRQ(0x10)End})}"
		"}");
	assert_int_equal(lay.pci_mem_base, 0x4000000);
	assert_int_equal(lay.pci_mem_limit, 0xfebfffff);
}

/* The window starts at the first MiB at or above RAM, and RAM must leave one. */
static void test_pci_window(void **state)
{
	struct acpi_config c = config(1);

	c.ram_bytes = 64 * MIB + 4096;
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), 0);
	assert_int_equal(lay.pci_mem_base, 65 * MIB);
	c.ram_bytes = 0xfec00000ull - MIB;
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), 0);
	assert_int_equal(lay.pci_mem_base, 0xfeb00000);
	c.ram_bytes++;
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), -E_INVAL);
	c.ram_bytes = 8 * GIB;
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), -E_INVAL);
}

static void test_bad_config(void **state)
{
	struct acpi_config c = config(2);
	struct acpi_layout keep = { .used = 77 };

	lay = keep;
	assert_int_equal(acpi_build(&c, BASE + 8, buf, sizeof(buf), &lay), -E_INVAL);
	assert_int_equal(acpi_build(&c, 0xd0000, buf, sizeof(buf), &lay), -E_INVAL);
	assert_int_equal(acpi_build(&c, 0x100000, buf, sizeof(buf), &lay), -E_INVAL);
	assert_int_equal(acpi_build(NULL, BASE, buf, sizeof(buf), &lay), -E_INVAL);
	c.nr_cpus = 0;
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), -E_INVAL);
	c.nr_cpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), -E_INVAL);
	c = config(2);
	c.apic_ids[1] = c.apic_ids[0];
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), -E_INVAL);
	c.apic_ids[1] = 0xff;
	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &lay), -E_INVAL);
	assert_int_equal(lay.used, 77); /* the layout is left alone on errors */
}

/* Every buffer too small is refused, and nothing is written outside it (ASan watches
 * the exact-size allocations); the tables must also end inside the firmware area. */
static void test_room(void **state)
{
	struct acpi_config c = config(ACPI_MAX_CPUS);
	struct acpi_layout l;
	size_t need;

	assert_int_equal(acpi_build(&c, BASE, buf, sizeof(buf), &l), 0);
	need = l.used;
	for (size_t room = 0; room < need; room++) {
		uint8_t *b = malloc(room ? room : 1);

		assert_int_equal(acpi_build(&c, BASE, b, room, &l), -E_RANGE);
		free(b);
	}
	uint8_t *b = malloc(need);
	assert_int_equal(acpi_build(&c, BASE, b, need, &l), 0);
	free(b);
	/* with the same alignment as BASE, the same layout */
	assert_int_equal(acpi_build(&c, ALIGN_DOWN(ACPI_AREA_END - need, 64), buf, sizeof(buf),
				    &l), 0);
	assert_int_equal(l.used, need);
	assert_int_equal(acpi_build(&c, ALIGN_DOWN(ACPI_AREA_END - need, 64) + 64, buf,
				    sizeof(buf), &l), -E_RANGE);
}

static void test_reserved_ranges(void **state)
{
	unsigned nr;
	const struct acpi_range *r = acpi_reserved_ranges(&nr);
	bool ebda = false, firmware = false;

	assert_true(nr >= 2);
	for (unsigned i = 0; i < nr; i++) {
		assert_true(r[i].len > 0);
		if (i)
			assert_true(r[i].base >= r[i - 1].base + r[i - 1].len);
		ebda |= r[i].base <= 0x9fc00 && r[i].base + r[i].len >= 0xa0000;
		firmware |= r[i].base <= 0xe0000 && r[i].base + r[i].len >= 0x100000;
	}
	assert_true(ebda && firmware);
	/* the I/O APIC and local APIC pages */
	assert_int_equal(r[nr - 2].base, 0xfec00000);
	assert_int_equal(r[nr - 1].base, 0xfee00000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp),
		cmocka_unit_test(test_roots_point_to_fadt_and_madt),
		cmocka_unit_test(test_fadt_fields),
		cmocka_unit_test(test_facs),
		cmocka_unit_test(test_madt),
		cmocka_unit_test(test_dsdt_s5),
		cmocka_unit_test(test_dsdt_decodes),
		cmocka_unit_test(test_pci_window),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_room),
		cmocka_unit_test(test_reserved_ranges),
	};
	return cmocka_run_group_tests_name("acpi_tables", tests, NULL, NULL);
}
