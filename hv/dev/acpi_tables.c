/* ACPI tables for tern's guest platform (ACPI 6.3: FADT 6.3, MADT revision 5, FACS
 * version 2, DSDT revision 2 so AML integers are 64-bit). Section numbers below are
 * those of ACPI 6.3.
 *
 * In the buffer, from base_gpa (inside the E/F segments):
 *
 *   +0   RSDP (36 bytes; a 16-byte boundary, where a guest scanning for it looks)
 *   +..  FACS (64 bytes, on a 64-byte boundary in guest-physical terms, 5.2.10)
 *   +..  DSDT, FADT, MADT, RSDT, XSDT, each on a 16-byte boundary
 *
 * Padding is zero. The DSDT's AML is encoded by the small helpers below (20.2), one per
 * construct, so every byte can be explained. */
#include "hv/dev/acpi_tables.h"
#include "hv/error.h"
#include "hv/lib/string.h"

#define OEM_ID "TERN  "     /* 6 bytes */
#define OEM_TABLE "TERNVM  " /* 8 bytes */
#define OEM_REV 1
#define CREATOR_ID "TERN"
#define CREATOR_REV 1

#define HDR_LEN 36 /* the System Description Table Header (5.2.6) */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* --- the output buffer --- */

struct out {
	uint8_t *buf;
	size_t room, used;
	uint64_t base; /* guest-physical address of buf[0] */
	bool full;
};

/* len zeroed bytes at the next guest-physical multiple of align; NULL when they do not
 * fit. *gpa gets their address. */
static uint8_t *take(struct out *o, uint64_t align, size_t len, uint64_t *gpa)
{
	size_t at = (size_t)(ALIGN_UP(o->base + o->used, align) - o->base);

	if (o->full || at > o->room || len > o->room - at) {
		o->full = true;
		return NULL;
	}
	memset(o->buf + o->used, 0, at + len - o->used);
	o->used = at + len;
	*gpa = o->base + at;
	return o->buf + at;
}

/* The header every table but the FACS starts with; length and checksum come last. */
static void header(uint8_t *t, const char sig[4], uint8_t rev)
{
	memcpy(t, sig, 4);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE, 8);
	put32(t + 24, OEM_REV);
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t + 32, CREATOR_REV);
}

static void seal(uint8_t *t, uint32_t len)
{
	put32(t + 4, len);
	t[9] = 0;
	t[9] = (uint8_t)-sum8(t, len);
}

/* --- AML (20.2), for the DSDT --- */

enum {
	AML_ZERO = 0x00,
	AML_ONE = 0x01,
	AML_NAME = 0x08,
	AML_BYTE = 0x0a,
	AML_WORD = 0x0b,
	AML_DWORD = 0x0c,
	AML_QWORD = 0x0e,
	AML_SCOPE = 0x10,
	AML_BUFFER = 0x11,
	AML_PACKAGE = 0x12,
	AML_EXT = 0x5b, /* ExtOpPrefix */
	AML_DEVICE = 0x82, /* after AML_EXT */
	AML_ROOT = '\\',
};

struct aml {
	uint8_t *b;
	size_t len, room; /* len counts on past room, so an overflow is seen at the end */
};

