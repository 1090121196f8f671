/* The 8254 PIT and port 0x61. Mode rules are from the Intel 8254 datasheet (order
 * 231164), "Mode definitions": what loads the count, what the gate does, how OUT moves.
 *
 * A counting channel is a segment: its counting element (CE) was loaded with n at tick
 * start and counts on each later tick; its value and OUT at tick t are functions of
 * t - start. Modes 2 and 3 are periodic in n; "off" says how far into the period the
 * segment began (mode 3 may begin with its low half). A count rewritten in mode 2 or 3
 * is a second segment from next_at on. Before start, and while not counting, the CE
 * and OUT are held in held and held_out. */
#include "hv/dev/pit.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

enum pit_warn {
	W_COUNT1,    /* count 1 in mode 2, illegal */
	W_BCD,	     /* a BCD count with a digit above 9 */
	W_READBACK,  /* read-back command with its reserved bit 0 set */
	W_PORT,	     /* a port that is not the PIT's */
};

/* DRAM refresh requests, one per 18 ticks (15.085 us), toggle port 0x61 bit 4. */
#define REFRESH_TICKS 18

struct seg {
	uint64_t start;
	uint32_t n, off;
};

struct mode_ops {
	uint32_t (*value)(const struct pit_chan *c, const struct seg *s, uint64_t e);
	bool (*out)(const struct pit_chan *c, const struct seg *s, uint64_t e);
	/* the first e >= emin at which OUT rises, PIT_NO_TICK if none */
	uint64_t (*edge)(const struct pit_chan *c, const struct seg *s, uint64_t emin);
	void (*count)(struct pit_chan *c, uint32_t n, uint64_t t); /* a count was written */
	void (*gate)(struct pit_chan *c, bool rising, uint64_t t);
};

static const struct mode_ops modes[6];

/* --- time: ticks of the 1.193182 MHz clock since guest time 0 --- */

static uint64_t tick_of(uint64_t ns)
{
	return dev_muldiv(ns, PIT_HZ, NS_PER_S);
}

/* The first ns at which tick_of() reaches k. */
static uint64_t ns_of_tick(uint64_t k)
{
	uint64_t q = dev_muldiv(k, NS_PER_S, PIT_HZ);

	if (q == UINT64_MAX)
		return DEV_NEVER;
	return q + (k * NS_PER_S != q * PIT_HZ);
}

/* --- counts --- */

static uint32_t modulus(const struct pit_chan *c)
{
	return c->bcd ? 10000 : 65536;
}

static uint32_t bcd_to_bin(uint16_t v)
{
	return (v >> 12) * 1000u + (v >> 8 & 15) * 100u + (v >> 4 & 15) * 10u + (v & 15);
}

static bool bcd_valid(uint16_t v)
{
	for (; v; v >>= 4)
		if ((v & 15) > 9)
			return false;
	return true;
}

static uint16_t bin_to_bcd(uint32_t v)
{
	return (uint16_t)(v / 1000 << 12 | v / 100 % 10 << 8 | v / 10 % 10 << 4 | v % 10);
}

/* The count register as a number of ticks; 0 is the largest, 2^16 or 10^4. A BCD digit
 * above 9 is the guest's mistake: its place value is taken as it is. */
static uint32_t cr_count(const struct pit_chan *c)
{
	uint32_t v = c->bcd ? bcd_to_bin(c->cr) % 10000 : c->cr;

	return v ? v : modulus(c);
}

static uint16_t encode(const struct pit_chan *c, uint32_t v)
{
	return c->bcd ? bin_to_bcd(v) : (uint16_t)v;
}

/* --- the modes, over a segment: e ticks after its load --- */

/* Modes 0, 1, 4, 5 count down once, then wrap and go on counting. */
static uint32_t once_value(const struct pit_chan *c, const struct seg *s, uint64_t e)
{
	uint32_t m = modulus(c);

	return (uint32_t)((s->n + m - e % m) % m);
}

/* Modes 0, 1: OUT is low from the load until the count reaches 0. */
static bool terminal_out(const struct pit_chan *c, const struct seg *s, uint64_t e)
{
	return c->done || e >= s->n;
}

static uint64_t terminal_edge(const struct pit_chan *c, const struct seg *s, uint64_t emin)
{
	return !c->done && s->n >= emin ? s->n : PIT_NO_TICK;
}

