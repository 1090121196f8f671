#include "hv/calendar.h"
#include "hv/dev/rtc.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

/* The clock's registers (MC146818A datasheet, "Address map"). */
enum {
	REG_SEC = 0x00,
	REG_SEC_ALARM = 0x01,
	REG_MIN = 0x02,
	REG_MIN_ALARM = 0x03,
	REG_HOUR = 0x04,
	REG_HOUR_ALARM = 0x05,
	REG_WDAY = 0x06,
	REG_MDAY = 0x07,
	REG_MON = 0x08,
	REG_YEAR = 0x09,
};

#define A_UIP 0x80
#define A_DV 0x70
#define A_DV_RUN 0x20   /* 010: the 32.768 kHz time base, the only one that keeps time */
#define A_DV_RESET 0x60 /* 11x: the divider chain held in reset */
#define A_RS 0x0f
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define C_FLAGS (C_PF | C_AF | C_UF) /* each at the bit of its enable (PIE, AIE, UIE) in B */
#define D_VRT 0x80
#define ALARM_ANY 0xc0 /* an alarm byte with both top bits set matches any value */

#define XTAL_HZ 32768 /* divider chain cycles a second */
#define UIP_CYCLES 8  /* UIP rises 244 us (tBUC, datasheet table 6) before each update */
#define UNIX_MAX 253402300799ll /* 9999-12-31 23:59:59, the last time BCD can show */
/* Any time a guest can set (years 0 to 25599) is within 2^41 s of any unix0. */
#define OFFSET_MAX (1ll << 41)

/* PC BIOS bytes of the NVRAM (IBM AT Technical Reference, CMOS RAM map). */
enum {
	NV_SHUTDOWN = 0x0f,
	NV_FLOPPY = 0x10,
	NV_EQUIPMENT = 0x14,
	NV_BASE_KIB = 0x15,  /* 16 bits, KiB below 1 MiB */
	NV_EXT_KIB = 0x17,   /* 16 bits, KiB above 1 MiB */
	NV_CSUM_FIRST = 0x10,
	NV_CSUM_LAST = 0x2d,
	NV_CSUM = 0x2e,      /* 16 bits, big-endian: the sum of 0x10-0x2D */
	NV_EXT_KIB2 = 0x30,  /* the same as 0x17, as POST reports it */
	NV_ABOVE_16M = 0x34, /* 16 bits, 64 KiB units above 16 MiB, below 4 GiB */
	NV_ABOVE_4G = 0x5b,  /* 24 bits, 64 KiB units above 4 GiB */
};
/* A math coprocessor, the primary display a card with its own BIOS (00), no floppy. */
#define EQUIPMENT_FPU 0x02

/* Where each register of struct cmos_clock lives. */
static const struct {
	uint8_t reg, off;
} clock_regs[] = {
	{ REG_SEC, offsetof(struct cmos_clock, sec) },
	{ REG_MIN, offsetof(struct cmos_clock, min) },
	{ REG_HOUR, offsetof(struct cmos_clock, hour) },
	{ REG_WDAY, offsetof(struct cmos_clock, wday) },
	{ REG_MDAY, offsetof(struct cmos_clock, mday) },
	{ REG_MON, offsetof(struct cmos_clock, mon) },
	{ REG_YEAR, offsetof(struct cmos_clock, year) },
	{ RTC_CENTURY, offsetof(struct cmos_clock, century) },
};

enum kind { K_RAM, K_CLOCK, K_A, K_B, K_C, K_D };

static enum kind kind_of(uint8_t idx)
{
	static const uint8_t kinds[] = {
		K_CLOCK, K_RAM, K_CLOCK, K_RAM, K_CLOCK, K_RAM, K_CLOCK,
		K_CLOCK, K_CLOCK, K_CLOCK, K_A, K_B, K_C, K_D,
	};

	if (idx < ARRAY_SIZE(kinds))
		return kinds[idx];
	return idx == RTC_CENTURY ? K_CLOCK : K_RAM;
}

static unsigned clock_off(uint8_t idx)
{
	unsigned i = 0;

	while (clock_regs[i].reg != idx)
		i++;
	return clock_regs[i].off;
}

