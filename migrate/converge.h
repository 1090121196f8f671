/* Auto-converge's rules, pure (tested hosted): at each round's end of a migration's
 * iterative copy, the share of CPU to withhold from the guest for the next round
 * (hv/throttle.h), as QEMU's cpu-throttle-initial and cpu-throttle-increment; and when
 * rounds that no longer shrink end the copy. */
#ifndef TERN_MIGRATE_CONVERGE_H
#define TERN_MIGRATE_CONVERGE_H

#include "hv/types.h"

#define CONVERGE_INITIAL_PCT 20
#define CONVERGE_INCREMENT_PCT 10
#define CONVERGE_FLAT_ROUNDS 3  /* rounds without a new least before giving up */

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

/* The shrink rule's books, kept alike by the source (migrate/send.c) and the model
 * (migrate/precopy.c). */
struct converge_flat {
	uint64_t least;  /* the fewest pages a counted round left */
	uint32_t pct;    /* the throttle the counted rounds ran under */
	uint32_t rounds; /* counted rounds since that least that left no fewer */
};

/* Round `round` (from 1) ended with `pending` pages left, having run under a throttle of
 * pct %. A round shrinks when it leaves fewer pages than every counted round before it,
 * not only than the one before: a guest whose rounds hover around a floor (as Linux's,
 * whose writes come by the clock) would otherwise take many rounds to make three rises
 * in a row. Rounds 1 and 2 always shrink (round 1 sends everything, round 2 what was
 * dirtied meanwhile), and a change of the throttle begins the count again: only rounds
 * under one throttle are compared. */
void converge_note_round(struct converge_flat *f, uint32_t round, uint32_t pct,
			 uint64_t pending);

/* Whether rounds stopped shrinking with nothing left to try, so the copy should stop:
 * CONVERGE_FLAT_ROUNDS counted rounds without a new least, and auto-converge off or its
 * throttle already at THROTTLE_MAX_PCT. There the guest runs a slice in a hundred: more
 * rounds only stretch the time it is all but stopped, which its clock counts into the
 * pause it sees (pause-lead, README "The pause the guest sees"). */
bool converge_gave_out(const struct converge_params *p, const struct converge_flat *f);

#endif
