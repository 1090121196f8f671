/* tern's own local APICs: the boot CPU's timer interrupt that wakes tern from HLT when it
 * has nothing to run (hv/idle.c), and the IPIs that start the other CPUs and wake them
 * (hv/smp.c). Every other host interrupt stays masked. */
#ifndef TERN_APIC_HOST_H
#define TERN_APIC_HOST_H

#include "hv/types.h"

#define VEC_WAKE 0xee
#define VEC_IDLE_TIMER 0xef
#define VEC_SPURIOUS 0xff

/* Masks the legacy PIC, enables the local APIC (xAPIC or x2APIC, as the firmware left
 * it) and sets its timer up: TSC-deadline mode where the CPU has it, else one-shot
 * calibrated against the TSC. False when there is no usable local APIC. */
bool apic_host_init(void);
/* Interrupts at host TSC value tsc (or as soon as possible when it has passed). */
void apic_host_arm(uint64_t tsc);
void apic_host_disarm(void);
/* The calling CPU's local APIC ID (x2APIC: 32 bits). */
uint32_t apic_host_id(void);
/* On an application processor: enables its local APIC in the boot CPU's mode, every
 * local interrupt masked, so that it takes IPIs. */
void apic_host_ap_init(void);

/* Interrupt Command Register, low half (SDM 11.6.1) */
#define ICR_FIXED 0x000u
#define ICR_INIT 0x500u
#define ICR_STARTUP 0x600u
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
/* Sends an IPI to the CPU with local APIC ID dest; -E_IO when an xAPIC still shows it
 * pending after a while (its delivery status; x2APIC has none, SDM 11.12.9). */
int apic_host_send(uint32_t dest, uint32_t icr);

/* For the interrupt stub (hv/trap_entry.S). */
void apic_host_irq(void);

#endif
