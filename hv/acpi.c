#include "hv/acpi.h"
#include "hv/error.h"
#include "hv/lib/string.h"
#include "hv/pci.h"
#include "hv/time.h"
#include "hv/x86.h"

struct rsdp {
	char sig[8];
	uint8_t checksum;
	char oem[6];
	uint8_t rev;
	uint32_t rsdt;
	uint32_t len;
	uint64_t xsdt;
	uint8_t xchecksum, reserved[3];
} __packed;

/* FADT offsets (ACPI 6.x, 5.2.9) */
#define FADT_DSDT 40
#define FADT_PM1A_CNT 64
#define FADT_PM1B_CNT 68
#define FADT_X_DSDT 140

#define SLP_EN (1u << 13)

static const struct rsdp *rsdp;

static bool checksum_ok(const void *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += ((const uint8_t *)p)[i];
	return sum == 0;
}

static const struct rsdp *scan_rsdp(uint64_t from, uint64_t to)
{
	for (uint64_t a = from; a + sizeof(struct rsdp) <= to; a += 16) {
		const struct rsdp *r = (const void *)(uintptr_t)a;
		if (memcmp(r->sig, "RSD PTR ", 8) == 0 && checksum_ok(r, 20))
			return r;
	}
	return NULL;
}

int acpi_init(uint64_t rsdp_pa)
{
	if (rsdp_pa) {
		rsdp = (const void *)(uintptr_t)rsdp_pa;
		if (memcmp(rsdp->sig, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20))
			rsdp = NULL;
	}
	/* The BIOS area; the EBDA pointer lives in page 0, which tern leaves unmapped. */
	if (!rsdp)
		rsdp = scan_rsdp(0xe0000, 0x100000);
	return rsdp ? 0 : -1;
}

static const struct acpi_header *table_at(uint64_t pa)
{
	const struct acpi_header *h = (const void *)(uintptr_t)pa;

	if (!pa || h->len < sizeof(*h) || !checksum_ok(h, h->len))
		return NULL;
	return h;
}

const struct acpi_header *acpi_find(const char sig[4])
{
	const struct acpi_header *root;
	bool wide;
	size_t n;

	if (!rsdp)
		return NULL;
	wide = rsdp->rev >= 2 && rsdp->xsdt;
	root = table_at(wide ? rsdp->xsdt : rsdp->rsdt);
	if (!root)
		return NULL;
	n = (root->len - sizeof(*root)) / (wide ? 8 : 4);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = (const uint8_t *)(root + 1) + i * (wide ? 8 : 4);
		uint64_t pa = 0;
		memcpy(&pa, e, wide ? 8 : 4);
		const struct acpi_header *h = table_at(pa);
		if (h && memcmp(h->sig, sig, 4) == 0)
			return h;
	}
	return NULL;
}

/* MADT (ACPI 6.5, 5.2.12): the header, the local APIC address and flags (44 bytes),
 * then entries of { type, length, ... }. */
#define MADT_ENTRIES 44
#define MADT_LAPIC 0        /* uid(1) apic_id(1) flags(4): 8 bytes (5.2.12.2) */
#define MADT_X2APIC 9       /* reserved(2) x2apic_id(4) flags(4) uid(4): 16 bytes (5.2.12.12) */
#define MADT_ENABLED (1u << 0)

static void madt_add(struct acpi_cpus *out, uint32_t id, uint32_t flags)
{
	if (!(flags & MADT_ENABLED)) {
		out->not_enabled++; /* absent, or online-capable: hot-plug, not started */
		return;
	}
	/* Firmware may list a CPU both as local APIC and as x2APIC. */
	for (uint32_t i = 0; i < out->n; i++)
		if (out->apic_id[i] == id)
			return;
	if (out->n == ACPI_MAX_CPUS) {
		out->dropped++;
		return;
	}
	out->apic_id[out->n++] = id;
}