static void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->len <= a->room && n <= a->room - a->len)
		memcpy(a->b + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

/* A PkgLength (20.2.4) counts itself and what follows up to the object's end, so it is
 * written once the contents are: pkg_open notes where it goes, pkg_close slides the
 * contents up and inserts the shortest encoding (1 byte up to 63, else a lead byte
 * with the count of following bytes in bits 7-6 and the low nibble in bits 3-0). */
static size_t pkg_open(const struct aml *a)
{
	return a->len;
}

static void pkg_close(struct aml *a, size_t at)
{
	size_t n = a->len - at, k, total;
	uint8_t enc[4];

	for (k = 1; k < 4; k++)
		if (n + k < (k == 1 ? 0x40u : 1u << (4 + 8 * (k - 1))))
			break;
	total = n + k;
	if (k == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)((k - 1) << 6 | (total & 0xf));
		for (size_t i = 1; i < k; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	if (a->len + k <= a->room) {
		memmove(a->b + at + k, a->b + at, n);
		memcpy(a->b + at, enc, k);
	}
	a->len += k;
}

/* A NameString (20.2.2): "\\" for the root, then one NameSeg of four characters. */
static void aml_name(struct aml *a, const char *path)
{
	if (*path == AML_ROOT)
		aml_byte(a, (uint8_t)*path++);
	aml_bytes(a, path, 4);
}

/* The shortest ComputationalData for v (20.2.3): Zero, One, or a prefixed constant. */
static void aml_int(struct aml *a, uint64_t v)
{
	uint8_t le[8];
	unsigned n;

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
		return;
	}
	if (v <= 0xff)
		aml_byte(a, AML_BYTE), n = 1;
	else if (v <= 0xffff)
		aml_byte(a, AML_WORD), n = 2;
	else if (v <= 0xffffffff)
		aml_byte(a, AML_DWORD), n = 4;
	else
		aml_byte(a, AML_QWORD), n = 8;
	put64(le, v);
	aml_bytes(a, le, n);
}

/* EISAID("PNP0A03") (19.6.35): three letters of 5 bits and a 16-bit product number,
 * big-endian, read as a little-endian DWord. */
static void aml_eisaid(struct aml *a, const char id[7])
{
	unsigned v = (unsigned)(id[0] - '@') << 10 | (unsigned)(id[1] - '@') << 5 |
		     (unsigned)(id[2] - '@');
	uint8_t be[4] = { (uint8_t)(v >> 8), (uint8_t)v, 0, 0 };
	unsigned prod = 0;

	for (int i = 3; i < 7; i++)
		prod = prod << 4 | (unsigned)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10);
	be[2] = (uint8_t)(prod >> 8);
	be[3] = (uint8_t)prod;
	aml_byte(a, AML_DWORD);
	aml_bytes(a, be, 4);
}

/* Name (seg, <integer>) */
static void aml_name_int(struct aml *a, const char *seg, uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_name(a, seg);
	aml_int(a, v);
}

static void aml_name_eisaid(struct aml *a, const char *seg, const char id[7])
{
	aml_byte(a, AML_NAME);
	aml_name(a, seg);
	aml_eisaid(a, id);
}

/* Name (seg, Buffer () { bytes }) */
static void aml_name_buffer(struct aml *a, const char *seg, const uint8_t *p, size_t n)
{
	size_t at;

	aml_byte(a, AML_NAME);
	aml_name(a, seg);
	aml_byte(a, AML_BUFFER);
	at = pkg_open(a);
	aml_int(a, n);
	aml_bytes(a, p, n);
	pkg_close(a, at);
}

/* Scope (path) { ... } and Device (seg) { ... }: open, then close with pkg_close. */
static size_t aml_scope(struct aml *a, const char *path)
{
	size_t at;

	aml_byte(a, AML_SCOPE);
	at = pkg_open(a);
	aml_name(a, path);
	return at;
}

static size_t aml_device(struct aml *a, const char *seg)
{
	size_t at;

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	at = pkg_open(a);
	aml_name(a, seg);
	return at;
}

/* --- resource descriptors (6.4), for _CRS buffers --- */

struct res {
	uint8_t b[96];
	size_t n;
};

enum {
	RES_IRQ_NOFLAGS = 0x22, /* small, IRQ format, 2 bytes: edge, active high (6.4.2.1) */
	RES_IO = 0x47,          /* small, I/O port, 7 bytes (6.4.2.5) */
	RES_END = 0x79,         /* small, end tag, 1 byte: checksum 0 (6.4.2.9) */
	RES_DWORD = 0x87,       /* large, DWord address space (6.4.3.5.2) */
	RES_WORD = 0x88,        /* large, Word address space (6.4.3.5.3) */
	RES_TYPE_MEM = 0,
	RES_TYPE_IO = 1,
	RES_TYPE_BUS = 2,
	/* General flags: a producer (bit 0 clear: the bridge hands the range on to its
	 * children), positive decode, minimum and maximum fixed (bits 2, 3). */
	RES_PRODUCER_FIXED = 0x0c,
	RES_IO_ENTIRE = 0x03,     /* I/O type flags: ISA and non-ISA ranges both decoded */
	RES_MEM_NOCACHE_RW = 0x01, /* memory type flags: read-write, non-cacheable */
};

