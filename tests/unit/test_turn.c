/* The loop's longest turn (hv/turn.c): a maximum over a sliding window of whole seconds.
 * The ring is a file-static of turn.c, so each test uses times later than the last. */
#include "hv/turn.h"
#include "tests/unit/stubs.h"

#define S 1000000ull

/* Short turns, one long one: the long one is the answer for the window's length after
 * it, and then forgotten. */
static void test_longest_in_the_window(void **state)
{
	uint64_t t = 100 * S;

	for (int i = 0; i < 1000; i++, t += 1000)
		turn_note(t, t + 900);
	assert_int_equal(turn_longest_us(t), 900);
	turn_note(t, t + 300000); /* a handshake's 300 ms */
	t += 300000;
	assert_int_equal(turn_longest_us(t), 300000);
	for (int i = 0; i < 50; i++, t += S)
		turn_note(t, t + 2000);
	assert_int_equal(turn_longest_us(t), 300000);
	for (int i = 0; i < TURN_WINDOW_S; i++, t += S)
		turn_note(t, t + 2000);
	assert_int_equal(turn_longest_us(t), 2000);
}

/* A loop that went quiet (idle for longer than the window) holds nothing old. */
static void test_quiet_loop_forgets(void **state)
{
	uint64_t t = 1000 * S;

	turn_note(t, t + 500000);
	assert_int_equal(turn_longest_us(t + S), 500000);
	assert_int_equal(turn_longest_us(t + (TURN_WINDOW_S + 2) * S), 0);
	/* a turn that ends in an older second than the ring holds is not counted */
	turn_note(t, t + 1000);
	assert_int_equal(turn_longest_us(t + (TURN_WINDOW_S + 2) * S), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_longest_in_the_window),
		cmocka_unit_test(test_quiet_loop_forgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