/* Modes 4, 5: OUT strobes low for the one tick the count is 0. */
static bool strobe_out(const struct pit_chan *c, const struct seg *s, uint64_t e)
{
	return c->done || e != s->n;
}

static uint64_t strobe_edge(const struct pit_chan *c, const struct seg *s, uint64_t emin)
{
	return !c->done && s->n + 1ull >= emin ? s->n + 1ull : PIT_NO_TICK;
}

/* Mode 2: n, n-1 ... 1, reload; OUT low for the tick the count is 1. */
static uint32_t rate_value(const struct pit_chan *c, const struct seg *s, uint64_t e)
{
	return (s->n - (uint32_t)((e + s->off) % s->n)) % modulus(c);
}

static bool rate_out(const struct pit_chan *c, const struct seg *s, uint64_t e)
{
	return (e + s->off) % s->n != s->n - 1;
}

/* Mode 3: OUT high for (n+1)/2 ticks, low for n/2, the CE counting down by two from n
 * (n-1 when odd) in each half. */
static uint32_t square_value(const struct pit_chan *c, const struct seg *s, uint64_t e)
{
	uint32_t q = (uint32_t)((e + s->off) % s->n), h = (s->n + 1) / 2;
	uint32_t i = q < h ? q : q - h;

	return ((s->n & ~1u) - 2 * i) % modulus(c);
}

static bool square_out(const struct pit_chan *c, const struct seg *s, uint64_t e)
{
	return (e + s->off) % s->n < (s->n + 1) / 2;
}

/* Modes 2, 3: OUT rises where a period ends; never with n = 1, where it stands still. */
static uint64_t period_edge(const struct pit_chan *c, const struct seg *s, uint64_t emin)
{
	uint64_t k;

	if (s->n < 2)
		return PIT_NO_TICK;
	emin = MAX(emin, 1);
	k = (emin + s->off + s->n - 1) / s->n;
	return k * s->n - s->off;
}

/* --- a channel at tick t --- */

static struct seg seg_at(const struct pit_chan *c, uint64_t t)
{
	if (c->pending && t >= c->next_at)
		return (struct seg){ c->next_at, c->next_n, c->next_off };
	return (struct seg){ c->start, c->n, c->off };
}

static bool counting(const struct pit_chan *c, uint64_t t)
{
	return c->run == PIT_COUNT && t >= c->start;
}

static uint32_t chan_value(const struct pit_chan *c, uint64_t t)
{
	struct seg s;

	if (!counting(c, t))
		return c->held;
	s = seg_at(c, t);
	return modes[c->mode].value(c, &s, t - s.start);
}

static bool chan_out(const struct pit_chan *c, uint64_t t)
{
	struct seg s;

	if (!counting(c, t))
		return c->held_out;
	s = seg_at(c, t);
	return modes[c->mode].out(c, &s, t - s.start);
}

static uint64_t seg_edge(const struct pit_chan *c, const struct seg *s, uint64_t after)
{
	uint64_t e = modes[c->mode].edge(c, s, after < s->start ? 0 : after - s->start + 1);

	return e == PIT_NO_TICK ? e : s->start + e;
}

/* The first tick after `after` at which OUT rises, PIT_NO_TICK if none will. */
static uint64_t next_edge(const struct pit_chan *c, uint64_t after)
{
	struct seg s = { c->start, c->n, c->off }, next = { c->next_at, c->next_n, c->next_off };
	uint64_t e;

	if (c->run != PIT_COUNT)
		return PIT_NO_TICK;
	if (after < s.start && !c->held_out && modes[c->mode].out(c, &s, 0))
		return s.start;
	e = seg_edge(c, &s, after);
	if (c->pending && (e == PIT_NO_TICK || e > c->next_at))
		e = seg_edge(c, &next, MAX(after, c->next_at));
	return e;
}

/* A rewritten count that took over becomes the segment. */
static void commit(struct pit_chan *c, uint64_t t)
{
	if (!c->pending || t < c->next_at)
		return;
	c->start = c->next_at;
	c->n = c->next_n;
	c->off = c->next_off;
	c->pending = 0;
}

/* Counting stops: the CE and OUT keep what they show at t. */
static void freeze(struct pit_chan *c, uint64_t t)
{
	c->held = (uint16_t)chan_value(c, t);
	c->held_out = chan_out(c, t);
}

