/* The PC's two cascaded 8259As and their ELCR. Section references are to the Intel
 * 8259A datasheet (order 231468): "Interrupt sequence", "Initialization command words",
 * "Operation command words", "Special mask mode", "Poll command", "Cascade mode".
 *
 * Each chip resolves priority among its IRR bits not masked by IMR against what is
 * in service (ISR); the master's IR2 is wired to the slave's INT output. Requests are
 * latched on a rising edge (a line must fall and rise again to request again), or in
 * level mode IRR simply follows the line. An edge request stays latched when its line
 * falls before INTA: ISA devices pulse their line (irq_pulse) and must not be lost. */
#include "hv/dev/pic.h"
#include "hv/lib/fmt.h"
#include "hv/lib/string.h"

enum pic_warn {
	W_ICW4,	     /* ICW4 bits not modelled: SFNM, buffered mode, MCS-80/85 mode */
	W_NO_ICW4,   /* ICW1 without IC4: MCS-80/85 mode on an x86 */
	W_SINGLE,    /* ICW1 single mode on a wired cascade */
	W_ICW3,	     /* ICW3 other than the PC's wiring (master 0x04, slave ID 2) */
	W_OCW_EARLY, /* OCW2/OCW3 before or during initialization */
	W_IRQ,	     /* pic_set_irq() of the cascade pin or beyond IRQ15 */
	W_PORT,	     /* a port that is not the PIC's */
	W_ELCR,	     /* ELCR bits of IRQs that are edge-only */
	W_NO_SLAVE,  /* the master acknowledged IR2 but the slave's ID is not 2 */
};

/* IRQ0, 1, 2 (timer, keyboard, cascade) and IRQ8, 13 (RTC, FPU error) are edge-only:
 * their ELCR bits are reserved and read 0 (PIIX4 datasheet, ELCR1/ELCR2). */
static const uint8_t edge_only[2] = { 0x07, 0x21 };

static uint8_t level_mask(const struct pic_chip *c)
{
	return c->ltim ? 0xff : c->elcr;
}

/* 0 is the highest priority: the IR just after the lowest one, round the ring. */
static unsigned prio(const struct pic_chip *c, unsigned ir)
{
	return (ir - c->lowest - 1) & 7;
}

/* The IR of highest priority among bits, or -1. */
static int highest(const struct pic_chip *c, uint8_t bits)
{
	for (unsigned i = 1; i <= 8; i++) {
		unsigned ir = (c->lowest + i) & 7;
		if (bits & (1u << ir))
			return (int)ir;
	}
	return -1;
}

/* The IR the chip asks the CPU (or the master) to acknowledge, or -1: its INT output.
 * A request is served when it outranks the highest level in service; in special mask
 * mode every unmasked level not itself in service may interrupt ("Special mask mode"). */
static int chip_pending(const struct pic_chip *c)
{
	uint8_t req = c->irr & ~c->imr;
	int ir, in;

	if (c->smm)
		return highest(c, req & ~c->isr);
	ir = highest(c, req);
	in = highest(c, c->isr);
	if (ir < 0 || (in >= 0 && prio(c, (unsigned)in) <= prio(c, (unsigned)ir)))
		return -1;
	return ir;
}

static void chip_set_line(struct pic_chip *c, unsigned ir, bool level)
{
	uint8_t bit = (uint8_t)(1u << ir);

	if (level_mask(c) & bit)
		c->irr = level ? c->irr | bit : c->irr & ~bit;
	else if (level && !(c->lines & bit))
		c->irr |= bit;
	c->lines = level ? c->lines | bit : c->lines & ~bit;
}

/* The first INTA pulse (or a poll read): IS bit set, edge request cleared; in AEOI mode
 * the IS bit is cleared again at the end of the cycle, with rotation if asked. */
