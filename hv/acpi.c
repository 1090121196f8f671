#include "hv/acpi.h"
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
