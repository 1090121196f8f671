/* The guest's TSC rate, learned the way an OS would on this platform. */
#ifndef GUEST_TSC_H
#define GUEST_TSC_H

#include "hv/types.h"

/* TSC kHz: CPUID 0x40000010 EAX when a hypervisor offers it, else CPUID 0x15 (crystal
 * Hz in ECX times EBX/EAX), else measured against PIT channel 2. *source says which
 * ("cpuid 0x40000010", "cpuid 0x15", "pit channel 2"). Learned once, then remembered.
 * 0 if even the PIT failed. */
uint32_t tsc_khz(const char **source);

/* TSC kHz measured against PIT channel 2 now, whatever CPUID states (the median of a
 * few runs of about 50 ms); 0 if the PIT never counted down. */
uint32_t tsc_khz_pit(void);

/* One (TSC, read()) pair: the narrowest of a few tries, since a try during which the
 * vCPU did not run is wide and its value could belong to any moment in it. *tsc is
 * the middle of the try. */
void tsc_sample(uint32_t (*read)(void), uint64_t *tsc, uint32_t *val);

/* Busy-waits for cycles of the TSC. */
void tsc_spin(uint64_t cycles);

#endif
