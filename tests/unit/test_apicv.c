/* The choice of APIC virtualization: the CPU's capabilities, less what apicv= forbids;
 * and the line `info cpu` prints for it. */
#include <string.h>
#include "hv/apicv.h"
#include "tests/unit/stubs.h"

static const struct hv_caps all = { .tpr_shadow = true, .apic_reg_virt = true,
				    .virt_intr_delivery = true, .x2apic_virt = true };

static void describe(const struct hv_caps *c, const char *cmdline, char *buf, size_t n)
{
	struct hv_apicv a;
	const char *warn;

	hv_apicv_choose(c, cmdline, &a, &warn);
	hv_apicv_describe(&a, buf, n);
}

static void test_default_uses_all(void **state)
{
	struct hv_apicv a;
	const char *warn = "x";
	char buf[128];

	hv_apicv_choose(&all, "console=com1", &a, &warn);
	assert_null(warn);
	assert_true(a.tpr_shadow && a.reg_virt && a.intr_delivery && a.x2apic);
	assert_null(a.why);
	hv_apicv_choose(&all, "apicv=on", &a, &warn);
	assert_true(a.tpr_shadow && a.reg_virt && a.intr_delivery && a.x2apic);
	describe(&all, "", buf, sizeof(buf));
	assert_string_equal(buf, "on (tpr-shadow, register virtualization, "
				 "virtual-interrupt delivery, x2apic)");
}

static void test_switch(void **state)
{
	struct hv_apicv a;
	const char *warn;
	char buf[128];

	hv_apicv_choose(&all, "ip=dhcp apicv=off", &a, &warn);
	assert_false(a.tpr_shadow || a.reg_virt || a.intr_delivery || a.x2apic);
	assert_null(warn);
	describe(&all, "apicv=off", buf, sizeof(buf));
	assert_string_equal(buf, "off (apicv=off)");
	hv_apicv_choose(&all, "apicv=tpr", &a, &warn);
	assert_true(a.tpr_shadow);
	assert_false(a.reg_virt || a.intr_delivery || a.x2apic);
	describe(&all, "apicv=tpr", buf, sizeof(buf));
	assert_string_equal(buf, "on (tpr-shadow; apicv=tpr)");
	/* the last word wins, as for every key */
	hv_apicv_choose(&all, "apicv=off apicv=on", &a, &warn);
	assert_true(a.intr_delivery);
	/* junk: taken as on, with a warning for the boot log */
	hv_apicv_choose(&all, "apicv=maybe", &a, &warn);
	assert_non_null(warn);
	assert_true(a.intr_delivery);
}

static void test_what_the_cpu_lacks(void **state)
{
	struct hv_caps none = { 0 }, tpr = { .tpr_shadow = true };
	struct hv_caps no_x2 = all;
	struct hv_apicv a;
	const char *warn;
	char buf[128];

	hv_apicv_choose(&none, "", &a, &warn);
	assert_false(a.tpr_shadow || a.reg_virt || a.intr_delivery || a.x2apic);
	describe(&none, "", buf, sizeof(buf));
	assert_string_equal(buf, "off (the CPU has no TPR shadow)");
	/* nothing without the TPR shadow, whatever else a CPU claims */
	none.apic_reg_virt = none.virt_intr_delivery = none.x2apic_virt = true;
	hv_apicv_choose(&none, "", &a, &warn);
	assert_false(a.reg_virt || a.intr_delivery || a.x2apic);
	describe(&tpr, "", buf, sizeof(buf));
	assert_string_equal(buf, "on (tpr-shadow)");
	no_x2.x2apic_virt = false;
	describe(&no_x2, "", buf, sizeof(buf));
	assert_string_equal(buf, "on (tpr-shadow, register virtualization, "
				 "virtual-interrupt delivery)");
	/* a short buffer is cut, never overrun */
	describe(&all, "", buf, 12);
	assert_string_equal(buf, "on (tpr-sha");
}

static void test_in_force(void **state)
{
	const char *warn;

	hv_apicv_init(&all, "apicv=off", &warn);
	assert_false(hv_apicv()->tpr_shadow);
	hv_apicv_init(&all, "", &warn);
	assert_true(hv_apicv()->x2apic);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_uses_all),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_what_the_cpu_lacks),
		cmocka_unit_test(test_in_force),
	};
	return cmocka_run_group_tests_name("apicv", tests, NULL, NULL);
}
