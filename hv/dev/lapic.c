/* The local APIC (SDM Vol. 3A chapter 11). Section numbers below are that chapter's.
 * Registers are only ever read from and written to the page (see lapic.h). */
#include <stdarg.h>
#include "hv/dev/lapic.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

#define LAPIC_VERSION 0x00050014u /* version 0x14, max LVT entry 5 (11.4.8) */
#define APIC_BASE_RSVD 0x2ffull   /* bits 0-7 and 9 (11.4.4, 11.12.1) */

/* LVT fields (Figure 11-8) */
#define LVT_VECTOR 0xffu
#define LVT_DELIVERY_STATUS (1u << 12)
#define LVT_POLARITY_LOW (1u << 13)
#define LVT_REMOTE_IRR (1u << 14)
#define LVT_LEVEL (1u << 15)
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_SHIFT 17
#define LVT_TIMER_WMASK 0x700ffu /* vector, mask, mode (bit 18: TSC-deadline only) */
#define LVT_PLAIN_WMASK 0x107ffu /* thermal, perf: vector, delivery mode, mask */
#define LVT_LINT_WMASK 0x1a7ffu  /* ... polarity, trigger mode */
#define LVT_ERROR_WMASK 0x100ffu /* vector, mask */

/* ICR fields (Figure 11-12) */
#define ICR_LO_WMASK 0xccfffu /* vector, mode, dest mode, level, trigger, shorthand */
#define ICR_BUSY (1u << 12)   /* delivery status: always idle here, delivery is instant */
#define ICR_LOGICAL (1u << 11)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_SH_SHIFT 18

#define SVR_ENABLE (1u << 8)
#define SVR_WMASK 0x3ffu /* vector, enable, focus checking (kept, no effect) */
#define TDCR_WMASK 0xbu
#define XAPIC_ID_MASK 0xff000000u

enum timer_mode { TIMER_ONESHOT, TIMER_PERIODIC, TIMER_TSC_DEADLINE, TIMER_RESERVED };

/* one log line each (dev_warn kinds) */
enum {
	W_MMIO_MODE, W_MMIO_SIZE, W_MMIO_RESERVED, W_MMIO_READONLY, W_MSR_GP, W_EOI_EMPTY,
	W_ACCEPT, W_ILLEGAL_VECTOR, W_SW_DISABLED, W_INIT_SIPI, W_SMI, W_DELIVERY_MODE,
	W_IPI_NOWHERE, W_LINT1_LEVEL, W_TIMER_MODE,
};

static struct dev_log *lg(const struct lapic *a)
{
	return a->ops ? a->ops->log : NULL;
}

static inline uint32_t *reg(const struct lapic *a, uint32_t off)
{
	return &a->page[off / 4];
}

static bool hw_enabled(const struct lapic *a)
{
	return a->s.apic_base & APIC_BASE_EN;
}

static bool x2(const struct lapic *a)
{
	return a->s.apic_base & APIC_BASE_EXTD;
}

static bool sw_enabled(const struct lapic *a)
{
	return *reg(a, APIC_SVR) & SVR_ENABLE;
}

static unsigned lvt_mode(uint32_t lvt)
{
	return (lvt >> 8) & 7;
}

static uint32_t lint_off(unsigned pin)
{
	return APIC_LVT_LINT0 + 16 * pin;
}

/* --- ISR, TMR, IRR: 256 bits in 8 registers 16 bytes apart --- */

static bool vec_test(const struct lapic *a, uint32_t base, unsigned v)
{
	return *reg(a, base + v / 32 * 16) & (1u << (v % 32));
}

/* Atomic: with APIC virtualization the page is the virtual-APIC page, which the CPU
 * running the target vCPU may update (delivering a virtual interrupt clears its IRR
 * bit) while a vCPU on another CPU sends it an IPI. */
static void vec_set(struct lapic *a, uint32_t base, unsigned v, bool on)
{
	uint32_t *r = reg(a, base + v / 32 * 16);

	if (on)
		__atomic_fetch_or(r, 1u << (v % 32), __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(r, ~(1u << (v % 32)), __ATOMIC_SEQ_CST);
}

int lapic_highest(const struct lapic *a, uint32_t base)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = *reg(a, base + 16 * i);
		if (w)
			return 32 * i + 31 - __builtin_clz(w);
	}
	return -1;
}

