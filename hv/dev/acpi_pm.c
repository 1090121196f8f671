/* ACPI PM1a event and control registers and the PM timer (ACPI 6.3, 4.8.3). Section
 * and table numbers are ACPI 6.3's. */
#include "hv/dev/acpi_pm.h"
#include "hv/dev/acpi_tables.h"
#include "hv/lib/fmt.h"

/* Bits an OS may write without meaning anything odd: the defined ones, and those the
 * spec says to ignore (PM1_STS bit 11, PM1_CNT bit 9). The rest are reserved. */
#define STS_WRITABLE (PM1_TMR | PM1_BM | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC | \
		      (1u << 11) | PM1_PCIEXP_WAKE | PM1_WAK)
#define CNT_WRITABLE (PM1_CNT_SCI_EN | PM1_CNT_BM_RLD | PM1_CNT_GBL_RLS | (1u << 9) | \
		      PM1_CNT_SLP_TYP | PM1_CNT_SLP_EN)
/* Status bits that raise the SCI when enabled (WAK_STS has no enable). */
#define SCI_SOURCES (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)

/* The largest tmr_half a VM clock can reach: ticks at 2^64 - 1 ns, >> 31. */
#define TMR_HALF_MAX (((UINT64_MAX / NS_PER_S + 1) * ACPI_PM_TMR_HZ) >> 31)

enum { W_ACCESS, W_RESERVED, W_TIMER_WRITE, W_SCI_EN, W_SLEEP };

/* The blocks, as offsets from PM1a_EVT. */
enum { EVT = 0, CNT = 4, TMR = 8 };
static const struct {
	uint8_t off, len;
} blocks[] = { { EVT, 4 }, { CNT, 2 }, { TMR, 4 } };

static uint64_t ticks(uint64_t now)
{
	return dev_muldiv(now, ACPI_PM_TMR_HZ, NS_PER_S);
}

