/* Auto-converge's arithmetic: the scheduler's hold after a slice (hv/throttle.c) and the
 * throttle each round's end chooses (migrate/converge.c). */
#include "hv/throttle.h"
#include "migrate/converge.h"
#include "tests/unit/stubs.h"

static const struct converge_params qemu = { true, CONVERGE_INITIAL_PCT,
					     CONVERGE_INCREMENT_PCT };

/* The hold gives the VM (100 - pct) % of wall time: ran / (ran + hold). */
static void test_hold_share(void **state)
{
	assert_int_equal(throttle_hold(1000, 0), 0);
	assert_int_equal(throttle_hold(1000, 20), 250);   /* 1000 of 1250: 80 % */
	assert_int_equal(throttle_hold(1000, 50), 1000);
	assert_int_equal(throttle_hold(1000, 90), 9000);
	assert_int_equal(throttle_hold(1000, 99), 99000);
	for (uint32_t pct = 1; pct <= THROTTLE_MAX_PCT; pct++) {
		uint64_t ran = 1000000, hold = throttle_hold(ran, pct);
		/* the withheld share, in 1/10000, within rounding of pct */
		uint64_t share = hold * 10000 / (ran + hold);
		assert_in_range(share, pct * 100 - 1, pct * 100);
	}
}

/* 100 % and more would stop the VM for good: held at 99 %. Large slices do not
 * overflow (the product is 128-bit). */
static void test_hold_limits(void **state)
{
	assert_int_equal(throttle_hold(1000, 100), 99000);
	assert_int_equal(throttle_hold(1000, 1000), 99000);
	assert_int_equal(throttle_hold(1ULL << 60, 50), 1ULL << 60);
	assert_int_equal(throttle_hold(0, 99), 0);
}

/* A round that dirtied more than half of what it sent did not shrink enough. */
static void test_shrank(void **state)
{
	assert_true(converge_shrank(1000, 0));
	assert_true(converge_shrank(1000, 500));
	assert_false(converge_shrank(1000, 501));
	assert_false(converge_shrank(256, 256));
	assert_false(converge_shrank(256, 300));
	assert_true(converge_shrank(0, 0));
	assert_false(converge_shrank(0, 1));
}

/* 20, 30, ... 90, 99, 99: QEMU's defaults, capped below 100. */
static void test_throttle_steps(void **state)
{
	static const uint32_t want[] = { 20, 30, 40, 50, 60, 70, 80, 90, 99, 99, 99 };
	uint32_t pct = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		pct = converge_throttle(&qemu, pct, 256, 256);
		assert_int_equal(pct, want[i]);
	}
}

/* Rounds that shrink keep the throttle where it is: it is never lowered mid-way (the
 * guest would speed up again), only lifted when the migration ends. */
static void test_throttle_holds_while_shrinking(void **state)
{
	assert_int_equal(converge_throttle(&qemu, 0, 4096, 256), 0);
	assert_int_equal(converge_throttle(&qemu, 40, 256, 100), 40);
	assert_int_equal(converge_throttle(&qemu, 40, 256, 200), 50);
}

static void test_throttle_params(void **state)
{
	struct converge_params p = { true, 50, 25 };

	assert_int_equal(converge_throttle(&p, 0, 100, 100), 50);
	assert_int_equal(converge_throttle(&p, 50, 100, 100), 75);
	assert_int_equal(converge_throttle(&p, 75, 100, 100), 99);
	p.initial_pct = 99;
	p.increment_pct = 99;
	assert_int_equal(converge_throttle(&p, 0, 100, 100), 99);
	assert_int_equal(converge_throttle(&p, 99, 100, 100), 99);
}

/* auto-converge off: never a throttle, whatever the rounds do */
static void test_throttle_off(void **state)
{
	struct converge_params p = qemu;

	p.on = false;
	assert_int_equal(converge_throttle(&p, 0, 256, 256), 0);
	assert_int_equal(converge_throttle(&p, 0, 256, 10), 0);
}

/* Rounds ending with these pages left, all under one throttle: the count of rounds
 * without a new least after each. */
static void run_rounds(struct converge_flat *f, uint32_t pct, const uint64_t *pending,
		       const uint32_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		converge_note_round(f, (uint32_t)i + 1, pct, pending[i]);
		assert_int_equal(f->rounds, want[i]);
	}
}

/* Rounds 1 and 2 always shrink; later ones shrink only below the least so far. Rounds
 * hovering above a floor count on (three rises in a row, the rule before, would have
 * been reset by 160 < 180 and not given up here). */
static void test_flat_counts_from_the_least(void **state)
{
	static const uint64_t pending[] = { 2048, 3000, 150, 180, 160, 170, 149, 149 };
	static const uint32_t want[] = { 0, 0, 0, 1, 2, 3, 0, 1 };
	struct converge_flat f = { 0 };

	run_rounds(&f, 0, pending, want, 8);
	assert_int_equal(f.least, 149);
}

/* A new throttle begins the count again: rounds under another throttle do not compare. */
static void test_flat_throttle_change_restarts(void **state)
{
	struct converge_flat f = { 0 };

	converge_note_round(&f, 1, 0, 2048);
	converge_note_round(&f, 2, 0, 256);
	converge_note_round(&f, 3, 20, 256);
	assert_int_equal(f.rounds, 0);
	assert_int_equal(f.pct, 20);
	converge_note_round(&f, 4, 20, 300);
	converge_note_round(&f, 5, 20, 300);
	assert_int_equal(f.rounds, 2);
	converge_note_round(&f, 6, 30, 400);
	assert_int_equal(f.rounds, 0);
	assert_int_equal(f.least, 400);
}

/* Off: three flat rounds give up. On: only once the throttle is at its highest, where
 * nothing is left to try; below it the throttle rises instead. */
static void test_gave_out(void **state)
{
	static const struct converge_params off = { false, 20, 10 };
	struct converge_flat f = { .least = 100, .pct = 0, .rounds = 2 };

	assert_false(converge_gave_out(&off, &f));
	f.rounds = CONVERGE_FLAT_ROUNDS;
	assert_true(converge_gave_out(&off, &f));
	assert_false(converge_gave_out(&qemu, &f));
	f.pct = 90;
	f.rounds = 10;
	assert_false(converge_gave_out(&qemu, &f));
	f.pct = THROTTLE_MAX_PCT;
	f.rounds = 2;
	assert_false(converge_gave_out(&qemu, &f));
	f.rounds = 3;
	assert_true(converge_gave_out(&qemu, &f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_share),
		cmocka_unit_test(test_hold_limits),
		cmocka_unit_test(test_shrank),
		cmocka_unit_test(test_throttle_steps),
		cmocka_unit_test(test_throttle_holds_while_shrinking),
		cmocka_unit_test(test_throttle_params),
		cmocka_unit_test(test_throttle_off),
		cmocka_unit_test(test_flat_counts_from_the_least),
		cmocka_unit_test(test_flat_throttle_change_restarts),
		cmocka_unit_test(test_gave_out),
	};
	return cmocka_run_group_tests_name("converge", tests, NULL, NULL);
}