/* The count register goes to the CE on the next tick (modes 1, 2, 3, 5 on a trigger). */
static void load_from_cr(struct pit_chan *c, uint64_t t)
{
	freeze(c, t);
	c->n = cr_count(c);
	c->off = 0;
	c->pending = 0;
	c->done = 0;
	c->start = t + 1;
	c->load_at = t + 1;
	c->run = PIT_COUNT;
}

/* --- what a count write and the gate do, per mode --- */

/* Modes 0, 4: a new count loads on the next tick and counting starts over; mode 0's
 * OUT goes low until it ends. A low gate holds the CE. */
static void count_restart(struct pit_chan *c, uint32_t n, uint64_t t)
{
	freeze(c, t);
	if (c->mode == 0)
		c->held_out = 0;
	c->n = n;
	c->off = 0;
	c->done = 0;
	c->start = t + 1;
	c->load_at = t + 1;
	c->run = PIT_COUNT;
	if (!c->gate) {
		c->run = PIT_HELD;
		c->held = (uint16_t)(n % modulus(c));
	}
}

/* Modes 1, 5: the count waits for a rising gate; a one-shot under way goes on. */
static void count_wait(struct pit_chan *c, uint32_t n, uint64_t t)
{
	c->load_at = PIT_NO_TICK;
	if (c->run == PIT_IDLE)
		c->run = PIT_WAIT;
}

/* Modes 2, 3 while counting: a new count takes over where the period (mode 2) or the
 * half-period (mode 3) ends, as the datasheet has it; until then the old one runs. */
static void schedule(struct pit_chan *c, uint32_t n, uint64_t t)
{
	struct seg s = seg_at(c, t);
	uint32_t q = (uint32_t)((t - s.start + s.off) % s.n), h = (s.n + 1) / 2;

	if (c->mode == 3 && q < h) {
		c->next_at = t + (h - q);
		c->next_off = (n + 1) / 2 % n; /* the low half comes next */
	} else {
		c->next_at = t + (s.n - q);
		c->next_off = 0;
	}
	c->next_n = n;
	c->pending = 1;
	c->load_at = c->next_at;
}

/* Modes 2, 3: the first count loads on the next tick; a low gate waits for its rise. */
static void count_periodic(struct pit_chan *c, uint32_t n, uint64_t t)
{
	if (c->run == PIT_COUNT && t >= c->start) {
		schedule(c, n, t);
	} else if (c->run == PIT_COUNT) {
		c->n = n; /* the previous count never reached the CE */
	} else if (!c->gate) {
		c->run = PIT_HELD;
		c->load_at = PIT_NO_TICK;
	} else {
		c->n = n;
		c->off = 0;
		c->start = t + 1;
		c->load_at = t + 1;
		c->run = PIT_COUNT;
	}
}

/* Modes 0, 4: a low gate suspends counting, its rise resumes it on the next tick. In
 * mode 0 a count half written keeps counting disabled whatever the gate. */
static void gate_suspend(struct pit_chan *c, bool rising, uint64_t t)
{
	if (!rising) {
		if (c->run != PIT_COUNT)
			return;
		if (t < c->start) {
			c->held = (uint16_t)(c->n % modulus(c));
		} else {
			c->done = c->done || t - c->start >= c->n;
			freeze(c, t);
		}
		c->run = PIT_HELD;
		return;
	}
	if (c->run != PIT_HELD || (c->mode == 0 && c->write_msb) || c->load_at == PIT_NO_TICK)
		return;
	c->n = c->held ? c->held : modulus(c);
	c->off = 0;
	c->start = MAX(t, c->load_at);
	c->run = PIT_COUNT;
}

/* Modes 2, 3: a low gate stops counting and sets OUT high at once; its rise reloads
 * the count on the next tick. */
static void gate_reload(struct pit_chan *c, bool rising, uint64_t t)
{
	if (c->run == PIT_IDLE)
		return;
	if (rising) {
		load_from_cr(c, t);
		return;
	}
	if (c->run != PIT_COUNT)
		return;
	freeze(c, t);
	c->held_out = 1;
	c->run = PIT_HELD;
	c->pending = 0;
	if (t < c->load_at)
		c->load_at = PIT_NO_TICK; /* loads on the rise now */
}

