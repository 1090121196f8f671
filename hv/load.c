#include "hv/load.h"

#define US 1000000ull
#define RING (LOAD_WINDOW_MAX + 1)

static uint64_t vcpu_us[RING]; /* per second: runnable vCPU-microseconds, a ring */
static uint64_t second;        /* the newest second the ring holds */
static uint64_t last_us;       /* accounted up to here */

/* Moves the ring forward to second s, zeroing the seconds it enters. */
static void roll(uint64_t s)
{
	if (s > second + RING)
		second = s - RING;
	for (; second < s; second++)
		vcpu_us[(second + 1) % RING] = 0;
}

void load_account(uint64_t now_us, unsigned runnable)
{
	/* a gap longer than the ring (the first call, a stalled loop) counts only its end */
	if (now_us - last_us > RING * US && now_us > RING * US)
		last_us = now_us - RING * US;
	while (last_us < now_us) {
		uint64_t s = last_us / US, end = MIN(now_us, (s + 1) * US);

		roll(s);
		if (second - s < RING) /* an old second still in the ring: it is still its own */
			vcpu_us[s % RING] += runnable * (end - last_us);
		last_us = end;
	}
}

uint32_t load_percent(uint64_t now_us, unsigned seconds)
{
	uint64_t sum = 0, now = now_us / US;

	roll(now);
	if (!seconds)
		return 0;
	seconds = MIN(seconds, LOAD_WINDOW_MAX);
	for (unsigned i = 1; i <= seconds && i <= now; i++)
		sum += vcpu_us[(now - i) % RING];
	return (uint32_t)(sum * 100 / (seconds * US));
}
