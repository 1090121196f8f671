/* Resets and powers itself off on command, the ways a PC operating system does, and
 * moves bytes with string I/O: proves that a platform reset starts the VM again from
 * its image with its devices at power-on, that ACPI soft-off ends it, and that INS and
 * OUTS reach every port.
 *
 * At each start it prints
 *   power: boot fresh=yes|no apic-base=0x...
 * fresh=no when its initialised data was not the image's (a "reset" that only jumped
 * back to the entry point), apic-base as IA32_APIC_BASE reads before the guest touches
 * it (0xfee00900 after a reset: xAPIC, enabled, BSP). It then switches its local APIC
 * to x2APIC mode when CPUID offers it, so a reset that kept the APIC's state shows, and
 * waits in HLT for lines on COM1 (its receive interrupt, IRQ4 through the 8259):
 *
 *   reset kbc     0xFE to the i8042 (port 0x64): pulse the reset line
 *   reset cf9     0x02 then 0x06 to 0xCF9 (SYS_RST, then RST_CPU's rising edge), as Linux
 *   reset port92  port 0x92 bit 0 from 0 to 1 (fast reset)
 *   reset acpi    the FADT's RESET_REG gets its RESET_VALUE
 *   off           S5: SLP_TYPa from the DSDT's \_S5 into the FADT's PM1a_CNT, then
 *                 SLP_EN with it (ACPICA's order)
 *   acpi          prints what the tables say: the RSDP, PM1a_CNT, \_S5, RESET_REG
 *   strio         REP OUTSB forwards (more bytes than one exit moves, across pages) and
 *                 backwards to COM1, REP OUTSD to 0xCF8 and REP INSD from 0xCFC; then
 *                 "power: strio ok" or "power: strio FAIL <what>"
 *   insb N        REP INSB of the next N bytes typed on COM1: "power: insb '<bytes>'"
 *   exit          PASS
 *
 * The tables are found as an OS finds them: the RSDP on a 16-byte boundary in
 * 0xE0000-0xFFFFF (ACPI 6.3, 5.2.5.1), then the XSDT (revision 2 and up) or the RSDT,
 * the FADT ("FACP") in it and the DSDT from the FADT, every checksum checked. A reset or
 * power-off that leaves the guest running for 100 ms of its TSC is a FAIL. 32-bit,
 * paging off. */
#include "guests/lib/guest.h"
#include "guests/lib/acpi.h"
#include "guests/lib/cpu.h"
#include "guests/lib/irq.h"
#include "guests/lib/lapic.h"
#include "guests/lib/pic.h"
#include "guests/lib/tsc.h"

#define PIC_BASE 0x20
#define UART_IRQ 4
#define MSR_APIC_BASE 0x1B
#define FRESH 0x600DF00Du

/* 16550A registers (PC16550D datasheet), offsets from COM1 */
#define RBR 0
#define IER 1
#define MCR 4
#define LSR 5
#define IER_RX 0x01
#define MCR_DTR_RTS_OUT2 0x0b
#define LSR_DR 0x01

#define PCI_ADDR 0xCF8
#define PCI_DATA 0xCFC
#define PCI_ENABLE 0x80000000u

/* ACPI 6.3: 5.2.9 (FADT), 5.2.3.2 (GAS) */
struct gas {
	uint8_t space, bit_width, bit_offset, access;
	uint64_t address;
} __packed;

#define GAS_IO 1
#define FADT_FLAGS 112
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_DSDT 40
#define FADT_X_DSDT 140
#define FADT_PM1A_CNT 64
#define FADT_X_PM1A_CNT 172
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_TYP (7u << PM1_SLP_TYP_SHIFT)
#define PM1_SLP_EN (1u << 13)

/* AML (ACPI 6.3, 20.2): NameOp, PackageOp, the integer prefixes and constants */
#define AML_PACKAGE 0x12
#define AML_BYTE 0x0A
#define AML_WORD 0x0B
#define AML_DWORD 0x0C
#define AML_ZERO 0x00
#define AML_ONE 0x01

struct acpi {
	uint32_t rsdp;
	uint16_t pm1a_cnt;
	int slp_typ_s5; /* -1: no \_S5 */
	bool reset_ok;  /* RESET_REG in I/O space, RESET_REG_SUP set */
	uint16_t reset_port;
	uint8_t reset_value;
};

