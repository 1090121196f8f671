/* The host load (hv/load.c): runnable vCPUs over a sliding window of whole seconds. The
 * ring is a file-static of load.c, so each test starts where the previous one left
 * time: every test uses times later than the last. */
#include "hv/load.h"
#include "tests/unit/stubs.h"

#define S 1000000ull

/* Three always-runnable vCPUs on one CPU make 300%: demand, not use. One moving away
 * lowers it to 200% once the window has passed, though the CPU stays busy. */
static void test_runnable_passes_100(void **state)
{
	uint64_t t = 100 * S;

	load_account(t, 0);
	for (int i = 0; i < 1000; i++) /* 10 s of 10 ms slices */
		load_account(t += 10000, 3);
	assert_int_equal(load_percent(t, 5), 300);
	for (int i = 0; i < 1000; i++)
		load_account(t += 10000, 2);
	assert_int_equal(load_percent(t, 5), 200);
	assert_int_equal(load_percent(t, 20), 250);
}

/* Half of each second with one vCPU, half with none: 50%. The current second, still
 * filling, does not count; a window longer than the time since start averages over it. */
static void test_share_and_window(void **state)
{
	uint64_t t = 200 * S;

	load_account(t, 0);
	for (int s = 0; s < 4; s++) {
		load_account(t += S / 2, 1);
		load_account(t += S / 2, 0);
	}
	load_account(t + S / 2, 4); /* inside the current second */
	assert_int_equal(load_percent(t + S / 2, 4), 50);
	assert_int_equal(load_percent(t + S / 2, 1), 50);
	assert_int_equal(load_percent(t + S / 2, 0), 0);
	assert_int_equal(load_percent(t + S / 2, 8), 25); /* 4 s at 50%, 4 s before at 0 */
}

/* An interval across second boundaries is split between them. */
static void test_interval_split(void **state)
{
	uint64_t t = 300 * S;

	load_account(t, 0);
	load_account(t + S / 2, 0);
	load_account(t + 2 * S + S / 2, 2); /* 300.5 .. 302.5 s: 2 vCPUs */
	assert_int_equal(load_percent(t + 3 * S, 1), 100); /* second 302: half of it at 2 */
	assert_int_equal(load_percent(t + 3 * S, 2), 150); /* 301: all, 302: half */
	assert_int_equal(load_percent(t + 3 * S, 3), 133); /* 300: half too: 4 of 3 s */
}

/* A silent stretch longer than the ring (no VM, or a loop that stalled) does not leave
 * old seconds in the window, and a reading taken before the accounting catches up
 * leaves the ring consistent. */
static void test_gaps(void **state)
{
	uint64_t t = 400 * S;

	load_account(t, 0);
	for (int i = 0; i < 100; i++)
		load_account(t += 10000, 1);
	assert_int_equal(load_percent(t + 1000 * S, LOAD_WINDOW_MAX), 0);
	t += 1000 * S;
	load_account(t, 0);
	assert_int_equal(load_percent(t + 10 * S, 10), 0);
	load_account(t + 10 * S, 1); /* the ten seconds read as idle above were busy */
	assert_int_equal(load_percent(t + 10 * S, 10), 100);
	assert_int_equal(load_percent(t + 10 * S, LOAD_WINDOW_MAX + 40), 10 * 100 / 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runnable_passes_100),
		cmocka_unit_test(test_share_and_window),
		cmocka_unit_test(test_interval_split),
		cmocka_unit_test(test_gaps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