/* Modes 1, 5: a rising gate (re)triggers; its level does not matter. */
static void gate_trigger(struct pit_chan *c, bool rising, uint64_t t)
{
	if (rising && c->run != PIT_IDLE)
		load_from_cr(c, t);
}

static const struct mode_ops modes[6] = {
	{ once_value, terminal_out, terminal_edge, count_restart, gate_suspend },
	{ once_value, terminal_out, terminal_edge, count_wait, gate_trigger },
	{ rate_value, rate_out, period_edge, count_periodic, gate_reload },
	{ square_value, square_out, period_edge, count_periodic, gate_reload },
	{ once_value, strobe_out, strobe_edge, count_restart, gate_suspend },
	{ once_value, strobe_out, strobe_edge, count_wait, gate_trigger },
};

/* --- registers --- */

/* A control word: the mode is set, the CE stops where it is, OUT takes its initial
 * level (low in mode 0, high in the others), latches and flip-flops are reset. */
static void program(struct pit_chan *c, uint8_t v, uint64_t t)
{
	static const uint8_t mode_of[8] = { 0, 1, 2, 3, 4, 5, 2, 3 }; /* M2 is don't-care */

	freeze(c, t);
	c->mode = mode_of[v >> 1 & 7];
	c->access = v >> 4 & 3;
	c->bcd = v & 1;
	c->held %= modulus(c);
	c->held_out = c->mode != 0;
	c->run = PIT_IDLE;
	c->n = modulus(c);
	c->off = 0;
	c->pending = 0;
	c->done = 0;
	c->load_at = PIT_NO_TICK;
	c->latched = 0;
	c->status_latched = 0;
	c->read_msb = 0;
	c->write_msb = 0;
}

static void count_written(struct pit *p, struct pit_chan *c, uint64_t t)
{
	unsigned i = (unsigned)(c - p->s.ch);
	uint32_t n = cr_count(c);

	if (c->bcd && !bcd_valid(c->cr))
		dev_warn(p->log, W_BCD, "pit: channel %u BCD count 0x%04x has a digit above 9",
			 i, c->cr);
	if (c->mode == 2 && n == 1)
		dev_warn(p->log, W_COUNT1, "pit: channel %u count 1 is illegal in mode 2", i);
	modes[c->mode].count(c, n, t);
}

static void data_write(struct pit *p, struct pit_chan *c, uint8_t v, uint64_t t)
{
	if (c->access == 1) {
		c->cr = v;
	} else if (c->access == 2) {
		c->cr = (uint16_t)(v << 8);
	} else if (!c->write_msb) {
		c->cr = (uint16_t)((c->cr & 0xff00) | v);
		c->write_msb = 1;
		/* mode 0: "writing the first byte disables counting", OUT low at once */
		if (c->mode == 0) {
			freeze(c, t);
			c->held_out = 0;
			c->run = PIT_HELD;
		}
		return;
	} else {
		c->cr = (uint16_t)((c->cr & 0xff) | v << 8);
		c->write_msb = 0;
	}
	count_written(p, c, t);
}

/* One byte of v as the access mode and the read flip-flop choose; *last when the value
 * has been read whole. */
static uint8_t byte_of(struct pit_chan *c, uint16_t v, bool *last)
{
	bool msb = c->access == 2 || (c->access == 3 && c->read_msb);

	if (c->access == 3)
		c->read_msb ^= 1;
	*last = c->access != 3 || msb;
	return (uint8_t)(msb ? v >> 8 : v);
}

/* A latched status goes first, then a latched count, else the CE as it counts. */
static uint8_t data_read(struct pit_chan *c, uint64_t t)
{
	bool last;
	uint8_t b;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (!c->latched)
		return byte_of(c, encode(c, chan_value(c, t)), &last);
	b = byte_of(c, c->latch, &last);
	if (last)
		c->latched = 0;
	return b;
}

/* A latch command on a count latched and not yet read is ignored. */
static void latch_count(struct pit_chan *c, uint64_t t)
{
	if (c->latched)
		return;
	c->latch = encode(c, chan_value(c, t));
	c->latched = 1;
}

/* Status byte: D7 OUT, D6 null count (a count written but not yet in the CE), D5-D4
 * RW, D3-D1 mode, D0 BCD. */
