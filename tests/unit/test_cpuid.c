#include <string.h>
#include "hv/cpuid.h"
#include "tests/unit/stubs.h"

/* A host that offers leaves up to 0x16 and nothing in them: only tern's own leaves
 * carry information. */
static struct cpuid_regs empty_host(uint32_t leaf, uint32_t sub)
{
	if (leaf == 0)
		return (struct cpuid_regs){ 0x16, 0x756e6547, 0x6c65746e, 0x49656e69 };
	if (leaf == 0x80000000u)
		return (struct cpuid_regs){ 0x80000008u, 0, 0, 0 };
	return (struct cpuid_regs){ 0 };
}

static struct cpuid_regs leaf(const struct cpu_model *m, uint32_t l)
{
	struct cpuid_dyn d = { 0 };
	struct cpuid_regs r;

	cpu_model_query(m, l, 0, &d, &r);
	return r;
}

/* Leaf 0x15 gives every TSC rate within a ppm, and survives Linux's arithmetic: the
 * crystal's kHz times EBX in 32 bits, and the APIC timer period from the crystal. */
static void test_leaf15_tsc_ratio(void **state)
{
	static const uint64_t rates[] = { 99000000, 99473120, 1000000000, 2893412345ull,
					  3000000000ull, 3999999999ull, 5200000000ull, 2500000,
					  123456789 };
	static struct cpu_model m;

	for (unsigned i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		struct cpuid_regs r;
		uint64_t hz;
		uint32_t crystal_khz, linux_khz;

		cpu_model_build(&m, empty_host, rates[i]);
		r = leaf(&m, 0x15);
		assert_int_equal(r.ecx, 1000000000u);
		assert_true(r.eax && r.ebx);
		hz = (uint64_t)r.ecx * r.ebx / r.eax;
		print_message("%llu Hz: %u/%u -> %llu Hz\n", (unsigned long long)rates[i], r.ebx,
			      r.eax, (unsigned long long)hz);
		assert_true(hz * 1000000 / rates[i] >= 999999);
		assert_true(hz * 1000000 / rates[i] <= 1000001);
		crystal_khz = r.ecx / 1000;
		linux_khz = crystal_khz * r.ebx / r.eax; /* 32-bit, as Linux 6.1 computes it */
		assert_true(linux_khz >= rates[i] / 1000 - rates[i] / 1000000 - 1);
		assert_true(linux_khz <= rates[i] / 1000 + rates[i] / 1000000 + 1);
	}
}

static void test_leaf15_exact_rates(void **state)
{
	static struct cpu_model m;
	struct cpuid_regs r;

	cpu_model_build(&m, empty_host, 99000000);
	r = leaf(&m, 0x15);
	assert_int_equal(r.ebx, 99);
	assert_int_equal(r.eax, 1000);
	cpu_model_build(&m, empty_host, 3000000000ull);
	r = leaf(&m, 0x15);
	assert_int_equal(r.ebx, 3);
	assert_int_equal(r.eax, 1);
}

/* The TSC is one Linux can trust without a watchdog: invariant (CPUID.80000007H:EDX[8])
 * and with IA32_TSC_ADJUST (CPUID.7:EBX[1]), which tern emulates whatever the host has. */
static void test_tsc_features(void **state)
{
	static struct cpu_model m;

	cpu_model_build(&m, empty_host, 99000000);
	assert_true(leaf(&m, 7).ebx & (1u << 1));
	assert_true(leaf(&m, 0x80000007u).edx & (1u << 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf15_tsc_ratio),
		cmocka_unit_test(test_leaf15_exact_rates),
		cmocka_unit_test(test_tsc_features),
	};
	return cmocka_run_group_tests_name("cpuid", tests, NULL, NULL);
}