/* 11.8.3.1: PPR is TPR unless the highest in-service class is above TPR's class. */
static uint32_t ppr(const struct lapic *a)
{
	uint32_t tpr = *reg(a, APIC_TPR) & 0xff;
	int isrv = lapic_highest(a, APIC_ISR);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

static void update_ppr(struct lapic *a)
{
	*reg(a, APIC_PPR) = ppr(a);
}

/* --- accepting interrupts --- */

/* 11.5.3: an error is recorded for the next ESR write and raises the error LVT. An
 * illegal vector in the error LVT itself is recorded without a second interrupt. */
static void raise_error(struct lapic *a, uint32_t bits)
{
	uint32_t lvt = *reg(a, APIC_LVT_ERROR);

	a->s.esr_pending |= bits;
	if (lvt & LVT_MASKED)
		return;
	if ((lvt & LVT_VECTOR) < 16) {
		a->s.esr_pending |= ESR_RECV_ILLEGAL;
		return;
	}
	vec_set(a, APIC_IRR, lvt & LVT_VECTOR, true);
	vec_set(a, APIC_TMR, lvt & LVT_VECTOR, false);
}

/* 11.8.4: into IRR, TMR telling level from edge; 11.5.2: 0-15 never reach IRR. */
static bool accept_fixed(struct lapic *a, uint8_t v, bool level)
{
	if (v < 16) {
		dev_warn(lg(a), W_ILLEGAL_VECTOR, "lapic%u: illegal vector %u received",
			 a->apic_id, v);
		raise_error(a, ESR_RECV_ILLEGAL);
		return false;
	}
	vec_set(a, APIC_IRR, v, true);
	vec_set(a, APIC_TMR, v, level);
	return true;
}

/* A local source (the timer) fires through its LVT entry: fixed, edge. */
static void fire_lvt(struct lapic *a, uint32_t off)
{
	uint32_t lvt = *reg(a, off);

	if (!(lvt & LVT_MASKED))
		accept_fixed(a, lvt & LVT_VECTOR, false);
}

void lapic_deliver(struct lapic *a, const struct apic_msg *m)
{
	if (!hw_enabled(a))
		return; /* not on the bus (11.4.3) */
	switch (m->mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		/* software-disabled, it takes NMI, SMI, INIT and SIPI only (11.4.7.2) */
		if (!sw_enabled(a)) {
			dev_warn(lg(a), W_SW_DISABLED,
				 "lapic%u: vector %u dropped: the APIC is software-disabled",
				 a->apic_id, m->vector);
			return;
		}
		accept_fixed(a, m->vector, m->level);
		break;
	case APIC_DM_NMI:
		a->s.nmi_pending = 1;
		break;
	case APIC_DM_EXTINT:
		a->s.extint_pending = 1;
		break;
	case APIC_DM_SMI:
		dev_warn(lg(a), W_SMI, "lapic%u: SMI ignored (no SMM)", a->apic_id);
		break;
	case APIC_DM_INIT:
	case APIC_DM_SIPI:
		if (a->ops && a->ops->start &&
		    a->ops->start(a->ops->ctx, a, m->mode == APIC_DM_INIT, m->vector))
			break;
		dev_warn(lg(a), W_INIT_SIPI, "lapic%u: INIT/SIPI ignored (%s)", a->apic_id,
			 a->apic_id ? "no such vCPU" : "the bootstrap processor's");
		break;
	default:
		dev_warn(lg(a), W_DELIVERY_MODE, "lapic%u: reserved delivery mode %u dropped",
			 a->apic_id, m->mode);
		break;
	}
}

/* --- the timer (11.5.4): 1 GHz before the divider, so 1 ns per count at divide 1 --- */

static unsigned tdcr_shift(uint32_t tdcr)
{
	unsigned enc = (tdcr & 3) | ((tdcr >> 1) & 4); /* bits 0, 1 and 3 (Figure 11-10) */

	return (enc + 1) & 7; /* 000: /2, 001: /4 ... 110: /128, 111: /1 */
}

static unsigned lvt_timer_mode(const struct lapic *a)
{
	return (*reg(a, APIC_LVT_TIMER) >> LVT_TIMER_SHIFT) & 3;
}

static uint64_t guest_tsc(const struct lapic *a, uint64_t now)
{
	return dev_muldiv(now, a->tsc_hz, NS_PER_S);
}

/* The first ns at which the guest TSC, floor(t * tsc_hz / 1e9), reaches tsc. */
static uint64_t tsc_to_ns(const struct lapic *a, uint64_t tsc)
{
	uint64_t t;

	if (!a->tsc_hz)
		return DEV_NEVER;
	t = dev_muldiv(tsc, NS_PER_S, a->tsc_hz);
	if (t == UINT64_MAX)
		return DEV_NEVER;
	return guest_tsc(a, t) >= tsc ? t : t + 1;
}

static void timer_disarm(struct lapic *a)
{
	*reg(a, APIC_TMICT) = 0;
	a->s.timer_next = DEV_NEVER;
	a->s.tsc_deadline = 0;
}

/* The current count: counts left before the next expiry, rounded up. */
static uint32_t timer_count(const struct lapic *a, uint64_t now)
{
	const struct lapic_state *s = &a->s;
	uint32_t init = *reg(a, APIC_TMICT);
	uint64_t left, period;

	if (s->timer_mode > TIMER_PERIODIC || !init || s->timer_next == DEV_NEVER)
		return 0;
	if (now < s->timer_next) {
		left = s->timer_next - now;
	} else if (s->timer_mode == TIMER_ONESHOT) {
		return 0;
	} else {
		period = (uint64_t)init << s->timer_shift;
		left = period - (now - s->timer_next) % period;
	}
	left = (left + (1ull << s->timer_shift) - 1) >> s->timer_shift;
	return left > init ? init : (uint32_t)left;
}

static void timer_run(struct lapic *a, uint64_t now)
{
	struct lapic_state *s = &a->s;
	uint64_t period;

	if (s->timer_mode == TIMER_TSC_DEADLINE) {
		if (s->tsc_deadline && guest_tsc(a, now) >= s->tsc_deadline) {
			s->tsc_deadline = 0; /* 11.5.4.1: firing disarms it */
			fire_lvt(a, APIC_LVT_TIMER);
		}
		return;
	}
	if (s->timer_mode > TIMER_PERIODIC || s->timer_next == DEV_NEVER || now < s->timer_next)
		return;
	period = (uint64_t)*reg(a, APIC_TMICT) << s->timer_shift;
	if (s->timer_mode == TIMER_ONESHOT || !period)
		s->timer_next = DEV_NEVER;
	else /* periods missed while the VM was not run coalesce into this interrupt */
		s->timer_next += ((now - s->timer_next) / period + 1) * period;
	fire_lvt(a, APIC_LVT_TIMER);
}

uint64_t lapic_next_event(const struct lapic *a)
{
	const struct lapic_state *s = &a->s;

	if (s->timer_mode == TIMER_TSC_DEADLINE)
		return s->tsc_deadline ? tsc_to_ns(a, s->tsc_deadline) : DEV_NEVER;
	if (s->timer_mode > TIMER_PERIODIC)
		return DEV_NEVER;
	return s->timer_next;
}

void lapic_run(struct lapic *a, uint64_t now)
{
	timer_run(a, now);
}

/* --- EOI (11.8.5) and the LINT pins (11.5.1) --- */

static bool lint_asserted(const struct lapic *a, unsigned pin)
{
	bool low = *reg(a, lint_off(pin)) & LVT_POLARITY_LOW;

	return a->s.lint_level[pin] ^ low;
}

/* LINT0 as a fixed level-triggered input: delivered while asserted, once per EOI. */
static void lint_level_check(struct lapic *a, unsigned pin)
{
	uint32_t *lvt = reg(a, lint_off(pin));

	if (pin != 0 || (*lvt & LVT_MASKED) || lvt_mode(*lvt) != APIC_DM_FIXED ||
	    !(*lvt & LVT_LEVEL) || a->s.lint_rirr[pin] || !lint_asserted(a, pin))
		return;
	if (accept_fixed(a, *lvt & LVT_VECTOR, true)) {
		a->s.lint_rirr[pin] = 1;
		*lvt |= LVT_REMOTE_IRR;
	}
}

void lapic_set_lint(struct lapic *a, unsigned pin, bool level)
{
	bool was_level, was, rising;
	uint32_t lvt;

	if (pin > 1)
		return;
	was_level = a->s.lint_level[pin];
	was = lint_asserted(a, pin);
	a->s.lint_level[pin] = level;
	if (!hw_enabled(a)) {
		/* globally disabled, LINT1 is the CPU's NMI pin (and LINT0 its INTR) */
		if (pin == 1 && level && !was_level)
			a->s.nmi_pending = 1;
		return;
	}
	lvt = *reg(a, lint_off(pin));
	rising = lint_asserted(a, pin) && !was;
	if (lvt & LVT_MASKED)
		return;
	switch (lvt_mode(lvt)) {
	case APIC_DM_FIXED:
		if (lvt & LVT_LEVEL && pin == 1)
			dev_warn(lg(a), W_LINT1_LEVEL,
				 "lapic%u: LINT1 cannot be level-triggered; taken as edge",
				 a->apic_id);
		if (lvt & LVT_LEVEL && pin == 0)
			lint_level_check(a, pin);
		else if (rising)
			accept_fixed(a, lvt & LVT_VECTOR, false);
		break;
	case APIC_DM_NMI: /* always edge (11.5.1) */
		if (rising)
			a->s.nmi_pending = 1;
		break;
	case APIC_DM_EXTINT: /* the PIC's INTR, read through lapic_extint() */
		break;
	default:
		if (rising)
			dev_warn(lg(a), W_DELIVERY_MODE, "lapic%u: LINT%u delivery mode %u ignored",
				 a->apic_id, pin, lvt_mode(lvt));
		break;
	}
}

void lapic_lint_line(void *ctx, unsigned pin, bool level)
{
	lapic_set_lint(ctx, pin, level);
}

void lapic_eoi_done(struct lapic *a, uint8_t vector)
{
	update_ppr(a);
	if (!vec_test(a, APIC_TMR, vector))
		return;
	if (a->ops && a->ops->eoi)
		a->ops->eoi(a->ops->ctx, vector);
	for (unsigned pin = 0; pin < 2; pin++) {
		uint32_t *lvt = reg(a, lint_off(pin));
		if (!a->s.lint_rirr[pin] || (*lvt & LVT_VECTOR) != vector)
			continue;
		a->s.lint_rirr[pin] = 0;
		*lvt &= ~LVT_REMOTE_IRR;
		lint_level_check(a, pin);
	}
}

static void do_eoi(struct lapic *a)
{
	int v = lapic_highest(a, APIC_ISR);

	if (v < 0) {
		dev_warn(lg(a), W_EOI_EMPTY, "lapic%u: EOI with nothing in service", a->apic_id);
		return;
	}
	vec_set(a, APIC_ISR, v, false);
	lapic_eoi_done(a, v);
}

/* --- destinations (11.6.2, 11.12.10) and IPIs (11.6.1) --- */

static uint32_t own_id(const struct lapic *a)
{
	return x2(a) ? *reg(a, APIC_ID) : *reg(a, APIC_ID) >> 24;
}

/* 11.12.10.2: cluster = x2APIC ID[19:4] in bits 31:16, one bit (ID[3:0]) in 15:0 */
static uint32_t x2apic_ldr(uint32_t id)
{
	return (id >> 4) << 16 | 1u << (id & 0xf);
}

bool lapic_match(const struct lapic *a, uint32_t dest, bool logical)
{
	uint32_t ldr = *reg(a, APIC_LDR);

	if (!hw_enabled(a))
		return false;
	if (x2(a)) {
		if (dest == APIC_BROADCAST_X2APIC)
			return true;
		if (!logical)
			return dest == own_id(a);
		return dest >> 16 == ldr >> 16 && (dest & ldr & 0xffff);
	}
	if (dest == APIC_BROADCAST_XAPIC)
		return true;
	if (!logical)
		return dest == own_id(a);
	ldr >>= 24;
	if (*reg(a, APIC_DFR) >> 28 == 0xf) /* flat: one bit per APIC */
		return dest & ldr;
	/* cluster: cluster in 7:4, one bit per APIC in 3:0 */
	return dest >> 4 == ldr >> 4 && (dest & ldr & 0xf);
}

static void send_ipi(struct lapic *a, uint32_t lo, uint32_t dest)
{
	struct apic_msg m = {
		.vector = lo & 0xff,
		.mode = (lo >> 8) & 7,
		.logical = !!(lo & ICR_LOGICAL),
		.shorthand = (lo >> ICR_SH_SHIFT) & 3,
		.dest = dest,
	};
	bool self, others, illegal = false, took = false;

	if (m.mode == APIC_DM_FIXED || m.mode == APIC_DM_LOWEST) {
		m.level = !!(lo & ICR_LEVEL);
		illegal = m.vector < 16;
	} else if (m.mode == APIC_DM_INIT && (lo & ICR_LEVEL) && !(lo & ICR_ASSERT)) {
		return; /* INIT level de-assert: a no-op since the Pentium 4 */
	} else if (m.mode == 3 || m.mode == APIC_DM_EXTINT) {
		dev_warn(lg(a), W_DELIVERY_MODE, "lapic%u: IPI with reserved delivery mode %u",
			 a->apic_id, m.mode);
		return;
	}
	self = m.shorthand == APIC_SH_SELF || m.shorthand == APIC_SH_ALL ||
	       (m.shorthand == APIC_SH_NONE && lapic_match(a, dest, m.logical));
	others = m.shorthand == APIC_SH_ALL || m.shorthand == APIC_SH_OTHERS ||
		 (m.shorthand == APIC_SH_NONE && (m.logical || dest != own_id(a)));
	if (illegal) { /* 11.5.3: not sent; a self IPI is also an illegal one received */
		dev_warn(lg(a), W_ILLEGAL_VECTOR, "lapic%u: IPI with illegal vector %u",
			 a->apic_id, m.vector);
		raise_error(a, ESR_SEND_ILLEGAL | (self ? ESR_RECV_ILLEGAL : 0));
		return;
	}
	if (others && a->ops && a->ops->ipi)
		took = a->ops->ipi(a->ops->ctx, a, &m);
	if (self) {
		lapic_deliver(a, &m);
		took = true;
	}
	if (!took)
		dev_warn(lg(a), W_IPI_NOWHERE, "lapic%u: IPI to %s 0x%x reaches no APIC",
			 a->apic_id, m.logical ? "logical" : "APIC ID", dest);
}

/* --- register writes: the page holds the written value; keep what may be written --- */

static uint32_t lvt_wmask(const struct lapic *a, uint32_t off)
{
	switch (off) {
	case APIC_LVT_TIMER:
		return a->s.tsc_deadline_offered ? LVT_TIMER_WMASK
						 : LVT_TIMER_WMASK & ~(2u << LVT_TIMER_SHIFT);
	case APIC_LVT_LINT0:
	case APIC_LVT_LINT1:
		return LVT_LINT_WMASK;
	case APIC_LVT_ERROR:
		return LVT_ERROR_WMASK;
	default:
		return LVT_PLAIN_WMASK;
	}
}

/* An LVT value as stored: writable bits, masked while software-disabled (11.4.7.2),
 * the LINT remote IRR the model keeps. */
static uint32_t lvt_value(const struct lapic *a, uint32_t off, uint32_t v)
{
	v &= lvt_wmask(a, off);
	if (!sw_enabled(a))
		v |= LVT_MASKED;
	if ((off == APIC_LVT_LINT0 || off == APIC_LVT_LINT1) &&
	    a->s.lint_rirr[(off - APIC_LVT_LINT0) / 16])
		v |= LVT_REMOTE_IRR;
	return v;
}

static void w_id(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = x2(a) ? a->apic_id : v & XAPIC_ID_MASK; /* read-only in x2APIC */
}

static void w_tpr(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = v & 0xff;
	update_ppr(a);
}

static void w_eoi(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = 0;
	do_eoi(a);
}

static void w_ldr(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = x2(a) ? x2apic_ldr(a->apic_id) : v & XAPIC_ID_MASK;
}

static void w_dfr(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = v | 0x0fffffff; /* only the model (31:28) is writable; the rest 1s */
}

static void w_svr(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = v & SVR_WMASK;
	if (v & SVR_ENABLE)
		return;
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++) /* 11.4.7.2 */
		*reg(a, APIC_LVT_TIMER + 16 * i) |= LVT_MASKED;
}

