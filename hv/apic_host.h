/* tern's own local APIC, for one purpose: a timer interrupt that wakes tern from HLT
 * when it has nothing to run (hv/idle.c). Every other host interrupt stays masked. */
#ifndef TERN_APIC_HOST_H
#define TERN_APIC_HOST_H

#include "hv/types.h"

#define VEC_IDLE_TIMER 0xef
#define VEC_SPURIOUS 0xff

/* Masks the legacy PIC, enables the local APIC (xAPIC or x2APIC, as the firmware left
 * it) and sets its timer up: TSC-deadline mode where the CPU has it, else one-shot
 * calibrated against the TSC. False when there is no usable local APIC. */
bool apic_host_init(void);
/* Interrupts at host TSC value tsc (or as soon as possible when it has passed). */
void apic_host_arm(uint64_t tsc);
void apic_host_disarm(void);
/* For the interrupt stub (hv/trap_entry.S). */
void apic_host_irq(void);

#endif
