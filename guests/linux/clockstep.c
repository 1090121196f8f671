/* How far the guest's clock moves while the guest does not run: wakes every 10 ms of
 * CLOCK_MONOTONIC and, when two wake-ups lie further apart than min ms, prints the step.
 * Across a migration's pause the step is the clock's jump (plus one period): the guest
 * clock must not run on for longer than the VM stood still.
 *
 *   clockstep [min=N]      (default 40 ms)
 *
 * Lines: "clockstep: step=<ms> ms" (whole milliseconds, rounded down). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PERIOD_NS 10000000L

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	const struct timespec period = { 0, PERIOD_NS };
	long min_ms = 40;
	int64_t last;

	if (argc > 2 || (argc == 2 && strncmp(argv[1], "min=", 4))) {
		fprintf(stderr, "clockstep: usage: clockstep [min=<ms>]\n");
		return 2;
	}
	if (argc == 2) {
		char *end;

		errno = 0;
		min_ms = strtol(argv[1] + 4, &end, 10);
		if (errno || *end || end == argv[1] + 4 || min_ms < 11) {
			fprintf(stderr, "clockstep: min must be a number of ms above the "
				"10 ms period\n");
			return 2;
		}
	}
	printf("clockstep: every 10 ms, steps over %ld ms\n", min_ms);
	fflush(stdout);
	last = now_ns();
	for (;;) {
		int64_t t;

		nanosleep(&period, NULL);
		t = now_ns();
		if (t - last > min_ms * 1000000) {
			printf("clockstep: step=%lld ms\n", (long long)((t - last) / 1000000));
			fflush(stdout);
			t = now_ns(); /* its own line is not a step of the clock */
		}
		last = t;
	}
}