static void w_esr(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = a->s.esr_pending; /* 11.5.3: a write latches the errors found since */
	a->s.esr_pending = 0;
}

static void w_icr_lo(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	uint32_t hi = *reg(a, APIC_ICR_HI);

	*reg(a, off) = v & ICR_LO_WMASK;
	send_ipi(a, v, x2(a) ? hi : hi >> 24);
}

static void w_icr_hi(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = x2(a) ? v : v & XAPIC_ID_MASK;
}

static void w_lvt(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	uint32_t lvt = lvt_value(a, off, v);

	if (off == APIC_LVT_LINT0 || off == APIC_LVT_LINT1) {
		unsigned pin = (off - APIC_LVT_LINT0) / 16;

		if (lvt_mode(lvt) != APIC_DM_FIXED || !(lvt & LVT_LEVEL)) {
			a->s.lint_rirr[pin] = 0; /* remote IRR is a fixed-level notion */
			lvt &= ~LVT_REMOTE_IRR;
		}
		*reg(a, off) = lvt;
		lint_level_check(a, pin); /* unmasked while asserted: delivered now */
		return;
	}
	*reg(a, off) = lvt;
}

/* 11.5.4.1: moving between TSC-deadline mode and the others disarms the timer. */
static void w_lvt_timer(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	unsigned old = a->s.timer_mode, mode;

	timer_run(a, now);
	*reg(a, off) = lvt_value(a, off, v);
	mode = lvt_timer_mode(a);
	if (mode == TIMER_RESERVED)
		dev_warn(lg(a), W_TIMER_MODE, "lapic%u: reserved timer mode 3: the timer stops",
			 a->apic_id);
	if (mode != old && (mode > TIMER_PERIODIC || old > TIMER_PERIODIC))
		timer_disarm(a);
	a->s.timer_mode = mode;
}

