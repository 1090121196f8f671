/* The 8254 PIT: channel 0 on IRQ0 (I/O APIC pin 2), channel 2 gated through port 0x61. */
#ifndef GUEST_PIT_H
#define GUEST_PIT_H

#include "hv/types.h"

#define PIT_HZ 1193182u /* input clock, 14.31818 MHz / 12 */
#define PIT_IRQ 0
#define PIT_IOAPIC_PIN 2 /* the ISA IRQ0 override every PC's MADT states */

/* Channel 0 as a rate generator (mode 2): an IRQ0 edge every count input clocks;
 * count 0 means 65536. */
void pit_periodic(uint16_t count);
/* Channel 0 stops: a new mode word leaves it waiting for a count (8254 datasheet). */
void pit_stop(void);
/* Channel 2 counting down from count (mode 0, gate high, speaker off) */
void pit_ch2_start(uint16_t count);
/* Its current count (latched, so both bytes are of one moment) */
uint16_t pit_ch2_count(void);
/* Its OUT (port 0x61 bit 5): in mode 0, high once the count has reached zero */
bool pit_ch2_out(void);

#endif
