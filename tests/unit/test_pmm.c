#include <string.h>
#include "hv/pmm.h"
#include "tests/unit/stubs.h"

#define NPAGES 1024
static uint64_t bits[NPAGES / 64];

static void fresh(struct pmm *p)
{
	pmm_setup(p, bits, NPAGES);
	pmm_free_range(p, 0, NPAGES * PAGE_SIZE);
}

static void test_setup_all_used(void **state)
{
	struct pmm p;

	pmm_setup(&p, bits, NPAGES);
	assert_int_equal(p.free_pages, 0);
	assert_int_equal(pmm_alloc_in(&p, 1, 1), 0);
}

static void test_page_zero_never_given(void **state)
{
	struct pmm p;

	fresh(&p);
	assert_int_equal(p.free_pages, NPAGES - 1);
	for (uint64_t i = 1; i < NPAGES; i++)
		assert_true(pmm_alloc_in(&p, 1, 1) != 0);
	assert_int_equal(pmm_alloc_in(&p, 1, 1), 0);
	assert_int_equal(p.free_pages, 0);
}

static void test_partial_pages_rounded_inwards(void **state)
{
	struct pmm p;

	pmm_setup(&p, bits, NPAGES);
	pmm_free_range(&p, 0x1800, 0x2000); /* covers page 2 wholly, 1 and 3 in part */
	assert_int_equal(p.free_pages, 1);
	assert_int_equal(pmm_alloc_in(&p, 1, 1), 0x2000);
}

static void test_reserve_rounded_outwards(void **state)
{
	struct pmm p;

	fresh(&p);
	pmm_reserve_range(&p, 0x1fff, 2); /* touches pages 1 and 2 */
	assert_int_equal(p.free_pages, NPAGES - 3);
	assert_int_equal(pmm_alloc_in(&p, 1, 1), 0x3000);
}

static void test_contiguous_and_aligned(void **state)
{
	struct pmm p;
	uint64_t a, fence, b;

	fresh(&p);
	a = pmm_alloc_in(&p, 3, 1);
	assert_int_equal(a, 0x1000);
	fence = pmm_alloc_in(&p, 1, 1);
	assert_int_equal(fence, 0x4000);
	b = pmm_alloc_in(&p, 4, 128);
	assert_int_equal(b, 128 * PAGE_SIZE);
	/* pages 1-3 are now a hole too small for 8: the run starts after the fence */
	pmm_free_in(&p, a, 3);
	assert_int_equal(pmm_alloc_in(&p, 8, 1), 0x5000);
}

static void test_free_restores_count(void **state)
{
	struct pmm p;
	uint64_t before, a;

	fresh(&p);
	before = p.free_pages;
	a = pmm_alloc_in(&p, 100, 1);
	assert_int_equal(p.free_pages, before - 100);
	pmm_free_in(&p, a, 100);
	assert_int_equal(p.free_pages, before);
	/* double free and freeing past the end change nothing */
	pmm_free_in(&p, a, 100);
	pmm_free_in(&p, (NPAGES - 1) * PAGE_SIZE, 10);
	assert_int_equal(p.free_pages, before);
}

static void test_too_big(void **state)
{
	struct pmm p;

	fresh(&p);
	assert_int_equal(pmm_alloc_in(&p, NPAGES, 1), 0);
	assert_int_equal(pmm_alloc_in(&p, 0, 1), 0);
	assert_int_equal(p.free_pages, NPAGES - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_all_used),
		cmocka_unit_test(test_page_zero_never_given),
		cmocka_unit_test(test_partial_pages_rounded_inwards),
		cmocka_unit_test(test_reserve_rounded_outwards),
		cmocka_unit_test(test_contiguous_and_aligned),
		cmocka_unit_test(test_free_restores_count),
		cmocka_unit_test(test_too_big),
	};
	return cmocka_run_group_tests_name("pmm", tests, NULL, NULL);
}