static void w_tmict(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	timer_run(a, now);
	if (a->s.timer_mode > TIMER_PERIODIC) {
		*reg(a, off) = 0; /* ignored in TSC-deadline mode (11.5.4.1) */
		return;
	}
	a->s.timer_next = v ? now + ((uint64_t)v << a->s.timer_shift) : DEV_NEVER;
}

/* A new divider applies from now on: the counts left run at the new rate. */
static void w_tdcr(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	unsigned shift = tdcr_shift(v);
	uint32_t left;

	timer_run(a, now);
	*reg(a, off) = v & TDCR_WMASK;
	left = timer_count(a, now);
	if (left)
		a->s.timer_next = now + ((uint64_t)left << shift);
	a->s.timer_shift = shift;
}

static void w_self_ipi(struct lapic *a, uint32_t off, uint32_t v, uint64_t now)
{
	*reg(a, off) = 0;
	send_ipi(a, (v & 0xff) | APIC_SH_SELF << ICR_SH_SHIFT, 0);
}

/* What each mode lets the guest do with each register (Table 11-1; x2APIC: Table 11-6),
 * indexed by offset / 16. */
#define RD 1
#define WR 2

struct reg_desc {
	uint8_t xapic, x2apic; /* RD | WR; 0: absent */
	uint32_t wmask;        /* x2APIC: any other bit set is #GP (11.12.1.3)... */
	uint32_t ro;           /* ...but these read-only status bits */
	void (*done)(struct lapic *a, uint32_t off, uint32_t v, uint64_t now);
};

