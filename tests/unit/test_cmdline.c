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

/* A key's value never reaches the console; every other word, and the spacing, does. */
static void test_redact(void **state)
{
	char out[64];

	cmdline_redact(out, sizeof(out), "ip=10.0.0.1/24 key=00ff11 shadow=64", "key");
	assert_string_equal(out, "ip=10.0.0.1/24 key=... shadow=64");
	cmdline_redact(out, sizeof(out), "key=a  key=b\tmonkey=c key", "key");
	assert_string_equal(out, "key=...  key=...\tmonkey=c key");
	cmdline_redact(out, sizeof(out), "keyfile=x key-file=y", "key");
	assert_string_equal(out, "keyfile=x key-file=y");
	cmdline_redact(out, sizeof(out), "", "key");
	assert_string_equal(out, "");
	/* truncated, never past the buffer, and never a digit of the key */
	cmdline_redact(out, 8, "ab key=0123456789", "key");
	assert_string_equal(out, "ab key=");
	cmdline_redact(out, 12, "ab key=0123456789", "key");
	assert_string_equal(out, "ab key=...");
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
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_parse_u64),
	};
	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