static uint8_t *res_add(struct res *r, size_t n)
{
	uint8_t *p = r->b + r->n; /* callers stay well inside b */

	r->n += n;
	return p;
}

/* A Word range [min, max] a bridge produces; granularity and translation 0. */
static void res_word(struct res *r, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	uint8_t *p = res_add(r, 16);

	p[0] = RES_WORD;
	put16(p + 1, 13);
	p[3] = type;
	p[4] = RES_PRODUCER_FIXED;
	p[5] = tflags;
	put16(p + 6, 0);
	put16(p + 8, min);
	put16(p + 10, max);
	put16(p + 12, 0);
	put16(p + 14, (uint16_t)(max - min + 1));
}

static void res_dword_mem(struct res *r, uint32_t min, uint32_t max)
{
	uint8_t *p = res_add(r, 26);

	p[0] = RES_DWORD;
	put16(p + 1, 23);
	p[3] = RES_TYPE_MEM;
	p[4] = RES_PRODUCER_FIXED;
	p[5] = RES_MEM_NOCACHE_RW;
	put32(p + 6, 0);
	put32(p + 10, min);
	put32(p + 14, max);
	put32(p + 18, 0);
	put32(p + 22, max - min + 1);
}

/* IO (Decode16, base, base, 1, len): a fixed range with 16-bit decode. */
static void res_io(struct res *r, uint16_t base, uint8_t len)
{
	uint8_t *p = res_add(r, 8);

	p[0] = RES_IO;
	p[1] = 1;
	put16(p + 2, base);
	put16(p + 4, base);
	p[6] = 1;
	p[7] = len;
}

static void res_irq(struct res *r, unsigned irq)
{
	uint8_t *p = res_add(r, 3);

	p[0] = RES_IRQ_NOFLAGS;
	put16(p + 1, (uint16_t)(1u << irq));
}

static void res_end(struct res *r)
{
	uint8_t *p = res_add(r, 2);

	p[0] = RES_END;
	p[1] = 0;
}

/* --- the DSDT --- */

/* \_S5_: Package (4) { SLP_TYPa, SLP_TYPb, reserved, reserved } (7.4.2). SLP_TYPa 5 is
 * what hv/dev/acpi_pm.c powers off on; SLP_TYPb 0, there is no PM1b block. Only S5 is
 * declared: tern does not model sleeping, and an OS uses only the states it finds. */
static void dsdt_s5(struct aml *a)
{
	static const uint8_t slp[4] = { ACPI_SLP_TYP_S5, 0, 0, 0 };
	size_t at;

	aml_byte(a, AML_NAME);
	aml_name(a, "_S5_");
	aml_byte(a, AML_PACKAGE);
	at = pkg_open(a);
	aml_byte(a, ARRAY_SIZE(slp)); /* NumElements */
	for (unsigned i = 0; i < ARRAY_SIZE(slp); i++)
		aml_int(a, slp[i]);
	pkg_close(a, at);
}

/* \_SB.PCI0, the host bridge at 00:00.0 (hv/dev/pci_host.c), so a kernel finds PCI bus
 * 0 through ACPI (PCI Firmware Spec 3.2, 4.1): _HID PNP0A03 (PCI, not PCIe: there is no
 * MMCONFIG), _UID 0, _BBN 0, and a _CRS with what it forwards to the bus: bus numbers
 * 0-255, all I/O ports but 0xCF8-0xCFF (its own configuration ports), and the memory
 * above RAM up to the I/O APIC. No _PRT yet: no device on the bus uses INTx. */