#define LVT_DESC(mask, ro, fn) { RD | WR, RD | WR, mask, LVT_DELIVERY_STATUS | (ro), fn }

#define NR_REGS 64 /* offsets 0x000-0x3f0; the rest of the page is reserved */

static const struct reg_desc regs[NR_REGS] = {
	[APIC_ID >> 4] = { RD | WR, RD, XAPIC_ID_MASK, 0, w_id },
	[APIC_VER >> 4] = { RD, RD },
	[APIC_TPR >> 4] = { RD | WR, RD | WR, 0xff, 0, w_tpr },
	[APIC_APR >> 4] = { RD, 0 },
	[APIC_PPR >> 4] = { RD, RD },
	[APIC_EOI >> 4] = { WR, WR, 0, 0, w_eoi }, /* x2APIC: a non-zero write is #GP */
	[APIC_RRD >> 4] = { RD, 0 },
	[APIC_LDR >> 4] = { RD | WR, RD, XAPIC_ID_MASK, 0, w_ldr },
	[APIC_DFR >> 4] = { RD | WR, 0, 0xf0000000, 0, w_dfr },
	[APIC_SVR >> 4] = { RD | WR, RD | WR, SVR_WMASK, 0, w_svr },
	[APIC_ISR >> 4 ... (APIC_ISR >> 4) + 7] = { RD, RD },
	[APIC_TMR >> 4 ... (APIC_TMR >> 4) + 7] = { RD, RD },
	[APIC_IRR >> 4 ... (APIC_IRR >> 4) + 7] = { RD, RD },
	[APIC_ESR >> 4] = { RD | WR, RD | WR, 0, 0, w_esr }, /* x2APIC: write 0 only */
	[APIC_ICR_LO >> 4] = { RD | WR, RD | WR, ICR_LO_WMASK, ICR_BUSY, w_icr_lo },
	[APIC_ICR_HI >> 4] = { RD | WR, 0, XAPIC_ID_MASK, 0, w_icr_hi },
	[APIC_LVT_TIMER >> 4] = LVT_DESC(LVT_TIMER_WMASK, 0, w_lvt_timer),
	[APIC_LVT_THERMAL >> 4] = LVT_DESC(LVT_PLAIN_WMASK, 0, w_lvt),
	[APIC_LVT_PERF >> 4] = LVT_DESC(LVT_PLAIN_WMASK, 0, w_lvt),
	[APIC_LVT_LINT0 >> 4] = LVT_DESC(LVT_LINT_WMASK, LVT_REMOTE_IRR, w_lvt),
	[APIC_LVT_LINT1 >> 4] = LVT_DESC(LVT_LINT_WMASK, LVT_REMOTE_IRR, w_lvt),
	[APIC_LVT_ERROR >> 4] = LVT_DESC(LVT_ERROR_WMASK, 0, w_lvt),
	[APIC_TMICT >> 4] = { RD | WR, RD | WR, 0xffffffff, 0, w_tmict },
	[APIC_TMCCT >> 4] = { RD, RD },
	[APIC_TDCR >> 4] = { RD | WR, RD | WR, TDCR_WMASK, 0, w_tdcr },
	[APIC_SELF_IPI >> 4] = { 0, WR, 0xff, 0, w_self_ipi },
};

static const struct reg_desc *desc(uint32_t off)
{
	static const struct reg_desc reserved;

	return off < 16 * NR_REGS ? &regs[off >> 4] : &reserved;
}

void lapic_write(struct lapic *a, uint32_t offset, uint32_t value, uint64_t now)
{
	if (offset >= 16 * NR_REGS || (offset & 0xf))
		return;
	*reg(a, offset) = value;
	lapic_write_done(a, offset, now);
}

void lapic_write_done(struct lapic *a, uint32_t offset, uint64_t now)
{
	const struct reg_desc *d = desc(offset);

	if (!(offset & 0xf) && d->done)
		d->done(a, offset, *reg(a, offset), now);
}

static uint32_t reg_read(struct lapic *a, uint32_t off, uint64_t now)
{
	switch (off) {
	case APIC_PPR:
		return ppr(a); /* the CPU may have moved TPR in the page */
	case APIC_TMCCT:
		return timer_count(a, now);
	case APIC_APR:
	case APIC_RRD:
		return 0;
	default:
		return *reg(a, off);
	}
}

/* --- xAPIC MMIO (11.4.1: aligned 32-bit accesses to the first 4 bytes of each 16) --- */

static uint64_t ones(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
}

static bool mmio_claimed(struct lapic *a, uint32_t off)
{
	if (hw_enabled(a) && !x2(a) && off < LAPIC_PAGE_SIZE)
		return true;
	dev_warn(lg(a), W_MMIO_MODE, "lapic%u: MMIO at 0x%x while not in xAPIC mode",
		 a->apic_id, off);
	return false;
}

static bool mmio_reserved(struct lapic *a, uint32_t off)
{
	if (desc(off)->xapic)
		return false;
	dev_warn(lg(a), W_MMIO_RESERVED, "lapic%u: reserved register 0x%x", a->apic_id, off);
	raise_error(a, ESR_ILLEGAL_REG);
	return true;
}

