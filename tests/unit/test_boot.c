#include <string.h>
#include "boot/efi/config.h"
#include "hv/acpi.h"
#include "hv/boot.h"
#include "tests/unit/stubs.h"

static struct efi_config cfg;

static void parse(const char *text)
{
	efi_config_parse(&cfg, text, strlen(text));
}

static void test_config(void **state)
{
	parse("# tern\ncmdline console=com1\r\n\n  cmdline   shadow=64  \n"
	      "module \\guests\\hello.elf greet=1 x\nmodule /guests/spin.elf\n");
	assert_string_equal(cfg.error, "");
	assert_string_equal(cfg.cmdline, "console=com1 shadow=64");
	assert_int_equal(cfg.nr_modules, 2);
	assert_string_equal(cfg.modules[0].path, "\\guests\\hello.elf");
	assert_string_equal(cfg.modules[0].args, "greet=1 x");
	assert_string_equal(cfg.modules[1].path, "/guests/spin.elf");
	assert_string_equal(cfg.modules[1].args, "");
}

static void test_config_errors(void **state)
{
	parse("bogus line\ncmdline a=1\n");
	assert_string_equal(cfg.error, "tern.cfg line 1: unknown keyword");
	assert_string_equal(cfg.cmdline, "a=1");
	parse("module\n");
	assert_string_equal(cfg.error, "tern.cfg line 1: module needs a path");
	assert_int_equal(cfg.nr_modules, 0);
	char bin[] = "cmdline a\0b\ncmdline c\n";
	efi_config_parse(&cfg, bin, sizeof(bin) - 1);
	assert_string_equal(cfg.error, "tern.cfg line 1: binary data");
	assert_string_equal(cfg.cmdline, "c");
	static char big[4096];
	memset(big, 'x', sizeof(big) - 1);
	parse(big);
	assert_string_equal(cfg.error, "tern.cfg line 1: line too long");
	static char many[4096];
	many[0] = 0;
	for (int i = 0; i < BOOT_MAX_MODULES + 3; i++)
		strcat(many, "module /g.elf\n");
	parse(many);
	assert_int_equal(cfg.nr_modules, BOOT_MAX_MODULES);
	assert_non_null(strstr(cfg.error, "too many modules"));
}

static void test_cmdline_append_truncates(void **state)
{
	char c[8] = "ab";

	efi_config_append(c, sizeof(c), "  cdefghijk");
	assert_string_equal(c, "ab cdef");
	efi_config_append(c, sizeof(c), "   ");
	assert_string_equal(c, "ab cdef");
}

static void test_module_names(void **state)
{
	char n[8];

	boot_module_name(n, sizeof(n), "\\guests\\hello.elf");
	assert_string_equal(n, "hello");
	boot_module_name(n, sizeof(n), "/a.b/memtouch.elf");
	assert_string_equal(n, "memtouc");
	boot_module_name(n, sizeof(n), "plain");
	assert_string_equal(n, "plain");
	boot_module_name(n, sizeof(n), ".hidden");
	assert_string_equal(n, ".hidden");
}

static void test_mem_merge(void **state)
{
	static struct boot_info bi;

	memset(&bi, 0, sizeof(bi));
	boot_add_mem(&bi, 0, 4096, BOOT_MEM_USABLE);
	boot_add_mem(&bi, 4096, 4096, BOOT_MEM_USABLE);
	boot_add_mem(&bi, 8192, 4096, BOOT_MEM_RESERVED);
	boot_add_mem(&bi, 16384, 0, BOOT_MEM_USABLE);
	assert_int_equal(bi.nr_mem, 2);
	assert_int_equal(bi.mem[0].len, 8192);
	/* overflow of the table folds the rest into a reserved range: never lost as free */
	for (int i = 0; i < BOOT_MAX_MEM + 10; i++)
		boot_add_mem(&bi, 0x100000 + (uint64_t)i * 0x2000, 0x1000,
			     i % 2 ? BOOT_MEM_USABLE : BOOT_MEM_ACPI);
	assert_int_equal(bi.nr_mem, BOOT_MAX_MEM);
	assert_int_equal(bi.mem[BOOT_MAX_MEM - 1].type, BOOT_MEM_RESERVED);
}

/* The APs' start pages under GRUB: the highest free run below 640 KiB, clear of what
 * the loader occupies, never page 0, and listed as used so the allocator skips it. */
static void test_reserve_low(void **state)
{
	static struct boot_info bi;
	uint64_t at;

	memset(&bi, 0, sizeof(bi));
	boot_add_mem(&bi, 0, 0x9fc00, BOOT_MEM_USABLE);
	boot_add_mem(&bi, 0x9fc00, 0x400, BOOT_MEM_RESERVED); /* the EBDA */
	boot_add_mem(&bi, 0x100000, 0x1000000, BOOT_MEM_USABLE);
	boot_add_used(&bi, 0x9d000, 0x1000); /* say, the Multiboot information */
	/* 0x9e000 would run into the EBDA, 0x9c000 into the used page */
	at = boot_reserve_low(&bi, 2);
	assert_int_equal(at, 0x9b000);
	assert_int_equal(bi.nr_used, 2);
	assert_int_equal(bi.used[1].base, 0x9b000);
	assert_int_equal(bi.used[1].len, 0x2000);
	assert_int_equal(boot_reserve_low(&bi, 2), 0x99000); /* not the same pages twice */

	/* Nothing usable below 640 KiB but page 0 and one lone page: no room. */
	memset(&bi, 0, sizeof(bi));
	boot_add_mem(&bi, 0, 0x1000, BOOT_MEM_USABLE);
	boot_add_mem(&bi, 0x1000, 0x1000, BOOT_MEM_RESERVED);
	boot_add_mem(&bi, 0x2000, 0x1000, BOOT_MEM_USABLE);
	boot_add_mem(&bi, 0x3000, 0x9c000, BOOT_MEM_RESERVED);
	boot_add_mem(&bi, 0x100000, 0x1000000, BOOT_MEM_USABLE);
	assert_int_equal(boot_reserve_low(&bi, 2), 0);
	assert_int_equal(bi.nr_used, 0);
	assert_int_equal(boot_reserve_low(&bi, 1), 0x2000);
}

static void test_s5(void **state)
{
	/* NameOp "_S5_" PackageOp PkgLength NumElements BytePrefix 5 ... */
	const uint8_t a[] = { 0x10, 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05,
			      0x0a, 0x05, 0x00, 0x00 };
	const uint8_t b[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x00, 0x00,
			      0, 0, 0, 0, 0 };
	const uint8_t c[] = { 0x14, '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x07, 0, 0, 0 };
	const uint8_t d[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x4a };
	uint8_t typ = 99;

	assert_true(acpi_parse_s5(a, sizeof(a), &typ));
	assert_int_equal(typ, 5);
	assert_true(acpi_parse_s5(b, sizeof(b), &typ));
	assert_int_equal(typ, 0);
	typ = 99;
	assert_false(acpi_parse_s5(c, sizeof(c), &typ)); /* a method, not a name */
	assert_false(acpi_parse_s5(d, sizeof(d), &typ)); /* truncated */
	assert_int_equal(typ, 99);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_cmdline_append_truncates),
		cmocka_unit_test(test_module_names),
		cmocka_unit_test(test_mem_merge),
		cmocka_unit_test(test_s5),
		cmocka_unit_test(test_reserve_low),
	};
	return cmocka_run_group_tests_name("boot", tests, NULL, NULL);
}