static void latch_status(struct pit_chan *c, uint64_t t)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(chan_out(c, t) << 7 | (t < c->load_at) << 6 | c->access << 4 |
			      c->mode << 1 | c->bcd);
	c->status_latched = 1;
}

/* Read-back: D5 clear latches the counts, D4 clear the status, of the channels D3-D1. */
static void read_back(struct pit *p, uint8_t v, uint64_t t)
{
	if (v & 1)
		dev_warn(p->log, W_READBACK, "pit: read-back 0x%02x sets reserved bit 0", v);
	for (unsigned i = 0; i < 3; i++) {
		if (!(v & (2u << i)))
			continue;
		if (!(v & 0x20))
			latch_count(&p->s.ch[i], t);
		if (!(v & 0x10))
			latch_status(&p->s.ch[i], t);
	}
}

static void control_write(struct pit *p, uint8_t v, uint64_t t)
{
	unsigned sc = v >> 6;

	if (sc == 3)
		read_back(p, v, t);
	else if (!(v & 0x30))
		latch_count(&p->s.ch[sc], t);
	else
		program(&p->s.ch[sc], v, t);
}

static void set_gate(struct pit_chan *c, bool level, uint64_t t)
{
	if (level == c->gate)
		return;
	c->gate = level;
	modes[c->mode].gate(c, level, t);
}

static uint8_t port_b_read(const struct pit *p, uint64_t t)
{
	return (uint8_t)(p->s.port_b | (t / REFRESH_TICKS & 1) << 4 |
			 chan_out(&p->s.ch[2], t) << 5);
}

static void port_b_write(struct pit *p, uint8_t v, uint64_t t)
{
	p->s.port_b = v & 0x0f; /* bits 4-7 are status, read-only */
	set_gate(&p->s.ch[2], v & 1, t);
}

/* --- the device --- */

void pit_init(struct pit *p, struct irq_line irq0, struct dev_log *log, uint64_t now)
{
	static const uint8_t control[3] = { 0x36, 0x74, 0xb6 };
	uint64_t t = tick_of(now);

	memset(p, 0, sizeof(*p));
	p->irq0 = irq0;
	p->log = log;
	for (unsigned i = 0; i < 3; i++) {
		p->s.ch[i].gate = i < 2;
		program(&p->s.ch[i], control[i], t);
	}
	p->s.ch[0].cr = 0;
	count_written(p, &p->s.ch[0], t);
	p->s.ch[1].cr = REFRESH_TICKS;
	count_written(p, &p->s.ch[1], t);
	p->s.irq_seen = t;
}

uint8_t pit_read(struct pit *p, uint16_t port, uint64_t now)
{
	uint64_t t = tick_of(now);

	if (port >= PIT_BASE && port < PIT_CONTROL)
		return data_read(&p->s.ch[port - PIT_BASE], t);
	if (port == PIT_CONTROL)
		return 0xff; /* write-only: nothing drives the bus */
	if (port == PIT_PORT_B)
		return port_b_read(p, t);
	dev_warn(p->log, W_PORT, "pit: read of port 0x%x", port);
	return 0xff;
}

void pit_write(struct pit *p, uint16_t port, uint8_t val, uint64_t now)
{
	uint64_t t = tick_of(now);
	bool out0;

	pit_run(p, now);
	out0 = chan_out(&p->s.ch[0], t);
	if (port >= PIT_BASE && port < PIT_CONTROL)
		data_write(p, &p->s.ch[port - PIT_BASE], val, t);
	else if (port == PIT_CONTROL)
		control_write(p, val, t);
	else if (port == PIT_PORT_B)
		port_b_write(p, val, t);
	else
		dev_warn(p->log, W_PORT, "pit: write of 0x%02x to port 0x%x", val, port);
	/* a control word sets OUT0 high at once (mode 0 done counting -> mode 2): an edge */
	if (!out0 && chan_out(&p->s.ch[0], t))
		irq_pulse(&p->irq0);
}

uint64_t pit_next_event(const struct pit *p)
{
	uint64_t e = next_edge(&p->s.ch[0], p->s.irq_seen);

	return e == PIT_NO_TICK ? DEV_NEVER : ns_of_tick(e);
}

