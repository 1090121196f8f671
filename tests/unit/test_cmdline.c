#include "hv/cmdline.h"
#include "tests/unit/stubs.h"

static void test_get(void **state)
{
	char v[16];

	assert_true(cmdline_get("console=com2 shadow=64", "console", v, sizeof(v)));
	assert_string_equal(v, "com2");
	assert_true(cmdline_get("console=com2 shadow=64", "shadow", v, sizeof(v)));
	assert_string_equal(v, "64");
	assert_false(cmdline_get("console=com2", "cons", v, sizeof(v)));
	assert_false(cmdline_get("xconsole=1", "console", v, sizeof(v)));
	assert_false(cmdline_get("", "console", v, sizeof(v)));
	assert_true(cmdline_get("  debug  ", "debug", v, sizeof(v)));
	assert_string_equal(v, "");
	/* the last word wins */
	assert_true(cmdline_get("a=1 a=2\ta=3", "a", v, sizeof(v)));
	assert_string_equal(v, "3");
	/* truncation, never overflow */
	assert_true(cmdline_get("k=0123456789abcdefghij", "k", v, 8));
	assert_string_equal(v, "0123456");
}

static void test_parse_u64(void **state)
{
	uint64_t v;

	assert_true(parse_u64("0", &v));
	assert_int_equal(v, 0);
	assert_true(parse_u64("18446744073709551615", &v));
	assert_true(v == UINT64_MAX);
	assert_false(parse_u64("18446744073709551616", &v));
	assert_true(parse_u64("0x3F8", &v));
	assert_int_equal(v, 0x3f8);
	assert_false(parse_u64("0x", &v));
	assert_false(parse_u64("", &v));
	assert_false(parse_u64("12a", &v));
	assert_false(parse_u64("-1", &v));
	assert_false(parse_u64(NULL, &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_parse_u64),
	};
	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