static uint32_t size_mask(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

/* TMR_STS is set whenever bit 31 of the count flips (4.8.3.3); flips missed while
 * nobody looked are one event. */
static void tmr_update(struct acpi_pm *pm, uint64_t now)
{
	uint64_t half = ticks(now) >> 31;

	if (half > pm->s.tmr_half)
		pm->s.sts |= PM1_TMR;
	pm->s.tmr_half = half;
}

static void sci_drive(struct acpi_pm *pm, bool force)
{
	int level = (pm->s.sts & pm->s.en & SCI_SOURCES) != 0;

	if (force || level != pm->sci_level)
		irq_set(&pm->sci, level);
	pm->sci_level = level;
}

void acpi_pm_init(struct acpi_pm *pm, struct irq_line sci, struct dev_log *log,
		  void (*poweroff)(void *ctx), void *ctx, uint64_t now)
{
	*pm = (struct acpi_pm){ .sci = sci, .log = log, .poweroff = poweroff, .ctx = ctx };
	pm->s.tmr_half = ticks(now) >> 31;
	sci_drive(pm, true);
}

/* Block index of a good access, or -1. */
static int block_of(uint16_t port, unsigned size)
{
	unsigned off = (unsigned)(uint16_t)(port - ACPI_PM1A_EVT);

	if ((size != 1 && size != 2 && size != 4) || port % size)
		return -1;
	for (unsigned i = 0; i < ARRAY_SIZE(blocks); i++)
		if (off >= blocks[i].off && off + size <= blocks[i].off + blocks[i].len)
			return (int)i;
	return -1;
}

static bool bad_access(struct acpi_pm *pm, uint16_t port, unsigned size, const char *what)
{
	if (block_of(port, size) >= 0)
		return false;
	dev_warn(pm->log, W_ACCESS, "acpi_pm: %u-byte %s at port 0x%x ignored", size, what, port);
	return true;
}

void acpi_pm_read(struct acpi_pm *pm, uint16_t port, unsigned size, uint32_t *value,
		  uint64_t now)
{
	unsigned off = (unsigned)(uint16_t)(port - ACPI_PM1A_EVT);
	uint32_t block;

	if (bad_access(pm, port, size, "read")) {
		*value = size_mask(size);
		return;
	}
	tmr_update(pm, now);
	if (off < CNT)
		block = pm->s.sts | (uint32_t)pm->s.en << 16;
	else if (off < TMR)
		block = PM1_CNT_SCI_EN | pm->s.cnt;
	else
		block = (uint32_t)ticks(now);
	*value = block >> (8 * (off & 3)) & size_mask(size);
	sci_drive(pm, false);
}

static void reserved(struct acpi_pm *pm, const char *reg, uint32_t bits)
{
	if (bits)
		dev_warn(pm->log, W_RESERVED, "acpi_pm: reserved bits 0x%x written to %s", bits,
			 reg);
}

/* v: the written bits, m: the bits of the written bytes, both in the register's place. */
static void sts_write(struct acpi_pm *pm, uint32_t v)
{
	reserved(pm, "PM1_STS", v & ~STS_WRITABLE);
	pm->s.sts &= (uint16_t)~v; /* write 1 to clear (4.8.3.1) */
}

static void en_write(struct acpi_pm *pm, uint32_t v, uint32_t m)
{
	reserved(pm, "PM1_EN", v & ~ACPI_PM_EN_BITS);
	pm->s.en = (uint16_t)((pm->s.en & ~m) | (v & m & ACPI_PM_EN_BITS));
}

/* Sleeping (7.4.2, 16.1): S5 is the only state the DSDT declares. Any other SLP_TYP is
 * logged and taken as a sleep that ended at once: WAK_STS set, as an OS that waits for
 * it after SLP_EN (ACPICA does) expects. */
static void enter_sleep(struct acpi_pm *pm, unsigned typ)
{
	if (typ == ACPI_SLP_TYP_S5) {
		if (pm->poweroff)
			pm->poweroff(pm->ctx);
		return;
	}
	dev_warn(pm->log, W_SLEEP, "acpi_pm: sleep type %u requested; only S5 (%u) exists, "
				   "woken at once",
		 typ, ACPI_SLP_TYP_S5);
	pm->s.sts |= PM1_WAK;
}

static void cnt_write(struct acpi_pm *pm, uint32_t v, uint32_t m)
{
	reserved(pm, "PM1_CNT", v & ~CNT_WRITABLE);
	if ((m & PM1_CNT_SCI_EN) && !(v & PM1_CNT_SCI_EN))
		dev_warn(pm->log, W_SCI_EN,
			 "acpi_pm: SCI_EN cleared: ignored, there is no legacy mode (no SMI_CMD)");
	pm->s.cnt = (uint16_t)((pm->s.cnt & ~m) | (v & m & ACPI_PM_CNT_BITS));
	/* GBL_RLS would signal firmware that it may take the global lock: there is none */
	if (v & PM1_CNT_SLP_EN)
		enter_sleep(pm, (v & PM1_CNT_SLP_TYP) >> PM1_CNT_SLP_TYP_SHIFT);
}

void acpi_pm_write(struct acpi_pm *pm, uint16_t port, unsigned size, uint32_t value,
		   uint64_t now)
{
	unsigned off = (unsigned)(uint16_t)(port - ACPI_PM1A_EVT), shift = 8 * (off & 3);
	uint32_t m, v;

	if (bad_access(pm, port, size, "write"))
		return;
	tmr_update(pm, now);
	m = size_mask(size) << shift;
	v = (value << shift) & m;
	if (off < CNT) {
		sts_write(pm, v & 0xffff);
		en_write(pm, v >> 16, m >> 16);
	} else if (off < TMR) {
		cnt_write(pm, v, m);
	} else {
		dev_warn(pm->log, W_TIMER_WRITE,
			 "acpi_pm: write to the read-only PM timer ignored");
	}
	sci_drive(pm, false);
}

/* The first VM time at which the count reaches t. */
static uint64_t time_of_tick(uint64_t t)
{
	uint64_t ns = dev_muldiv(t, NS_PER_S, ACPI_PM_TMR_HZ);

	if (ns != UINT64_MAX && ticks(ns) < t)
		ns++;
	return ns;
}

uint64_t acpi_pm_next_event(const struct acpi_pm *pm)
{
	if (!(pm->s.en & PM1_TMR))
		return DEV_NEVER;
	return time_of_tick((pm->s.tmr_half + 1) << 31);
}

void acpi_pm_run(struct acpi_pm *pm, uint64_t now)
{
	tmr_update(pm, now);
	sci_drive(pm, false);
}

void acpi_pm_restore(struct acpi_pm *pm, uint64_t now)
{
	sci_drive(pm, true);
}

void acpi_pm_power_button(struct acpi_pm *pm, uint64_t now)
{
	tmr_update(pm, now);
	pm->s.sts |= PM1_PWRBTN;
	sci_drive(pm, false);
}

/* --- the record --- */

static bool bits_ok(const char *field, uint32_t v, uint32_t allowed, char *err, size_t n)
{
	if (!(v & ~allowed))
		return true;
	fmt_snprintf(err, n, "acpi_pm: %s = 0x%x has bits outside 0x%x", field, v, allowed);
	return false;
}

static bool check(const void *rec, char *err, size_t n)
{
	const struct acpi_pm_state *s = rec;

	return bits_ok("sts", s->sts, ACPI_PM_STS_BITS, err, n) &&
	       bits_ok("en", s->en, ACPI_PM_EN_BITS, err, n) &&
	       bits_ok("cnt", s->cnt, ACPI_PM_CNT_BITS, err, n);
}

static const struct vms_field fields[] = {
	VMS_FIELD(struct acpi_pm_state, sts, ACPI_PM_STS_BITS),
	VMS_FIELD(struct acpi_pm_state, en, ACPI_PM_EN_BITS),
	VMS_FIELD(struct acpi_pm_state, cnt, ACPI_PM_CNT_BITS),
	VMS_FIELD(struct acpi_pm_state, tmr_half, TMR_HALF_MAX),
};

const struct vms_desc acpi_pm_vms = { "acpi_pm", 1, sizeof(struct acpi_pm_state), fields,
				      ARRAY_SIZE(fields), check };