uint64_t lapic_mmio_read(struct lapic *a, uint32_t offset, unsigned size, uint64_t now)
{
	uint32_t slot = offset & ~0xfu, in = offset & 0xf, v;
	uint64_t out = 0;

	if (!mmio_claimed(a, offset))
		return ones(size);
	timer_run(a, now);
	if (mmio_reserved(a, slot))
		return 0;
	v = desc(slot)->xapic & RD ? reg_read(a, slot, now) : 0;
	if (size == 4 && !in)
		return v;
	dev_warn(lg(a), W_MMIO_SIZE, "lapic%u: %u-byte read at 0x%x", a->apic_id, size, offset);
	/* the register's 4 bytes, then zeros to the end of its 16 */
	for (unsigned i = 0; i < size && i < 8 && in + i < 4; i++)
		out |= (uint64_t)((v >> (8 * (in + i))) & 0xff) << (8 * i);
	return out;
}

void lapic_mmio_write(struct lapic *a, uint32_t offset, unsigned size, uint64_t value,
		      uint64_t now)
{
	if (!mmio_claimed(a, offset))
		return;
	timer_run(a, now);
	if (mmio_reserved(a, offset & ~0xfu))
		return;
	if (size != 4 || (offset & 0xf)) {
		dev_warn(lg(a), W_MMIO_SIZE, "lapic%u: %u-byte write at 0x%x ignored", a->apic_id,
			 size, offset);
		return;
	}
	if (!(desc(offset)->xapic & WR)) {
		dev_warn(lg(a), W_MMIO_READONLY, "lapic%u: write to read-only 0x%x ignored",
			 a->apic_id, offset);
		return;
	}
	lapic_write(a, offset, (uint32_t)value, now);
}

/* --- power-up state and IA32_APIC_BASE (11.4.4, 11.4.7.1, 11.12.5) --- */

static void reset_regs(struct lapic *a)
{
	memset(a->page, 0, LAPIC_PAGE_SIZE);
	*reg(a, APIC_ID) = a->apic_id << 24;
	*reg(a, APIC_VER) = LAPIC_VERSION;
	*reg(a, APIC_DFR) = 0xffffffff;
	*reg(a, APIC_SVR) = 0xff;
	for (unsigned i = 0; i < LAPIC_NR_LVT; i++)
		*reg(a, APIC_LVT_TIMER + 16 * i) = LVT_MASKED;
	a->s.timer_next = DEV_NEVER;
	a->s.tsc_deadline = 0;
	a->s.timer_mode = TIMER_ONESHOT;
	a->s.timer_shift = tdcr_shift(0);
	a->s.esr_pending = 0;
	a->s.extint_pending = 0;
	a->s.lint_rirr[0] = a->s.lint_rirr[1] = 0;
}

static bool gp(struct lapic *a, uint32_t msr, const char *why)
{
	dev_warn(lg(a), W_MSR_GP, "lapic%u: #GP on MSR 0x%x: %s", a->apic_id, msr, why);
	return false;
}

static bool set_apic_base(struct lapic *a, uint64_t v)
{
	uint64_t old = a->s.apic_base, rsvd = APIC_BASE_RSVD | ~((1ull << a->phys_bits) - 1);
	bool en = v & APIC_BASE_EN, extd = v & APIC_BASE_EXTD;
	bool was_en = old & APIC_BASE_EN, was_x2 = old & APIC_BASE_EXTD;

	if (v & rsvd)
		return gp(a, MSR_IA32_APIC_BASE, "reserved bits");
	if (extd && !en)
		return gp(a, MSR_IA32_APIC_BASE, "x2APIC mode while disabled");
	if (extd && !was_en)
		return gp(a, MSR_IA32_APIC_BASE, "disabled to x2APIC");
	if (en && !extd && was_x2)
		return gp(a, MSR_IA32_APIC_BASE, "x2APIC to xAPIC");
	a->s.apic_base = (v & ~APIC_BASE_BSP) | (old & APIC_BASE_BSP); /* BSP: read-only */
	if (was_en && !en) {
		reset_regs(a); /* 11.4.3: back to the power-up state */
	} else if (extd && !was_x2) {
		*reg(a, APIC_ID) = a->apic_id; /* 11.12.5.1: the x2APIC ID, its LDR derived */
		*reg(a, APIC_LDR) = x2apic_ldr(a->apic_id);
	}
	return true;
}

/* --- MSRs: IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC (11.12.1.2, Table 11-6) --- */

static const struct reg_desc *x2_reg(struct lapic *a, uint32_t msr, uint8_t access)
{
	const struct reg_desc *d;

	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !x2(a))
		return NULL;
	if (msr - MSR_X2APIC_FIRST >= NR_REGS)
		return NULL;
	d = &regs[msr - MSR_X2APIC_FIRST];
	return d->x2apic & access ? d : NULL;
}

bool lapic_msr_read(struct lapic *a, uint32_t msr, uint64_t *value, uint64_t now)
{
	uint32_t off = (msr - MSR_X2APIC_FIRST) << 4; /* meaningful for x2APIC MSRs only */

	timer_run(a, now);
	if (msr == MSR_IA32_APIC_BASE) {
		*value = a->s.apic_base;
		return true;
	}
	if (msr == MSR_IA32_TSC_DEADLINE) {
		if (!a->s.tsc_deadline_offered)
			return gp(a, msr, "TSC-deadline not offered");
		/* 11.5.4.1: reads 0 in the other timer modes */
		*value = a->s.timer_mode == TIMER_TSC_DEADLINE ? a->s.tsc_deadline : 0;
		return true;
	}
	if (!x2_reg(a, msr, RD))
		return gp(a, msr, "no readable x2APIC register");
	*value = reg_read(a, off, now);
	if (off == APIC_ICR_LO)
		*value |= (uint64_t)*reg(a, APIC_ICR_HI) << 32;
	return true;
}

