/* 8259A programming, from the Intel 8259A datasheet (ICW1-4, OCW1-3). */
#include "guests/lib/guest.h"
#include "guests/lib/irq.h"
#include "guests/lib/pic.h"

#define MASTER 0x20
#define SLAVE 0xA0
#define CMD 0
#define DATA 1

#define ICW1_INIT 0x10 /* bit 4: this is ICW1 */
#define ICW1_ICW4 0x01 /* ICW4 follows */
#define ICW4_8086 0x01
#define OCW2_EOI 0x20   /* non-specific EOI */
#define OCW3_READ_ISR 0x0b

volatile uint32_t pic_spurious;
static uint8_t vector_base;

static uint16_t port_of(unsigned irq)
{
	return (irq < 8 ? MASTER : SLAVE) + DATA;
}

void pic_mask(unsigned irq)
{
	outb(port_of(irq), inb(port_of(irq)) | 1u << (irq & 7));
}

void pic_unmask(unsigned irq)
{
	outb(port_of(irq), inb(port_of(irq)) & ~(1u << (irq & 7)));
}

void pic_mask_all(void)
{
	outb(MASTER + DATA, 0xff & ~(1u << PIC_IRQ_CASCADE));
	outb(SLAVE + DATA, 0xff);
}

uint16_t pic_isr(void)
{
	outb(MASTER + CMD, OCW3_READ_ISR);
	outb(SLAVE + CMD, OCW3_READ_ISR);
	return inb(SLAVE + CMD) << 8 | inb(MASTER + CMD);
}

void pic_eoi(unsigned irq)
{
	if (irq >= 8)
		outb(SLAVE + CMD, OCW2_EOI);
	outb(MASTER + CMD, OCW2_EOI);
}

/* An 8259A whose request went away before the INTA sequence answers with its IR7
 * vector (datasheet, interrupt sequence), so IR7 is real only when its ISR bit is set.
 * A spurious one from the slave still went through the master's IR2, which wants EOI. */
static void lowest_priority(uint32_t vector)
{
	unsigned irq = vector - vector_base;

	if (pic_isr() & (1u << irq)) {
		pic_eoi(irq);
		return;
	}
	pic_spurious++;
	if (irq == 15)
		pic_eoi(PIC_IRQ_CASCADE);
}

void pic_init(uint8_t base)
{
	vector_base = base;
	outb(MASTER + CMD, ICW1_INIT | ICW1_ICW4); /* edge triggered, cascaded */
	outb(SLAVE + CMD, ICW1_INIT | ICW1_ICW4);
	outb(MASTER + DATA, base);                 /* ICW2: vector of IR0 */
	outb(SLAVE + DATA, base + 8);
	outb(MASTER + DATA, 1u << PIC_IRQ_CASCADE); /* ICW3: slave on IR2 */
	outb(SLAVE + DATA, PIC_IRQ_CASCADE);        /* ICW3: slave's cascade identity */
	outb(MASTER + DATA, ICW4_8086);
	outb(SLAVE + DATA, ICW4_8086);
	pic_mask_all();
	irq_set_handler(base + 7, lowest_priority);
	irq_set_handler(base + 15, lowest_priority);
}
