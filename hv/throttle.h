/* Throttling a VM's CPU: the scheduler (hv/vm.c) withholds a share of wall time from a
 * VM whose throttle_pct is set, by keeping it off the CPU after each slice for as long
 * as that share asks. Set by whatever holds the VM (a migration's auto-converge,
 * migrate/send.c), lifted by it. Pure, tested hosted. */
#ifndef TERN_THROTTLE_H
#define TERN_THROTTLE_H

#include "hv/types.h"

#define THROTTLE_MAX_PCT 99 /* at 100 the VM would never run again */

/* After the VM ran for `ran` ticks, the ticks it must then stay off the CPU so that it
 * gets (100 - pct) % of wall time: ran x pct / (100 - pct). 0 for pct 0; pct above
 * THROTTLE_MAX_PCT counts as THROTTLE_MAX_PCT. */
uint64_t throttle_hold(uint64_t ran, uint32_t pct);

#endif
