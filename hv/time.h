/* Time from the TSC, calibrated at boot against the PIT. */
#ifndef TERN_TIME_H
#define TERN_TIME_H

#include "hv/types.h"

void time_init(void);
uint64_t time_tsc_hz(void);
uint64_t time_now_us(void);   /* since boot */
uint64_t time_now_ms(void);
void time_delay_us(uint64_t us);

#endif