/* --- the divider chain: cycles of 32.768 kHz, updates at each 32768th --- */

static bool chain_on(uint8_t a)
{
	return (a & A_DV) == A_DV_RUN;
}

/* The clock counts: the chain runs and SET does not hold the updates. */
static bool ticking(const struct rtc_state *s)
{
	return chain_on(s->cmos[RTC_REG_A]) && !(s->cmos[RTC_REG_B] & B_SET);
}

/* Cycles since the chain's origin phase_ns - 1 s (never after guest time 0); an update
 * ends every cycle count that is a multiple of XTAL_HZ. 1e9 / 32768 = 1953125 / 64. */
static uint64_t cycles(const struct rtc_state *s, uint64_t now)
{
	uint64_t d = now + NS_PER_S - s->phase_ns;

	return d / 1953125 * 64 + d % 1953125 * 64 / 1953125;
}

/* The first guest ns at which cycles() reaches c (c * 1e9 / 32768 rounded up, as
 * c * 30517 + c * 37 / 64). */
static uint64_t cycle_ns(const struct rtc_state *s, uint64_t c)
{
	return c * 30517 + (c * 37 + 63) / 64 + s->phase_ns - NS_PER_S;
}

/* Periodic interrupt period in cycles, from register A's rate select (datasheet table
 * 5): 2^(RS-1) cycles for RS 3..15; RS 1 and 2 give 256 Hz and 128 Hz with a 32.768
 * kHz time base; RS 0 none. */
static uint64_t period(uint8_t a)
{
	unsigned rs = a & A_RS;

	if (!rs)
		return 0;
	return 1ull << (rs <= 2 ? rs + 6 : rs - 1);
}

static bool uip(const struct rtc_state *s, uint64_t now)
{
	return ticking(s) && cycles(s, now) % XTAL_HZ >= XTAL_HZ - UIP_CYCLES;
}

/* --- the clock --- */

static int64_t clock_at(const struct rtc_state *s, uint64_t now)
{
	return (int64_t)s->unix0 + s->offset + (int64_t)(cycles(s, now) / XTAL_HZ);
}

static void clock_now(const struct rtc_state *s, uint64_t now, struct cmos_clock *c)
{
	struct cal_time t;

	cal_from_unix(clock_at(s, now), &t);
	t.wday = (uint8_t)((t.wday + s->wday_adj) % 7);
	cmos_encode(&t, s->cmos[RTC_REG_B], c);
}

/* The clock stops: its registers take the time, in the format B had until now. */
static void freeze(struct rtc_state *s, uint64_t now)
{
	struct cmos_clock c;

	clock_now(s, now, &c);
	for (unsigned i = 0; i < ARRAY_SIZE(clock_regs); i++)
		s->cmos[clock_regs[i].reg] = ((const uint8_t *)&c)[clock_regs[i].off];
}

/* The clock starts from its registers, read in B's format (on the chip the registers
 * are simply counted on from there). The next update comes at the chain's next second,
 * so the time written shows until then. */
static void thaw(struct rtc *r, uint64_t now)
{
	struct rtc_state *s = &r->s;
	struct cmos_clock c;
	struct cal_time t;

	for (unsigned i = 0; i < ARRAY_SIZE(clock_regs); i++)
		((uint8_t *)&c)[clock_regs[i].off] = s->cmos[clock_regs[i].reg];
	if (!cmos_decode(&c, s->cmos[RTC_REG_B], &t))
		dev_warn(r->log, RTC_WARN_TIME,
			 "rtc: time %02x:%02x:%02x %02x-%02x-%02x%02x (B %02x) is invalid: taken "
			 "as the nearest valid one", c.hour, c.min, c.sec, c.mday, c.mon,
			 c.century, c.year, s->cmos[RTC_REG_B]);
	s->wday_adj = (uint8_t)((t.wday + 7 - cal_weekday(t.year, t.mon, t.mday)) % 7);
	s->offset = cal_to_unix(&t) - (int64_t)s->unix0 - (int64_t)(cycles(s, now) / XTAL_HZ);
}

/* --- register C and IRQ8 --- */

