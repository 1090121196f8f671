#include <string.h>
#include "hv/vm_args.h"
#include "hv/vconsole.h"
#include "tests/unit/stubs.h"

static struct vm_start_args a;
static char cmdline[64], err[200];

static int parse(const char *line)
{
	static char buf[256];
	char *argv[32];
	int argc = 0;

	strcpy(buf, line);
	for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
		argv[argc++] = t;
	err[0] = 0;
	return vm_parse_start(argc, argv, &a, cmdline, sizeof(cmdline), err, sizeof(err));
}

static void test_defaults(void **state)
{
	assert_int_equal(parse("hello"), 0);
	assert_string_equal(a.image, "hello");
	assert_int_equal(a.mem_mib, VM_DEFAULT_MEM_MIB);
	assert_null(a.name);
	assert_null(a.cmdline);
	assert_null(a.initrd);
	assert_int_equal(a.nr_mods, 0);
}

static void test_linux(void **state)
{
	assert_int_equal(parse("linux mem=128 initrd=initramfs -- console=ttyS0 quiet"), 0);
	assert_string_equal(a.image, "linux");
	assert_int_equal(a.mem_mib, 128);
	assert_string_equal(a.initrd, "initramfs");
	assert_string_equal(a.cmdline, "console=ttyS0 quiet");
}

static void test_all_options(void **state)
{
	assert_int_equal(parse("memtouch mem=64 name=mt1 mod=a mod=b -- mib=4 rate=10"), 0);
	assert_int_equal(a.mem_mib, 64);
	assert_string_equal(a.name, "mt1");
	assert_int_equal(a.nr_mods, 2);
	assert_string_equal(a.mods[1], "b");
	assert_string_equal(a.cmdline, "mib=4 rate=10");
	assert_int_equal(parse("x --"), 0);
	assert_string_equal(a.cmdline, "");
}

static void test_errors(void **state)
{
	assert_true(parse("") < 0);
	assert_non_null(strstr(err, "usage"));
	assert_true(parse("-- a") < 0);
	assert_true(parse("x mem=1") < 0);
	assert_true(parse("x mem=0x10000000") < 0);
	assert_true(parse("x mem=abc") < 0);
	assert_non_null(strstr(err, "mem="));
	assert_true(parse("x name=123") < 0);
	assert_true(parse("x name=a/b") < 0);
	assert_true(parse("x name=") < 0);
	assert_true(parse("x bogus") < 0);
	assert_string_equal(err, "unknown argument 'bogus' (mem=, name=, mod=, initrd=, or -- "
				 "before the guest's command line)");
	assert_true(parse("x initrd=") < 0);
	assert_true(parse("x initrd=a initrd=b") < 0);
	assert_non_null(strstr(err, "one initrd="));
	assert_true(parse("x mod=") < 0);
	assert_true(parse("x mod=1 mod=2 mod=3 mod=4 mod=5 mod=6 mod=7 mod=8 mod=9") < 0);
	assert_true(parse("x -- aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb") < 0);
	assert_non_null(strstr(err, "too long"));
}

static void test_names(void **state)
{
	assert_true(vm_name_valid("web-1.a_b"));
	assert_false(vm_name_valid("42"));
	assert_true(vm_name_valid("vm42"));
	assert_false(vm_name_valid(""));
	assert_false(vm_name_valid("a b"));
	assert_false(vm_name_valid("0123456789012345678901234567890123"));
}

static void test_console_lines(void **state)
{
	struct vconsole c = { 0 };

	stub_output_reset();
	for (const char *p = "hi\r\nthere\n\n"; *p; p++)
		vcon_put(&c, (uint8_t)*p, 7);
	assert_string_equal(stub_output, "[vm7] hi\n[vm7] there\n[vm7] \n");
	/* escape sequences from a guest are neutralised */
	stub_output_reset();
	for (const char *p = "\x1b[2Jx\n"; *p; p++)
		vcon_put(&c, (uint8_t)*p, 1);
	assert_string_equal(stub_output, "[vm1] ?[2Jx\n");
	/* a long line is cut, never overflows */
	stub_output_reset();
	for (int i = 0; i < 1000; i++)
		vcon_put(&c, 'a', 1);
	vcon_flush(&c, 1);
	assert_int_equal(strlen(stub_output), 1000 + 7 * (1000 / VCON_LINE_MAX + 1));
	vcon_flush(&c, 1); /* nothing left: nothing printed */
	assert_int_equal(strlen(stub_output), 1000 + 7 * (1000 / VCON_LINE_MAX + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_linux),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_console_lines),
	};
	return cmocka_run_group_tests_name("vm_args", tests, NULL, NULL);
}
