#include "guests/lib/guest.h"
#include "guests/lib/acpi.h"

#define BDA_EBDA_SEG 0x40E /* the BIOS data area's word holding the EBDA's segment */
#define EBDA_SCAN 1024
#define LOW_RAM_END 0xA0000
#define BIOS_AREA 0xE0000
#define BIOS_AREA_END 0x100000
#define RSDP_V1_LEN 20 /* what the ACPI 1.0 checksum covers */
#define MADT_ENTRIES 44 /* the header, the local APIC address and the flags come first */
#define MADT_LAPIC 0
#define MADT_LAPIC_LEN 8
#define MADT_LAPIC_ENABLED 1

/* 5.2.5.3 */
struct rsdp {
	char sig[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length; /* revision 2 and later from here */
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __packed;

/* A table's bytes sum to 0 (mod 256) when its checksum is right. */
static uint8_t sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

static const struct rsdp *scan(uintptr_t from, uintptr_t to)
{
	for (uintptr_t a = from; a + RSDP_V1_LEN <= to; a += 16) {
		const struct rsdp *r = (const void *)a;

		if (!memcmp(r->sig, "RSD PTR ", 8) && !sum(r, RSDP_V1_LEN))
			return r;
	}
	return NULL;
}

static const struct rsdp *find_rsdp(void)
{
	uintptr_t ebda = (uintptr_t)*(volatile uint16_t *)BDA_EBDA_SEG << 4;
	const struct rsdp *r = NULL;

	/* a BIOS that left no EBDA leaves the word 0, or garbage: look only in low RAM */
	if (ebda >= 0x80000 && ebda + EBDA_SCAN <= LOW_RAM_END)
		r = scan(ebda, ebda + EBDA_SCAN);
	return r ? r : scan(BIOS_AREA, BIOS_AREA_END);
}

static const struct acpi_header *table(uint64_t addr)
{
	const struct acpi_header *t = (const void *)(uintptr_t)addr;

	if (!addr || addr >> 32 || t->length < sizeof(*t) || sum(t, t->length))
		return NULL;
	return t;
}

const void *acpi_rsdp(void)
{
	return find_rsdp();
}

const struct acpi_header *acpi_table(uint64_t addr, const char *sig)
{
	const struct acpi_header *t = table(addr);

	return t && !memcmp(t->sig, sig, 4) ? t : NULL;
}

/* The XSDT only when the RSDP's extended checksum vouches for its address (5.2.5.3) */
static const struct acpi_header *root(const struct rsdp *r, size_t *width)
{
	const struct acpi_header *t;

	if (r->revision >= 2 && r->length >= sizeof(*r) && !sum(r, r->length) &&
	    (t = table(r->xsdt)) && !memcmp(t->sig, "XSDT", 4)) {
		*width = 8;
		return t;
	}
	*width = 4;
	t = table(r->rsdt);
	return t && !memcmp(t->sig, "RSDT", 4) ? t : NULL;
}

const struct acpi_header *acpi_find(const char *sig)
{
	const struct rsdp *r = find_rsdp();
	const struct acpi_header *sdt, *t;
	const uint8_t *entry;
	uint64_t addr;
	size_t width, n;

	if (!r || !(sdt = root(r, &width)))
		return NULL;
	entry = (const uint8_t *)(sdt + 1);
	n = (sdt->length - sizeof(*sdt)) / width;
	for (size_t i = 0; i < n; i++, entry += width) {
		addr = 0; /* the XSDT's 64-bit entries are only 4-byte aligned */
		memcpy(&addr, entry, width);
		if ((t = table(addr)) && !memcmp(t->sig, sig, 4))
			return t;
	}
	return NULL;
}

int acpi_madt_lapics(uint8_t *ids, int max)
{
	const struct acpi_header *madt = acpi_find("APIC");
	const uint8_t *p, *end;
	int n = 0;

	if (!madt || madt->length < MADT_ENTRIES)
		return -1;
	p = (const uint8_t *)madt + MADT_ENTRIES;
	end = (const uint8_t *)madt + madt->length;
	/* entry: type, length, then its fields; a length under 2 would loop forever */
	for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		if (p[0] != MADT_LAPIC || p[1] < MADT_LAPIC_LEN || !(p[4] & MADT_LAPIC_ENABLED))
			continue;
		if (n < max)
			ids[n] = p[3];
		n++;
	}
	return n;
}
