#include "hv/turn.h"

#define US 1000000ull
#define RING (TURN_WINDOW_S + 1) /* the window's seconds and the one filling */

static uint64_t longest[RING]; /* per second: the longest turn that ended in it */
static uint64_t second;        /* the newest second the ring holds */

/* Moves the ring forward to second s, zeroing the seconds it enters. */
static void roll(uint64_t s)
{
	if (s > second + RING)
		second = s - RING;
	for (; second < s; second++)
		longest[(second + 1) % RING] = 0;
}

void turn_note(uint64_t start_us, uint64_t end_us)
{
	uint64_t s = end_us / US, us = end_us - start_us;

	if (end_us < start_us || s < second) /* a clock that went back: nothing to say */
		return;
	roll(s);
	longest[s % RING] = MAX(longest[s % RING], us);
}

uint64_t turn_longest_us(uint64_t now_us)
{
	uint64_t max = 0;

	roll(now_us / US);
	for (unsigned i = 0; i < RING; i++)
		max = MAX(max, longest[i]);
	return max;
}
