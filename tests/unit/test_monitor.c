#include <string.h>
#include "hv/monitor.h"
#include "tests/unit/stubs.h"

static int last_argc;
static char last_args[256];

static int record(int argc, char **argv)
{
	last_argc = argc;
	last_args[0] = 0;
	for (int i = 0; i < argc; i++) {
		strcat(last_args, argv[i]);
		strcat(last_args, "|");
	}
	return 7;
}

static const struct mon_cmd table[] = {
	{ "help", "", "list", record },
	{ "info", "", "list info", record },
	{ "info mem", "", "memory", record },
	{ "info vms", "", "vms", record },
	{ "vm start", "<image> [mem=MiB]", "start a VM", record },
};

static int exec(const char *line)
{
	char buf[256];

	strcpy(buf, line);
	stub_output_reset();
	last_argc = -1;
	return mon_exec(table, sizeof(table) / sizeof(table[0]), buf);
}

static void test_split(void **state)
{
	char line[] = "  vm   start hello  mem=16 ";
	char *argv[8];

	assert_int_equal(mon_split(line, argv, 8), 4);
	assert_string_equal(argv[0], "vm");
	assert_string_equal(argv[3], "mem=16");
	char many[] = "a b c d e";
	assert_int_equal(mon_split(many, argv, 4), -1);
	char empty[] = "   ";
	assert_int_equal(mon_split(empty, argv, 4), 0);
}

static void test_dispatch_longest_match(void **state)
{
	assert_int_equal(exec("info mem"), 7);
	assert_int_equal(last_argc, 0);
	assert_int_equal(exec("info"), 7);
	assert_int_equal(last_argc, 0);
	assert_int_equal(exec("vm start hello mem=16 -- a b"), 7);
	assert_int_equal(last_argc, 5);
	assert_string_equal(last_args, "hello|mem=16|--|a|b|");
	assert_int_equal(exec("   "), 0);
	assert_int_equal(last_argc, -1);
}

static void test_unknown(void **state)
{
	assert_true(exec("frobnicate now") < 0);
	assert_string_equal(stub_output, "error: unknown command 'frobnicate'\n");
	assert_int_equal(last_argc, -1);
	/* a known group with an unknown member names both words */
	assert_true(exec("vm frob") < 0);
	assert_string_equal(stub_output, "error: unknown command 'vm frob'\n");
	/* prefixes are not commands */
	assert_true(exec("inf") < 0);
	assert_true(exec("vm") < 0);
	assert_string_equal(stub_output, "error: unknown command 'vm'\n");
}

static void test_too_many_words(void **state)
{
	char line[256] = "help";

	for (int i = 0; i < MON_MAX_ARGS; i++)
		strcat(line, " x");
	assert_true(exec(line) < 0);
	assert_non_null(strstr(stub_output, "too many words"));
	assert_int_equal(last_argc, -1);
}

static void test_help_from_table(void **state)
{
	stub_output_reset();
	mon_help(table, sizeof(table) / sizeof(table[0]));
	assert_non_null(strstr(stub_output, "vm start <image> [mem=MiB]"));
	assert_non_null(strstr(stub_output, "start a VM"));
	assert_non_null(strstr(stub_output, "info mem"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_dispatch_longest_match),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_too_many_words),
		cmocka_unit_test(test_help_from_table),
	};
	return cmocka_run_group_tests_name("monitor", tests, NULL, NULL);
}