static void chip_ack(struct pic_chip *c, unsigned ir)
{
	uint8_t bit = (uint8_t)(1u << ir);

	c->irr &= (uint8_t)~(bit & ~level_mask(c));
	if (!c->aeoi)
		c->isr |= bit;
	else if (c->rotate_aeoi)
		c->lowest = (uint8_t)ir;
}

static void chip_eoi(struct pic_chip *c, int ir, bool rotate)
{
	if (ir < 0)
		return;
	c->isr &= (uint8_t)~(1u << ir);
	if (rotate)
		c->lowest = (uint8_t)ir;
}

static bool cascaded(const struct pic *p)
{
	const struct pic_chip *m = &p->s.chip[0];

	return !m->single && (m->icw3 & (1u << PIC_CASCADE_IR));
}

/* The wire from the slave's INT to the master's IR2 is always there. */
static void cascade_update(struct pic *p)
{
	chip_set_line(&p->s.chip[0], PIC_CASCADE_IR, chip_pending(&p->s.chip[1]) >= 0);
}

static void intr_update(struct pic *p)
{
	bool level = pic_intr(p);

	if (level != p->intr_level) {
		p->intr_level = level;
		irq_set(&p->intr, level);
	}
}

/* Every change ends here: the slave's INT reaches the master, the master's INT out. */
static void outputs_update(struct pic *p)
{
	cascade_update(p);
	intr_update(p);
}

void pic_init(struct pic *p, struct dev_log *log)
{
	memset(p, 0, sizeof(*p));
	p->log = log;
	for (unsigned i = 0; i < 2; i++) {
		p->s.chip[i].imr = 0xff;
		p->s.chip[i].lowest = 7;
	}
}

void pic_set_irq(struct pic *p, unsigned irq, bool level)
{
	if (irq >= 16 || irq == PIC_CASCADE_IR) {
		dev_warn(p->log, W_IRQ, "pic: input %u is not a device pin", irq);
		return;
	}
	chip_set_line(&p->s.chip[irq / 8], irq % 8, level);
	outputs_update(p);
}

void pic_irq_line_set(void *ctx, unsigned pin, bool level)
{
	pic_set_irq(ctx, pin, level);
}

bool pic_intr(const struct pic *p)
{
	return chip_pending(&p->s.chip[0]) >= 0;
}

/* The slave answers the second INTA when the master names its ID on CAS0-2. */
static uint8_t slave_intack(struct pic *p)
{
	struct pic_chip *s = &p->s.chip[1];
	int ir;

	if ((s->icw3 & 7) != PIC_CASCADE_IR) {
		dev_warn(p->log, W_NO_SLAVE, "pic: slave ID %u, but it is wired to IR2",
			 s->icw3 & 7);
		return 0xff; /* nobody drives the bus */
	}
	ir = chip_pending(s);
	if (ir < 0)
		return s->vbase | 7;
	chip_ack(s, (unsigned)ir);
	/* The master's IR2 input falls with the acknowledge; a slave that still requests
	 * (an AEOI slave with a second request) then raises a fresh edge, not a lost one. */
	chip_set_line(&p->s.chip[0], PIC_CASCADE_IR, false);
	return s->vbase | (uint8_t)ir;
}

uint8_t pic_intack(struct pic *p)
{
	struct pic_chip *m = &p->s.chip[0];
	int ir = chip_pending(m);
	uint8_t vec;

	if (ir < 0)
		return m->vbase | 7; /* "Interrupt sequence": no request, level 7 */
	chip_ack(m, (unsigned)ir);
	if (ir == PIC_CASCADE_IR && cascaded(p))
		vec = slave_intack(p);
	else
		vec = m->vbase | (uint8_t)ir;
	outputs_update(p);
	return vec;
}

/* --- initialization command words --- */

/* ICW1 (A0=0, D4=1) starts a sequence: IMR and the edge latches are cleared, IR7 gets
 * the lowest priority, special mask mode ends, the command port reads IRR, and without
 * IC4 every ICW4 function is zero. The datasheet says nothing of ISR; a chip being
 * initialized has nothing in service, so it is cleared too. */