static void dsdt_pci0(struct aml *a, const struct acpi_layout *l)
{
	struct res r = { .n = 0 };
	size_t at = aml_device(a, "PCI0");

	aml_name_eisaid(a, "_HID", "PNP0A03");
	aml_name_int(a, "_UID", 0);
	aml_name_int(a, "_BBN", 0);
	res_word(&r, RES_TYPE_BUS, 0, 0, 0xff);
	res_word(&r, RES_TYPE_IO, RES_IO_ENTIRE, 0, 0xcf7);
	res_word(&r, RES_TYPE_IO, RES_IO_ENTIRE, 0xd00, 0xffff);
	res_dword_mem(&r, (uint32_t)l->pci_mem_base, (uint32_t)l->pci_mem_limit);
	res_end(&r);
	aml_name_buffer(a, "_CRS", r.b, r.n);
	pkg_close(a, at);
}

/* \_SB.COM1, the 16550 at 0x3F8 on IRQ 4 (edge, active high: ISA), so a kernel binds
 * its serial driver through ACPI. It sits on \_SB directly: tern's PCI bus has no
 * ISA bridge function to hang it from. No _UID: it is the only PNP0501. */
static void dsdt_com1(struct aml *a)
{
	struct res r = { .n = 0 };
	size_t at = aml_device(a, "COM1");

	aml_name_eisaid(a, "_HID", "PNP0501");
	res_io(&r, 0x3f8, 8);
	res_irq(&r, 4);
	res_end(&r);
	aml_name_buffer(a, "_CRS", r.b, r.n);
	pkg_close(a, at);
}

static void dsdt_aml(struct aml *a, const struct acpi_layout *l)
{
	size_t sb;

	dsdt_s5(a);
	sb = aml_scope(a, "\\_SB_");
	dsdt_pci0(a, l);
	dsdt_com1(a);
	pkg_close(a, sb);
}

static int build_dsdt(struct out *o, struct acpi_layout *l)
{
	uint8_t *t = take(o, 16, HDR_LEN, &l->dsdt);
	struct aml a;

	if (!t)
		return -E_RANGE;
	a = (struct aml){ o->buf + o->used, 0, o->room - o->used };
	dsdt_aml(&a, l);
	if (a.len > a.room || HDR_LEN + a.len > UINT32_MAX)
		return -E_RANGE;
	o->used += a.len;
	header(t, "DSDT", 2);
	seal(t, (uint32_t)(HDR_LEN + a.len));
	return 0;
}

/* --- FACS (5.2.10): no checksum; no global lock owner, no S4BIOS, no waking vector --- */

static int build_facs(struct out *o, struct acpi_layout *l)
{
	uint8_t *t = take(o, 64, 64, &l->facs);

	if (!t)
		return -E_RANGE;
	memcpy(t, "FACS", 4);
	put32(t + 4, 64);
	t[32] = 2; /* version */
	return 0;
}

/* --- FADT (5.2.9) --- */

enum {
	FADT_REV = 6,
	FADT_MINOR = 3,
	FADT_LEN = 276,
	/* field offsets, Table 5-33 */
	FADT_FIRMWARE_CTRL = 36,
	FADT_DSDT = 40,
	FADT_SCI_INT = 46,
	FADT_PM1A_EVT_BLK = 56,
	FADT_PM1A_CNT_BLK = 64,
	FADT_PM_TMR_BLK = 76,
	FADT_PM1_EVT_LEN = 88,
	FADT_PM1_CNT_LEN = 89,
	FADT_PM_TMR_LEN = 91,
	FADT_P_LVL2_LAT = 96,
	FADT_P_LVL3_LAT = 98,
	FADT_IAPC_BOOT_ARCH = 109,
	FADT_FLAGS = 112,
	FADT_RESET_REG = 116,
	FADT_RESET_VALUE = 128,
	FADT_MINOR_VERSION = 131,
	FADT_X_FIRMWARE_CTRL = 132,
	FADT_X_DSDT = 140,
	FADT_X_PM1A_EVT_BLK = 148,
	FADT_X_PM1A_CNT_BLK = 172,
	FADT_X_PM_TMR_BLK = 208,
};