void pit_run(struct pit *p, uint64_t now)
{
	uint64_t t = tick_of(now);

	if (next_edge(&p->s.ch[0], p->s.irq_seen) <= t)
		irq_pulse(&p->irq0);
	p->s.irq_seen = MAX(p->s.irq_seen, t);
	for (unsigned i = 0; i < 3; i++)
		commit(&p->s.ch[i], t);
}

void pit_restore(struct pit *p, uint64_t now)
{
}

/* --- the state record --- */

static bool chan_check(const struct pit_chan *c, unsigned i, char *err, size_t sz)
{
	uint32_t m = c->bcd ? 10000 : 65536;

	if (!c->access)
		fmt_snprintf(err, sz, "pit: ch[].access[%u] = 0, which is the latch command", i);
	else if (!c->n || c->n > m)
		fmt_snprintf(err, sz, "pit: ch[].n[%u] = %u, outside 1..%u", i, c->n, m);
	else if (c->off >= c->n)
		fmt_snprintf(err, sz, "pit: ch[].off[%u] = %u, not below ch[].n %u", i, c->off,
			     c->n);
	else if (c->held >= m)
		fmt_snprintf(err, sz, "pit: ch[].held[%u] = %u, not below %u", i, c->held, m);
	else if (c->pending && (c->mode < 2 || c->mode > 3 || c->run != PIT_COUNT ||
				!c->next_n || c->next_n > m || c->next_off >= c->next_n ||
				c->next_at <= c->start))
		fmt_snprintf(err, sz, "pit: ch[].pending[%u] set outside a periodic count", i);
	else if (c->run == PIT_WAIT && c->mode != 1 && c->mode != 5)
		fmt_snprintf(err, sz, "pit: ch[].run[%u] = %u (trigger) in mode %u", i, c->run,
			     c->mode);
	else if (c->run == PIT_HELD && (c->mode == 1 || c->mode == 5))
		fmt_snprintf(err, sz, "pit: ch[].run[%u] = %u (held) in mode %u", i, c->run,
			     c->mode);
	else if (c->done && c->mode != 0 && c->mode != 4)
		fmt_snprintf(err, sz, "pit: ch[].done[%u] set in mode %u", i, c->mode);
	else if ((c->read_msb || c->write_msb) && c->access != 3)
		fmt_snprintf(err, sz, "pit: ch[].read_msb/write_msb[%u] set with access %u", i,
			     c->access);
	else
		return true;
	return false;
}

static bool pit_check(const void *rec, char *err, size_t sz)
{
	const struct pit_state *s = rec;

	for (unsigned i = 0; i < 3; i++) {
		uint8_t wired = i < 2 ? 1 : s->port_b & 1;

		if (!chan_check(&s->ch[i], i, err, sz))
			return false;
		if (s->ch[i].gate != wired) {
			fmt_snprintf(err, sz, "pit: ch[].gate[%u] = %u, but it is wired to %u", i,
				     s->ch[i].gate, wired);
			return false;
		}
	}
	return true;
}

#define PIT_CH(f, max) VMS_ELEM(struct pit_state, ch, f, max)

static const struct vms_field pit_fields[] = {
	PIT_CH(start, VMS_MAX64),
	PIT_CH(next_at, VMS_MAX64),
	PIT_CH(load_at, VMS_MAX64),
	PIT_CH(n, 65536),
	PIT_CH(off, 65535),
	PIT_CH(next_n, 65536),
	PIT_CH(next_off, 65535),
	PIT_CH(cr, VMS_MAX16),
	PIT_CH(held, VMS_MAX16),
	PIT_CH(latch, VMS_MAX16),
	PIT_CH(mode, 5),
	PIT_CH(access, 3),
	PIT_CH(bcd, 1),
	PIT_CH(gate, 1),
	PIT_CH(run, PIT_HELD),
	PIT_CH(done, 1),
	PIT_CH(held_out, 1),
	PIT_CH(pending, 1),
	PIT_CH(latched, 1),
	PIT_CH(status_latched, 1),
	PIT_CH(status, VMS_MAX8),
	PIT_CH(read_msb, 1),
	PIT_CH(write_msb, 1),
	VMS_FIELD(struct pit_state, irq_seen, VMS_MAX64),
	VMS_FIELD(struct pit_state, port_b, 0x0f),
};

const struct vms_desc pit_vms = {
	"pit", 1, sizeof(struct pit_state), pit_fields, ARRAY_SIZE(pit_fields), pit_check,
};