static void icw1(struct pic *p, unsigned i, uint8_t v)
{
	struct pic_chip *c = &p->s.chip[i];

	c->init_step = PIC_WANT_ICW2;
	c->want_icw4 = v & 1;
	c->single = !!(v & 2);
	c->ltim = !!(v & 8);
	c->imr = 0;
	c->isr = 0;
	c->irr = c->lines & level_mask(c);
	c->lowest = 7;
	c->smm = 0;
	c->read_isr = 0;
	c->poll = 0;
	c->rotate_aeoi = 0;
	c->icw3 = i ? 7 : 0; /* "the slave mode address is set to 7" */
	if (!c->want_icw4) {
		c->aeoi = 0;
		dev_warn(p->log, W_NO_ICW4, "pic%u: ICW1 0x%02x without ICW4 selects 8080 mode",
			 i, v);
	}
	if (c->single)
		dev_warn(p->log, W_SINGLE, "pic%u: ICW1 0x%02x: single mode on a cascade", i, v);
}

static void init_done(struct pic_chip *c)
{
	c->init_step = PIC_READY;
	c->inited = 1;
}

static void after_icw3(struct pic_chip *c)
{
	if (c->want_icw4)
		c->init_step = PIC_WANT_ICW4;
	else
		init_done(c);
}

static void data_imr(struct pic *p, unsigned i, uint8_t v)
{
	p->s.chip[i].imr = v; /* OCW1; allowed before ICW1: Linux masks to probe the PIC */
}

/* ICW2: T7-T3 of the vector; an x86 INTA supplies the IR number in bits 2-0. */
static void data_icw2(struct pic *p, unsigned i, uint8_t v)
{
	struct pic_chip *c = &p->s.chip[i];

	c->vbase = v & 0xf8;
	if (c->single)
		after_icw3(c);
	else
		c->init_step = PIC_WANT_ICW3;
}

static void data_icw3(struct pic *p, unsigned i, uint8_t v)
{
	struct pic_chip *c = &p->s.chip[i];
	static const uint8_t wired[2] = { 1u << PIC_CASCADE_IR, PIC_CASCADE_IR };

	c->icw3 = i ? v & 7 : v;
	if (c->icw3 != wired[i] || (i && v != c->icw3))
		dev_warn(p->log, W_ICW3, "pic%u: ICW3 0x%02x, the PC wires 0x%02x", i, v,
			 wired[i]);
	after_icw3(c);
}

/* ICW4: D0 uPM (8086), D1 AEOI, D2 M/S, D3 BUF, D4 SFNM. */
static void data_icw4(struct pic *p, unsigned i, uint8_t v)
{
	struct pic_chip *c = &p->s.chip[i];

	c->aeoi = !!(v & 2);
	if (!(v & 1) || (v & ~3))
		dev_warn(p->log, W_ICW4,
			 "pic%u: ICW4 0x%02x: only uPM and AEOI are modelled (8086 mode)", i, v);
	init_done(c);
}

static void (*const data_write[])(struct pic *p, unsigned i, uint8_t v) = {
	[PIC_READY] = data_imr,
	[PIC_WANT_ICW2] = data_icw2,
	[PIC_WANT_ICW3] = data_icw3,
	[PIC_WANT_ICW4] = data_icw4,
};

/* --- operation command words --- */

/* OCW2 by R, SL, EOI (D7-D5); L2-L0 name a level where SL is set. */
static void ocw2_rotate_aeoi_clear(struct pic_chip *c, unsigned l)
{
	c->rotate_aeoi = 0;
}

static void ocw2_eoi(struct pic_chip *c, unsigned l)
{
	chip_eoi(c, highest(c, c->isr), false);
}

static void ocw2_nop(struct pic_chip *c, unsigned l)
{
}

static void ocw2_specific_eoi(struct pic_chip *c, unsigned l)
{
	chip_eoi(c, (int)l, false);
}

