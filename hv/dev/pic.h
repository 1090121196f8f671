/* The PC's pair of 8259A interrupt controllers (Intel 8259A datasheet, order 231468):
 * the master at 0x20/0x21 takes IRQ0-7, the slave at 0xA0/0xA1 takes IRQ8-15 and
 * drives the master's IR2. The edge/level control registers at 0x4D0/0x4D1 (ELCR, as
 * PIIX-family chipsets have them) choose the trigger mode per IRQ; IRQ0, 1, 2, 8 and 13
 * are always edge-triggered.
 *
 * Not modelled: the special fully nested mode (SFNM: accepted, ignored, warned), the
 * buffered mode bits, and MCS-80/85 mode (an x86 INTA is assumed whatever ICW4 says). */
#ifndef TERN_DEV_PIC_H
#define TERN_DEV_PIC_H

#include "hv/dev/dev.h"
#include "hv/vmstate.h"

#define PIC_MASTER 0x20
#define PIC_SLAVE 0xa0
#define PIC_ELCR 0x4d0 /* 0x4d0: IRQ0-7, 0x4d1: IRQ8-15 */
#define PIC_CASCADE_IR 2

/* Where an initialization sequence stands: which ICW the data port takes next. */
enum pic_init_step { PIC_READY, PIC_WANT_ICW2, PIC_WANT_ICW3, PIC_WANT_ICW4 };

/* One 8259A. Bits are IR inputs 0-7 of this chip. */
struct pic_chip {
	uint8_t irr;	     /* requests: latched on a rising edge, or the line (level) */
	uint8_t isr;	     /* in service */
	uint8_t imr;	     /* masked (OCW1) */
	uint8_t lines;	     /* the IR pins' levels now, for edge detection */
	uint8_t elcr;	     /* level-triggered inputs (ELCR) */
	uint8_t ltim;	     /* ICW1 LTIM: every input level-triggered */
	uint8_t vbase;	     /* ICW2 T7-T3: vector of IR0 */
	uint8_t lowest;	     /* the IR of lowest priority (rotation); 7 after ICW1 */
	uint8_t init_step;   /* enum pic_init_step */
	uint8_t single;	     /* ICW1 SNGL: no cascade */
	uint8_t want_icw4;   /* ICW1 IC4 */
	uint8_t icw3;	     /* master: IRs with a slave; slave: its ID */
	uint8_t aeoi;	     /* ICW4 AEOI */
	uint8_t rotate_aeoi; /* OCW2 rotate in automatic EOI mode */
	uint8_t read_isr;    /* OCW3 RR/RIS: the command port reads ISR, else IRR */
	uint8_t poll;	     /* OCW3 P: the next read is the poll command's */
	uint8_t smm;	     /* OCW3 special mask mode */
	uint8_t inited;	     /* an ICW sequence has completed since reset */
};

struct pic_state {
	struct pic_chip chip[2]; /* 0 master, 1 slave */
};

struct pic {
	struct pic_state s;
	/* Optional, set by the platform after pic_init(): the master's INT pin (to the
	 * local APIC's LINT0, or the CPU's INTR). Called on each change of level; the
	 * callee must not call back into the PIC. */
	struct irq_line intr;
	bool intr_level;
	struct dev_log *log;
};

/* A PIC as at power-on (the datasheet leaves it undefined): not initialized, every
 * input masked, so nothing reaches a guest that never programs it. */
void pic_init(struct pic *p, struct dev_log *log);
/* The level of input pin irq (0-15; 2 is the cascade and is no pin). */
void pic_set_irq(struct pic *p, unsigned irq, bool level);
/* pic_set_irq with the struct irq_line signature: ctx is the struct pic. */
void pic_irq_line_set(void *ctx, unsigned pin, bool level);
/* The master's INT output: an unmasked request outranks everything in service. */
bool pic_intr(const struct pic *p);
/* The INTA cycle: the vector the CPU receives. Sets ISR (clears it again in AEOI mode)
 * and clears the edge request; the cascade yields the slave's vector. With no request
 * left (it vanished or was masked since INTR rose) the answer is the spurious IR7 of
 * the chip asked: vector base + 7, no ISR bit set, except that a slave's spurious
 * answer leaves the master's IR2 in service. */
uint8_t pic_intack(struct pic *p);
uint8_t pic_read(struct pic *p, uint16_t port);
void pic_write(struct pic *p, uint16_t port, uint8_t val);
/* After p->s was replaced by a decoded record: the cascade input and INT again. */
void pic_restore(struct pic *p);

extern const struct vms_desc pic_vms; /* record "pic", of struct pic_state */

#endif
