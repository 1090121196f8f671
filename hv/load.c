#include "hv/load.h"
#include "hv/time.h"

static uint64_t busy_us[LOAD_WINDOW_MAX + 1]; /* per second, a ring */
static uint64_t second;                        /* the second busy_us[second % N] holds */

/* Moves the ring to the current second, zeroing the seconds that passed. */
static void roll(void)
{
	uint64_t now = time_now_ms() / 1000;

	for (; second < now; second++)
		busy_us[(second + 1) % (LOAD_WINDOW_MAX + 1)] = 0;
}

void load_account(uint64_t us)
{
	roll();
	busy_us[second % (LOAD_WINDOW_MAX + 1)] += us;
}

uint32_t load_percent(unsigned seconds)
{
	uint64_t sum = 0;

	roll();
	if (!seconds)
		return 0;
	if (seconds > LOAD_WINDOW_MAX)
		seconds = LOAD_WINDOW_MAX;
	/* whole seconds only: the current one is still filling */
	for (unsigned i = 1; i <= seconds && i <= second; i++)
		sum += busy_us[(second - i) % (LOAD_WINDOW_MAX + 1)];
	sum = sum * 100 / (seconds * 1000000ull);
	return sum > 100 ? 100 : (uint32_t)sum;
}
