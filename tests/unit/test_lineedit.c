#include <string.h>
#include "hv/lineedit.h"
#include "tests/unit/stubs.h"

static enum le_result feed_str(struct lineedit *le, const char *s)
{
	enum le_result r = LE_MORE;

	for (; *s; s++)
		r = le_feed(le, (uint8_t)*s);
	return r;
}

static void test_simple_line(void **state)
{
	struct lineedit le;

	le_init(&le);
	assert_int_equal(feed_str(&le, "info mem"), LE_MORE);
	assert_int_equal(le_feed(&le, '\r'), LE_LINE);
	assert_string_equal(le.buf, "info mem");
	/* the \n of a \r\n pair does not make an empty second line */
	assert_int_equal(le_feed(&le, '\n'), LE_MORE);
	assert_int_equal(feed_str(&le, "help\n"), LE_LINE);
	assert_string_equal(le.buf, "help");
}

static void test_backspace(void **state)
{
	struct lineedit le;

	le_init(&le);
	feed_str(&le, "hepp\b\x7flp");
	assert_int_equal(le_feed(&le, '\r'), LE_LINE);
	assert_string_equal(le.buf, "help");
	/* backspace on an empty line does nothing */
	feed_str(&le, "\b\b\bx");
	assert_int_equal(le_feed(&le, '\r'), LE_LINE);
	assert_string_equal(le.buf, "x");
}

static void test_echo(void **state)
{
	struct lineedit le;

	le_init(&le);
	le_feed(&le, 'a');
	assert_int_equal(le.echo_len, 1);
	assert_memory_equal(le.echo, "a", 1);
	le_feed(&le, '\b');
	assert_int_equal(le.echo_len, 3);
	assert_memory_equal(le.echo, "\b \b", 3);
	le_feed(&le, '\r');
	assert_int_equal(le.echo_len, 1);
	assert_memory_equal(le.echo, "\n", 1);
}

static void test_too_long(void **state)
{
	struct lineedit le;
	char big[10 * 1024 + 1];

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	le_init(&le);
	feed_str(&le, big);
	assert_int_equal(le.len, LINE_MAX);
	assert_int_equal(le_feed(&le, '\r'), LE_TOO_LONG);
	/* the next line is fine again */
	assert_int_equal(feed_str(&le, "help\r"), LE_LINE);
	assert_string_equal(le.buf, "help");
}

static void test_control_and_binary(void **state)
{
	struct lineedit le;

	le_init(&le);
	feed_str(&le, "he\x01lp");
	assert_int_equal(le_feed(&le, '\r'), LE_BAD_BYTE);
	assert_int_equal(le.rejected, 1);
	feed_str(&le, "ok\xff");
	assert_int_equal(le_feed(&le, '\n'), LE_BAD_BYTE);
	assert_int_equal(le.rejected, 0xff);
	le_feed(&le, 0);
	feed_str(&le, "help");
	assert_int_equal(le_feed(&le, '\r'), LE_BAD_BYTE);
	/* tabs count as spaces */
	feed_str(&le, "info\tmem");
	assert_int_equal(le_feed(&le, '\r'), LE_LINE);
	assert_string_equal(le.buf, "info mem");
}

static void test_escape_sequences_skipped(void **state)
{
	struct lineedit le;

	le_init(&le);
	feed_str(&le, "in\x1b[Afo\x1b[1;5C");
	assert_int_equal(le_feed(&le, '\r'), LE_LINE);
	assert_string_equal(le.buf, "info");
}

static void test_random_bytes_never_overflow(void **state)
{
	struct lineedit le;
	unsigned seed = 12345;

	le_init(&le);
	for (int i = 0; i < 200000; i++) {
		seed = seed * 1103515245 + 12345;
		enum le_result r = le_feed(&le, (uint8_t)(seed >> 16));
		assert_true(le.len <= LINE_MAX);
		assert_true(le.echo_len <= sizeof(le.echo));
		if (r == LE_LINE)
			assert_true(strlen(le.buf) <= LINE_MAX);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_line),
		cmocka_unit_test(test_backspace),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_control_and_binary),
		cmocka_unit_test(test_escape_sequences_skipped),
		cmocka_unit_test(test_random_bytes_never_overflow),
	};
	return cmocka_run_group_tests_name("lineedit", tests, NULL, NULL);
}