/* IA-PC boot architecture flags (Table 5-35). Legacy devices: the PIT, PICs, RTC and
 * COM1 are there. No 8042 (bit 1 clear): tern's i8042 is only a reset and A20 latch
 * with no keyboard behind it, and a kernel told so does not probe one. VGA not present
 * (bit 2): tern shows no VGA, and a kernel told so leaves 0xA0000-0xBFFFF and the VGA
 * ports alone. MSI allowed, ASPM untouched, CMOS RTC present. */
#define BOOT_LEGACY_DEVICES (1u << 0)
#define BOOT_VGA_NOT_PRESENT (1u << 2)

/* Fixed feature flags (Table 5-34). */
#define FF_WBINVD (1u << 0)    /* required of every ACPI 2.0+ x86 system */
#define FF_PROC_C1 (1u << 2)   /* HLT works on every vCPU */
#define FF_SLP_BUTTON (1u << 5) /* no fixed sleep button (the power button is fixed) */
#define FF_FIX_RTC (1u << 6)   /* no RTC wake status in PM1 */
#define FF_TMR_VAL_EXT (1u << 8) /* the PM timer is 32 bits */
#define FF_RESET_REG_SUP (1u << 10)
#define FF_HEADLESS (1u << 12) /* a serial console only: no monitor, keyboard or mouse */

#define GAS_SYSTEM_IO 1
enum { GAS_BYTE = 1, GAS_WORD = 2, GAS_DWORD = 3 };

/* A Generic Address Structure (5.2.3.2) for an I/O port block. */
static void gas_io(uint8_t *p, uint8_t bits, uint8_t access, uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = bits;
	p[2] = 0;
	p[3] = access;
	put64(p + 4, port);
}

/* No SMI_CMD (0): the hardware is always in ACPI mode, SCI_EN reads 1 and the OS
 * never hands over from a BIOS. No PM1b, PM2 or GPE blocks. C2 and C3 are declared
 * absent (latencies above 100 and 1000 us). CENTURY 0: the RTC model's own business;
 * a kernel then infers the century. The FACS and DSDT are below 4 GiB, so their 32- and
 * 64-bit pointers hold the same address. */