static volatile uint32_t fresh = FRESH; /* the image's value, until the guest runs */
static volatile uint32_t rx_irqs;

static uint64_t field(const struct acpi_header *t, uint32_t off, unsigned size)
{
	uint64_t v = 0;

	if (off + size <= t->length)
		memcpy(&v, (const uint8_t *)t + off, size);
	return v;
}

/* SLP_TYPa of \_S5_: Name (_S5_, Package (n) { SLP_TYPa, ... }), found by its name as
 * small OSes do rather than by running the AML. -1 if absent or not understood. */
static int s5_slp_typ(const struct acpi_header *dsdt)
{
	const uint8_t *p = (const uint8_t *)dsdt, *end = p + dsdt->length;

	for (p += sizeof(*dsdt); p + 8 < end; p++) {
		if (memcmp(p, "_S5_", 4) || p[4] != AML_PACKAGE)
			continue;
		p += 5;
		p += 1 + (*p >> 6); /* PkgLength: bits 7-6 count the bytes after the lead */
		p++;                /* NumElements */
		if (p >= end)
			return -1;
		switch (*p) {
		case AML_ZERO: return 0;
		case AML_ONE: return 1;
		case AML_BYTE:
		case AML_WORD:
		case AML_DWORD: return p[1];
		default: return -1;
		}
	}
	return -1;
}

static bool read_fadt(struct acpi *a)
{
	const void *r = acpi_rsdp();
	const struct acpi_header *fadt, *dsdt;
	struct gas g;

	memset(a, 0, sizeof(*a));
	a->slp_typ_s5 = -1;
	if (!r || !(fadt = acpi_find("FACP")))
		return false;
	a->rsdp = (uintptr_t)r;
	/* the 64-bit X_ fields win where the FADT has them (ACPI 2.0 and up) */
	memset(&g, 0, sizeof(g));
	if (fadt->length >= FADT_X_PM1A_CNT + sizeof(g))
		memcpy(&g, (const uint8_t *)fadt + FADT_X_PM1A_CNT, sizeof(g));
	if (g.address && g.space == GAS_IO && g.address <= 0xFFFF)
		a->pm1a_cnt = (uint16_t)g.address;
	else
		a->pm1a_cnt = (uint16_t)field(fadt, FADT_PM1A_CNT, 4);
	dsdt = acpi_table(field(fadt, FADT_X_DSDT, 8), "DSDT");
	if (!dsdt)
		dsdt = acpi_table(field(fadt, FADT_DSDT, 4), "DSDT");
	if (dsdt)
		a->slp_typ_s5 = s5_slp_typ(dsdt);
	memset(&g, 0, sizeof(g));
	if (fadt->length >= FADT_RESET_VALUE + 1)
		memcpy(&g, (const uint8_t *)fadt + FADT_RESET_REG, sizeof(g));
	a->reset_ok = (field(fadt, FADT_FLAGS, 4) & FADT_RESET_REG_SUP) && g.space == GAS_IO &&
		      g.address && g.address <= 0xFFFF;
	a->reset_port = (uint16_t)g.address;
	a->reset_value = (uint8_t)field(fadt, FADT_RESET_VALUE, 1);
	return true;
}

static void acpi_print(void)
{
	struct acpi a;

	if (!read_fadt(&a)) {
		printf("power: acpi: no RSDP, root table or FADT\n");
		return;
	}
	printf("power: acpi rsdp=0x%x pm1a-cnt=0x%x s5-slp-typ=%d reset-reg=%s0x%x "
	       "reset-value=0x%x\n", a.rsdp, a.pm1a_cnt, a.slp_typ_s5, a.reset_ok ? "io:" : "none:",
	       a.reset_port, a.reset_value);
}

/* --- reset and power-off --- */

static void reset_kbc(void)
{
	outb(0x64, 0xFE);
}

static void reset_cf9(void)
{
	outb(0xCF9, 0x02);
	outb(0xCF9, 0x06);
}

static void reset_port92(void)
{
	uint8_t v = inb(0x92) & ~1;

	outb(0x92, v);
	outb(0x92, v | 1);
}

static void reset_acpi(void)
{
	struct acpi a;

	if (!read_fadt(&a) || !a.reset_ok) {
		printf("FAIL power: the FADT offers no I/O reset register\n");
		exit(EXIT_FAIL);
	}
	outb(a.reset_port, a.reset_value);
}