static bool irqf(const struct rtc_state *s)
{
	return s->flags & s->cmos[RTC_REG_B] & C_FLAGS;
}

static void update_line(struct rtc *r)
{
	bool level = irqf(&r->s);

	if (level != r->line) {
		r->line = level;
		irq_set(&r->irq8, level);
	}
}

static bool alarm_match(uint8_t alarm, uint8_t v)
{
	return (alarm & ALARM_ANY) == ALARM_ANY || alarm == v;
}

/* The chip compares the alarm bytes with the time bytes as the update leaves them. */
static bool alarm_hit(const struct rtc_state *s, int64_t secs)
{
	uint8_t b = s->cmos[RTC_REG_B];
	int64_t sod = secs % CAL_SECS_PER_DAY;

	if (sod < 0)
		sod += CAL_SECS_PER_DAY;
	return alarm_match(s->cmos[REG_SEC_ALARM], cmos_encode_byte(sod % 60, b)) &&
	       alarm_match(s->cmos[REG_MIN_ALARM], cmos_encode_byte(sod / 60 % 60, b)) &&
	       alarm_match(s->cmos[REG_HOUR_ALARM], cmos_encode_hour((unsigned)(sod / 3600), b));
}

/* Did an update among the chain seconds (k0, k1] match the alarm? A day holds every
 * time of day, so no more than the last day's updates need a look. */
static bool alarm_between(const struct rtc_state *s, uint64_t k0, uint64_t k1)
{
	uint64_t k = k1 - k0 > CAL_SECS_PER_DAY ? k1 - CAL_SECS_PER_DAY + 1 : k0 + 1;
	int64_t base = (int64_t)s->unix0 + s->offset;

	for (; k <= k1; k++)
		if (alarm_hit(s, base + (int64_t)k))
			return true;
	return false;
}

/* Sets C's flags for the periodic ticks and updates in (synced_ns, now]. Any number of
 * them set a flag once, as on the chip when nobody read C. */
static void sync(struct rtc *r, uint64_t now)
{
	struct rtc_state *s = &r->s;
	uint64_t c0, c1, p;

	if (now <= s->synced_ns)
		return;
	if (chain_on(s->cmos[RTC_REG_A])) {
		c0 = cycles(s, s->synced_ns);
		c1 = cycles(s, now);
		p = period(s->cmos[RTC_REG_A]);
		if (p && c1 / p > c0 / p)
			s->flags |= C_PF;
		if (!(s->cmos[RTC_REG_B] & B_SET) && c1 / XTAL_HZ > c0 / XTAL_HZ) {
			s->flags |= C_UF;
			if (!(s->flags & C_AF) && alarm_between(s, c0 / XTAL_HZ, c1 / XTAL_HZ))
				s->flags |= C_AF;
		}
	}
	s->synced_ns = now;
	update_line(r);
}

static uint8_t read_c(struct rtc *r)
{
	uint8_t v = r->s.flags | (irqf(&r->s) ? C_IRQF : 0);

	r->s.flags = 0;
	update_line(r);
	return v;
}

/* --- registers A and B --- */

/* A new A and B: the clock stops or starts as they say. Releasing the divider from
 * reset starts a second that ends half a second later (datasheet, "DV2, DV1, DV0"). */
static void set_mode(struct rtc *r, uint8_t a, uint8_t b, uint64_t now)
{
	struct rtc_state *s = &r->s;
	bool was_on = chain_on(s->cmos[RTC_REG_A]), was_ticking = ticking(s);

	if (was_ticking && !(chain_on(a) && !(b & B_SET)))
		freeze(s, now);
	s->cmos[RTC_REG_A] = a;
	s->cmos[RTC_REG_B] = b;
	if (!was_on && chain_on(a)) {
		s->phase_ns = (uint32_t)((now + NS_PER_S / 2) % NS_PER_S);
		if (!s->phase_ns)
			s->phase_ns = NS_PER_S;
	}
	if (!was_ticking && ticking(s))
		thaw(r, now);
	update_line(r);
}

