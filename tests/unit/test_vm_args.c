#include <string.h>
#include "hv/lib/fmt.h"
#include "hv/vm_args.h"
#include "hv/vconsole.h"
#include "hv/error.h"
#include "hv/vmstate.h"
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
	assert_int_equal(a.vcpus, 1);
	assert_null(a.name);
	assert_null(a.cmdline);
	assert_null(a.initrd);
	assert_int_equal(a.nr_mods, 0);
	assert_int_equal(a.cpu, -1); /* placed on the least loaded CPU */
}

static void test_cpu(void **state)
{
	assert_int_equal(parse("spin cpu=1 -- x"), 0);
	assert_int_equal(a.cpu, 1);
	assert_string_equal(a.cmdline, "x");
	assert_int_equal(parse("spin cpu=0"), 0);
	assert_int_equal(a.cpu, 0);
	assert_int_equal(parse("spin cpus=2 cpu=1"), 0);
	assert_int_equal(a.vcpus, 2);
	assert_int_equal(a.cpu, 1);
	assert_int_equal(parse("spin cpus=8"), 0);
	assert_true(parse("spin cpus=0") < 0);
	assert_true(parse("spin cpus=9") < 0);
	assert_non_null(strstr(err, "bad cpus= value '9': give the VM's vCPUs, from 1 to 8"));
	assert_true(parse("spin cpus=") < 0);
	assert_true(parse("spin cpu=") < 0);
	assert_true(parse("spin cpu=-1") < 0);
	assert_true(parse("spin cpu=4096") < 0);
	assert_non_null(strstr(err, "bad cpu= value '4096'"));
}

static void test_pin(void **state)
{
	assert_int_equal(parse("spin cpus=3 pin=1,0,2"), 0);
	assert_int_equal(a.npin, 3);
	assert_int_equal(a.pin[0], 1);
	assert_int_equal(a.pin[1], 0);
	assert_int_equal(a.pin[2], 2);
	assert_int_equal(a.cpu, -1);
	assert_int_equal(parse("spin pin=1 cpus=4"), 0); /* fewer: round the list again */
	assert_int_equal(a.npin, 1);
	assert_int_equal(parse("spin"), 0);
	assert_int_equal(a.npin, 0);
	assert_true(parse("spin cpus=2 pin=0,1,2") < 0);
	assert_string_equal(err, "pin= names 3 CPUs for 2 vCPU(s) (cpus=)");
	assert_true(parse("spin cpus=2 pin=0 cpu=1") < 0);
	assert_non_null(strstr(err, "give one of them"));
	const char *bad[] = { "pin=", "pin=,", "pin=0,", "pin=,1", "pin=0,,1", "pin=64",
			      "pin=a", "pin=-1", "pin=0,1,2,3,4,5,6,7,0", "pin=12345678" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[64];
		fmt_snprintf(line, sizeof(line), "spin cpus=8 %s", bad[i]);
		assert_true(parse(line) < 0);
		assert_non_null(strstr(err, "bad pin= value"));
	}
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
	assert_string_equal(err, "unknown argument 'bogus' (mem=, name=, mod=, initrd=, cpu=, "
				 "cpus=, pin=, or -- before the guest's command line)");
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

/* The boot record a migration carries: what was given survives the trip, and whatever
 * a peer could send that the monitor never would is refused with its reason. */
static struct vm_boot boot_in, boot_out;
static uint8_t boot_buf[sizeof(struct vm_boot) + 64];

static int boot_trip(void)
{
	size_t n = vms_encode(&vm_boot_vms, &boot_in, boot_buf);

	assert_true(n <= sizeof(boot_buf));
	err[0] = 0;
	return vms_decode(&vm_boot_vms, boot_buf, n, &boot_out, err, sizeof(err));
}

static void boot_linux(void)
{
	memset(&boot_in, 0, sizeof(boot_in));
	strcpy(boot_in.args, "console=ttyS0,115200 init_on_free=1");
	boot_in.has_args = 1;
	strcpy(boot_in.initrd, "initramfs");
}

static void test_boot_record(void **state)
{
	boot_linux();
	assert_int_equal(boot_trip(), 0);
	assert_memory_equal(&boot_in, &boot_out, sizeof(boot_in));
	memset(&boot_in, 0, sizeof(boot_in)); /* a Multiboot kernel with two modules */
	strcpy(boot_in.mods[0], "pages");
	strcpy(boot_in.mods[1], "hello.elf");
	boot_in.nr_mods = 2;
	assert_int_equal(boot_trip(), 0);
	assert_memory_equal(&boot_in, &boot_out, sizeof(boot_in));

	boot_linux();
	memset(boot_in.args, 'a', sizeof(boot_in.args)); /* no NUL */
	assert_int_equal(boot_trip(), -E_FORMAT);
	assert_non_null(strstr(err, "args not terminated"));
	boot_linux();
	boot_in.args[3] = '\n';
	assert_int_equal(boot_trip(), -E_FORMAT);
	assert_non_null(strstr(err, "args[3] = 0x0a, not printable"));
	boot_linux();
	boot_in.has_args = 0;
	assert_int_equal(boot_trip(), -E_FORMAT);
	assert_non_null(strstr(err, "given while has_args is 0"));
	boot_linux();
	boot_in.has_args = 2;
	assert_int_equal(boot_trip(), -E_FORMAT);
	boot_linux();
	strcpy(boot_in.initrd, "init ramfs");
	assert_int_equal(boot_trip(), -E_FORMAT);
	assert_non_null(strstr(err, "initrd is not a module name"));
	boot_linux();
	memset(boot_in.initrd, 'x', sizeof(boot_in.initrd));
	assert_int_equal(boot_trip(), -E_FORMAT);
	boot_linux();
	strcpy(boot_in.mods[0], "pages");
	boot_in.nr_mods = 1;
	assert_int_equal(boot_trip(), -E_FORMAT);
	assert_non_null(strstr(err, "initrd beside Multiboot modules"));
	boot_linux();
	strcpy(boot_in.mods[2], "pages"); /* past nr_mods */
	assert_int_equal(boot_trip(), -E_FORMAT);
	assert_non_null(strstr(err, "mods[2]"));
	boot_linux();
	boot_in.initrd[0] = 0;
	boot_in.nr_mods = 1; /* a module counted but empty */
	assert_int_equal(boot_trip(), -E_FORMAT);
	assert_non_null(strstr(err, "mods[0] is not a module name"));
	boot_linux();
	boot_in.nr_mods = 9;
	assert_int_equal(boot_trip(), -E_FORMAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_linux),
		cmocka_unit_test(test_cpu),
		cmocka_unit_test(test_pin),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_console_lines),
		cmocka_unit_test(test_boot_record),
	};
	return cmocka_run_group_tests_name("vm_args", tests, NULL, NULL);
}
