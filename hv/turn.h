/* How long CPU 0's loop was away: the longest busy turn (the network, migrations, the
 * monitor and one guest slice; not the idle sleep) over the last TURN_WINDOW_S seconds.
 * Everything that answers the outside world runs in that loop, so this is how long a
 * typed command or an incoming frame could have waited. Pure (time is passed in), one
 * compare a turn, tested hosted. */
#ifndef TERN_TURN_H
#define TERN_TURN_H

#include "hv/types.h"

#define TURN_WINDOW_S 60

/* A turn ran from start_us to end_us. */
void turn_note(uint64_t start_us, uint64_t end_us);
/* The longest turn that ended within the last TURN_WINDOW_S seconds before now_us (the
 * current second included), in microseconds. */
uint64_t turn_longest_us(uint64_t now_us);

#endif