static void write_a(struct rtc *r, uint8_t val, uint64_t now)
{
	uint8_t dv = val & A_DV;

	if (dv != A_DV_RUN && (dv & A_DV_RESET) != A_DV_RESET)
		dev_warn(r->log, RTC_WARN_DIVIDER,
			 "rtc: divider bits %u%u%u select no 32.768 kHz time base: the clock stops",
			 dv >> 6 & 1, dv >> 5 & 1, dv >> 4 & 1);
	set_mode(r, val & ~A_UIP, r->s.cmos[RTC_REG_B], now);
}

/* SET going to 1 clears UIE (datasheet, register B, "UIE"). */
static void write_b(struct rtc *r, uint8_t val, uint64_t now)
{
	if (val & B_SET)
		val &= ~B_UIE;
	set_mode(r, r->s.cmos[RTC_REG_A], val, now);
}

/* Written while the clock runs, a time byte changes the time from now on. */
static void write_clock(struct rtc *r, uint8_t idx, uint8_t val, uint64_t now)
{
	struct rtc_state *s = &r->s;

	if (!ticking(s)) {
		s->cmos[idx] = val;
		return;
	}
	freeze(s, now);
	s->cmos[idx] = val;
	thaw(r, now);
}

static uint8_t read_reg(struct rtc *r, uint8_t idx, uint64_t now)
{
	struct rtc_state *s = &r->s;
	struct cmos_clock c;

	switch (kind_of(idx)) {
	case K_CLOCK:
		if (!ticking(s))
			return s->cmos[idx];
		clock_now(s, now, &c);
		return ((const uint8_t *)&c)[clock_off(idx)];
	case K_A:
		return s->cmos[RTC_REG_A] | (uip(s, now) ? A_UIP : 0);
	case K_C:
		return read_c(r);
	case K_D:
		return D_VRT;
	default:
		return s->cmos[idx];
	}
}

static void write_reg(struct rtc *r, uint8_t idx, uint8_t val, uint64_t now)
{
	switch (kind_of(idx)) {
	case K_CLOCK:
		write_clock(r, idx, val, now);
		break;
	case K_A:
		write_a(r, val, now);
		break;
	case K_B:
		write_b(r, val, now);
		break;
	case K_C:
	case K_D:
		dev_warn(r->log, RTC_WARN_READ_ONLY, "rtc: write of 0x%x to read-only register %c",
			 val, idx == RTC_REG_C ? 'C' : 'D');
		break;
	default:
		r->s.cmos[idx] = val;
		break;
	}
}

/* --- the platform's side --- */

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The memory sizes a PC BIOS leaves in the NVRAM, with RAM below 4 GiB up to
 * RTC_LOW_RAM_MAX and the rest from 4 GiB. */
static void nvram_init(uint8_t *cmos, uint64_t ram)
{
	uint64_t low = MIN(ram, RTC_LOW_RAM_MAX), high = ram - low;
	uint64_t ext = low > MIB ? MIN((low - MIB) / KIB, 0xffff) : 0;
	uint64_t above16 = low > 16 * MIB ? MIN((low - 16 * MIB) / (64 * KIB), 0xffff) : 0;
	unsigned sum = 0;

	put_le(cmos + NV_BASE_KIB, MIN(low / KIB, 640), 2);
	put_le(cmos + NV_EXT_KIB, ext, 2);
	put_le(cmos + NV_EXT_KIB2, ext, 2);
	put_le(cmos + NV_ABOVE_16M, above16, 2);
	put_le(cmos + NV_ABOVE_4G, MIN(high / (64 * KIB), 0xffffff), 3);
	cmos[NV_SHUTDOWN] = 0;
	cmos[NV_FLOPPY] = 0;
	cmos[NV_EQUIPMENT] = EQUIPMENT_FPU;
	for (unsigned i = NV_CSUM_FIRST; i <= NV_CSUM_LAST; i++)
		sum += cmos[i];
	cmos[NV_CSUM] = (uint8_t)(sum >> 8);
	cmos[NV_CSUM + 1] = (uint8_t)sum;
}