static void acpi_off(void)
{
	struct acpi a;
	uint16_t cnt;

	if (!read_fadt(&a) || a.slp_typ_s5 < 0 || !a.pm1a_cnt) {
		printf("FAIL power: no PM1a_CNT or no \\_S5 in the ACPI tables\n");
		exit(EXIT_FAIL);
	}
	cnt = inw(a.pm1a_cnt) & ~(PM1_SLP_TYP | PM1_SLP_EN);
	cnt |= (uint16_t)(a.slp_typ_s5 << PM1_SLP_TYP_SHIFT);
	outw(a.pm1a_cnt, cnt);
	outw(a.pm1a_cnt, cnt | PM1_SLP_EN);
}

static const struct {
	const char *name;
	void (*fn)(void);
} ends[] = {
	{ "reset kbc", reset_kbc }, { "reset cf9", reset_cf9 }, { "reset port92", reset_port92 },
	{ "reset acpi", reset_acpi }, { "off", acpi_off },
};

/* The platform ends this run at the write; coming back from it is a failure. */
static __noreturn void end_run(const char *name, void (*fn)(void))
{
	uint32_t khz = tsc_khz(NULL);

	fn();
	tsc_spin((uint64_t)(khz ? khz : 1000000) * 100);
	printf("FAIL power: still running 100 ms after '%s'\n", name);
	exit(EXIT_FAIL);
}

/* --- string I/O --- */

#define OUTS_LINES 48
#define OUTS_WIDTH 96 /* bytes a line, with its newline: 48 x 96 > one exit's 4096 */

