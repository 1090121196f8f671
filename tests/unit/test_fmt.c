#include <stdio.h>
#include <string.h>

#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#include "hv/lib/fmt.h"
#include "tests/unit/stubs.h"

/* The host's snprintf is the reference for every format tern supports. */
#define SAME(...)                                                          \
	do {                                                               \
		char a[128], b[128];                                       \
		int na = fmt_snprintf(a, sizeof(a), __VA_ARGS__);          \
		int nb = snprintf(b, sizeof(b), __VA_ARGS__);              \
		assert_string_equal(a, b);                                 \
		assert_int_equal(na, nb);                                  \
	} while (0)

static void test_integers(void **state)
{
	SAME("%d %i %u", -42, 7, 4000000000u);
	SAME("%x %X %o", 0xbeefu, 0xbeefu, 8u);
	SAME("%lld %llu %llx", -9000000000000000000LL, 18446744073709551615ULL,
	     0x123456789abcdefULL);
	SAME("%zu %ld", (size_t)12345, -1L);
	SAME("%hhu %hd", 300, 70000);
	SAME("%5d|%-5d|%05d|%+d|% d", 42, 42, 42, 42, 42);
	SAME("%.3d %8.3x %-8d|", 5, 0xau, -3);
	SAME("%d %u %x", 0, 0u, 0u);
	SAME("%.0d|%5.0u", 0, 0u);
	SAME("%d", -2147483647 - 1);
	SAME("%*d|%-*d", 6, 1, 6, 2);
}

static void test_strings(void **state)
{
	SAME("%s|%10s|%-10s|%.2s", "abc", "abc", "abc", "abc");
	SAME("%c%c%c", 'x', 'y', 'z');
	SAME("100%%");
	SAME("%.*s", 3, "abcdef");
}

static void test_pointer(void **state)
{
	char buf[64];

	fmt_snprintf(buf, sizeof(buf), "%p", (void *)0x1000);
	assert_string_equal(buf, "0x1000");
}

static void test_truncation(void **state)
{
	char buf[8];
	int n = fmt_snprintf(buf, sizeof(buf), "%s", "hello, world");

	assert_int_equal(n, 12);
	assert_string_equal(buf, "hello, ");
	n = fmt_snprintf(buf, 0, "abc");
	assert_int_equal(n, 3);
	n = fmt_snprintf(buf, 1, "abc");
	assert_string_equal(buf, "");
}

/* Formats the compiler would reject, through a variable so it cannot see them. */
static void test_odd_formats(void **state)
{
	char buf[32];
	const char *volatile odd = "%q|%";
	const char *volatile null = NULL;

	fmt_snprintf(buf, sizeof(buf), odd);
	assert_string_equal(buf, "%q|");
	fmt_snprintf(buf, sizeof(buf), "%s", null);
	assert_string_equal(buf, "(null)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_pointer),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_odd_formats),
	};
	return cmocka_run_group_tests_name("fmt", tests, NULL, NULL);
}