bool lapic_msr_write(struct lapic *a, uint32_t msr, uint64_t value, uint64_t now)
{
	uint32_t off = (msr - MSR_X2APIC_FIRST) << 4, wmask;
	const struct reg_desc *d;

	timer_run(a, now);
	if (msr == MSR_IA32_APIC_BASE)
		return set_apic_base(a, value);
	if (msr == MSR_IA32_TSC_DEADLINE) {
		if (!a->s.tsc_deadline_offered)
			return gp(a, msr, "TSC-deadline not offered");
		if (a->s.timer_mode == TIMER_TSC_DEADLINE) /* else ignored (11.5.4.1) */
			a->s.tsc_deadline = value;
		return true;
	}
	d = x2_reg(a, msr, WR);
	if (!d)
		return gp(a, msr, "no writable x2APIC register");
	if (off != APIC_ICR_LO && value >> 32)
		return gp(a, msr, "reserved bits 63:32");
	wmask = off == APIC_LVT_TIMER ? lvt_wmask(a, off) : d->wmask;
	if ((uint32_t)value & ~(wmask | d->ro))
		return gp(a, msr, "reserved bits");
	if (off == APIC_ICR_LO)
		*reg(a, APIC_ICR_HI) = value >> 32;
	lapic_write(a, off, (uint32_t)value, now);
	return true;
}

uint8_t lapic_cr8(const struct lapic *a)
{
	return (uint8_t)((*reg(a, APIC_TPR) >> 4) & 0xf);
}

void lapic_set_cr8(struct lapic *a, uint8_t cr8, uint64_t now)
{
	lapic_write(a, APIC_TPR, (uint32_t)(cr8 & 0xf) << 4, now);
}

/* --- toward the CPU --- */

int lapic_pending(const struct lapic *a)
{
	int v;

	if (!hw_enabled(a))
		return -1;
	v = lapic_highest(a, APIC_IRR);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (ppr(a) & 0xf0))
		return -1;
	return v;
}

void lapic_accept(struct lapic *a, uint8_t vector)
{
	if (!vec_test(a, APIC_IRR, vector)) {
		dev_warn(lg(a), W_ACCEPT, "lapic%u: accept of vector %u, not requested",
			 a->apic_id, vector);
		return;
	}
	vec_set(a, APIC_IRR, vector, false);
	vec_set(a, APIC_ISR, vector, true);
	update_ppr(a);
}

bool lapic_take_nmi(struct lapic *a)
{
	bool nmi = a->s.nmi_pending;

	a->s.nmi_pending = 0;
	return nmi;
}

bool lapic_extint(const struct lapic *a)
{
	uint32_t lint0 = *reg(a, APIC_LVT_LINT0);

	if (!hw_enabled(a) || a->s.extint_pending)
		return true;
	return !(lint0 & LVT_MASKED) && lvt_mode(lint0) == APIC_DM_EXTINT;
}

void lapic_extint_taken(struct lapic *a)
{
	a->s.extint_pending = 0;
}

/* --- life cycle and queries --- */

void lapic_init(struct lapic *a, uint32_t *page, uint32_t apic_id, uint64_t tsc_hz,
		bool tsc_deadline_offered, const struct lapic_ops *ops, uint64_t now)
{
	memset(a, 0, sizeof(*a));
	a->page = page;
	a->apic_id = apic_id;
	a->tsc_hz = tsc_hz;
	a->phys_bits = 36;
	a->ops = ops;
	a->s.tsc_deadline_offered = tsc_deadline_offered;
	a->s.apic_base = LAPIC_BASE_DEFAULT | APIC_BASE_EN | (apic_id ? 0 : APIC_BASE_BSP);
	reset_regs(a);
}

void lapic_set_phys_bits(struct lapic *a, unsigned bits)
{
	if (bits >= 32 && bits <= 52)
		a->phys_bits = bits;
}

bool lapic_enabled(const struct lapic *a)
{
	return hw_enabled(a);
}

bool lapic_x2apic(const struct lapic *a)
{
	return x2(a);
}

uint64_t lapic_mmio_base(const struct lapic *a)
{
	return a->s.apic_base & ~0xfffull;
}

/* --- records --- */

/* Where each saved register lives in the page and in struct lapic_regs. */
static const struct {
	uint16_t off, count;
	uint16_t at;
} saved[] = {
	{ APIC_ID, 1, offsetof(struct lapic_regs, id) },
	{ APIC_TPR, 1, offsetof(struct lapic_regs, tpr) },
	{ APIC_LDR, 1, offsetof(struct lapic_regs, ldr) },
	{ APIC_DFR, 1, offsetof(struct lapic_regs, dfr) },
	{ APIC_SVR, 1, offsetof(struct lapic_regs, svr) },
	{ APIC_ISR, 8, offsetof(struct lapic_regs, isr) },
	{ APIC_TMR, 8, offsetof(struct lapic_regs, tmr) },
	{ APIC_IRR, 8, offsetof(struct lapic_regs, irr) },
	{ APIC_ESR, 1, offsetof(struct lapic_regs, esr) },
	{ APIC_LVT_TIMER, LAPIC_NR_LVT, offsetof(struct lapic_regs, lvt) },
	{ APIC_ICR_LO, 1, offsetof(struct lapic_regs, icr_lo) },
	{ APIC_ICR_HI, 1, offsetof(struct lapic_regs, icr_hi) },
	{ APIC_TMICT, 1, offsetof(struct lapic_regs, tmict) },
	{ APIC_TDCR, 1, offsetof(struct lapic_regs, tdcr) },
};

static uint32_t *saved_at(struct lapic_regs *r, unsigned i, unsigned k)
{
	return (uint32_t *)((uint8_t *)r + saved[i].at) + k;
}

void lapic_save(struct lapic *a)
{
	for (unsigned i = 0; i < ARRAY_SIZE(saved); i++)
		for (unsigned k = 0; k < saved[i].count; k++)
			*saved_at(&a->s.regs, i, k) = *reg(a, saved[i].off + 16 * k);
}

void lapic_restore(struct lapic *a, uint64_t now)
{
	memset(a->page, 0, LAPIC_PAGE_SIZE);
	for (unsigned i = 0; i < ARRAY_SIZE(saved); i++)
		for (unsigned k = 0; k < saved[i].count; k++)
			*reg(a, saved[i].off + 16 * k) = *saved_at(&a->s.regs, i, k);
	*reg(a, APIC_VER) = LAPIC_VERSION;
	update_ppr(a);
}

