/* The two cascaded 8259A PICs (master 0x20/0x21, slave 0xA0/0xA1 on its IR2). */
#ifndef GUEST_PIC_H
#define GUEST_PIC_H

#include "hv/types.h"

#define PIC_IRQ_CASCADE 2

/* Spurious IRQ7/IRQ15 deliveries seen (pic_init's handlers count them) */
extern volatile uint32_t pic_spurious;

/* Initialises both PICs (ICW1-ICW4) with IRQ n at vector base + n, every line masked
 * but the cascade. Needs irq_init(). */
void pic_init(uint8_t base);
void pic_unmask(unsigned irq);
void pic_mask(unsigned irq);
void pic_mask_all(void);
/* Non-specific EOI to the PIC(s) that took irq */
void pic_eoi(unsigned irq);
/* In-service register, slave << 8 | master (OCW3) */
uint16_t pic_isr(void);

#endif