static void ocw2_rotate_aeoi_set(struct pic_chip *c, unsigned l)
{
	c->rotate_aeoi = 1;
}

static void ocw2_rotate_eoi(struct pic_chip *c, unsigned l)
{
	chip_eoi(c, highest(c, c->isr), true);
}

static void ocw2_set_priority(struct pic_chip *c, unsigned l)
{
	c->lowest = (uint8_t)l;
}

static void ocw2_rotate_specific_eoi(struct pic_chip *c, unsigned l)
{
	chip_eoi(c, (int)l, true);
}

static void (*const ocw2[8])(struct pic_chip *c, unsigned l) = {
	ocw2_rotate_aeoi_clear, ocw2_eoi, ocw2_nop, ocw2_specific_eoi,
	ocw2_rotate_aeoi_set, ocw2_rotate_eoi, ocw2_set_priority, ocw2_rotate_specific_eoi,
};

/* OCW3: D6 ESMM, D5 SMM, D2 P, D1 RR, D0 RIS. */
static void ocw3(struct pic_chip *c, uint8_t v)
{
	if (v & 0x40)
		c->smm = !!(v & 0x20);
	if (v & 2)
		c->read_isr = v & 1;
	c->poll = !!(v & 4);
}

static void cmd_write(struct pic *p, unsigned i, uint8_t v)
{
	struct pic_chip *c = &p->s.chip[i];

	if (v & 0x10) {
		icw1(p, i, v);
		return;
	}
	if (c->init_step != PIC_READY || !c->inited)
		dev_warn(p->log, W_OCW_EARLY, "pic%u: OCW 0x%02x before initialization", i, v);
	if (v & 8)
		ocw3(c, v);
	else
		ocw2[v >> 5](c, v & 7);
}

static void elcr_write(struct pic *p, unsigned i, uint8_t v)
{
	struct pic_chip *c = &p->s.chip[i];

	if (v & edge_only[i])
		dev_warn(p->log, W_ELCR, "pic: ELCR%u 0x%02x: IRQs 0, 1, 2, 8, 13 are edge-only",
			 i + 1, v);
	c->elcr = v & ~edge_only[i];
	/* inputs now level-triggered request as their lines stand */
	c->irr = (uint8_t)((c->irr & ~level_mask(c)) | (c->lines & level_mask(c)));
}

/* The poll command: the read is an acknowledge; bit 7 says whether there was a request,
 * bits 2-0 its level ("Poll command"). */
static uint8_t poll_read(struct pic_chip *c)
{
	int ir = chip_pending(c);

	c->poll = 0;
	if (ir < 0)
		return 0;
	chip_ack(c, (unsigned)ir);
	return 0x80 | (uint8_t)ir;
}

