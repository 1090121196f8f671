/* Host load, the measure: how many vCPUs were runnable (not halted, not paused)
 * over the last seconds, in percent of one CPU, over a sliding window. Three runnable
 * vCPUs on tern's one CPU make 300%: the load is demand, not use, so moving a VM away
 * lowers it even when the CPU stays busy. A VM's own share is the same measure for it
 * alone (100% when always runnable), which is also what it adds to a host it moves to.
 * Cheap: the scheduler reports the runnable count once a slice; one add, and one step
 * of the ring per second. Pure (time is passed in), tested hosted. */
#ifndef TERN_LOAD_H
#define TERN_LOAD_H

#include "hv/types.h"

#define LOAD_WINDOW_MAX 60

/* From the previous call until now_us, `runnable` vCPUs were runnable. */
void load_account(uint64_t now_us, unsigned runnable);
/* The load over the last `seconds` whole seconds before now_us (the current second is
 * still filling), in percent of one CPU: 0 .. 100 x the runnable vCPUs. */
uint32_t load_percent(uint64_t now_us, unsigned seconds);

#endif