static char outs_buf[OUTS_LINES * OUTS_WIDTH + 4096] __attribute__((aligned(4096)));
static const char pattern[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

static void rep_outsb(uint16_t port, const void *buf, uint32_t n)
{
	asm volatile("cld; rep outsb" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
}

/* DF set: from the last byte down to the first; DF is clear again after */
static void rep_outsb_down(uint16_t port, const void *last, uint32_t n)
{
	asm volatile("std; rep outsb; cld" : "+S"(last), "+c"(n) : "d"(port) : "memory");
}

static void rep_outsd(uint16_t port, const void *buf, uint32_t n)
{
	asm volatile("cld; rep outsl" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
}

static void rep_insd(uint16_t port, void *buf, uint32_t n)
{
	asm volatile("cld; rep insl" : "+D"(buf), "+c"(n) : "d"(port) : "memory");
}

static void rep_insb(uint16_t port, void *buf, uint32_t n)
{
	asm volatile("cld; rep insb" : "+D"(buf), "+c"(n) : "d"(port) : "memory");
}

/* Lines "power: outsb NN <pattern slice>", each OUTS_WIDTH bytes with its newline,
 * starting 100 bytes before a page boundary. */
static uint32_t outs_lines(char *buf)
{
	char *p = buf;

	for (int i = 0; i < OUTS_LINES; i++) {
		int n = fmt_snprintf(p, OUTS_WIDTH, "power: outsb %02d ", i);

		for (int k = n; k < OUTS_WIDTH - 1; k++)
			p[k] = pattern[(i + k) % (sizeof(pattern) - 1)];
		p[OUTS_WIDTH - 1] = '\n';
		p += OUTS_WIDTH;
	}
	return p - buf;
}

static const char *strio_pci(void)
{
	static const uint32_t addrs[] = { PCI_ENABLE | 0x08, PCI_ENABLE | 0x800, PCI_ENABLE };
	uint32_t id, got[4];

	/* the address register keeps the last of the dwords written */
	outl(PCI_ADDR, 0);
	rep_outsd(PCI_ADDR, addrs, ARRAY_SIZE(addrs));
	if (inl(PCI_ADDR) != PCI_ENABLE)
		return "rep outsd to 0xcf8 did not leave its last dword";
	id = inl(PCI_DATA);
	memset(got, 0, sizeof(got));
	rep_insd(PCI_DATA, got, ARRAY_SIZE(got));
	printf("power: insd 00:00.0 id=0x%x got 0x%x 0x%x 0x%x 0x%x\n", id, got[0], got[1],
	       got[2], got[3]);
	for (size_t i = 0; i < ARRAY_SIZE(got); i++)
		if (got[i] != id)
			return "rep insd from 0xcfc differs from in";
	return NULL;
}

static void strio(void)
{
	char *buf = outs_buf + 4096 - 100, down[80];
	const char *why;
	uint32_t n = outs_lines(buf), len;

	rep_outsb(COM1, buf, n);
	/* backwards: the line stored reversed, sent from its end */
	len = fmt_snprintf(down, sizeof(down), "power: outsb backward %.40s\n", pattern);
	for (uint32_t i = 0; i < len / 2; i++) {
		char t = down[i];
		down[i] = down[len - 1 - i];
		down[len - 1 - i] = t;
	}
	rep_outsb_down(COM1, down + len - 1, len);
	why = strio_pci();
	if (why)
		printf("power: strio FAIL %s\n", why);
	else
		printf("power: strio ok\n");
}

/* --- COM1 input, by its receive interrupt --- */

static void uart_irq(uint32_t vector)
{
	rx_irqs++; /* the main loop reads the bytes; IRQ4 falls when it has */
	pic_eoi(UART_IRQ);
}

static bool rx_ready(void)
{
	return inb(COM1 + LSR) & LSR_DR;
}

/* Waits in HLT until a byte is there. Interrupts are off between the test and HLT. */
static void wait_rx(void)
{
	while (!rx_ready())
		irq_halt();
}

static size_t read_line(char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		char c;

		wait_rx();
		c = inb(COM1 + RBR);
		if (c == '\r' || c == '\n') {
			if (n)
				break;
			continue; /* the LF of a CR LF, or an empty line */
		}
		if (n + 1 < size)
			buf[n++] = c;
	}
	buf[n] = 0;
	return n;
}

static void insb(uint32_t n)
{
	char buf[128];

	if (!n || n >= sizeof(buf)) {
		printf("power: insb FAIL count out of 1..%u\n", (unsigned)sizeof(buf) - 1);
		return;
	}
	printf("power: insb waiting for %u bytes\n", n);
	wait_rx();
	/* whatever came is read: the rest of the line reads as the last byte again */
	rep_insb(COM1 + RBR, buf, n);
	buf[n] = 0;
	printf("power: insb '%s'\n", buf);
	/* the line's end, if it came, and no further: the next line may be typed as soon as
	 * the one above is seen (an empty line, should the end come later, reads as none) */
	while (rx_ready()) {
		char c = inb(COM1 + RBR);

		if (c == '\r' || c == '\n')
			break;
	}
}

static void command(const char *line)
{
	uint32_t n;

	for (size_t i = 0; i < ARRAY_SIZE(ends); i++)
		if (!strcmp(line, ends[i].name))
			end_run(ends[i].name, ends[i].fn);
	if (!strcmp(line, "acpi")) {
		acpi_print();
	} else if (!strcmp(line, "strio")) {
		strio();
	} else if (!strncmp(line, "insb ", 5) && parse_u32(line + 5, NULL, &n)) {
		insb(n);
	} else if (!strcmp(line, "exit")) {
		printf("power: done rx-irqs=%u\n", rx_irqs);
		printf("PASS\n");
		exit(EXIT_PASS);
	} else {
		printf("power: unknown command '%s'\n", line);
	}
}

void guest_main(uint32_t magic, struct mb_info *mbi)
{
	bool was_fresh = fresh == FRESH;
	uint64_t base = rdmsr(MSR_APIC_BASE);
	bool x2 = cpuid_sub(1, 0).c & CPUID1_ECX_X2APIC;
	char line[64];

	fresh = 0;
	EXPECT(magic == MB_BOOT_MAGIC);
	printf("power: boot fresh=%s apic-base=0x%llx\n", was_fresh ? "yes" : "no",
	       (unsigned long long)base);
	irq_init();
	pic_init(PIC_BASE);
	if (!lapic_init(x2 ? LAPIC_X2APIC : LAPIC_XAPIC)) {
		printf("FAIL power: no local APIC\n");
		exit(EXIT_FAIL);
	}
	lapic_virtual_wire();
	irq_set_handler(PIC_BASE + UART_IRQ, uart_irq);
	outb(COM1 + MCR, MCR_DTR_RTS_OUT2);
	outb(COM1 + IER, IER_RX);
	pic_unmask(UART_IRQ);
	printf("power: ready apic=%s apic-base=0x%llx\n", lapic_mode_name(lapic_mode),
	       (unsigned long long)rdmsr(MSR_APIC_BASE));
	for (;;) {
		read_line(line, sizeof(line));
		command(line);
	}
}