static bool bad(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	int k = fmt_snprintf(err, n, "lapic: ");

	va_start(ap, fmt);
	if (k >= 0 && (size_t)k < n)
		fmt_vsnprintf(err + k, n - k, fmt, ap);
	va_end(ap);
	return false;
}

static bool check_lvts(const struct lapic_state *s, char *err, size_t n)
{
	static const uint32_t wmask[LAPIC_NR_LVT] = {
		LVT_TIMER_WMASK, LVT_PLAIN_WMASK, LVT_PLAIN_WMASK,
		LVT_LINT_WMASK | LVT_REMOTE_IRR, LVT_LINT_WMASK | LVT_REMOTE_IRR, LVT_ERROR_WMASK,
	};
	const struct lapic_regs *r = &s->regs;

	for (unsigned i = 0; i < LAPIC_NR_LVT; i++) {
		if (r->lvt[i] & ~wmask[i])
			return bad(err, n, "regs.lvt[%u] = 0x%x has reserved bits", i, r->lvt[i]);
		if (!(r->svr & SVR_ENABLE) && !(r->lvt[i] & LVT_MASKED))
			return bad(err, n, "regs.lvt[%u] unmasked while software-disabled", i);
	}
	for (unsigned pin = 0; pin < 2; pin++)
		if (!!(r->lvt[3 + pin] & LVT_REMOTE_IRR) != s->lint_rirr[pin])
			return bad(err, n, "lint_rirr[%u] disagrees with regs.lvt[%u]", pin,
				   3 + pin);
	return true;
}

static bool check_timer(const struct lapic_state *s, char *err, size_t n)
{
	const struct lapic_regs *r = &s->regs;
	unsigned mode = (r->lvt[0] >> LVT_TIMER_SHIFT) & 3;

	if (mode != s->timer_mode)
		return bad(err, n, "timer_mode %u where regs.lvt[0] says %u", s->timer_mode, mode);
	if (mode >= TIMER_TSC_DEADLINE && !s->tsc_deadline_offered)
		return bad(err, n, "timer_mode %u without TSC-deadline offered", mode);
	if (r->tdcr & ~TDCR_WMASK)
		return bad(err, n, "regs.tdcr = 0x%x has reserved bits", r->tdcr);
	if (s->timer_shift != tdcr_shift(r->tdcr))
		return bad(err, n, "timer_shift %u where regs.tdcr says %u", s->timer_shift,
			   tdcr_shift(r->tdcr));
	if (s->tsc_deadline && mode != TIMER_TSC_DEADLINE)
		return bad(err, n, "tsc_deadline armed outside TSC-deadline mode");
	if (r->tmict && mode > TIMER_PERIODIC)
		return bad(err, n, "regs.tmict set in timer mode %u", mode);
	if (!r->tmict && s->timer_next != DEV_NEVER)
		return bad(err, n, "timer_next set with regs.tmict 0");
	return true;
}

static bool lapic_check(const void *rec, char *err, size_t n)
{
	const struct lapic_state *s = rec;
	const struct lapic_regs *r = &s->regs;
	bool is_x2 = s->apic_base & APIC_BASE_EXTD;

	if (s->apic_base & APIC_BASE_RSVD || s->apic_base >> 52)
		return bad(err, n, "apic_base = 0x%llx has reserved bits",
			   (unsigned long long)s->apic_base);
	if (is_x2 && !(s->apic_base & APIC_BASE_EN))
		return bad(err, n, "apic_base: x2APIC mode while disabled");
	if ((r->isr[0] | r->tmr[0] | r->irr[0]) & 0xffff)
		return bad(err, n, "regs.isr/tmr/irr hold a vector below 16");
	if (r->icr_lo & ~ICR_LO_WMASK)
		return bad(err, n, "regs.icr_lo = 0x%x has reserved bits", r->icr_lo);
	if (is_x2 && r->ldr != x2apic_ldr(r->id))
		return bad(err, n, "regs.ldr = 0x%x is not derived from regs.id 0x%x", r->ldr,
			   r->id);
	if (!is_x2 && ((r->id | r->ldr) & ~XAPIC_ID_MASK))
		return bad(err, n, "regs.id/ldr have bits below 24 in xAPIC mode");
	if (!is_x2 && (r->dfr | 0xf0000000) != 0xffffffff)
		return bad(err, n, "regs.dfr = 0x%x: bits 27:0 must be ones", r->dfr);
	return check_lvts(s, err, n) && check_timer(s, err, n);
}

#define F(m, max) VMS_FIELD(struct lapic_state, m, max)
#define A(m, max) VMS_ARRAY(struct lapic_state, m, max)

static const struct vms_field lapic_fields[] = {
	F(apic_base, VMS_MAX64),
	F(timer_next, VMS_MAX64),
	F(tsc_deadline, VMS_MAX64),
	F(esr_pending, 0xff),
	F(timer_mode, 3),
	F(timer_shift, 7),
	F(tsc_deadline_offered, 1),
	F(nmi_pending, 1),
	F(extint_pending, 1),
	A(lint_level, 1),
	A(lint_rirr, 1),
	F(regs.id, VMS_MAX32),
	F(regs.tpr, 0xff),
	F(regs.ldr, VMS_MAX32),
	F(regs.dfr, VMS_MAX32),
	F(regs.svr, SVR_WMASK),
	A(regs.isr, VMS_MAX32),
	A(regs.tmr, VMS_MAX32),
	A(regs.irr, VMS_MAX32),
	F(regs.esr, 0xff),
	A(regs.lvt, 0x7ffff),
	F(regs.icr_lo, ICR_LO_WMASK),
	F(regs.icr_hi, VMS_MAX32),
	F(regs.tmict, VMS_MAX32),
	F(regs.tdcr, TDCR_WMASK),
};

const struct vms_desc lapic_vms = {
	"lapic", 1, sizeof(struct lapic_state), lapic_fields, ARRAY_SIZE(lapic_fields),
	lapic_check,
};
