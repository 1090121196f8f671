#include <string.h>
#include "hv/bitmap.h"
#include "tests/unit/stubs.h"

static uint64_t b[BITMAP_WORDS(300)];

static void set_range(uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		bitmap_test_set(b, i);
}

static void test_set_test_clear(void **state)
{
	memset(b, 0, sizeof(b));
	assert_false(bitmap_test_set(b, 63));
	assert_true(bitmap_test_set(b, 63));
	assert_true(bitmap_test(b, 63));
	assert_false(bitmap_test(b, 64));
	bitmap_clear(b, 63);
	assert_false(bitmap_test(b, 63));
	assert_int_equal(bitmap_count(b, 300), 0);
}

static void test_runs(void **state)
{
	uint64_t from = 0, s, e;

	memset(b, 0, sizeof(b));
	set_range(0, 1);
	set_range(62, 130);   /* across two word boundaries */
	set_range(299, 300);  /* the last bit */
	assert_int_equal(bitmap_count(b, 300), 1 + 68 + 1);
	assert_true(bitmap_next_run(b, 300, &from, &s, &e));
	assert_int_equal(s, 0);
	assert_int_equal(e, 1);
	assert_true(bitmap_next_run(b, 300, &from, &s, &e));
	assert_int_equal(s, 62);
	assert_int_equal(e, 130);
	assert_true(bitmap_next_run(b, 300, &from, &s, &e));
	assert_int_equal(s, 299);
	assert_int_equal(e, 300);
	assert_false(bitmap_next_run(b, 300, &from, &s, &e));
	/* bits beyond n are never reported */
	from = 0;
	assert_true(bitmap_next_run(b, 100, &from, &s, &e));
	assert_true(bitmap_next_run(b, 100, &from, &s, &e));
	assert_int_equal(e, 100);
	assert_false(bitmap_next_run(b, 100, &from, &s, &e));
}

static void test_empty_and_full(void **state)
{
	uint64_t from = 0, s, e;

	memset(b, 0, sizeof(b));
	assert_false(bitmap_next_run(b, 300, &from, &s, &e));
	memset(b, 0xff, sizeof(b));
	from = 0;
	assert_true(bitmap_next_run(b, 300, &from, &s, &e));
	assert_int_equal(s, 0);
	assert_int_equal(e, 300);
	assert_int_equal(bitmap_count(b, 300), 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_test_clear),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_empty_and_full),
	};
	return cmocka_run_group_tests_name("bitmap", tests, NULL, NULL);
}