static int build_fadt(struct out *o, struct acpi_layout *l)
{
	uint8_t *t = take(o, 16, FADT_LEN, &l->fadt);

	if (!t)
		return -E_RANGE;
	header(t, "FACP", FADT_REV);
	put32(t + FADT_FIRMWARE_CTRL, (uint32_t)l->facs);
	put32(t + FADT_DSDT, (uint32_t)l->dsdt);
	put16(t + FADT_SCI_INT, ACPI_SCI_IRQ);
	put32(t + FADT_PM1A_EVT_BLK, ACPI_PM1A_EVT);
	put32(t + FADT_PM1A_CNT_BLK, ACPI_PM1A_CNT);
	put32(t + FADT_PM_TMR_BLK, ACPI_PM_TMR);
	t[FADT_PM1_EVT_LEN] = 4;
	t[FADT_PM1_CNT_LEN] = 2;
	t[FADT_PM_TMR_LEN] = 4;
	put16(t + FADT_P_LVL2_LAT, 101);
	put16(t + FADT_P_LVL3_LAT, 1001);
	put16(t + FADT_IAPC_BOOT_ARCH, BOOT_LEGACY_DEVICES | BOOT_VGA_NOT_PRESENT);
	put32(t + FADT_FLAGS, FF_WBINVD | FF_PROC_C1 | FF_SLP_BUTTON | FF_FIX_RTC |
				      FF_TMR_VAL_EXT | FF_RESET_REG_SUP | FF_HEADLESS);
	gas_io(t + FADT_RESET_REG, 8, GAS_BYTE, ACPI_RESET_PORT);
	t[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
	t[FADT_MINOR_VERSION] = FADT_MINOR;
	put64(t + FADT_X_FIRMWARE_CTRL, l->facs);
	put64(t + FADT_X_DSDT, l->dsdt);
	/* PM1 status/enable and control are 16-bit registers (4.8.3): word access */
	gas_io(t + FADT_X_PM1A_EVT_BLK, 32, GAS_WORD, ACPI_PM1A_EVT);
	gas_io(t + FADT_X_PM1A_CNT_BLK, 16, GAS_WORD, ACPI_PM1A_CNT);
	gas_io(t + FADT_X_PM_TMR_BLK, 32, GAS_DWORD, ACPI_PM_TMR);
	seal(t, FADT_LEN);
	return 0;
}

/* --- MADT (5.2.12) --- */

enum {
	MADT_REV = 5,
	MADT_PCAT_COMPAT = 1, /* dual 8259s present: the OS masks them to use the I/O APIC */
	MADT_LAPIC = 0,       /* Processor Local APIC, 8 bytes */
	MADT_IOAPIC = 1,      /* 12 bytes */
	MADT_ISO = 2,         /* Interrupt Source Override, 10 bytes */
	MADT_LAPIC_NMI = 4,   /* 6 bytes */
	LAPIC_ENABLED = 1,
	/* MPS INTI flags (Table 5-50): polarity in bits 1-0, trigger mode in bits 3-2 */
	INTI_HIGH = 1,
	INTI_EDGE = 1 << 2,
	INTI_LEVEL = 3 << 2,
	UID_ALL = 0xff, /* an NMI entry for every processor */
};

/* ISA IRQ -> GSI where they differ or are not ISA's edge/high: the PIT's output is
 * wired to I/O APIC pin 2 (pin 0 is the 8259's INTR), and the SCI is level, active
 * high, as hv/dev/acpi_pm.c drives it. */
static const struct {
	uint8_t irq;
	uint32_t gsi;
	uint16_t flags;
} madt_iso[] = {
	{ 0, 2, INTI_EDGE | INTI_HIGH },
	{ ACPI_SCI_IRQ, ACPI_SCI_IRQ, INTI_LEVEL | INTI_HIGH },
};

static size_t madt_len(unsigned nr_cpus)
{
	return HDR_LEN + 8 + 8 * nr_cpus + 12 + 10 * ARRAY_SIZE(madt_iso) + 6;
}

/* Processor UIDs are the vCPUs' indexes, 0..nr_cpus-1 (below UID_ALL). LINT1 is NMI on
 * every local APIC, edge and active high, as the PC wires it. */
static int build_madt(struct out *o, const struct acpi_config *c, struct acpi_layout *l)
{
	size_t len = madt_len(c->nr_cpus);
	uint8_t *t = take(o, 16, len, &l->madt), *p;

	if (!t)
		return -E_RANGE;
	header(t, "APIC", MADT_REV);
	put32(t + 36, (uint32_t)ACPI_LAPIC_BASE);
	put32(t + 40, MADT_PCAT_COMPAT);
	p = t + HDR_LEN + 8;
	for (unsigned i = 0; i < c->nr_cpus; i++, p += 8) {
		p[0] = MADT_LAPIC;
		p[1] = 8;
		p[2] = (uint8_t)i;
		p[3] = c->apic_ids[i];
		put32(p + 4, LAPIC_ENABLED);
	}
	p[0] = MADT_IOAPIC;
	p[1] = 12;
	p[2] = ACPI_IOAPIC_ID;
	put32(p + 4, (uint32_t)ACPI_IOAPIC_BASE);
	put32(p + 8, 0); /* GSI base */
	p += 12;
	for (unsigned i = 0; i < ARRAY_SIZE(madt_iso); i++, p += 10) {
		p[0] = MADT_ISO;
		p[1] = 10;
		p[2] = 0; /* bus: ISA */
		p[3] = madt_iso[i].irq;
		put32(p + 4, madt_iso[i].gsi);
		put16(p + 8, madt_iso[i].flags);
	}
	p[0] = MADT_LAPIC_NMI;
	p[1] = 6;
	p[2] = UID_ALL;
	put16(p + 3, INTI_EDGE | INTI_HIGH);
	p[5] = 1; /* LINT1 */
	seal(t, (uint32_t)len);
	return 0;
}

/* --- RSDT, XSDT (5.2.7, 5.2.8) and the RSDP (5.2.5.3) --- */

static int build_roots(struct out *o, struct acpi_layout *l)
{
	const uint64_t tables[] = { l->fadt, l->madt };
	size_t n = ARRAY_SIZE(tables);
	uint8_t *r = take(o, 16, HDR_LEN + 4 * n, &l->rsdt), *x;

	x = take(o, 16, HDR_LEN + 8 * n, &l->xsdt);
	if (!r || !x)
		return -E_RANGE;
	header(r, "RSDT", 1);
	header(x, "XSDT", 1);
	for (size_t i = 0; i < n; i++) {
		put32(r + HDR_LEN + 4 * i, (uint32_t)tables[i]);
		put64(x + HDR_LEN + 8 * i, tables[i]);
	}
	seal(r, (uint32_t)(HDR_LEN + 4 * n));
	seal(x, (uint32_t)(HDR_LEN + 8 * n));
	return 0;
}

/* Revision 2 (ACPI 2.0+): the first checksum covers the ACPI 1.0 part (20 bytes), the
 * extended one all 36. */
static void build_rsdp(uint8_t *p, const struct acpi_layout *l)
{
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, OEM_ID, 6);
	p[15] = 2;
	put32(p + 16, (uint32_t)l->rsdt);
	put32(p + 20, 36);
	put64(p + 24, l->xsdt);
	p[8] = (uint8_t)-sum8(p, 20);
	p[32] = (uint8_t)-sum8(p, 36);
}

