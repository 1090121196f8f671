/* When no vCPU has work, tern halts until the earliest thing it waits for, with its own
 * timer interrupt to wake it, and counts the time it slept. */
#ifndef TERN_IDLE_H
#define TERN_IDLE_H

#include "hv/types.h"

void idle_init(void);
/* Halts until host TSC value tsc at the latest (sooner for any other interrupt). */
void idle_until(uint64_t tsc);
/* The same, for a nap: a short halt while tern waits on traffic that is flowing, which
 * polling would wait for as well (counted apart, and in idle_us too). */
void idle_nap(uint64_t tsc);
/* Microseconds tern spent halted since boot; of them, napping. */
uint64_t idle_us(void);
uint64_t idle_nap_us(void);

#endif