void rtc_init(struct rtc *r, struct irq_line irq8, struct dev_log *log,
	      uint64_t unix_seconds_at_0, uint64_t ram_bytes, uint64_t now)
{
	struct rtc_state *s = &r->s;

	memset(r, 0, sizeof(*r));
	r->irq8 = irq8;
	r->log = log;
	s->unix0 = MIN(unix_seconds_at_0, (uint64_t)UNIX_MAX);
	s->phase_ns = NS_PER_S;
	s->synced_ns = now;
	s->cmos[RTC_REG_A] = A_DV_RUN | 0x06;
	s->cmos[RTC_REG_B] = CMOS_B_24H;
	nvram_init(s->cmos, ram_bytes);
}

uint8_t rtc_read(struct rtc *r, uint16_t port, uint64_t now)
{
	if (port != RTC_PORT_DATA)
		return 0xff;
	sync(r, now);
	return read_reg(r, r->s.index, now);
}

void rtc_write(struct rtc *r, uint16_t port, uint8_t val, uint64_t now)
{
	if (port == RTC_PORT_INDEX) {
		r->s.index = val & 0x7f;
		r->s.nmi_masked = val >> 7;
		return;
	}
	if (port != RTC_PORT_DATA)
		return;
	sync(r, now);
	write_reg(r, r->s.index, val, now);
	update_line(r);
}

bool rtc_nmi_masked(const struct rtc *r)
{
	return r->s.nmi_masked;
}

/* While IRQ8 is up nothing new can reach the PIC until C is read. AIE wakes once a
 * second, when the alarm is compared. */
uint64_t rtc_next_event(const struct rtc *r)
{
	const struct rtc_state *s = &r->s;
	uint8_t a = s->cmos[RTC_REG_A], b = s->cmos[RTC_REG_B];
	uint64_t c = cycles(s, s->synced_ns), p = period(a), next = DEV_NEVER;

	if (!chain_on(a) || irqf(s))
		return DEV_NEVER;
	if ((b & B_PIE) && p)
		next = cycle_ns(s, (c / p + 1) * p);
	if ((b & (B_AIE | B_UIE)) && !(b & B_SET))
		next = MIN(next, cycle_ns(s, (c / XTAL_HZ + 1) * XTAL_HZ));
	return next;
}

void rtc_run(struct rtc *r, uint64_t now)
{
	sync(r, now);
}

void rtc_restore(struct rtc *r, uint64_t now)
{
	r->line = irqf(&r->s);
	irq_set(&r->irq8, r->line);
}

/* --- the record --- */

static bool rtc_check(const void *rec, char *err, size_t n)
{
	const struct rtc_state *s = rec;

	if (!s->phase_ns) {
		fmt_snprintf(err, n, "rtc: phase_ns = 0, below its minimum 1");
		return false;
	}
	if (s->offset < -OFFSET_MAX || s->offset > OFFSET_MAX) {
		fmt_snprintf(err, n, "rtc: offset = %lld, beyond +-%lld s", (long long)s->offset,
			     OFFSET_MAX);
		return false;
	}
	if (s->flags & ~C_FLAGS) {
		fmt_snprintf(err, n, "rtc: flags = 0x%x holds bits other than PF, AF, UF",
			     s->flags);
		return false;
	}
	if ((s->cmos[RTC_REG_A] & A_UIP) || s->cmos[RTC_REG_C] || s->cmos[RTC_REG_D]) {
		fmt_snprintf(err, n, "rtc: cmos holds UIP, C or D, which are computed");
		return false;
	}
	return true;
}

static const struct vms_field rtc_fields[] = {
	VMS_FIELD(struct rtc_state, unix0, UNIX_MAX),
	VMS_FIELD(struct rtc_state, offset, VMS_MAX64),
	VMS_FIELD(struct rtc_state, synced_ns, VMS_MAX64),
	VMS_FIELD(struct rtc_state, phase_ns, NS_PER_S),
	VMS_FIELD(struct rtc_state, index, 0x7f),
	VMS_FIELD(struct rtc_state, nmi_masked, 1),
	VMS_FIELD(struct rtc_state, flags, C_FLAGS),
	VMS_FIELD(struct rtc_state, wday_adj, 6),
	VMS_BYTES(struct rtc_state, cmos),
};

const struct vms_desc rtc_vms = { "rtc", 1, sizeof(struct rtc_state), rtc_fields,
				  ARRAY_SIZE(rtc_fields), rtc_check };