/* --- the whole --- */

static bool config_ok(const struct acpi_config *c)
{
	if (c->nr_cpus == 0 || c->nr_cpus > ACPI_MAX_CPUS)
		return false;
	for (unsigned i = 0; i < c->nr_cpus; i++) {
		if (c->apic_ids[i] == 0xff)
			return false;
		for (unsigned j = 0; j < i; j++)
			if (c->apic_ids[j] == c->apic_ids[i])
				return false;
	}
	return true;
}

/* The PCI memory window: from the first MiB boundary at or above the end of RAM to just
 * below the I/O APIC; RAM must leave it at least 1 MiB. */
static bool pci_window(uint64_t ram, struct acpi_layout *l)
{
	if (ram > ACPI_PCI_MEM_LIMIT + 1 - MIB)
		return false;
	l->pci_mem_base = ALIGN_UP(ram, MIB);
	l->pci_mem_limit = ACPI_PCI_MEM_LIMIT;
	return true;
}

int acpi_build(const struct acpi_config *c, uint64_t base_gpa, uint8_t *buf, size_t room,
	       struct acpi_layout *out)
{
	struct acpi_layout l = { 0 };
	struct out o = { buf, room, 0, base_gpa, false };
	uint8_t *rsdp;
	int e;

	if (!c || !buf || !out || base_gpa % 16 || base_gpa < ACPI_AREA_BASE ||
	    base_gpa >= ACPI_AREA_END || !config_ok(c) || !pci_window(c->ram_bytes, &l))
		return -E_INVAL;
	rsdp = take(&o, 16, 36, &l.rsdp);
	if (!rsdp)
		return -E_RANGE;
	if ((e = build_facs(&o, &l)) || (e = build_dsdt(&o, &l)) || (e = build_fadt(&o, &l)) ||
	    (e = build_madt(&o, c, &l)) || (e = build_roots(&o, &l)))
		return e;
	if (o.used > ACPI_AREA_END - base_gpa)
		return -E_RANGE;
	build_rsdp(rsdp, &l);
	l.used = o.used;
	*out = l;
	return 0;
}

/* EBDA (as the Multiboot map has always shown it), the firmware area with these tables,
 * and the I/O APIC and local APIC register pages. */
static const struct acpi_range reserved[] = {
	{ 0x9fc00, 0x400 },
	{ ACPI_AREA_BASE, ACPI_AREA_END - ACPI_AREA_BASE },
	{ ACPI_IOAPIC_BASE, PAGE_SIZE },
	{ ACPI_LAPIC_BASE, PAGE_SIZE },
};

const struct acpi_range *acpi_reserved_ranges(unsigned *nr)
{
	*nr = ARRAY_SIZE(reserved);
	return reserved;
}
