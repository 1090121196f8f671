/* A CPU model that arrives with a migrating VM: whether it is one tern can run at all
 * (cpu_model_valid) and whether this CPU can give it (cpu_model_check_host). */
#include <string.h>
#include "hv/cpuid.h"
#include "hv/error.h"
#include "tests/unit/stubs.h"

#define BIT(n) (1u << (n))

static char err[160];

/* A host CPU: Skylake-like, XSAVE with x87/SSE/AVX, 39 physical-address bits. */
static struct cpuid_regs host(uint32_t leaf, uint32_t sub)
{
	switch (leaf) {
	case 0: return (struct cpuid_regs){ 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 };
	case 1: return (struct cpuid_regs){ 0x506e3, 0x800, BIT(0) | BIT(26) | BIT(28),
					    0x0f8bfbffu };
	case 7: return (struct cpuid_regs){ 0, BIT(0) | BIT(7), 0, 0 };
	case 0xd: return sub == 0 ? (struct cpuid_regs){ 0x7, 0x340, 0x340, 0 } :
		  sub == 2 ? (struct cpuid_regs){ 256, 576, 0, 0 } : (struct cpuid_regs){ 0 };
	case 0x80000000u: return (struct cpuid_regs){ 0x80000008u, 0, 0, 0 };
	case 0x80000001u: return (struct cpuid_regs){ 0, 0, 0x121, BIT(11) | BIT(20) | BIT(29) };
	case 0x80000008u: return (struct cpuid_regs){ 0x3027, 0, 0, 0 };
	default: return (struct cpuid_regs){ 0 };
	}
}

static void valid(const struct cpu_model *m)
{
	err[0] = 0;
	assert_int_equal(cpu_model_valid(m, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

static void invalid(const struct cpu_model *m, const char *why)
{
	err[0] = 0;
	assert_int_equal(cpu_model_valid(m, err, sizeof(err)), -E_INVAL);
	if (!strstr(err, why))
		fail_msg("reason '%s' lacks '%s'", err, why);
}

static void lacks(const struct cpu_model *m, const char *why)
{
	err[0] = 0;
	assert_int_equal(cpu_model_check_host(m, host, 100000000, err, sizeof(err)), -E_NOSUP);
	if (!strstr(err, why))
		fail_msg("reason '%s' lacks '%s'", err, why);
}

static void test_valid(void **unused)
{
	static struct cpu_model m, t;

	cpu_model_build(&m, host, 100000000);
	valid(&m);
	assert_int_equal(cpu_model_check_host(&m, host, 100000000, err, sizeof(err)), 0);

	/* the count */
	t = m;
	t.nr = CPU_MODEL_LEAVES;
	invalid(&t, "twice"); /* the zero entries past the built ones: leaf 0 again */
	t.nr = CPU_MODEL_LEAVES + 1;
	invalid(&t, "65 entries, more than 64");
	t.nr = 0xffffffffu;
	invalid(&t, "more than 64");
	/* an entry twice, wherever it is */
	t = m;
	t.e[t.nr++] = m.e[1];
	invalid(&t, "leaf 0x1 subleaf 0 twice");
	t = m;
	t.e[t.nr++] = *cpu_model_find(&m, 0xd, 1);
	invalid(&t, "leaf 0xd subleaf 1 twice");
	t = m;
	t.e[t.nr++] = (struct cpuid_entry){ 0xd, 3, 0, 0, 0, 0 }; /* another subleaf: fine */
	valid(&t);
	/* leaf 0 bounds the others: a model without it cannot answer CPUID */
	t = m;
	t.e[0] = t.e[--t.nr];
	assert_null(cpu_model_find(&t, 0, 0));
	invalid(&t, "no CPUID leaf 0");
	/* the TSC rate */
	static const uint64_t bad_hz[] = { 0, 1, CPU_MODEL_TSC_HZ_MIN - 1,
					   CPU_MODEL_TSC_HZ_MAX + 1, ~0ull };
	static const uint64_t good_hz[] = { CPU_MODEL_TSC_HZ_MIN, 3000000000ull,
					    CPU_MODEL_TSC_HZ_MAX };
	t = m;
	for (size_t i = 0; i < ARRAY_SIZE(bad_hz); i++) {
		t.tsc_hz = bad_hz[i];
		invalid(&t, "TSC rate");
	}
	for (size_t i = 0; i < ARRAY_SIZE(good_hz); i++) {
		t.tsc_hz = good_hz[i];
		valid(&t);
	}
}

static void with(struct cpu_model *m, uint32_t leaf, uint32_t sub, int reg, uint32_t set)
{
	struct cpuid_entry e = *cpu_model_find(m, leaf, sub);
	uint32_t *r[4] = { &e.eax, &e.ebx, &e.ecx, &e.edx };

	*r[reg] |= set;
	assert_true(cpu_model_set(m, leaf, sub, e.eax, e.ebx, e.ecx, e.edx));
}

/* What this CPU cannot give is named: a feature bit, XCR0's upper half, wider
 * physical addresses. */
static void test_check_host(void **unused)
{
	static struct cpu_model m, t;

	cpu_model_build(&m, host, 100000000);
	t = m;
	with(&t, 1, 0, CPU_ECX, BIT(5)); /* VMX: never offered */
	lacks(&t, "CPUID.1:ECX bit 5");
	t = m;
	with(&t, 7, 0, CPU_ECX, BIT(16)); /* LA57 */
	lacks(&t, "CPUID.7:ECX bit 16");
	t = m;
	with(&t, 0xd, 0, CPU_EAX, BIT(5)); /* an AVX-512 component */
	lacks(&t, "CPUID.0Dh:EAX (XCR0) bit 5");
	t = m;
	with(&t, 0xd, 0, CPU_EDX, BIT(0)); /* XCR0 bit 32: XSETBV would fault tern */
	lacks(&t, "CPUID.0Dh:EDX (XCR0[63:32]) bit 0");
	t = m;
	assert_true(cpu_model_set(&t, 0x80000008u, 0, 0x3028, 0, 0, 0));
	lacks(&t, "this CPU has 39 physical-address bits, the VM's CPU model 40");
	assert_true(cpu_model_set(&t, 0x80000008u, 0, 0x3024, 0, 0, 0)); /* fewer: fine */
	assert_int_equal(cpu_model_check_host(&t, host, 100000000, err, sizeof(err)), 0);
	/* the TSC's rate: within 1% of this CPU's (100 MHz here), no scaling */
	t = m;
	t.tsc_hz = 200000000;
	lacks(&t, "the VM's TSC runs at 200000 kHz, this host's at 100000 kHz");
	t.tsc_hz = 98900000;
	lacks(&t, "the VM's TSC runs at 98900 kHz");
	t.tsc_hz = 100900000;
	assert_int_equal(cpu_model_check_host(&t, host, 100000000, err, sizeof(err)), 0);
	t.tsc_hz = 99100000;
	assert_int_equal(cpu_model_check_host(&t, host, 100000000, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_check_host),
	};
	return cmocka_run_group_tests_name("cpu_model", tests, NULL, NULL);
}