int acpi_parse_madt(const uint8_t *t, size_t len, struct acpi_cpus *out)
{
	uint32_t tlen, flags, id;

	memset(out, 0, sizeof(*out));
	if (len < MADT_ENTRIES)
		return -E_FORMAT;
	memcpy(&tlen, t + 4, 4);
	if (tlen < MADT_ENTRIES || tlen > len)
		return -E_FORMAT;
	for (size_t p = MADT_ENTRIES; p < tlen;) {
		uint8_t type = t[p], elen = p + 1 < tlen ? t[p + 1] : 0;

		if (elen < 2 || elen > tlen - p)
			return -E_FORMAT;
		if (type == MADT_LAPIC) {
			if (elen < 8)
				return -E_FORMAT;
			memcpy(&flags, t + p + 4, 4);
			if (t[p + 3] != 0xff) /* 0xff: no processor (5.2.12.2) */
				madt_add(out, t[p + 3], flags);
		} else if (type == MADT_X2APIC) {
			if (elen < 16)
				return -E_FORMAT;
			memcpy(&id, t + p + 4, 4);
			memcpy(&flags, t + p + 8, 4);
			if (id != 0xffffffffu)
				madt_add(out, id, flags);
		}
		p += elen;
	}
	return 0;
}

int acpi_host_cpus(struct acpi_cpus *out)
{
	const struct acpi_header *madt = acpi_find("APIC");

	memset(out, 0, sizeof(*out));
	if (!madt)
		return -E_NOENT;
	return acpi_parse_madt((const uint8_t *)madt, madt->len, out);
}

/* AML: NameOp "_S5_" PackageOp PkgLength NumElements <SLP_TYPa> ... (ACPI 6.x, 20.2) */
bool acpi_parse_s5(const uint8_t *aml, size_t len, uint8_t *slp_typ)
{
	for (size_t i = 0; i + 8 < len; i++) {
		if (memcmp(aml + i, "_S5_", 4) != 0)
			continue;
		if (i == 0 || (aml[i - 1] != 0x08 && !(i >= 2 && aml[i - 1] == '\\' &&
							 aml[i - 2] == 0x08)))
			continue;
		size_t p = i + 4;
		if (aml[p++] != 0x12) /* PackageOp */
			continue;
		p += 1 + (aml[p] >> 6); /* PkgLength: lead byte + 0..3 more */
		p++;                     /* NumElements */
		if (p >= len)
			return false;
		switch (aml[p]) {
		case 0x0a: /* BytePrefix */
			if (p + 1 >= len)
				return false;
			*slp_typ = aml[p + 1];
			return true;
		case 0x00: /* ZeroOp */
		case 0x01: /* OneOp */
			*slp_typ = aml[p];
			return true;
		default:
			return false;
		}
	}
	return false;
}

/* Without ACPI tables (OVMF under Bochs installs none) the chipset itself says where
 * its PM1 control register is: PIIX4 (i440fx) PMBA at 00:01.3 reg 0x40, ICH9 (q35)
 * PMBASE at 00:1f.0 reg 0x40. Both treat SLP_TYP 0 as soft-off in QEMU and Bochs. */
static uint16_t chipset_pm1_cnt(void)
{
	uint32_t host = pci_cfg_read32(0, 0, 0, 0), base;

	if (host == 0x12378086) /* i440fx */
		base = pci_cfg_read32(0, 1, 3, 0x40);
	else if (host == 0x29c08086) /* q35 */
		base = pci_cfg_read32(0, 0x1f, 0, 0x40);
	else
		return 0;
	base &= 0xffc0;
	return base ? (uint16_t)(base + 4) : 0;
}

int acpi_poweroff(void)
{
	const struct acpi_header *fadt = acpi_find("FACP"), *dsdt;
	uint64_t dsdt_pa = 0;
	uint32_t pm1a = 0, pm1b = 0;
	uint8_t typ = 0;

	if (fadt) {
		memcpy(&pm1a, (const uint8_t *)fadt + FADT_PM1A_CNT, 4);
		memcpy(&pm1b, (const uint8_t *)fadt + FADT_PM1B_CNT, 4);
		if (fadt->len >= FADT_X_DSDT + 8)
			memcpy(&dsdt_pa, (const uint8_t *)fadt + FADT_X_DSDT, 8);
		if (!dsdt_pa)
			memcpy(&dsdt_pa, (const uint8_t *)fadt + FADT_DSDT, 4);
		dsdt = table_at(dsdt_pa);
		if (dsdt)
			acpi_parse_s5((const uint8_t *)(dsdt + 1), dsdt->len - sizeof(*dsdt), &typ);
	}
	if (!pm1a)
		pm1a = chipset_pm1_cnt();
	if (!pm1a)
		return -1;
	outw((uint16_t)pm1a, (uint16_t)(typ << 10 | SLP_EN));
	if (pm1b)
		outw((uint16_t)pm1b, (uint16_t)(typ << 10 | SLP_EN));
	time_delay_us(500000);
	return -1;
}
