/* Host load: the share of recent time the CPU spent running guests, per second,
 * over a sliding window. Cheap: one add per guest slice, one step per second. */
#ifndef TERN_LOAD_H
#define TERN_LOAD_H

#include "hv/types.h"

#define LOAD_WINDOW_MAX 60

/* The scheduler ran guests for us microseconds. */
void load_account(uint64_t us);
/* Percent of the last `seconds` whole seconds spent in guests (0..100). */
uint32_t load_percent(unsigned seconds);

#endif
