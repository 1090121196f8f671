/* Auto-converge's rule, pure (tested hosted): at each round's end of a migration's
 * iterative copy, the share of CPU to withhold from the guest for the next round
 * (hv/throttle.h), as QEMU's cpu-throttle-initial and cpu-throttle-increment. */
#ifndef TERN_MIGRATE_CONVERGE_H
#define TERN_MIGRATE_CONVERGE_H

#include "hv/types.h"

#define CONVERGE_INITIAL_PCT 20
#define CONVERGE_INCREMENT_PCT 10

struct converge_params {
	bool on;                /* auto-converge */
	uint32_t initial_pct;   /* the first throttle, 1..99 */
	uint32_t increment_pct; /* added per round that still does not shrink, 1..99 */
};

/* Whether a round that sent `sent` pages while the guest dirtied `dirtied` shrank the
 * work enough to converge without help: the guest dirtied at most half of what the link
 * carried meanwhile (QEMU's threshold), so each round at least halves the next. */
bool converge_shrank(uint64_t sent, uint64_t dirtied);

/* The throttle for the next round, from the current one (0: none): unchanged while
 * rounds shrink, else the initial share, then the increment more each round, up to
 * THROTTLE_MAX_PCT. Off: 0. */
uint32_t converge_throttle(const struct converge_params *p, uint32_t pct, uint64_t sent,
			   uint64_t dirtied);

#endif