static uint8_t chip_read(struct pic *p, unsigned i, bool data)
{
	struct pic_chip *c = &p->s.chip[i];
	uint8_t v;

	if (c->poll) {
		v = poll_read(c);
		outputs_update(p);
		return v;
	}
	if (data)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

uint8_t pic_read(struct pic *p, uint16_t port)
{
	switch (port) {
	case PIC_MASTER:
	case PIC_MASTER + 1:
		return chip_read(p, 0, port & 1);
	case PIC_SLAVE:
	case PIC_SLAVE + 1:
		return chip_read(p, 1, port & 1);
	case PIC_ELCR:
	case PIC_ELCR + 1:
		return p->s.chip[port & 1].elcr;
	}
	dev_warn(p->log, W_PORT, "pic: read of port 0x%x", port);
	return 0xff;
}

void pic_write(struct pic *p, uint16_t port, uint8_t val)
{
	switch (port) {
	case PIC_MASTER:
	case PIC_SLAVE:
		cmd_write(p, port == PIC_SLAVE, val);
		break;
	case PIC_MASTER + 1:
	case PIC_SLAVE + 1: {
		unsigned i = port == PIC_SLAVE + 1;
		data_write[p->s.chip[i].init_step](p, i, val);
		break;
	}
	case PIC_ELCR:
	case PIC_ELCR + 1:
		elcr_write(p, port & 1, val);
		break;
	default:
		dev_warn(p->log, W_PORT, "pic: write of 0x%02x to port 0x%x", val, port);
		return;
	}
	outputs_update(p);
}

void pic_restore(struct pic *p)
{
	struct pic_chip *m = &p->s.chip[0];
	uint8_t bit = 1u << PIC_CASCADE_IR;

	/* The record's IR2 latch stands; only the wire's level is brought in line. */
	if (chip_pending(&p->s.chip[1]) >= 0)
		m->lines |= bit;
	else
		m->lines &= (uint8_t)~bit;
	m->irr = (uint8_t)((m->irr & ~level_mask(m)) | (m->lines & level_mask(m)));
	p->intr_level = pic_intr(p);
	irq_set(&p->intr, p->intr_level);
}

/* --- the state record --- */

static bool chip_check(const struct pic_chip *c, unsigned i, char *err, size_t n)
{
	if (c->vbase & 7)
		fmt_snprintf(err, n, "pic: chip[].vbase[%u] = 0x%x, not a multiple of 8", i,
			     c->vbase);
	else if (c->init_step == PIC_WANT_ICW3 && c->single)
		fmt_snprintf(err, n, "pic: chip[].init_step[%u] = %u (ICW3) in single mode", i,
			     c->init_step);
	else if (c->init_step == PIC_WANT_ICW4 && !c->want_icw4)
		fmt_snprintf(err, n, "pic: chip[].init_step[%u] = %u (ICW4) without ICW1 IC4", i,
			     c->init_step);
	else if (c->elcr & edge_only[i])
		fmt_snprintf(err, n, "pic: chip[].elcr[%u] = 0x%02x sets edge-only IRQs", i,
			     c->elcr);
	else if ((c->irr ^ c->lines) & level_mask(c))
		fmt_snprintf(err, n,
			     "pic: chip[].irr[%u] = 0x%02x disagrees with its level-triggered "
			     "lines 0x%02x",
			     i, c->irr, c->lines);
	else if (i == 1 && c->icw3 > 7)
		fmt_snprintf(err, n, "pic: chip[].icw3[1] = 0x%02x, a slave ID is 0-7", c->icw3);
	else
		return true;
	return false;
}

static bool pic_check(const void *rec, char *err, size_t n)
{
	const struct pic_state *s = rec;

	return chip_check(&s->chip[0], 0, err, n) && chip_check(&s->chip[1], 1, err, n);
}

#define PIC_BYTE(f, max) VMS_ELEM(struct pic_state, chip, f, max)

static const struct vms_field pic_fields[] = {
	PIC_BYTE(irr, VMS_MAX8),     PIC_BYTE(isr, VMS_MAX8),	    PIC_BYTE(imr, VMS_MAX8),
	PIC_BYTE(lines, VMS_MAX8),   PIC_BYTE(elcr, VMS_MAX8),	    PIC_BYTE(ltim, 1),
	PIC_BYTE(vbase, VMS_MAX8),   PIC_BYTE(lowest, 7),	    PIC_BYTE(init_step, 3),
	PIC_BYTE(single, 1),	     PIC_BYTE(want_icw4, 1),	    PIC_BYTE(icw3, VMS_MAX8),
	PIC_BYTE(aeoi, 1),	     PIC_BYTE(rotate_aeoi, 1),	    PIC_BYTE(read_isr, 1),
	PIC_BYTE(poll, 1),	     PIC_BYTE(smm, 1),		    PIC_BYTE(inited, 1),
};

const struct vms_desc pic_vms = {
	"pic", 1, sizeof(struct pic_state), pic_fields, ARRAY_SIZE(pic_fields), pic_check,
};
